use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, json_of};

async fn create_partner(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/admin/partners"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_answer_and_change_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    let body = json!({"name": "华南安装服务部"});

    let first = create_partner(&app, &acme.admin_token, "key-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = json_of(first).await;
    let again = create_partner(&app, &acme.admin_token, "key-1", &body).await;

    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(
        again
            .headers()
            .get("idempotency-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert_eq!(json_of(again).await, first);
    let partners = json_of(app.get("/api/v1/admin/partners", &acme.admin_token).await).await;
    assert_eq!(partners["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;

    create_partner(&app, &acme.admin_token, "key-1", &json!({"name": "一"})).await;
    let other = create_partner(&app, &acme.admin_token, "key-1", &json!({"name": "二"})).await;

    assert_problem(
        other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
}

#[tokio::test]
async fn keys_belong_to_their_user() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    let globex = app.create_tenant("globex").await;
    let body = json!({"name": "华南"});

    let ours = json_of(create_partner(&app, &acme.admin_token, "shared-key", &body).await).await;
    let theirs =
        json_of(create_partner(&app, &globex.admin_token, "shared-key", &body).await).await;

    assert_ne!(
        ours["id"], theirs["id"],
        "another tenant's key must not replay our answer"
    );
}
