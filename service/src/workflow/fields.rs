//! The second pass: the value of each field on its own. Keys and names have
//! their formats, phases, kinds and roles their closed sets, node actions
//! their arguments, and deadlines their range. A field that passes becomes
//! a typed value; one that fails is recorded under its JSON path.

use serde_json::{Number, Value};

use super::model::{Node, NodeAction, NodeKind, NotifyTarget, Transition};
use super::shape::{Object, RawAction, RawDefinition, RawNode, RawTransition};
use crate::domain::{DisplayName, Role};
use crate::validation::FieldErrors;

/// The longest deadline a node may set: one year, in minutes.
pub const MAX_DUE_IN_MINUTES: u32 = 525_600;

/// The definition's own fields, checked.
#[derive(Debug)]
pub(super) struct Header {
    pub key: String,
    pub name: String,
    pub business_type: String,
}

/// Checks the definition's key, name and business type.
pub(super) fn header(raw: &RawDefinition, problems: &mut FieldErrors) -> Option<Header> {
    let key = problems.check("key", parse_key(&raw.key));
    let name = problems.check("name", parse_name(&raw.name));
    let business_type = problems.check("business_type", parse_key(&raw.business_type));
    Some(Header {
        key: key?,
        name: name?,
        business_type: business_type?,
    })
}

/// Checks every node, reporting each bad field, and answers them all only
/// if every one passed.
pub(super) fn nodes(
    raw: &[RawNode],
    known_workflows: &dyn Fn(&str) -> bool,
    problems: &mut FieldErrors,
) -> Option<Vec<Node>> {
    let checked: Vec<Option<Node>> = raw
        .iter()
        .enumerate()
        .map(|(index, node)| {
            check_node(node, &format!("nodes[{index}]"), known_workflows, problems)
        })
        .collect();
    checked.into_iter().collect()
}

/// Checks every transition, as [`nodes`] does for nodes.
pub(super) fn transitions(
    raw: &[RawTransition],
    problems: &mut FieldErrors,
) -> Option<Vec<Transition>> {
    let checked: Vec<Option<Transition>> = raw
        .iter()
        .enumerate()
        .map(|(index, transition)| {
            check_transition(transition, &format!("transitions[{index}]"), problems)
        })
        .collect();
    checked.into_iter().collect()
}

fn check_node(
    raw: &RawNode,
    path: &str,
    known_workflows: &dyn Fn(&str) -> bool,
    problems: &mut FieldErrors,
) -> Option<Node> {
    let key = problems.check(&format!("{path}.key"), parse_key(&raw.key));
    let name = problems.check(&format!("{path}.name"), parse_name(&raw.name));
    let phase = problems.check(&format!("{path}.phase"), raw.phase.parse());
    let kind = match &raw.kind {
        None => Some(NodeKind::Task),
        Some(kind) => problems.check(&format!("{path}.kind"), kind.parse()),
    };
    let on_enter = check_actions(&raw.on_enter, path, known_workflows, problems);
    let due_in_minutes = match &raw.due_in_minutes {
        None => Some(None),
        Some(minutes) => problems
            .check(&format!("{path}.due_in_minutes"), parse_due(minutes))
            .map(Some),
    };
    Some(Node {
        key: key?,
        name: name?,
        phase: phase?,
        kind: kind?,
        on_enter: on_enter?,
        due_in_minutes: due_in_minutes?,
    })
}

fn check_actions(
    raw: &[RawAction],
    node_path: &str,
    known_workflows: &dyn Fn(&str) -> bool,
    problems: &mut FieldErrors,
) -> Option<Vec<NodeAction>> {
    let checked: Vec<Option<NodeAction>> = raw
        .iter()
        .enumerate()
        .map(|(index, action)| {
            let path = format!("{node_path}.on_enter[{index}]");
            check_action(action, &path, known_workflows, problems)
        })
        .collect();
    checked.into_iter().collect()
}

fn check_action(
    raw: &RawAction,
    path: &str,
    known_workflows: &dyn Fn(&str) -> bool,
    problems: &mut FieldErrors,
) -> Option<NodeAction> {
    let argument_path = format!("{path}.{}", raw.name);
    match raw.name.as_str() {
        "lock_quote" => no_argument(raw, &argument_path, problems).then_some(NodeAction::LockQuote),
        "settle" => no_argument(raw, &argument_path, problems).then_some(NodeAction::Settle),
        "notify" => {
            let target = raw.argument.as_str().unwrap_or_default();
            let target = problems.check(&argument_path, target.parse::<NotifyTarget>());
            target.map(NodeAction::Notify)
        }
        "spawn" => check_spawn(&raw.argument, &argument_path, known_workflows, problems),
        unknown => {
            let message = format!(
                "`{unknown}` is not a known action; use lock_quote, settle, notify or spawn"
            );
            problems.add(path, message);
            None
        }
    }
}

