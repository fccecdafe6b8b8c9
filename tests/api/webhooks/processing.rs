//! Processing: refunds, dead events and their replay, tenant isolation and
//! events of other types.

use super::*;

#[tokio::test]
async fn a_refund_that_arrives_before_its_paid_order_is_retried_until_it_applies() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let token = acme.admin_token.as_str();
    let refund = accepted(deliver(&app, &channel, "msg_1", &refunded("TB-2002")).await).await;
    // Borrowed, so that the polling closure below can be called again.
    let (server, path) = (&app, &format!("{EVENTS}/{refund}"));
    let waiting = eventually("the early refund to fail", || async move {
        let event = get_json(server, path, token).await;
        (event["status"] == "failed").then_some(event)
    })
    .await;
    assert!(waiting["next_attempt_at"].is_string(), "{waiting}");
    assert!(
        waiting["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no work order")),
        "{waiting}"
    );

    accepted(deliver(&app, &channel, "msg_2", &paid("TB-2002", "AC-INSTALL")).await).await;

    let order = work_order_for(&app, token, "TB-2002").await;
    let applied = settled_event(&app, token, &refund).await;
    assert_eq!(applied["status"], "processed", "{applied}");
    let id = order["id"].as_str().expect("an id");
    let after = get_json(&app, &format!("/api/v1/work-orders/{id}"), token).await;
    assert_eq!(after["status"], "cancelled");
}

#[tokio::test]
async fn a_refund_cancels_the_open_work_order() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    accepted(deliver(&app, &channel, "msg_1", &paid("TB-2001", "AC-INSTALL")).await).await;
    let order = work_order_for(&app, &acme.admin_token, "TB-2001").await;

    let refund = accepted(deliver(&app, &channel, "msg_2", &refunded("TB-2001")).await).await;

    let event = settled_event(&app, &acme.admin_token, &refund).await;
    assert_eq!(event["status"], "processed", "{event}");
    let id = order["id"].as_str().expect("an id");
    let after = get_json(
        &app,
        &format!("/api/v1/work-orders/{id}"),
        &acme.admin_token,
    )
    .await;
    assert_eq!(after["status"], "cancelled");
    assert!(
        after["cancel_reason"]
            .as_str()
            .is_some_and(|r| r.contains("TB-2001")),
        "{after}"
    );
}

#[tokio::test]
async fn a_refund_after_the_earnings_were_posted_reverses_them_instead_of_editing_them() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let id = complete_paid_order(&app, &acme, &channel).await;

    let refund = accepted(deliver(&app, &channel, "msg_refund", &refunded("TB-7")).await).await;

    settled_event(&app, &acme.admin_token, &refund).await;
    let after = get_json(
        &app,
        &format!("/api/v1/work-orders/{id}"),
        &acme.admin_token,
    )
    .await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(
        earnings_kinds(&after),
        [
            ("base".to_owned(), 24_000),
            ("reversal".to_owned(), -24_000)
        ]
    );
    assert_eq!(after["earnings"]["total_fen"], 0);
}

/// Takes a channel's order through completion and the dispatcher's review,
/// which closes it; answers the order's id.
async fn close_paid_order(app: &TestApp, tenant: &Tenant, channel: &Channel) -> String {
    let id = complete_paid_order(app, tenant, channel).await;
    app.create_user(
        tenant,
        json!({"username": "dispatch", "password": PASSWORD, "role": "dispatcher", "name": "调度"}),
    )
    .await;
    let dispatcher = app.token(&tenant.code, "dispatch", PASSWORD).await;
    let closed = act_ok(app, &dispatcher, &id, "review", json!({})).await;
    assert_eq!(closed["status"], "closed");
    id
}

#[tokio::test]
async fn a_refund_of_a_closed_order_adds_a_reversal_and_leaves_it_closed() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let id = close_paid_order(&app, &acme, &channel).await;

    let refund = accepted(deliver(&app, &channel, "msg_refund", &refunded("TB-7")).await).await;

    let event = settled_event(&app, &acme.admin_token, &refund).await;
    assert_eq!(event["status"], "processed", "{event}");
    let after = get_json(
        &app,
        &format!("/api/v1/work-orders/{id}"),
        &acme.admin_token,
    )
    .await;
    assert_eq!(after["status"], "closed");
    assert_eq!(
        earnings_kinds(&after),
        [
            ("base".to_owned(), 24_000),
            ("reversal".to_owned(), -24_000)
        ]
    );
}

#[tokio::test]
async fn a_closed_order_refunded_again_or_replayed_is_reversed_only_once() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let id = close_paid_order(&app, &acme, &channel).await;
    let first = accepted(deliver(&app, &channel, "msg_refund", &refunded("TB-7")).await).await;
    settled_event(&app, &acme.admin_token, &first).await;

    // The shop resends the refund under a new id, and an admin replays the
    // first one: neither may take the earnings back a second time.
    let again = accepted(deliver(&app, &channel, "msg_refund_2", &refunded("TB-7")).await).await;
    settled_event(&app, &acme.admin_token, &again).await;
    let replay = app
        .post(
            &format!("{EVENTS}/{first}/replay"),
            &acme.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(replay.status(), StatusCode::OK);
    settled_event(&app, &acme.admin_token, &first).await;

    let after = get_json(
        &app,
        &format!("/api/v1/work-orders/{id}"),
        &acme.admin_token,
    )
    .await;
    assert_eq!(
        earnings_kinds(&after),
        [
            ("base".to_owned(), 24_000),
            ("reversal".to_owned(), -24_000)
        ],
        "the earnings are reversed once"
    );
}

