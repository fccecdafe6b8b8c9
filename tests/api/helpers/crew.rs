//! The people of a shop and the orders they work: partner firms, their
//! installers and managers, and an order taken through its workflow.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{PASSWORD, Tenant, TestApp, json_of};

/// An installer's id and access token.
pub struct Installer {
    pub id: String,
    pub token: String,
}

/// An employee installer, signed in.
pub async fn hire(app: &TestApp, tenant: &Tenant, username: &str) -> Installer {
    let (id, token) = app.create_installer(tenant, username).await;
    Installer { id, token }
}

/// Creates a partner firm and answers its id.
pub async fn create_partner(app: &TestApp, tenant: &Tenant, name: &str) -> String {
    let created = app
        .post(
            "/api/v1/admin/partners",
            &tenant.admin_token,
            &json!({"name": name}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    text(&json_of(created).await["id"]).to_owned()
}

/// An installer who works for the partner firm `partner_id`.
pub async fn hire_for_partner(
    app: &TestApp,
    tenant: &Tenant,
    username: &str,
    partner_id: &str,
) -> Installer {
    let id = app
        .create_user(
            tenant,
            json!({"username": username, "password": PASSWORD, "role": "installer",
                   "name": "王强", "phone": "13800138001", "cooperation_mode": "partner",
                   "partner_id": partner_id}),
        )
        .await;
    let token = app.token(&tenant.code, username, PASSWORD).await;
    Installer { id, token }
}

/// The manager of the partner firm `partner_id`; answers the access token.
pub async fn partner_manager(
    app: &TestApp,
    tenant: &Tenant,
    username: &str,
    partner_id: &str,
) -> String {
    app.create_user(
        tenant,
        json!({"username": username, "password": PASSWORD, "role": "partner_manager",
               "name": "经理", "partner_id": partner_id}),
    )
    .await;
    app.token(&tenant.code, username, PASSWORD).await
}

/// Takes `action` on an order, which must succeed.
pub async fn act(app: &TestApp, token: &str, id: &str, action: &str, body: Value) {
    let response = app
        .post(
            &format!("/api/v1/work-orders/{id}/actions/{action}"),
            token,
            &body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{action} on {id}");
}

/// Creates the order `body` as the dispatcher, assigns it to `installer`,
/// who then takes `actions`; answers the order's id.
pub async fn order_through(
    app: &TestApp,
    dispatcher: &str,
    body: &Value,
    installer: &Installer,
    actions: &[&str],
) -> String {
    let created = app.post("/api/v1/work-orders", dispatcher, body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = text(&json_of(created).await["id"]).to_owned();
    let assign = json!({"assignee_id": installer.id});
    act(app, dispatcher, &id, "assign", assign).await;
    for action in actions {
        act(app, &installer.token, &id, action, json!({})).await;
    }
    id
}

/// The `items` of a list the caller may read.
pub async fn items(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    json_of(response).await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A JSON string, or "" for anything else.
pub fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}
