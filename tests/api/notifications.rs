//! Notifications end to end: the in-app list and its read marks, and the
//! WeChat subscribe-message pushes, with wiremock standing in for WeChat's
//! `stable_token` and `subscribe/send`.

use std::sync::Arc;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate, Times};

use scrm_service::wechat::{SubscribeMessage, WechatClient};

use crate::helpers::{Tenant, TestApp, WECHAT_APPID, assert_problem, json_of};
use crate::pricing::set_up_catalogue;
use crate::webhooks::eventually;

const TOKEN_PATH: &str = "/cgi-bin/stable_token";
const SEND_PATH: &str = "/cgi-bin/message/subscribe/send";
const OPENID: &str = "o-li-wei";

struct Crew {
    tenant: Tenant,
    installer_id: String,
    installer: String,
}

async fn set_up(app: &TestApp) -> Crew {
    let tenant = app.create_tenant("acme").await;
    set_up_catalogue(app, &tenant).await;
    let (installer_id, installer) = app.create_installer(&tenant, "li.wei").await;
    Crew {
        tenant,
        installer_id,
        installer,
    }
}

/// Creates an order and assigns it to the crew's installer, which writes
/// the installer an `order_progress` notification; answers the order.
async fn assign_new_order(app: &TestApp, crew: &Crew) -> Value {
    let token = &crew.tenant.admin_token;
    let body = json!({"workflow": "install",
        "customer": {"name": "张三", "phone": "13912345678", "address": "深圳南山科技园"},
        "lines": [{"service_item": "AC-INSTALL", "quantity": 1, "sale_price_fen": 100000}]});
    let created = app.post("/api/v1/work-orders", token, &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let order = json_of(created).await;
    let id = order["id"].as_str().expect("an id");
    let assigned = app
        .post(
            &format!("/api/v1/work-orders/{id}/actions/assign"),
            token,
            &json!({"assignee_id": crew.installer_id}),
        )
        .await;
    assert_eq!(assigned.status(), StatusCode::OK);
    order
}

/// Binds the installer's account to the WeChat user `OPENID`.
async fn bind_wechat(app: &TestApp, crew: &Crew) {
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .and(query_param("js_code", "bind-code"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"openid": OPENID, "session_key": "k"})),
        )
        .mount(&app.wechat)
        .await;
    let bound = app
        .post(
            "/api/v1/me/wechat-binding",
            &crew.installer,
            &json!({"code": "bind-code"}),
        )
        .await;
    assert_eq!(bound.status(), StatusCode::NO_CONTENT);
}

async fn set_template(app: &TestApp, crew: &Crew, body: Value) {
    let response = app
        .client
        .put(app.url("/api/v1/admin/wechat-templates/order_progress"))
        .bearer_auth(&crew.tenant.admin_token)
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
}

/// `stable_token` answers `token` to requests with this `force_refresh`.
async fn token_answers(server: &MockServer, force_refresh: bool, token: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_partial_json(json!({"force_refresh": force_refresh})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": token, "expires_in": 7200})),
        )
        .expect(times)
        .mount(server)
        .await;
}

/// `subscribe/send` answers `errcode` to requests made with `token`.
async fn send_answers(server: &MockServer, token: &str, errcode: i64, times: impl Into<Times>) {
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .and(query_param("access_token", token))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": errcode, "errmsg": "x"}))
                // A moment's wait, so that a burst of senders all hold the
                // token before any of them learns that it is expired.
                .set_delay(std::time::Duration::from_millis(50)),
        )
        .expect(times)
        .mount(server)
        .await;
}

/// The bodies of the requests WeChat received at `at`.
async fn requests_to(server: &MockServer, at: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .expect("wiremock records requests")
        .into_iter()
        .filter(|r| r.url.path() == at)
        .map(|r| r.body_json().unwrap_or(Value::Null))
        .collect()
}

/// How many messages were sent with `token`.
async fn requests_to_with_token(server: &MockServer, token: &str) -> usize {
    let requests = server
        .received_requests()
        .await
        .expect("wiremock records requests");
    requests
        .iter()
        .filter(|r| r.url.path() == SEND_PATH)
        .filter(|r| {
            r.url
                .query_pairs()
                .any(|(k, v)| k == "access_token" && v == token)
        })
        .count()
}

async fn my_notifications(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/me/notifications{query}"), token)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await
}

/// Waits until the installer's newest notification has left `pending`
/// (a delivery being retried stays there) and answers it.
async fn delivered(app: &TestApp, crew: &Crew) -> Value {
    let token = crew.installer.as_str();
    eventually("the notification's delivery to end", || async move {
        let listed = my_notifications(app, token, "").await;
        let newest = listed["items"][0].clone();
        (newest.is_object() && newest["delivery"] != "pending").then_some(newest)
    })
    .await
}

