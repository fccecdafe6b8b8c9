//! Receiving: signatures, timestamps, body limits, secret rotation and the
//! channel list.

use super::*;

#[tokio::test]
async fn a_signed_paid_order_becomes_an_installation_at_its_start_node_with_an_estimate() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;

    let response = deliver(&app, &channel, "msg_1", &paid("TB-1001", "AC-INSTALL")).await;

    let event_id = accepted(response).await;
    let order = work_order_for(&app, &acme.admin_token, "TB-1001").await;
    assert_eq!(order["status"], "open");
    assert_eq!(order["workflow"]["key"], "install");
    assert_eq!(order["node"]["key"], "new");
    assert_eq!(order["external_order_no"], "TB-1001");
    assert_eq!(
        order["region"],
        json!({"code": "440305", "name": "广东省深圳市南山区", "tier": "T1"})
    );
    assert_eq!(
        order["lines"],
        json!([{"service_item": "AC-INSTALL", "quantity": 2, "sale_price_fen": 100000}])
    );
    assert_eq!(order["earnings"]["status"], "estimated");
    let event = settled_event(&app, &acme.admin_token, &event_id).await;
    assert_eq!(event["status"], "processed");
    assert_eq!(event["type"], "order.paid");
    assert_eq!(event["webhook_id"], "msg_1");
}

#[tokio::test]
async fn a_repeated_webhook_id_is_200_and_a_repeated_order_number_makes_no_second_order() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let event = paid("TB-1002", "AC-INSTALL");
    let first = accepted(deliver(&app, &channel, "msg_1", &event).await).await;
    settled_event(&app, &acme.admin_token, &first).await;

    let again = deliver(&app, &channel, "msg_1", &event).await;
    let renamed = deliver(&app, &channel, "msg_2", &event).await;

    assert_eq!(again.status(), StatusCode::OK);
    let receipt = json_of(again).await;
    assert_eq!(receipt["status"], "duplicate");
    assert_eq!(receipt["event_id"], first.as_str());
    let second = accepted(renamed).await;
    assert_ne!(second, first);
    let processed = settled_event(&app, &acme.admin_token, &second).await;
    assert_eq!(processed["status"], "processed");
    assert_eq!(
        orders_for(&app, &acme.admin_token, "TB-1002").await.len(),
        1
    );
    assert_eq!(event_count(&app, &acme.admin_token).await, 2);
}

/// Sleeps into the first moments of a new second, so that a timestamp
/// computed now is still the same whole second when the server reads it.
async fn at_the_start_of_a_second() {
    let into = Utc::now().timestamp_subsec_millis();
    let wait = 1000 - u64::from(into.min(999)) + 10;
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

#[tokio::test]
async fn bad_signatures_and_stale_timestamps_are_401_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let body = paid("TB-1003", "AC-INSTALL").to_string().into_bytes();
    let now = Utc::now().timestamp();
    let good = signed_headers(&channel.secret, "msg_1", now, &body);
    let tampered = paid("TB-9999", "AC-INSTALL").to_string().into_bytes();
    let wrong_secret = signed_headers(&SigningSecret::generate(), "msg_1", now, &body);
    let without =
        |name: &str| -> Headers { good.iter().filter(|(n, _)| *n != name).cloned().collect() };
    let mut not_a_number = good.clone();
    not_a_number[1].1 = "soon".to_owned();
    let past = signed_headers(&channel.secret, "msg_1", now - 301, &body);
    let cases: Vec<(&str, Headers, &[u8])> = vec![
        ("a tampered body", good.clone(), tampered.as_slice()),
        ("another secret", wrong_secret, &body),
        ("no webhook-id", without("webhook-id"), &body),
        ("no webhook-timestamp", without("webhook-timestamp"), &body),
        ("no webhook-signature", without("webhook-signature"), &body),
        ("a timestamp that is not a number", not_a_number, &body),
        ("a timestamp 301 s old", past, &body),
    ];

    let mut refused = Vec::new();
    for (case, headers, sent) in cases {
        refused.push((case, post_webhook(&app, &channel.id, &headers, sent).await));
    }
    at_the_start_of_a_second().await;
    let ahead = signed_headers(
        &channel.secret,
        "msg_1",
        Utc::now().timestamp() + 301,
        &body,
    );
    let future = post_webhook(&app, &channel.id, &ahead, &body).await;
    refused.push(("a timestamp 301 s ahead", future));

    for (case, response) in refused {
        let problem = assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_signature").await;
        assert!(problem["detail"].is_string(), "{case}");
    }
    assert_eq!(
        event_count(&app, &acme.admin_token).await,
        0,
        "a refused delivery is not stored"
    );
}

