//! The parts of a checked definition (nodes, the actions run on entering
//! them, and transitions) and how each is written back in the contract's
//! JSON format.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::Role;

/// A closed set of wire names: the enum, `ALL`, `as_str` and a `FromStr`
/// whose error lists the accepted names, as the API's other fields do.
macro_rules! wire_enum {
    (
        $(#[$doc:meta])*
        $name:ident { $($(#[$variant_doc:meta])* $variant:ident = $wire:literal,)+ }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$variant_doc])* #[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::ALL.iter().copied().find(|value| value.as_str() == text).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|value| value.as_str()).collect();
                    format!("must be one of {}", names.join(", "))
                })
            }
        }
    };
}

wire_enum! {
    /// The stage of the sale a node belongs to.
    Phase {
        /// Before the sale: enquiries, follow-ups, quotes, contracts.
        PreSale = "pre_sale",
        /// Delivering what was sold: dispatch, installation.
        InSale = "in_sale",
        /// After the sale: repairs, maintenance, return visits.
        AfterSale = "after_sale",
    }
}

wire_enum! {
    /// What a node is for in the graph.
    NodeKind {
        /// Where every order starts; a definition has exactly one.
        Start = "start",
        /// An ordinary step, and the kind of a node that names none.
        Task = "task",
        /// A decision, left by an `approve` and a `reject` transition.
        Approval = "approval",
        /// Where an order closes; no transition leaves it.
        End = "end",
    }
}

wire_enum! {
    /// Who a `notify` action tells that the order moved.
    NotifyTarget {
        /// The order's assignee.
        Installer = "installer",
        /// The order's customer.
        Customer = "customer",
        /// The tenant's dispatchers.
        Dispatcher = "dispatcher",
    }
}

/// Something done each time an order enters a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeAction {
    /// Locks the order's quote: the earnings the installer accepted stop
    /// following later price changes.
    LockQuote,
    /// Posts the order's locked earnings to the ledger.
    Settle,
    /// Tells one party that the order moved.
    Notify(NotifyTarget),
    /// Starts a linked order on the workflow with this key.
    Spawn {
        /// The key of the linked order's workflow.
        workflow: String,
    },
}

impl NodeAction {
    /// The action's name, the one key of its JSON object.
    pub fn as_str(&self) -> &'static str {
        match self {
            NodeAction::LockQuote => "lock_quote",
            NodeAction::Settle => "settle",
            NodeAction::Notify(_) => "notify",
            NodeAction::Spawn { .. } => "spawn",
        }
    }

    /// The action in the contract's format, such as `{"settle": {}}`.
    pub fn to_json(&self) -> Value {
        let argument = match self {
            NodeAction::LockQuote | NodeAction::Settle => Value::Object(Map::new()),
            NodeAction::Notify(target) => Value::from(target.as_str()),
            NodeAction::Spawn { workflow } => {
                object([("workflow", Value::from(workflow.as_str()))])
            }
        };
        object([(self.as_str(), argument)])
    }
}

/// One step of a workflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Unique within the definition; work orders record it.
    pub key: String,
    /// The display name, such as 待上门.
    pub name: String,
    /// The stage of the sale the node belongs to.
    pub phase: Phase,
    /// What the node is for; `task` when the definition names no kind.
    pub kind: NodeKind,
    /// Run in this order each time an order enters the node.
    pub on_enter: Vec<NodeAction>,
    /// How long an order may wait here before it counts as overdue.
    pub due_in_minutes: Option<u32>,
}

impl Node {
    /// The node in the contract's format. `kind` is always written, even
    /// for a task, so that the stored form needs no default to be read.
    pub fn to_json(&self) -> Value {
        let mut fields = vec![
            ("key", Value::from(self.key.as_str())),
            ("name", Value::from(self.name.as_str())),
            ("phase", Value::from(self.phase.as_str())),
            ("kind", Value::from(self.kind.as_str())),
        ];
        if !self.on_enter.is_empty() {
            let actions = self.on_enter.iter().map(NodeAction::to_json).collect();
            fields.push(("on_enter", Value::Array(actions)));
        }
        if let Some(minutes) = self.due_in_minutes {
            fields.push(("due_in_minutes", Value::from(minutes)));
        }
        object(fields)
    }
}

/// A move from one node to another, taken by an action that only the
/// listed roles may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The key of the node it leaves.
    pub from: String,
    /// The key of the node it enters; may equal `from`.
    pub to: String,
    /// The action key, unique among the transitions leaving `from`.
    pub action: String,
    /// The display name; the action key when the definition gives none.
    pub name: String,
    /// Who may take it; never empty.
    pub roles: Vec<Role>,
}

impl Transition {
    /// Whether `role` may take this transition.
    pub fn allows(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The transition in the contract's format, its name always written.
    pub fn to_json(&self) -> Value {
        let roles = self.roles.iter().map(|role| Value::from(role.as_str()));
        object([
            ("from", Value::from(self.from.as_str())),
            ("to", Value::from(self.to.as_str())),
            ("action", Value::from(self.action.as_str())),
            ("name", Value::from(self.name.as_str())),
            ("roles", Value::Array(roles.collect())),
        ])
    }
}

serialize_as_contract_json!(NodeAction, Node, Transition);

/// A JSON object of these fields.
pub(super) fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let map: Map<String, Value> = fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    Value::Object(map)
}
