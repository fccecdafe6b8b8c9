use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_problem};

#[tokio::test]
async fn errors_answer_problem_json_for_each_status() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    let send_raw = |body: String| {
        app.client
            .post(app.url("/api/v1/admin/partners"))
            .bearer_auth(&acme.admin_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let malformed = send_raw("{\"name\": ".to_owned()).await.expect("sent");
    assert_problem(malformed, StatusCode::BAD_REQUEST, "malformed_request").await;

    let unauthenticated = app
        .client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .expect("sent");
    assert_problem(unauthenticated, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let unknown = app.get("/api/v1/no-such-thing", &acme.admin_token).await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;

    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
    let too_large = send_raw(huge).await.expect("sent");
    assert_problem(
        too_large,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    let mistyped = send_raw("{\"name\": 42}".to_owned()).await.expect("sent");
    let body = assert_problem(
        mistyped,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "name");
}

#[tokio::test]
async fn a_request_with_several_bad_fields_lists_them_all_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;

    let response = app
        .post(
            "/api/v1/admin/users",
            &acme.admin_token,
            &json!({"username": "has space", "password": "short", "role": "boss",
                    "name": "", "phone": "12345"}),
        )
        .await;

    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    fields.sort_unstable();
    assert_eq!(fields, ["name", "password", "phone", "role", "username"]);
    let users = app.get("/api/v1/admin/users", &acme.admin_token).await;
    let users: serde_json::Value = users.json().await.expect("JSON");
    assert_eq!(
        users["items"].as_array().map(Vec::len),
        Some(1),
        "only the admin exists"
    );
}

#[tokio::test]
async fn unknown_fields_are_refused_rather_than_ignored() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;

    let response = app
        .post(
            "/api/v1/admin/partners",
            &acme.admin_token,
            &json!({"name": "华南", "tenant_id": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;

    let body = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "tenant_id");
}

#[tokio::test]
async fn a_taken_username_is_a_conflict() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    app.create_installer(&acme, "li.wei").await;

    let again = app
        .post(
            "/api/v1/admin/users",
            &acme.admin_token,
            &json!({"username": "li.wei", "password": "long-enough-1", "role": "dispatcher",
                    "name": "李伟"}),
        )
        .await;

    assert_problem(again, StatusCode::CONFLICT, "username_taken").await;
}