#[tokio::test]
async fn one_valid_signature_among_several_is_enough() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let body = paid("TB-1004", "AC-INSTALL").to_string().into_bytes();
    let now = Utc::now().timestamp();
    let other = SigningSecret::parse(&SigningSecret::generate())
        .expect("a generated secret parses")
        .sign("msg_1", now, &body);
    let mut headers = signed_headers(&channel.secret, "msg_1", now, &body);
    headers[2].1 = format!("v1,bm90LWl0 {other} {}", headers[2].1);

    let response = post_webhook(&app, &channel.id, &headers, &body).await;

    let event_id = accepted(response).await;
    let event = settled_event(&app, &acme.admin_token, &event_id).await;
    assert_eq!(event["status"], "processed");
}

#[tokio::test]
async fn oversized_or_malformed_bodies_and_unknown_channels_are_refused_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let sign = |body: &[u8]| signed_headers(&channel.secret, "msg_1", Utc::now().timestamp(), body);
    // Valid JSON of an envelope, one byte over 256 KiB.
    let skeleton = json!({"type": "note.added", "data": {"pad": ""}})
        .to_string()
        .len();
    let pad = "x".repeat(256 * 1024 + 1 - skeleton);
    let oversized = json!({"type": "note.added", "data": {"pad": pad}})
        .to_string()
        .into_bytes();
    let malformed: [&[u8]; 4] = [
        b"not json at all",
        br#"{"data": {}}"#,
        br#"{"type": "order.paid", "data": {}, "extra": 1}"#,
        br#"[{"type": "order.paid", "data": {}}]"#,
    ];
    let body = paid("TB-1005", "AC-INSTALL").to_string().into_bytes();
    let nowhere = uuid::Uuid::new_v4().to_string();

    let too_large = post_webhook(&app, &channel.id, &sign(&oversized), &oversized).await;
    let mut bad = Vec::new();
    for sent in malformed {
        bad.push(post_webhook(&app, &channel.id, &sign(sent), sent).await);
    }
    let long_id = "m".repeat(201);
    let long_headers = signed_headers(&channel.secret, &long_id, Utc::now().timestamp(), &body);
    bad.push(post_webhook(&app, &channel.id, &long_headers, &body).await);
    let unknown = post_webhook(&app, &nowhere, &sign(&body), &body).await;
    let not_an_id = post_webhook(&app, "not-a-channel", &sign(&body), &body).await;

    assert_eq!(oversized.len(), 256 * 1024 + 1);
    assert_problem(
        too_large,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    for response in bad {
        assert_problem(response, StatusCode::BAD_REQUEST, "malformed_event").await;
    }
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(not_an_id, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(event_count(&app, &acme.admin_token).await, 0);
}

async fn rotate(app: &TestApp, tenant: &Tenant, channel: &Channel, overlap: i64) -> String {
    let response = app
        .post(
            &format!(
                "/api/v1/admin/webhook-channels/{}/rotate-secret",
                channel.id
            ),
            &tenant.admin_token,
            &json!({"overlap_seconds": overlap}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    body["secret"].as_str().expect("a new secret").to_owned()
}

#[tokio::test]
async fn a_rotation_with_overlap_accepts_both_secrets_and_one_without_only_the_new() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let event = json!({"type": "note.added", "data": {}});
    let first = channel.secret.clone();

    let second = rotate(&app, &acme, &channel, 60).await;
    let old_during = deliver_signed_with(&app, &channel, &first, "msg_1", &event).await;
    let new_during = deliver_signed_with(&app, &channel, &second, "msg_2", &event).await;
    let third = rotate(&app, &acme, &channel, 0).await;
    let oldest_after = deliver_signed_with(&app, &channel, &first, "msg_3", &event).await;
    let old_after = deliver_signed_with(&app, &channel, &second, "msg_4", &event).await;
    let new_after = deliver_signed_with(&app, &channel, &third, "msg_5", &event).await;

    assert_ne!(second, first);
    assert_ne!(third, second);
    assert_eq!(old_during.status(), StatusCode::ACCEPTED);
    assert_eq!(new_during.status(), StatusCode::ACCEPTED);
    assert_problem(oldest_after, StatusCode::UNAUTHORIZED, "invalid_signature").await;
    assert_problem(old_after, StatusCode::UNAUTHORIZED, "invalid_signature").await;
    assert_eq!(new_after.status(), StatusCode::ACCEPTED);
    assert_eq!(event_count(&app, &acme.admin_token).await, 3);
}

#[tokio::test]
async fn a_rotation_overlap_beyond_a_week_is_refused_and_keeps_the_secret() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let path = format!(
        "/api/v1/admin/webhook-channels/{}/rotate-secret",
        channel.id
    );

    let too_long = app
        .post(
            &path,
            &acme.admin_token,
            &json!({"overlap_seconds": 604_801}),
        )
        .await;
    let negative = app
        .post(&path, &acme.admin_token, &json!({"overlap_seconds": -1}))
        .await;

    assert_problem(
        too_long,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_problem(
        negative,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let event = json!({"type": "note.added", "data": {}});
    let still = deliver(&app, &channel, "msg_1", &event).await;
    assert_eq!(
        still.status(),
        StatusCode::ACCEPTED,
        "the secret is unchanged"
    );
}

#[tokio::test]
async fn a_channel_is_listed_without_its_secret_and_its_name_is_unique() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;

    let listed = get_json(&app, "/api/v1/admin/webhook-channels", &acme.admin_token).await;
    let again = app
        .post(
            "/api/v1/admin/webhook-channels",
            &acme.admin_token,
            &json!({"name": "天猫旗舰店"}),
        )
        .await;

    assert!(channel.secret.starts_with("whsec_"), "{}", channel.secret);
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], channel.id.as_str());
    assert_eq!(
        items[0]["webhook_path"],
        format!("/api/v1/webhooks/{}", channel.id)
    );
    assert!(
        !listed.to_string().contains(&channel.secret) && items[0].get("secret").is_none(),
        "{listed}"
    );
    assert_problem(again, StatusCode::CONFLICT, "channel_exists").await;
}

#[tokio::test]
async fn a_channel_over_its_allowance_gets_429_with_retry_after_and_nothing_is_stored() {
    // Arrange: two a second, so bursts of four.
    let app = TestApp::spawn_with(crate::helpers::Setup {
        redis_url: crate::helpers::redis_url(),
        webhook_rate_limit: Some(2),
        ..crate::helpers::Setup::default()
    })
    .await;
    let (acme, channel) = open_shop(&app).await;

    // Act
    let mut statuses = Vec::new();
    let mut refused = None;
    for n in 0..12 {
        let event = paid(&format!("TB-30{n:02}"), "AC-INSTALL");
        let response = deliver(&app, &channel, &format!("msg_{n}"), &event).await;
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && refused.is_none() {
            refused = Some(response);
        }
    }

    // Assert
    assert_eq!(statuses[..4], [202; 4], "{statuses:?}");
    let refused = refused.unwrap_or_else(|| panic!("no request was refused: {statuses:?}"));
    let wait: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    assert!(wait >= 1, "Retry-After is {wait}");
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let stored = statuses.iter().filter(|s| **s == 202).count();
    assert_eq!(event_count(&app, &acme.admin_token).await, stored);
}
