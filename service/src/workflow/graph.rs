//! The third pass: the definition as a graph. There is exactly one start
//! node and at least one end node; node keys are unique, and so is each
//! action among the transitions leaving a node; transitions join existing
//! nodes; every node lies on some path from the start to an end; no
//! transition leaves an end; and an approval node can both approve and
//! reject.
//!
//! This pass reads the raw keys rather than the typed nodes, so that it
//! runs even when some field elsewhere is wrong and the designer hears of
//! every problem at once. A node whose `kind` is not a known kind counts as
//! a task here; that field has its own problem already.

use std::collections::{HashMap, VecDeque};

use super::model::NodeKind;
use super::shape::RawDefinition;
use crate::validation::FieldErrors;

/// Checks every graph rule, recording each broken one.
pub(super) fn check(raw: &RawDefinition, problems: &mut FieldErrors) {
    let graph = Graph::of(raw);
    check_start(&graph, problems);
    check_has_end(&graph, problems);
    check_unique_keys(&graph, problems);
    check_unique_actions(&graph, problems);
    check_endpoints(&graph, problems);
    check_paths(&graph, problems);
    check_end_exits(&graph, problems);
    check_approvals(&graph, problems);
}

struct GraphNode<'a> {
    key: &'a str,
    kind: NodeKind,
}

struct Edge<'a> {
    from: &'a str,
    to: &'a str,
    action: &'a str,
}

/// The nodes and edges of a definition, with each key's first node.
struct Graph<'a> {
    nodes: Vec<GraphNode<'a>>,
    edges: Vec<Edge<'a>>,
    first_by_key: HashMap<&'a str, usize>,
}

impl<'a> Graph<'a> {
    fn of(raw: &'a RawDefinition) -> Self {
        let nodes: Vec<GraphNode<'a>> = raw
            .nodes
            .iter()
            .map(|node| GraphNode {
                key: &node.key,
                kind: node.kind.as_deref().map_or(NodeKind::Task, |kind| {
                    kind.parse().unwrap_or(NodeKind::Task)
                }),
            })
            .collect();
        let edges = raw
            .transitions
            .iter()
            .map(|transition| Edge {
                from: &transition.from,
                to: &transition.to,
                action: &transition.action,
            })
            .collect();
        let mut first_by_key = HashMap::new();
        for (index, node) in nodes.iter().enumerate() {
            first_by_key.entry(node.key).or_insert(index);
        }
        Self {
            nodes,
            edges,
            first_by_key,
        }
    }

    /// The nodes that own their key, each with its index. A later node
    /// with the same key is reported as a duplicate and otherwise ignored.
    fn owners(&self) -> impl Iterator<Item = (usize, &GraphNode<'a>)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(index, node)| self.first_by_key.get(node.key) == Some(index))
    }

    fn kind_of(&self, key: &str) -> Option<NodeKind> {
        self.first_by_key
            .get(key)
            .map(|&index| self.nodes[index].kind)
    }

    fn first_start(&self) -> Option<usize> {
        self.owners()
            .find(|(_, node)| node.kind == NodeKind::Start)
            .map(|(index, _)| index)
    }

    /// The edges whose both ends are nodes, as node indexes.
    fn resolved_edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.edges.iter().filter_map(|edge| {
            let from = self.first_by_key.get(edge.from)?;
            let to = self.first_by_key.get(edge.to)?;
            Some((*from, *to))
        })
    }

    /// Which nodes can be reached from `sources` along the edges, or
    /// against them when `backwards` is set.
    fn reach(&self, sources: &[usize], backwards: bool) -> Vec<bool> {
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (from, to) in self.resolved_edges() {
            let (from, to) = if backwards { (to, from) } else { (from, to) };
            next[from].push(to);
        }
        let mut seen = vec![false; self.nodes.len()];
        let mut queue: VecDeque<usize> = sources.iter().copied().collect();
        while let Some(index) = queue.pop_front() {
            if !std::mem::replace(&mut seen[index], true) {
                queue.extend(next[index].iter().copied());
            }
        }
        seen
    }
}

