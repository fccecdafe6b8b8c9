use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};

use super::*;
use crate::domain::Role;
use crate::workflow::fields::{parse_action, parse_key};

/// The most nodes a generated graph has.
const MAX_NODES: usize = 9;

/// The choices behind one random valid graph. Node 0 is the start and the
/// last node an end; each node between is a task, an approval or an end.
#[derive(Clone, Debug)]
struct Seed {
    size: usize,
    kinds: Vec<NodeKind>,
    /// For each node, which earlier open node leads to it.
    parents: Vec<Index>,
    /// For each open node, which later node it leads on to, and for an
    /// approval node, which later node a rejection leads to.
    onward: Vec<(Index, Index)>,
    /// Extra edges from an open node to any node, backwards or onto itself.
    jumps: Vec<(Index, Index)>,
    /// The roles of each edge, taken in turn.
    roles: Vec<Vec<Role>>,
    /// Each node's phase, deadline and actions.
    traits: Vec<(Phase, Option<u32>, Vec<Value>)>,
}

fn any_action() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"lock_quote": {}})),
        Just(json!({"settle": {}})),
        select(NotifyTarget::ALL).prop_map(|target| json!({"notify": target.as_str()})),
        Just(json!({"spawn": {"workflow": "install"}})),
    ]
}

fn any_seed() -> impl Strategy<Value = Seed> {
    let middle_kind = select(&[NodeKind::Task, NodeKind::Approval, NodeKind::End][..]);
    let traits = (
        select(Phase::ALL),
        proptest::option::of(1..=MAX_DUE_IN_MINUTES),
        proptest::collection::vec(any_action(), 0..3),
    );
    (
        2..=MAX_NODES,
        proptest::collection::vec(middle_kind, MAX_NODES),
        proptest::collection::vec(any::<Index>(), MAX_NODES),
        proptest::collection::vec(any::<(Index, Index)>(), MAX_NODES),
        proptest::collection::vec(any::<(Index, Index)>(), 0..6),
        proptest::collection::vec(subsequence(Role::ALL.to_vec(), 1..=5), 64),
        proptest::collection::vec(traits, MAX_NODES),
    )
        .prop_map(
            |(size, kinds, parents, onward, jumps, roles, traits)| Seed {
                size,
                kinds,
                parents,
                onward,
                jumps,
                roles,
                traits,
            },
        )
}

impl Seed {
    fn kind(&self, node: usize) -> NodeKind {
        match node {
            0 => NodeKind::Start,
            last if last + 1 == self.size => NodeKind::End,
            middle => self.kinds[middle],
        }
    }

    /// The nodes that transitions may leave: all but the ends.
    fn open_nodes(&self) -> Vec<usize> {
        (0..self.size)
            .filter(|&node| self.kind(node) != NodeKind::End)
            .collect()
    }

    /// Every edge as (from, to, action). Each node is entered from an
    /// earlier open node, so all are reachable, and each open node leads on
    /// to a later one, so an end is within reach of all.
    fn edges(&self) -> Vec<(usize, usize, String)> {
        let open = self.open_nodes();
        let mut edges = Vec::new();
        for node in 1..self.size {
            let earlier: Vec<usize> = open.iter().copied().filter(|&from| from < node).collect();
            let from = earlier[self.parents[node].index(earlier.len())];
            edges.push((from, node, format!("enter_{node}")));
        }
        for &from in &open {
            let later = |choice: &Index| from + 1 + choice.index(self.size - from - 1);
            let (next, rejected) = &self.onward[from];
            if self.kind(from) == NodeKind::Approval {
                edges.push((from, later(next), "approve".to_owned()));
                edges.push((from, later(rejected), "reject".to_owned()));
            } else {
                edges.push((from, later(next), "next".to_owned()));
            }
        }
        for (number, (from, to)) in self.jumps.iter().enumerate() {
            let from = open[from.index(open.len())];
            edges.push((from, to.index(self.size), format!("jump_{number}")));
        }
        edges
    }

    fn to_json(&self) -> Value {
        let nodes: Vec<Value> = (0..self.size).map(|node| self.node_json(node)).collect();
        let transitions: Vec<Value> = self
            .edges()
            .into_iter()
            .enumerate()
            .map(|(number, (from, to, action))| {
                let roles: Vec<&str> = self.roles[number]
                    .iter()
                    .map(|role| role.as_str())
                    .collect();
                json!({"from": format!("n{from}"), "to": format!("n{to}"), "action": action,
                       "roles": roles})
            })
            .collect();
        json!({"key": "generated", "name": "随机流程", "business_type": "install",
               "nodes": nodes, "transitions": transitions})
    }