/// `lock_quote` and `settle` take no settings, written as `{}`.
fn no_argument(raw: &RawAction, path: &str, problems: &mut FieldErrors) -> bool {
    let empty = raw.argument.as_object().is_some_and(|map| map.is_empty());
    if !empty {
        problems.add(
            path,
            format!("`{}` takes no settings and must be {{}}", raw.name),
        );
    }
    empty
}

fn check_spawn(
    argument: &Value,
    path: &str,
    known_workflows: &dyn Fn(&str) -> bool,
    problems: &mut FieldErrors,
) -> Option<NodeAction> {
    let object = Object::read(argument, path, problems)?;
    object.deny_unknown(&["workflow"], problems);
    let workflow = object.string("workflow", problems)?;
    let target = parse_key(&workflow).and_then(|key| {
        if known_workflows(&key) {
            Ok(key)
        } else {
            Err(format!(
                "`spawn` names `{key}`, which is not a workflow of this company"
            ))
        }
    });
    let workflow = problems.check(&object.child("workflow"), target)?;
    Some(NodeAction::Spawn { workflow })
}

fn check_transition(
    raw: &RawTransition,
    path: &str,
    problems: &mut FieldErrors,
) -> Option<Transition> {
    let action = problems.check(&format!("{path}.action"), parse_action(&raw.action));
    let name = match &raw.name {
        None => Some(raw.action.clone()),
        Some(name) => problems.check(&format!("{path}.name"), parse_name(name)),
    };
    let roles = check_roles(&raw.roles, &format!("{path}.roles"), problems);
    // `from` and `to` are checked against the nodes in the graph pass, which
    // also covers a key of the wrong format: it cannot name a node.
    Some(Transition {
        from: raw.from.clone(),
        to: raw.to.clone(),
        action: action?,
        name: name?,
        roles: roles?,
    })
}

fn check_roles(raw: &[String], path: &str, problems: &mut FieldErrors) -> Option<Vec<Role>> {
    if raw.is_empty() {
        problems.add(path, "must name at least one role");
        return None;
    }
    let mut roles = Vec::with_capacity(raw.len());
    let mut valid = true;
    for (index, text) in raw.iter().enumerate() {
        let field = format!("{path}[{index}]");
        match problems.check(&field, text.parse::<Role>()) {
            Some(role) if roles.contains(&role) => {
                problems.add(&field, format!("lists `{text}` a second time"));
                valid = false;
            }
            Some(role) => roles.push(role),
            None => valid = false,
        }
    }
    valid.then_some(roles)
}

/// A workflow, node or business-type key: 1 to 64 characters of `a-z`,
/// `0-9`, `_` and `-`.
pub(super) fn parse_key(text: &str) -> Result<String, String> {
    let allowed =
        |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"_-".contains(&byte);
    if (1..=64).contains(&text.len()) && text.bytes().all(allowed) {
        Ok(text.to_owned())
    } else {
        Err("must be 1 to 64 characters of a-z, 0-9, '_' and '-'".to_owned())
    }
}

/// An action key: 1 to 64 characters of `a-z`, `0-9` and `_`. It appears
/// in URLs (`/actions/{action}`), so it is kept to the plainest characters.
pub(super) fn parse_action(text: &str) -> Result<String, String> {
    let allowed = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_';
    if (1..=64).contains(&text.len()) && text.bytes().all(allowed) {
        Ok(text.to_owned())
    } else {
        Err("must be 1 to 64 characters of a-z, 0-9 and '_'".to_owned())
    }
}

/// A display name, trimmed, as the API's other names are.
fn parse_name(text: &str) -> Result<String, String> {
    DisplayName::parse(text).map(|name| name.as_str().to_owned())
}

/// A node's deadline: a whole number of minutes from 1 to a year.
fn parse_due(minutes: &Number) -> Result<u32, String> {
    minutes
        .as_u64()
        .and_then(|minutes| u32::try_from(minutes).ok())
        .filter(|minutes| (1..=MAX_DUE_IN_MINUTES).contains(minutes))
        .ok_or_else(|| {
            format!("must be a whole number of minutes from 1 to {MAX_DUE_IN_MINUTES} (a year)")
        })
}