#[tokio::test]
async fn an_assigned_installer_reads_the_notification_and_no_one_else_can_mark_it() {
    let app = TestApp::spawn().await;
    let crew = set_up(&app).await;
    let (_, other) = app.create_installer(&crew.tenant, "wang").await;
    let first = assign_new_order(&app, &crew).await;
    assign_new_order(&app, &crew).await;

    let listed = my_notifications(&app, &crew.installer, "").await;
    let theirs = my_notifications(&app, &other, "").await;

    assert_eq!(listed["unread"], 2);
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let oldest = &items[1];
    assert_eq!(oldest["kind"], "order_progress");
    assert_eq!(oldest["work_order_id"], first["id"]);
    assert_eq!(oldest["read"], false);
    let number = first["number"].as_str().expect("a number");
    assert!(
        oldest["body"].as_str().is_some_and(|b| b.contains(number)),
        "{oldest}"
    );
    assert_eq!(theirs["items"], json!([]));
    assert_eq!(theirs["unread"], 0);

    let id = oldest["id"].as_str().expect("an id");
    let read_path = format!("/api/v1/me/notifications/{id}/read");
    let by_other = app.post(&read_path, &other, &json!({})).await;
    let by_admin = app
        .post(&read_path, &crew.tenant.admin_token, &json!({}))
        .await;
    let read = app.post(&read_path, &crew.installer, &json!({})).await;

    assert_problem(by_other, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(by_admin, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(read.status(), StatusCode::OK);
    let read = json_of(read).await;
    assert_eq!(read["read"], true);
    assert!(read["read_at"].is_string(), "{read}");
    let reread = json_of(app.post(&read_path, &crew.installer, &json!({})).await).await;
    assert_eq!(
        reread["read_at"], read["read_at"],
        "reading again keeps the first time"
    );
    let after = my_notifications(&app, &crew.installer, "").await;
    assert_eq!(after["unread"], 1);

    let all = app
        .post(
            "/api/v1/me/notifications/read-all",
            &crew.installer,
            &json!({}),
        )
        .await;

    assert_eq!(all.status(), StatusCode::OK);
    assert_eq!(json_of(all).await["marked"], 1);
    let after = my_notifications(&app, &crew.installer, "?unread=true").await;
    assert_eq!(after["items"], json!([]));
    assert_eq!(after["unread"], 0);
}

#[tokio::test]
async fn a_bound_installer_gets_a_subscribe_message_whose_things_fit_twenty_characters() {
    let app = TestApp::spawn().await;
    let crew = set_up(&app).await;
    bind_wechat(&app, &crew).await;
    // The body (工单WO-…已到「待接单」) is longer than a `thing` may be.
    set_template(
        &app,
        &crew,
        json!({"template_id": "tmpl-progress", "page": "pages/orders/detail",
               "fields": {"thing1": "body", "character_string2": "order_number", "time3": "time"}}),
    )
    .await;
    token_answers(&app.wechat, false, "tok-1", 1).await;
    send_answers(&app.wechat, "tok-1", 0, 1).await;

    let order = assign_new_order(&app, &crew).await;

    let notification = delivered(&app, &crew).await;
    assert_eq!(notification["delivery"], "sent");
    let sent = requests_to(&app.wechat, SEND_PATH).await;
    assert_eq!(sent.len(), 1);
    let message = &sent[0];
    assert_eq!(message["touser"], OPENID);
    assert_eq!(message["template_id"], "tmpl-progress");
    assert_eq!(message["page"], "pages/orders/detail");
    let thing = message["data"]["thing1"]["value"]
        .as_str()
        .expect("a thing value");
    assert!(thing.chars().count() <= 20, "{thing}");
    assert!(thing.starts_with("工单WO-"), "{thing}");
    assert_eq!(
        message["data"]["character_string2"]["value"],
        order["number"]
    );
    let tokens = requests_to(&app.wechat, TOKEN_PATH).await;
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["appid"], WECHAT_APPID);
    assert_eq!(tokens[0]["grant_type"], "client_credential");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_message_sent_on_the_retry() {
    let app = TestApp::spawn().await;
    let crew = set_up(&app).await;
    bind_wechat(&app, &crew).await;
    set_template(&app, &crew, json!({"template_id": "tmpl-progress"})).await;
    token_answers(&app.wechat, false, "old", 1).await;
    token_answers(&app.wechat, true, "new", 1).await;
    send_answers(&app.wechat, "old", 42001, 1).await;
    send_answers(&app.wechat, "new", 0, 1).await;

    assign_new_order(&app, &crew).await;

    let notification = delivered(&app, &crew).await;
    assert_eq!(notification["delivery"], "sent");
    let refreshes = requests_to(&app.wechat, TOKEN_PATH)
        .await
        .into_iter()
        .filter(|t| t["force_refresh"] == true)
        .count();
    assert_eq!(refreshes, 1);
    assert_eq!(requests_to(&app.wechat, SEND_PATH).await.len(), 2);
}

#[tokio::test]
async fn a_user_who_declined_subscribe_messages_is_refused_without_a_retry() {
    let app = TestApp::spawn().await;
    let crew = set_up(&app).await;
    bind_wechat(&app, &crew).await;
    set_template(&app, &crew, json!({"template_id": "tmpl-progress"})).await;
    token_answers(&app.wechat, false, "tok", 1).await;
    send_answers(&app.wechat, "tok", 43101, 1).await;

    assign_new_order(&app, &crew).await;

    let notification = delivered(&app, &crew).await;
    assert_eq!(notification["delivery"], "refused");
    assert_eq!(requests_to(&app.wechat, SEND_PATH).await.len(), 1);
}

/// A template WeChat refuses (a field breaking its type's rules, or no such
/// template) fails the delivery at once: retrying cannot mend it.
async fn a_template_error_fails_without_a_retry(errcode: i64) {
    let app = TestApp::spawn().await;
    let crew = set_up(&app).await;
    bind_wechat(&app, &crew).await;
    set_template(&app, &crew, json!({"template_id": "tmpl-progress"})).await;
    token_answers(&app.wechat, false, "tok", 1).await;
    send_answers(&app.wechat, "tok", errcode, 1).await;

    assign_new_order(&app, &crew).await;

    let notification = delivered(&app, &crew).await;
    assert_eq!(notification["delivery"], "failed", "errcode {errcode}");
    assert_eq!(requests_to(&app.wechat, SEND_PATH).await.len(), 1);
}

#[tokio::test]
async fn a_field_wechat_refuses_47003_fails_the_delivery_without_a_retry() {
    a_template_error_fails_without_a_retry(47003).await;
}

#[tokio::test]
async fn an_unknown_template_40037_fails_the_delivery_without_a_retry() {
    a_template_error_fails_without_a_retry(40037).await;
}

#[tokio::test]
async fn a_user_without_a_bound_wechat_is_notified_in_the_app_only() {
    let app = TestApp::spawn().await;
    let crew = set_up(&app).await;
    set_template(&app, &crew, json!({"template_id": "tmpl-progress"})).await;

    assign_new_order(&app, &crew).await;

    let notification = delivered(&app, &crew).await;
    assert_eq!(notification["delivery"], "in_app");
    assert!(requests_to(&app.wechat, SEND_PATH).await.is_empty());
    assert!(requests_to(&app.wechat, TOKEN_PATH).await.is_empty());
}

#[tokio::test]
async fn a_kind_without_a_template_is_notified_in_the_app_only() {
    let app = TestApp::spawn().await;
    let crew = set_up(&app).await;
    bind_wechat(&app, &crew).await;

    assign_new_order(&app, &crew).await;

    let notification = delivered(&app, &crew).await;
    assert_eq!(notification["delivery"], "in_app");
    assert!(requests_to(&app.wechat, SEND_PATH).await.is_empty());
    assert!(requests_to(&app.wechat, TOKEN_PATH).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_sends_with_an_expired_token_refresh_it_once() {
    let wechat = MockServer::start().await;
    token_answers(&wechat, false, "old", 1).await;
    token_answers(&wechat, true, "new", 1).await;
    // Senders that start after the refresh never see the old token, so
    // only some of them may be refused.
    send_answers(&wechat, "old", 40001, 1..=50).await;
    send_answers(&wechat, "new", 0, 50).await;
    let client = Arc::new(
        WechatClient::new(&wechat.uri(), "appid", SecretString::from("s"))
            .expect("the client builds"),
    );

    let sends = (0..50).map(|i| {
        let client = Arc::clone(&client);
        tokio::spawn(async move {
            let openid = format!("o-{i}");
            let data = json!({"thing1": {"value": "待接单"}});
            let message = SubscribeMessage {
                openid: &openid,
                template_id: "tmpl",
                page: None,
                data: &data,
            };
            client.send_subscribe_message(&message).await
        })
    });
    let outcomes = futures_util::future::join_all(sends).await;

    let failures: Vec<String> = outcomes
        .into_iter()
        .filter_map(|joined| match joined {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        })
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    let tokens = requests_to(&wechat, TOKEN_PATH).await;
    let forced = tokens.iter().filter(|t| t["force_refresh"] == true).count();
    assert_eq!(forced, 1, "one refresh for the whole burst");
    assert_eq!(tokens.len(), 2, "one first fetch and one refresh");
    let with_new = requests_to_with_token(&wechat, "new").await;
    assert_eq!(
        with_new, 50,
        "every sender retried once, with the new token"
    );
}
