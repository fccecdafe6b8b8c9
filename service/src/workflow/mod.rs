//! Workflow definitions: the graphs of nodes (节点) and transitions (流转)
//! that a company designs for its work orders, and the ready templates a new
//! tenant starts with. Nothing here does I/O, so every rule is tested alone.
//!
//! A definition arrives as JSON in the API contract's format and is read in
//! three passes: its JSON shape (`shape`), the value of each field
//! (`fields`), then the graph as a whole (`graph`). Each problem names its
//! place by a JSON path such as `transitions[3].to`, and all of them are
//! answered together, so that a designer fixes a graph in one round trip
//! rather than one per problem.

use crate::validation::{FieldError, FieldErrors};

/// Gives a type the `Serialize` form of its `to_json`, so that the contract
/// format is written in one place and serialising cannot fail.
macro_rules! serialize_as_contract_json {
    ($($name:ty),+) => {$(
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serde::Serialize::serialize(&self.to_json(), serializer)
            }
        }
    )+};
}

mod definition;
mod fields;
mod graph;
mod model;
mod shape;
mod templates;
#[cfg(test)]
mod tests;

pub use definition::WorkflowDefinition;
pub use fields::MAX_DUE_IN_MINUTES;
pub use model::{Node, NodeAction, NodeKind, NotifyTarget, Phase, Transition};
pub use templates::templates;

/// A problem of a definition, naming where it is: `field` is a JSON path
/// such as `nodes[2].on_enter[0]` or `transitions[3].to`, or `nodes` for a
/// problem of the graph as a whole, and `message` names the node or action
/// at fault. It is the API's field error, so a 422 answer lists it as is.
pub type DefinitionProblem = FieldError;

/// Ends a pass: every problem it recorded, or else the value it built.
///
/// A pass answers `None` only after recording why, so the fallback problem
/// below is never seen; it is there so that a slip in a pass turns into a
/// refusal rather than a definition that was never checked.
fn conclude<T>(built: Option<T>, problems: FieldErrors) -> Result<T, Vec<DefinitionProblem>> {
    problems.finish()?;
    built.ok_or_else(|| {
        vec![FieldError {
            field: ".".to_owned(),
            message: "could not be read as a workflow definition".to_owned(),
        }]
    })
}
