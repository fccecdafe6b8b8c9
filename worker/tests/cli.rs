//! `scrm-worker` as an operator starts it. Building this test also builds
//! the binary, which the fault test of the API suite runs.

use std::process::Command;

#[test]
fn the_worker_refuses_to_start_without_redis_and_names_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_scrm-worker"))
        .env_remove("REDIS_URL")
        .env("DATABASE_URL", "sqlite::memory:")
        .output()
        .expect("scrm-worker runs");

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("REDIS_URL"), "{stderr}");
}
