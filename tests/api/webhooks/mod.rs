//! Sales channels' webhooks end to end: Standard Webhooks signatures, the
//! inbox that makes a `202` durable, processing into work orders, refunds,
//! dead events and their replay, and receiving many deliveries at once.
//!
//! Processing runs on the worker, after the answer, so every effect is
//! awaited with [`eventually`] rather than assumed.

mod batching;
mod processing;
mod receiving;

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use scrm_service::channels::signature::SigningSecret;

use crate::helpers::{PASSWORD, Tenant, TestApp, assert_problem, json_of};
use crate::pricing::{publish_standard_list, set_up_catalogue};

/// An address that resolves to Nanshan, Shenzhen, which the standard
/// catalogue maps to tier T1.
const SHENZHEN: &str = "广东省深圳市南山区科技园科苑路15号3栋1201";
const EVENTS: &str = "/api/v1/admin/webhook-events";

/// A registered channel and the secret it signs with.
pub struct Channel {
    pub id: String,
    pub secret: String,
}

/// Registers a channel through the admin API.
pub async fn register_channel(app: &TestApp, tenant: &Tenant, name: &str) -> Channel {
    let response = app
        .post(
            "/api/v1/admin/webhook-channels",
            &tenant.admin_token,
            &json!({"name": name}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "registering {name}");
    let body = json_of(response).await;
    let text = |key: &str| body[key].as_str().expect("a string").to_owned();
    Channel {
        id: text("id"),
        secret: text("secret"),
    }
}

/// Polls `probe` until it finds what it looks for. The work it waits on
/// runs in the background, and many servers share the machine during the
/// suite, so the deadline is generous; nothing here measures how long the
/// work took.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The three Standard Webhooks headers for one delivery.
fn signed_headers(secret: &str, webhook_id: &str, timestamp: i64, body: &[u8]) -> Headers {
    let signature = SigningSecret::parse(secret)
        .expect("the channel's secret parses")
        .sign(webhook_id, timestamp, body);
    vec![
        ("webhook-id", webhook_id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ]
}

type Headers = Vec<(&'static str, String)>;

async fn post_webhook(app: &TestApp, channel_id: &str, headers: &Headers, body: &[u8]) -> Response {
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/webhooks/{channel_id}")))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.expect("the webhook is sent")
}

/// Delivers `event` as the channel would: signed with its secret, now.
pub async fn deliver(
    app: &TestApp,
    channel: &Channel,
    webhook_id: &str,
    event: &Value,
) -> Response {
    deliver_signed_with(app, channel, &channel.secret, webhook_id, event).await
}

async fn deliver_signed_with(
    app: &TestApp,
    channel: &Channel,
    secret: &str,
    webhook_id: &str,
    event: &Value,
) -> Response {
    let body = event.to_string().into_bytes();
    let headers = signed_headers(secret, webhook_id, Utc::now().timestamp(), &body);
    post_webhook(app, &channel.id, &headers, &body).await
}

/// Asserts a `202` and answers the stored event's id.
async fn accepted(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let receipt = json_of(response).await;
    assert_eq!(receipt["status"], "accepted", "{receipt}");
    receipt["event_id"]
        .as_str()
        .expect("an event id")
        .to_owned()
}

fn paid(order_no: &str, service_item: &str) -> Value {
    json!({"type": "order.paid", "data": {
        "order_no": order_no, "paid_at": "2026-12-03T08:00:00Z",
        "customer": {"name": "张三", "phone": "13912345678", "address": SHENZHEN},
        "items": [{"service_item": service_item, "quantity": 2, "sale_price_fen": 100000}]}})
}

fn refunded(order_no: &str) -> Value {
    json!({"type": "order.refunded", "data": {"order_no": order_no}})
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    json_of(response).await
}

/// Waits until the event is done with, `processed` or `dead` (a `failed`
/// event is still being retried), and answers it.
async fn settled_event(app: &TestApp, token: &str, id: &str) -> Value {
    let path = format!("{EVENTS}/{id}");
    let path = &path;
    eventually("the event to be processed or dead", || async move {
        let event = get_json(app, path, token).await;
        matches!(event["status"].as_str(), Some("processed" | "dead")).then_some(event)
    })
    .await
}

/// The tenant's work orders a channel's `order_no` created.
async fn orders_for(app: &TestApp, token: &str, order_no: &str) -> Vec<Value> {
    let listed = get_json(
        app,
        &format!("/api/v1/work-orders?external_order_no={order_no}"),
        token,
    )
    .await;
    listed["items"].as_array().cloned().unwrap_or_default()
}

/// Waits for the work order of `order_no` and answers its detail.
async fn work_order_for(app: &TestApp, token: &str, order_no: &str) -> Value {
    let summary = eventually("the work order of a paid order", || async move {
        orders_for(app, token, order_no).await.into_iter().next()
    })
    .await;
    let id = summary["id"].as_str().expect("an id");
    get_json(app, &format!("/api/v1/work-orders/{id}"), token).await
}

async fn event_count(app: &TestApp, token: &str) -> usize {
    let listed = get_json(app, EVENTS, token).await;
    listed["items"].as_array().map_or(0, Vec::len)
}

/// A tenant with the standard catalogue and price list, and a channel.
async fn open_shop(app: &TestApp) -> (Tenant, Channel) {
    let tenant = app.create_tenant("acme").await;
    set_up_catalogue(app, &tenant).await;
    publish_standard_list(app, &tenant).await;
    let channel = register_channel(app, &tenant, "天猫旗舰店").await;
    (tenant, channel)
}

fn earnings_kinds(order: &Value) -> Vec<(String, i64)> {
    order["earnings"]["lines"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| {
                    let kind = l["kind"].as_str().unwrap_or_default().to_owned();
                    (kind, l["amount_fen"].as_i64().unwrap_or(0))
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn act_ok(app: &TestApp, token: &str, id: &str, action: &str, body: Value) -> Value {
    let response = app
        .post(
            &format!("/api/v1/work-orders/{id}/actions/{action}"),
            token,
            &body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{action}");
    json_of(response).await
}

/// Takes a channel's order from payment through completion, which posts
/// the installer's earnings; answers the order's id.
async fn complete_paid_order(app: &TestApp, tenant: &Tenant, channel: &Channel) -> String {
    let (installer_id, installer) = app.create_installer(tenant, "li.wei").await;
    accepted(deliver(app, channel, "msg_paid", &paid("TB-7", "AC-INSTALL")).await).await;
    let order = work_order_for(app, &tenant.admin_token, "TB-7").await;
    let id = order["id"].as_str().expect("an id").to_owned();
    let assign = json!({"assignee_id": installer_id});
    act_ok(app, &tenant.admin_token, &id, "assign", assign).await;
    for action in ["accept", "arrive", "complete"] {
        act_ok(app, &installer, &id, action, json!({})).await;
    }
    id
}
