//! The first pass: the JSON shape of a definition. Every object must have
//! its required fields, each of the right JSON type, and no field the
//! contract does not name. Values are copied out unchecked; whether a
//! string is a known phase, role or node is left to the later passes.
//!
//! The document is walked by hand rather than through serde's derive, which
//! stops at the first mistake and does not say where it was; here every
//! shape problem is found in one walk and named by its JSON path.

use serde_json::{Map, Number, Value};

use super::{DefinitionProblem, conclude};
use crate::validation::FieldErrors;

/// A definition of the right shape whose values are not yet checked.
#[derive(Debug)]
pub(super) struct RawDefinition {
    pub key: String,
    pub name: String,
    pub business_type: String,
    pub nodes: Vec<RawNode>,
    pub transitions: Vec<RawTransition>,
}

/// A node of the right shape.
#[derive(Debug)]
pub(super) struct RawNode {
    pub key: String,
    pub name: String,
    pub phase: String,
    pub kind: Option<String>,
    pub on_enter: Vec<RawAction>,
    pub due_in_minutes: Option<Number>,
}

/// An `on_enter` entry: an object of one key, the action's name.
#[derive(Debug)]
pub(super) struct RawAction {
    pub name: String,
    pub argument: Value,
}

/// A transition of the right shape.
#[derive(Debug)]
pub(super) struct RawTransition {
    pub from: String,
    pub to: String,
    pub action: String,
    pub name: Option<String>,
    pub roles: Vec<String>,
}

const DEFINITION_FIELDS: &[&str] = &["key", "name", "business_type", "nodes", "transitions"];
const NODE_FIELDS: &[&str] = &["key", "name", "phase", "kind", "on_enter", "due_in_minutes"];
const TRANSITION_FIELDS: &[&str] = &["from", "to", "action", "name", "roles"];

/// Reads a whole definition, or answers every shape problem in it.
pub(super) fn read(value: &Value) -> Result<RawDefinition, Vec<DefinitionProblem>> {
    let mut problems = FieldErrors::new();
    let definition = read_definition(value, &mut problems);
    conclude(definition, problems)
}

fn read_definition(value: &Value, problems: &mut FieldErrors) -> Option<RawDefinition> {
    let object = Object::read(value, ".", problems)?;
    object.deny_unknown(DEFINITION_FIELDS, problems);
    let key = object.string("key", problems);
    let name = object.string("name", problems);
    let business_type = object.string("business_type", problems);
    let nodes = object.list("nodes", problems, read_node);
    let transitions = object.list("transitions", problems, read_transition);
    Some(RawDefinition {
        key: key?,
        name: name?,
        business_type: business_type?,
        nodes: nodes?,
        transitions: transitions?,
    })
}

fn read_node(value: &Value, path: &str, problems: &mut FieldErrors) -> Option<RawNode> {
    let object = Object::read(value, path, problems)?;
    object.deny_unknown(NODE_FIELDS, problems);
    let key = object.string("key", problems);
    let name = object.string("name", problems);
    let phase = object.string("phase", problems);
    let kind = object.optional_string("kind", problems);
    let on_enter = object.optional_list("on_enter", problems, read_action);
    let due_in_minutes = object.optional_number("due_in_minutes", problems);
    Some(RawNode {
        key: key?,
        name: name?,
        phase: phase?,
        kind: kind?,
        on_enter: on_enter?,
        due_in_minutes: due_in_minutes?,
    })
}

fn read_action(value: &Value, path: &str, problems: &mut FieldErrors) -> Option<RawAction> {
    let single = value.as_object().filter(|map| map.len() == 1);
    match single.and_then(|map| map.iter().next()) {
        Some((name, argument)) => Some(RawAction {
            name: name.clone(),
            argument: argument.clone(),
        }),
        None => {
            let message = "must be an object with one key, the action, such as {\"settle\": {}}";
            problems.add(path, message);
            None
        }
    }
}

