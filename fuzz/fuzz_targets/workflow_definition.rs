//! Any JSON as a workflow definition: the validator must answer the
//! definition or its list of problems, and never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scrm_service::workflow::WorkflowDefinition;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = WorkflowDefinition::parse(&json, &|_| true);
});
