//! Reminders for orders that stay at a node past its `due_in_minutes`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, json_of};
use crate::pricing::{publish_standard_list, set_up_catalogue};

async fn notifications_of(app: &TestApp, token: &str, kind: &str) -> Vec<Value> {
    let page = json_of(app.get("/api/v1/me/notifications", token).await).await;
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|n| n["kind"] == kind)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_overdue_order_reminds_its_installer_and_the_dispatchers_once_per_episode() {
    // Arrange: an order assigned to an installer; 待接单 is due in 120 minutes.
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("acme").await;
    set_up_catalogue(&app, &tenant).await;
    publish_standard_list(&app, &tenant).await;
    app.create_user(
        &tenant,
        json!({"username": "dispatch", "password": PASSWORD, "role": "dispatcher", "name": "调度"}),
    )
    .await;
    let dispatcher = app.token("acme", "dispatch", PASSWORD).await;
    let (installer_id, installer) = app.create_installer(&tenant, "li.wei").await;
    let order = json_of(
        app.post(
            "/api/v1/work-orders",
            &dispatcher,
            &json!({"workflow": "install",
                    "customer": {"name": "张三", "phone": "13912345678", "address": "深圳南山科技园"},
                    "lines": [{"service_item": "AC-INSTALL", "quantity": 1, "sale_price_fen": 0}]}),
        )
        .await,
    )
    .await;
    let id = order["id"].as_str().unwrap_or_default();
    let assigned = app
        .post(
            &format!("/api/v1/work-orders/{id}/actions/assign"),
            &dispatcher,
            &json!({"assignee_id": installer_id}),
        )
        .await;
    assert_eq!(assigned.status(), StatusCode::OK);
    let later = chrono::Utc::now() + chrono::Duration::minutes(121);
    let before = chrono::Utc::now() + chrono::Duration::minutes(119);

    // Act: sweep before the due time, after it, and after it again.
    let early = scrm_service::work_orders::overdue::remind_overdue(&app.db, before, 100).await;
    let first = scrm_service::work_orders::overdue::remind_overdue(&app.db, later, 100).await;
    let second = scrm_service::work_orders::overdue::remind_overdue(&app.db, later, 100).await;

    // Assert
    assert_eq!(early.expect("the sweep runs"), 0);
    assert_eq!(first.expect("the sweep runs"), 1);
    assert_eq!(second.expect("the sweep runs"), 0);
    let to_installer = notifications_of(&app, &installer, "overdue").await;
    let to_dispatcher = notifications_of(&app, &dispatcher, "overdue").await;
    assert_eq!(to_installer.len(), 1);
    assert_eq!(to_dispatcher.len(), 1);
    assert_eq!(to_installer[0]["work_order_id"], id);
}

#[tokio::test]
async fn a_new_due_time_is_a_new_episode_with_its_own_reminder() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("acme").await;
    set_up_catalogue(&app, &tenant).await;
    publish_standard_list(&app, &tenant).await;
    let (installer_id, installer) = app.create_installer(&tenant, "li.wei").await;
    let order = json_of(
        app.post(
            "/api/v1/work-orders",
            &tenant.admin_token,
            &json!({"workflow": "install",
                    "customer": {"name": "张三", "phone": "13912345678", "address": "深圳南山科技园"},
                    "lines": [{"service_item": "AC-INSTALL", "quantity": 1, "sale_price_fen": 0}]}),
        )
        .await,
    )
    .await;
    let id = order["id"].as_str().unwrap_or_default();
    let act = |token: String, action: &'static str, body: Value| {
        let path = format!("/api/v1/work-orders/{id}/actions/{action}");
        let app = &app;
        async move { app.post(&path, &token, &body).await.status() }
    };
    assert_eq!(
        act(
            tenant.admin_token.clone(),
            "assign",
            json!({"assignee_id": installer_id})
        )
        .await,
        StatusCode::OK
    );
    let far = chrono::Utc::now() + chrono::Duration::days(30);
    scrm_service::work_orders::overdue::remind_overdue(&app.db, far, 100)
        .await
        .expect("the sweep runs");

    // Accepting moves the order to 待上门, which has a due time of its own.
    assert_eq!(
        act(installer.clone(), "accept", json!({})).await,
        StatusCode::OK
    );
    let reminded = scrm_service::work_orders::overdue::remind_overdue(&app.db, far, 100)
        .await
        .expect("the sweep runs");

    assert_eq!(reminded, 1);
    assert_eq!(notifications_of(&app, &installer, "overdue").await.len(), 2);
}
