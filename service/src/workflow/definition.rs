//! A checked workflow definition and the questions a work order asks of it:
//! where it starts, what a node is, and which moves are open to a role.

use serde_json::Value;

use super::model::{Node, NodeKind, Transition, object};
use super::{DefinitionProblem, conclude, fields, graph, shape};
use crate::domain::Role;
use crate::validation::FieldErrors;

/// A validated workflow graph. Construct only through
/// [`WorkflowDefinition::parse`], so that every value of this type keeps
/// the graph rules: one start, an end within reach of every node, and so on.
///
/// It serialises to the contract's JSON format, the same as [`to_json`].
///
/// [`to_json`]: WorkflowDefinition::to_json
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowDefinition {
    key: String,
    name: String,
    business_type: String,
    nodes: Vec<Node>,
    transitions: Vec<Transition>,
    /// The index of the one start node in `nodes`.
    start: usize,
}

impl WorkflowDefinition {
    /// Parses JSON and checks every rule, answering every problem at once
    /// (never just the first). A problem of the JSON shape, such as a
    /// missing or unknown field, stops the checks after the shape.
    ///
    /// `known_workflows` answers whether a workflow key exists, for the
    /// `spawn` action; the caller passes the tenant's keys plus this
    /// definition's own key.
    pub fn parse(
        json: &Value,
        known_workflows: &dyn Fn(&str) -> bool,
    ) -> Result<Self, Vec<DefinitionProblem>> {
        let raw = shape::read(json)?;
        let mut problems = FieldErrors::new();
        let header = fields::header(&raw, &mut problems);
        let nodes = fields::nodes(&raw.nodes, known_workflows, &mut problems);
        let transitions = fields::transitions(&raw.transitions, &mut problems);
        graph::check(&raw, &mut problems);
        let built = Self::assemble(header, nodes, transitions);
        conclude(built, problems)
    }

    /// The definition from its checked parts, when every part passed.
    fn assemble(
        header: Option<fields::Header>,
        nodes: Option<Vec<Node>>,
        transitions: Option<Vec<Transition>>,
    ) -> Option<Self> {
        let (header, nodes, transitions) = (header?, nodes?, transitions?);
        let start = nodes.iter().position(|node| node.kind == NodeKind::Start)?;
        Some(Self {
            key: header.key,
            name: header.name,
            business_type: header.business_type,
            nodes,
            transitions,
            start,
        })
    }

    /// The workflow's key, such as `install`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The display name, such as 安装.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kind of business its orders are, such as `install`.
    pub fn business_type(&self) -> &str {
        &self.business_type
    }

    /// Every node, in definition order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Every transition, in definition order.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// The node every order starts at.
    pub fn start(&self) -> &Node {
        &self.nodes[self.start]
    }

    /// The node with this key, if any.
    pub fn node(&self, key: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.key == key)
    }

    /// The transitions leaving `node` that `role` may take, in definition
    /// order. An end node, or a key that names no node, has none.
    pub fn open_actions(&self, node: &str, role: Role) -> Vec<&Transition> {
        self.transitions
            .iter()
            .filter(|transition| transition.from == node && transition.allows(role))
            .collect()
    }

    /// The transition for `action` at `node`, if any, whoever may take it.
    /// Actions are unique per node, so there is at most one.
    pub fn transition(&self, node: &str, action: &str) -> Option<&Transition> {
        self.transitions
            .iter()
            .find(|transition| transition.from == node && transition.action == action)
    }

    /// The definition back as JSON in the contract's format. Parsing it
    /// again gives an equal definition.
    pub fn to_json(&self) -> Value {
        let nodes = self.nodes.iter().map(Node::to_json).collect();
        let transitions = self.transitions.iter().map(Transition::to_json).collect();
        object([
            ("key", Value::from(self.key.as_str())),
            ("name", Value::from(self.name.as_str())),
            ("business_type", Value::from(self.business_type.as_str())),
            ("nodes", Value::Array(nodes)),
            ("transitions", Value::Array(transitions)),
        ])
    }
}

serialize_as_contract_json!(WorkflowDefinition);