fn read_transition(value: &Value, path: &str, problems: &mut FieldErrors) -> Option<RawTransition> {
    let object = Object::read(value, path, problems)?;
    object.deny_unknown(TRANSITION_FIELDS, problems);
    let from = object.string("from", problems);
    let to = object.string("to", problems);
    let action = object.string("action", problems);
    let name = object.optional_string("name", problems);
    let roles = object.list("roles", problems, read_string);
    Some(RawTransition {
        from: from?,
        to: to?,
        action: action?,
        name: name?,
        roles: roles?,
    })
}

fn read_string(value: &Value, path: &str, problems: &mut FieldErrors) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        _ => {
            problems.add(path, "must be a string");
            None
        }
    }
}

fn read_number(value: &Value, path: &str, problems: &mut FieldErrors) -> Option<Number> {
    match value {
        Value::Number(number) => Some(number.clone()),
        _ => {
            problems.add(path, "must be a number");
            None
        }
    }
}

fn read_list<T>(
    value: &Value,
    path: &str,
    problems: &mut FieldErrors,
    read_item: fn(&Value, &str, &mut FieldErrors) -> Option<T>,
) -> Option<Vec<T>> {
    let Value::Array(items) = value else {
        problems.add(path, "must be an array");
        return None;
    };
    // Every item is read, even after a bad one, so that all are reported.
    let read: Vec<Option<T>> = items
        .iter()
        .enumerate()
        .map(|(index, item)| read_item(item, &format!("{path}[{index}]"), problems))
        .collect();
    read.into_iter().collect()
}

/// A JSON object at a known path, read field by field. A field set to
/// `null` counts as absent, as it would for serde's `Option`.
#[derive(Debug)]
pub(super) struct Object<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

impl<'a> Object<'a> {
    /// The object at `path`, or a problem if `value` is not one.
    pub fn read(value: &'a Value, path: &'a str, problems: &mut FieldErrors) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self { map, path }),
            _ => {
                problems.add(path, "must be an object");
                None
            }
        }
    }

    /// The path of one of the object's fields.
    pub fn child(&self, name: &str) -> String {
        match self.path {
            "." => name.to_owned(),
            path => format!("{path}.{name}"),
        }
    }

    /// Records every field that is not in `allowed`.
    pub fn deny_unknown(&self, allowed: &[&str], problems: &mut FieldErrors) {
        for name in self
            .map
            .keys()
            .filter(|name| !allowed.contains(&name.as_str()))
        {
            let message = format!(
                "is not a known field; expected one of {}",
                allowed.join(", ")
            );
            problems.add(&self.child(name), message);
        }
    }

    /// A required string field.
    pub fn string(&self, name: &str, problems: &mut FieldErrors) -> Option<String> {
        let value = self.required(name, problems)?;
        read_string(value, &self.child(name), problems)
    }

    fn optional_string(&self, name: &str, problems: &mut FieldErrors) -> Option<Option<String>> {
        match self.field(name) {
            None => Some(None),
            Some(value) => read_string(value, &self.child(name), problems).map(Some),
        }
    }

    fn optional_number(&self, name: &str, problems: &mut FieldErrors) -> Option<Option<Number>> {
        match self.field(name) {
            None => Some(None),
            Some(value) => read_number(value, &self.child(name), problems).map(Some),
        }
    }

    fn list<T>(
        &self,
        name: &str,
        problems: &mut FieldErrors,
        read_item: fn(&Value, &str, &mut FieldErrors) -> Option<T>,
    ) -> Option<Vec<T>> {
        let value = self.required(name, problems)?;
        read_list(value, &self.child(name), problems, read_item)
    }

    fn optional_list<T>(
        &self,
        name: &str,
        problems: &mut FieldErrors,
        read_item: fn(&Value, &str, &mut FieldErrors) -> Option<T>,
    ) -> Option<Vec<T>> {
        match self.field(name) {
            None => Some(Vec::new()),
            Some(value) => read_list(value, &self.child(name), problems, read_item),
        }
    }

    fn required(&self, name: &str, problems: &mut FieldErrors) -> Option<&'a Value> {
        let value = self.field(name);
        if value.is_none() {
            problems.add(&self.child(name), "is required");
        }
        value
    }

    fn field(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|value| !value.is_null())
    }
}
