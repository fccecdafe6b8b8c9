use reqwest::StatusCode;
use sea_orm::ConnectionTrait;

use crate::helpers::{Setup, TestApp, json_of, postgres_url, redis_url, say};

#[tokio::test]
async fn healthz_answers_and_echoes_a_request_id() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), StatusCode::OK);
    let request_id = response
        .headers()
        .get("x-request-id")
        .expect("a request id");
    assert!(!request_id.is_empty());
}

#[tokio::test]
async fn readyz_is_ready_when_every_dependency_answers() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    assert_eq!(body["database"], "up");
    let expected_redis = if redis_url().is_some() {
        "up"
    } else {
        "not_configured"
    };
    assert_eq!(body["redis"], expected_redis);
}

#[tokio::test]
async fn readyz_answers_503_while_redis_is_unreachable() {
    let app = TestApp::spawn_with(Setup {
        redis_url: Some("redis://127.0.0.1:1".to_owned()),
        ..Setup::default()
    })
    .await;

    let response = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(response).await["redis"], "down");
}

#[tokio::test]
async fn readyz_answers_503_while_postgres_is_unreachable() {
    if postgres_url().is_none() {
        say(
            "SKIPPED readyz_answers_503_while_postgres_is_unreachable: SCRM_TEST_POSTGRES_URL is unset",
        );
        return;
    }
    let app = TestApp::spawn().await;
    let name = app
        .database_name
        .clone()
        .expect("a PostgreSQL test database");
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(ready.status(), StatusCode::OK);

    // From the server's own database: refuse new connections to the app's
    // database and cut the open ones.
    let server = sea_orm::Database::connect(postgres_url().unwrap_or_default())
        .await
        .expect("PostgreSQL answers");
    server
        .execute_unprepared(&format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
        ))
        .await
        .expect("connections refused");
    server
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .await
        .expect("connections cut");

    let response = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(response).await["database"], "down");
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern() {
    let app = TestApp::spawn().await;
    let acme = app.create_tenant("acme").await;
    app.get(
        &format!("/api/v1/admin/users/{}", acme.admin_id),
        &acme.admin_token,
    )
    .await;

    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");

    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/v1/admin/users/{id}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn the_openapi_document_is_served_and_describes_the_routes() {
    let app = TestApp::spawn().await;

    let document = json_of(
        app.client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    let docs = app
        .client
        .get(app.url("/docs/"))
        .send()
        .await
        .expect("sent");

    for path in [
        "/api/v1/auth/login",
        "/api/v1/admin/users",
        "/api/v1/me/wechat-binding",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is missing");
    }
    assert_eq!(docs.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_show_the_inbox_by_event_type_and_status_from_the_database() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("acme").await;
    let channel = json_of(
        app.post(
            "/api/v1/admin/webhook-channels",
            &tenant.admin_token,
            &serde_json::json!({"name": "官网商城"}),
        )
        .await,
    )
    .await;
    let secret = scrm_service::channels::signature::SigningSecret::parse(
        channel["secret"].as_str().unwrap_or_default(),
    )
    .expect("a whsec_ secret");
    let body = br#"{"type": "shop.ping", "data": {}}"#;
    let timestamp = chrono::Utc::now().timestamp();

    let posted = app
        .client
        .post(app.url(&format!(
            "/api/v1/webhooks/{}",
            channel["id"].as_str().unwrap_or_default()
        )))
        .header("webhook-id", "ping-1")
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", secret.sign("ping-1", timestamp, body))
        .body(body.to_vec())
        .send()
        .await
        .expect("sent");
    assert_eq!(posted.status(), StatusCode::ACCEPTED);

    // Processing is asynchronous: wait, within a bound, for the gauge.
    let mut text = String::new();
    for _ in 0..200 {
        text = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("sent")
            .text()
            .await
            .expect("a body");
        let processed = text.lines().any(|line| {
            line.starts_with("webhook_inbox_events{")
                && line.contains(r#"type="shop.ping""#)
                && line.contains(r#"status="processed""#)
                && line.ends_with(" 1")
        });
        if processed {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no processed shop.ping in the metrics:\n{text}");
}
