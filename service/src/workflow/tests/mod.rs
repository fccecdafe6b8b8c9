//! Tests of workflow definitions: the rules one by one, the templates and
//! the contract's example, and properties of random valid graphs.

mod examples;
mod properties;
mod rules;

use serde_json::{Value, json};

use super::*;

/// The workflow keys a test tenant has: the templates' keys.
fn known(key: &str) -> bool {
    ["presale", "install", "repair", "maintenance"].contains(&key)
}

/// The contract's example of an installation workflow.
fn contract_example() -> Value {
    json!({
        "key": "install", "name": "安装", "business_type": "install",
        "nodes": [
            {"key": "new", "name": "待派单", "phase": "in_sale", "kind": "start"},
            {"key": "assigned", "name": "待接单", "phase": "in_sale",
             "on_enter": [{"notify": "installer"}]},
            {"key": "accepted", "name": "待上门", "phase": "in_sale",
             "on_enter": [{"lock_quote": {}}], "due_in_minutes": 1440},
            {"key": "completed", "name": "已完工", "phase": "in_sale",
             "on_enter": [{"settle": {}}, {"notify": "installer"}]},
            {"key": "closed", "name": "已回访", "phase": "after_sale", "kind": "end"}
        ],
        "transitions": [
            {"from": "new", "to": "assigned", "action": "assign",
             "roles": ["dispatcher", "admin"]},
            {"from": "assigned", "to": "accepted", "action": "accept", "roles": ["installer"]},
            {"from": "accepted", "to": "completed", "action": "complete",
             "roles": ["installer"]},
            {"from": "completed", "to": "closed", "action": "review",
             "roles": ["dispatcher", "customer"]}
        ]
    })
}

fn parse(json: &Value) -> Result<WorkflowDefinition, Vec<DefinitionProblem>> {
    WorkflowDefinition::parse(json, &known)
}

fn parse_ok(json: &Value) -> WorkflowDefinition {
    match parse(json) {
        Ok(definition) => definition,
        Err(problems) => panic!("expected a valid definition, got {problems:#?}"),
    }
}