    fn node_json(&self, node: usize) -> Value {
        let (phase, due, actions) = &self.traits[node];
        let mut json = json!({"key": format!("n{node}"), "name": format!("节点{node}"),
                              "phase": phase.as_str(), "on_enter": actions});
        if node > 0 && self.kind(node) != NodeKind::Task {
            json["kind"] = json!(self.kind(node).as_str());
        }
        if node == 0 {
            json["kind"] = json!("start");
        }
        if let Some(minutes) = due {
            json["due_in_minutes"] = json!(minutes);
        }
        json
    }
}

/// Walks from the start, at each step as a random role, taking one of that
/// role's open actions, or, where it has none, one open to any role. Fails
/// at a node other than an end where no role has any action.
fn walk(definition: &WorkflowDefinition, steps: &[(Index, Index)]) -> Result<(), TestCaseError> {
    let mut node = definition.start();
    for (role, choice) in steps {
        if node.kind == NodeKind::End {
            return Ok(());
        }
        let role = Role::ALL[role.index(Role::ALL.len())];
        let mut open = definition.open_actions(&node.key, role);
        if open.is_empty() {
            open = Role::ALL
                .iter()
                .flat_map(|&anyone| definition.open_actions(&node.key, anyone))
                .collect();
        }
        prop_assert!(!open.is_empty(), "node `{}` is a dead end", node.key);
        let taken = open[choice.index(open.len())];
        node = definition
            .node(&taken.to)
            .ok_or_else(|| TestCaseError::fail("lost node"))?;
    }
    let anyone_can_move = Role::ALL
        .iter()
        .any(|&role| !definition.open_actions(&node.key, role).is_empty());
    prop_assert!(node.kind == NodeKind::End || anyone_can_move);
    Ok(())
}

proptest! {
    #[test]
    fn every_generated_valid_graph_parses(seed in any_seed()) {
        let parsed = parse(&seed.to_json());

        prop_assert!(parsed.is_ok(), "{:#?}", parsed);
    }

    #[test]
    fn a_parsed_graph_round_trips_through_to_json(seed in any_seed()) {
        let definition = parse_ok(&seed.to_json());

        let again = parse(&definition.to_json());

        prop_assert_eq!(again, Ok(definition));
    }

    #[test]
    fn a_random_walk_over_a_generated_graph_never_meets_a_dead_end(
        seed in any_seed(),
        steps in proptest::collection::vec(any::<(Index, Index)>(), 0..40),
    ) {
        walk(&parse_ok(&seed.to_json()), &steps)?;
    }

    #[test]
    fn a_random_walk_over_a_template_never_meets_a_dead_end(
        template in 0..4usize,
        steps in proptest::collection::vec(any::<(Index, Index)>(), 0..40),
    ) {
        walk(&parse_ok(&templates()[template]), &steps)?;
    }

    #[test]
    fn a_transition_into_a_missing_node_is_named(seed in any_seed(), pick in any::<Index>()) {
        let mut json = seed.to_json();
        let count = json["transitions"].as_array().map_or(0, Vec::len);
        let broken = pick.index(count);
        json["transitions"][broken]["to"] = json!("missing");

        let problems = parse(&json).expect_err("the target is missing");

        let field = format!("transitions[{broken}].to");
        prop_assert!(problems.iter().any(|problem| problem.field == field));
    }

    #[test]
    fn keys_of_the_allowed_characters_and_length_are_accepted(key in "[a-z0-9_-]{1,64}") {
        prop_assert_eq!(parse_key(&key), Ok(key.clone()));
    }

    #[test]
    fn keys_with_any_other_character_are_refused(
        head in "[a-z0-9_-]{0,10}",
        bad in "[^a-z0-9_-]",
        tail in "[a-z0-9_-]{0,10}",
    ) {
        let key = format!("{head}{bad}{tail}");

        prop_assert!(parse_key(&key).is_err());
    }

    #[test]
    fn action_keys_refuse_the_hyphen_that_node_keys_allow(
        key in "[a-z0-9_]{0,20}-[a-z0-9_]{0,20}",
    ) {
        prop_assert!(parse_key(&key).is_ok());
        prop_assert!(parse_action(&key).is_err());
    }
}

#[test]
fn keys_over_sixty_four_characters_are_refused() {
    assert!(parse_key(&"a".repeat(64)).is_ok());
    assert!(parse_key(&"a".repeat(65)).is_err());
    assert!(parse_key("").is_err());
}
