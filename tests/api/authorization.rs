//! Authorization across the whole API, driven by one table (`routes`).
//!
//! The contract promises that a request never reaches another tenant's
//! data, that a role never reaches what is not its own, and that either
//! refusal answers 404 (401 without a token), never 403, so that ids cannot
//! be probed. This test holds every route to that, in three parts:
//!
//! 1. the matrix: every route, as each of the five roles and as nobody,
//!    about an own object, a sibling object of the same tenant and an
//!    object of another tenant, each with its expected status, and no
//!    answer carrying what its caller may not read;
//! 2. probes: on every route with an id, guessed ids answer as objects
//!    nobody has;
//! 3. tampering: bodies with fields the route does not take, or that the
//!    caller may not set, are refused and change nothing.
//!
//! The table is checked against the OpenAPI document the server serves, so
//! a new route cannot go untested.

mod matrix;
mod probes;
mod routes;
mod tampering;
mod world;

use std::collections::BTreeSet;
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, json_of, say, spawn_ahead, wechat_answers};
use routes::{BINDING_CODE, Route};
use world::World;

#[tokio::test]
async fn every_route_answers_each_role_only_about_what_is_its_own() {
    // Arrange
    let started = Instant::now();
    let app = spawn_ahead().await;
    let table = routes::table();
    table_covers_the_openapi_document(&app, &table).await;
    let mut world = World::build(&app).await;
    let openid = json!({"openid": "o-matrix", "session_key": "k"});
    wechat_answers(&app, BINDING_CODE, openid).await;
    let built = started.elapsed();

    // Act and assert: tampering first, while orders and statements are
    // open to it; settling the statements leaves them as the matrix needs.
    let mut failures = Vec::new();
    let mut tampered = tampering::refuse_privileged_fields(&app, &world, &mut failures).await;
    tampered += tampering::settle(&app, &mut world.home, &mut failures).await;
    tampered += tampering::settle(&app, &mut world.away, &mut failures).await;
    let (cells, matrix_failures) = matrix::run(&app, &world, &table).await;
    let (probed, probe_failures) = probes::run(&app, &world, &table).await;
    failures.extend(matrix_failures);
    failures.extend(probe_failures);

    // Assert
    say(&format!(
        "authorization: {} routes, {cells} cells, {probed} probed ids, {tampered} tampered \
         bodies; set up in {built:.1?}, done in {:.1?}",
        table.len(),
        started.elapsed()
    ));
    let shown: Vec<&str> = failures.iter().take(80).map(String::as_str).collect();
    assert!(
        failures.is_empty(),
        "{} answers were not as expected:\n{}",
        failures.len(),
        shown.join("\n")
    );
}

/// Fails where the served OpenAPI document and the table disagree about
/// which operations exist.
async fn table_covers_the_openapi_document(app: &TestApp, table: &[Route]) {
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await;
    let response = response.expect("the document is fetched");
    assert_eq!(response.status(), StatusCode::OK);
    let document = json_of(response).await;
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let tabled: BTreeSet<(String, String)> = table
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let untested: Vec<_> = documented.difference(&tabled).collect();
    let undocumented: Vec<_> = tabled.difference(&documented).collect();
    assert!(
        untested.is_empty(),
        "routes missing from the table: {untested:?}"
    );
    assert!(
        undocumented.is_empty(),
        "routes the document lacks: {undocumented:?}"
    );
    assert_eq!(tabled.len(), table.len(), "a route is in the table twice");
}