fn check_start(graph: &Graph, problems: &mut FieldErrors) {
    let starts: Vec<usize> = nodes_of_kind(graph, NodeKind::Start);
    let Some((&first, others)) = starts.split_first() else {
        problems.add(
            "nodes",
            "must have exactly one node of kind `start`; there is none",
        );
        return;
    };
    for &index in others {
        let message = format!(
            "node `{}` is a second start node; `{}` is the start already",
            graph.nodes[index].key, graph.nodes[first].key
        );
        problems.add(&format!("nodes[{index}].kind"), message);
    }
}

fn check_has_end(graph: &Graph, problems: &mut FieldErrors) {
    if nodes_of_kind(graph, NodeKind::End).is_empty() {
        problems.add(
            "nodes",
            "must have at least one node of kind `end`; there is none",
        );
    }
}

/// The indexes of the nodes of one kind, duplicates included.
fn nodes_of_kind(graph: &Graph, kind: NodeKind) -> Vec<usize> {
    let of_kind = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| node.kind == kind);
    of_kind.map(|(index, _)| index).collect()
}

fn check_unique_keys(graph: &Graph, problems: &mut FieldErrors) {
    for (index, node) in graph.nodes.iter().enumerate() {
        match graph.first_by_key.get(node.key) {
            Some(&first) if first != index => {
                let message = format!("node key `{}` is taken by nodes[{first}]", node.key);
                problems.add(&format!("nodes[{index}].key"), message);
            }
            _ => {}
        }
    }
}

fn check_unique_actions(graph: &Graph, problems: &mut FieldErrors) {
    let mut first_by_action: HashMap<(&str, &str), usize> = HashMap::new();
    for (index, edge) in graph.edges.iter().enumerate() {
        let first = *first_by_action
            .entry((edge.from, edge.action))
            .or_insert(index);
        if first != index {
            let message = format!(
                "action `{}` already leaves node `{}` in transitions[{first}]",
                edge.action, edge.from
            );
            problems.add(&format!("transitions[{index}].action"), message);
        }
    }
}

fn check_endpoints(graph: &Graph, problems: &mut FieldErrors) {
    for (index, edge) in graph.edges.iter().enumerate() {
        for (field, key) in [("from", edge.from), ("to", edge.to)] {
            if !graph.first_by_key.contains_key(key) {
                let message = format!("`{key}` is not a node of this workflow");
                problems.add(&format!("transitions[{index}].{field}"), message);
            }
        }
    }
}

/// Every node reachable from the start, and some end reachable from every
/// node. Without a start, or without an end, each node would fail one of
/// these, so that half is skipped: the missing node is the one problem.
fn check_paths(graph: &Graph, problems: &mut FieldErrors) {
    let ends = nodes_of_kind(graph, NodeKind::End);
    let start = graph.first_start();
    let from_start = start.map(|start| graph.reach(&[start], false));
    let to_an_end = (!ends.is_empty()).then(|| graph.reach(&ends, true));
    for (index, node) in graph.owners() {
        if let (Some(start), Some(reached)) = (start, &from_start)
            && !reached[index]
        {
            let start = graph.nodes[start].key;
            let message = format!(
                "node `{}` cannot be reached from the start `{start}`",
                node.key
            );
            problems.add(&format!("nodes[{index}]"), message);
        }
        if to_an_end.as_ref().is_some_and(|reaches| !reaches[index]) {
            let message = format!("no end node can be reached from node `{}`", node.key);
            problems.add(&format!("nodes[{index}]"), message);
        }
    }
}

fn check_end_exits(graph: &Graph, problems: &mut FieldErrors) {
    for (index, edge) in graph.edges.iter().enumerate() {
        if graph.kind_of(edge.from) == Some(NodeKind::End) {
            let message = format!(
                "`{}` is an end node, so no transition may leave it",
                edge.from
            );
            problems.add(&format!("transitions[{index}].from"), message);
        }
    }
}

fn check_approvals(graph: &Graph, problems: &mut FieldErrors) {
    let approvals = graph
        .owners()
        .filter(|(_, node)| node.kind == NodeKind::Approval);
    for (index, node) in approvals {
        for needed in ["approve", "reject"] {
            let present = graph
                .edges
                .iter()
                .any(|edge| edge.from == node.key && edge.action == needed);
            if !present {
                let message = format!(
                    "approval node `{}` needs a transition with action `{needed}`",
                    node.key
                );
                problems.add(&format!("nodes[{index}]"), message);
            }
        }
    }
}