#[tokio::test]
async fn a_paid_order_naming_an_unknown_item_is_dead_until_mended_and_replayed_once() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let token = &acme.admin_token;
    let event_id =
        accepted(deliver(&app, &channel, "msg_1", &paid("TB-3001", "WM-INSTALL")).await).await;

    let dead = settled_event(&app, token, &event_id).await;
    assert_eq!(dead["status"], "dead");
    assert_eq!(dead["attempts"], 1);
    assert!(
        dead["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("service_item")),
        "{dead}"
    );
    assert!(orders_for(&app, token, "TB-3001").await.is_empty());

    // Mend the cause: the item exists and has a price.
    let item = json!({"code": "WM-INSTALL", "name": "洗衣机安装", "unit": "台"});
    let created = app.post("/api/v1/admin/service-items", token, &item).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let list = json!({"name": "含洗衣机", "effective_from": "2026-01-01T00:00:00Z", "prices": [
        {"service_item": "WM-INSTALL", "tier": "T1", "unit_price_fen": 8000}]});
    let list = json_of(app.post("/api/v1/admin/price-lists", token, &list).await).await;
    let publish = format!(
        "/api/v1/admin/price-lists/{}/publish",
        list["id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        app.post(&publish, token, &json!({})).await.status(),
        StatusCode::OK
    );
    let replay = format!("{EVENTS}/{event_id}/replay");

    let replayed = app.post(&replay, token, &json!({})).await;

    assert_eq!(replayed.status(), StatusCode::OK);
    let processed = settled_event(&app, token, &event_id).await;
    assert_eq!(processed["status"], "processed", "{processed}");
    assert!(processed["last_error"].is_null(), "{processed}");
    let order = work_order_for(&app, token, "TB-3001").await;
    assert_eq!(order["lines"][0]["service_item"], "WM-INSTALL");
    assert_eq!(order["earnings"]["status"], "estimated");

    let again = app.post(&replay, token, &json!({})).await;

    assert_eq!(again.status(), StatusCode::OK);
    let processed = settled_event(&app, token, &event_id).await;
    assert_eq!(processed["status"], "processed");
    assert_eq!(orders_for(&app, token, "TB-3001").await.len(), 1);
}

#[tokio::test]
async fn a_paid_order_without_a_customer_is_dead_at_once() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let mut event = paid("TB-3002", "AC-INSTALL");
    event["data"]
        .as_object_mut()
        .expect("an object")
        .remove("customer");

    let event_id = accepted(deliver(&app, &channel, "msg_1", &event).await).await;

    let dead = settled_event(&app, &acme.admin_token, &event_id).await;
    assert_eq!(dead["status"], "dead");
    assert_eq!(dead["attempts"], 1);
    assert!(
        dead["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("customer")),
        "{dead}"
    );
    assert!(
        orders_for(&app, &acme.admin_token, "TB-3002")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn another_tenant_and_an_installer_cannot_reach_a_channels_events() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let globex = app.create_tenant("globex").await;
    let (_, installer) = app.create_installer(&acme, "li.wei").await;
    let event_id =
        accepted(deliver(&app, &channel, "msg_1", &paid("TB-4001", "AC-INSTALL")).await).await;
    settled_event(&app, &acme.admin_token, &event_id).await;
    let event = format!("{EVENTS}/{event_id}");
    let replay = format!("{event}/replay");
    let rotation = format!(
        "/api/v1/admin/webhook-channels/{}/rotate-secret",
        channel.id
    );
    let foreign_filter = format!("{EVENTS}?channel_id={}", channel.id);

    let foreign_get = app.get(&event, &globex.admin_token).await;
    let foreign_replay = app.post(&replay, &globex.admin_token, &json!({})).await;
    let foreign_rotation = app.post(&rotation, &globex.admin_token, &json!({})).await;
    let foreign_list = get_json(&app, &foreign_filter, &globex.admin_token).await;
    let installer_channels = app.get("/api/v1/admin/webhook-channels", &installer).await;
    let installer_replay = app.post(&replay, &installer, &json!({})).await;

    assert_problem(foreign_get, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(foreign_replay, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(foreign_rotation, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(foreign_list["items"], json!([]));
    assert_problem(installer_channels, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(installer_replay, StatusCode::NOT_FOUND, "not_found").await;
    let untouched = get_json(&app, &event, &acme.admin_token).await;
    assert_eq!(
        (untouched["status"].as_str(), untouched["attempts"].as_i64()),
        (Some("processed"), Some(1)),
        "the refused replay changed nothing"
    );
    let old_secret = deliver(
        &app,
        &channel,
        "msg_2",
        &json!({"type": "note.added", "data": {}}),
    )
    .await;
    assert_eq!(
        old_secret.status(),
        StatusCode::ACCEPTED,
        "the secret was not rotated"
    );
}

#[tokio::test]
async fn other_event_types_are_stored_and_processed_doing_nothing() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let event = json!({"type": "order.shipped", "data": {"order_no": "TB-5001"}});

    let event_id = accepted(deliver(&app, &channel, "msg_1", &event).await).await;

    let stored = settled_event(&app, &acme.admin_token, &event_id).await;
    assert_eq!(stored["status"], "processed");
    assert_eq!(stored["type"], "order.shipped");
    assert_eq!(stored["body"], event);
    let orders = get_json(&app, "/api/v1/work-orders", &acme.admin_token).await;
    assert_eq!(orders["items"], json!([]));
}
