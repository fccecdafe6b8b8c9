//! Receiving under concurrency and with channels kept in memory: deliveries
//! that arrive together share one insert, and a kept channel row never
//! makes a rotated secret fail or an unknown channel exist.

use futures_util::future::join_all;
use sea_orm::{ConnectionTrait, Statement};

use super::*;

async fn count(app: &TestApp, sql: &str) -> i64 {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .expect("the count runs")
        .expect("a count row");
    row.try_get_by_index::<i64>(0).expect("a number")
}

#[tokio::test]
async fn fifty_deliveries_of_one_webhook_id_at_once_store_one_event_and_name_it_fifty_times() {
    let app = TestApp::spawn().await;
    let (_, channel) = open_shop(&app).await;
    let event = json!({"type": "note.added", "data": {"n": 1}});

    let sent = (0..50).map(|_| deliver(&app, &channel, "msg_once", &event));
    let responses = join_all(sent).await;

    let mut statuses = Vec::new();
    let mut event_ids = Vec::new();
    for response in responses {
        statuses.push(response.status());
        let receipt = json_of(response).await;
        event_ids.push(
            receipt["event_id"]
                .as_str()
                .expect("an event id")
                .to_owned(),
        );
    }
    let accepted = statuses.iter().filter(|s| **s == StatusCode::ACCEPTED);
    let repeated = statuses.iter().filter(|s| **s == StatusCode::OK);
    assert_eq!(accepted.count(), 1, "{statuses:?}");
    assert_eq!(repeated.count(), 49, "{statuses:?}");
    assert!(
        event_ids.iter().all(|id| *id == event_ids[0]),
        "{event_ids:?}"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM webhook_events").await, 1);
}

#[tokio::test]
async fn many_distinct_deliveries_at_once_are_all_accepted_stored_and_processed() {
    let app = TestApp::spawn().await;
    let (_, channel) = open_shop(&app).await;
    let events: Vec<(String, Value)> = (0..80)
        .map(|n| {
            (
                format!("msg_{n}"),
                json!({"type": "note.added", "data": {"n": n}}),
            )
        })
        .collect();

    let sent = events
        .iter()
        .map(|(id, event)| deliver(&app, &channel, id, event));
    let responses = join_all(sent).await;

    let mut event_ids = std::collections::HashSet::new();
    for response in responses {
        event_ids.insert(accepted(response).await);
    }
    assert_eq!(
        event_ids.len(),
        80,
        "every delivery names an event of its own"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM webhook_events").await, 80);
    let unprocessed = "SELECT count(*) FROM webhook_events WHERE status <> 'processed'";
    let app = &app;
    eventually("every event to be processed", || async move {
        (count(app, unprocessed).await == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_secret_rotated_by_another_process_verifies_at_once_though_the_old_row_is_kept() {
    let app = TestApp::spawn().await;
    let (_, channel) = open_shop(&app).await;
    let event = json!({"type": "note.added", "data": {}});
    accepted(deliver(&app, &channel, "msg_1", &event).await).await;

    // Another API process rotates without overlap: this one's kept row
    // still holds the old secret.
    let rotated = SigningSecret::generate();
    let backend = app.db.get_database_backend();
    let sql = format!(
        "UPDATE webhook_channels SET secret = '{rotated}', previous_secret = NULL, \
         previous_secret_until = NULL WHERE name = '天猫旗舰店'"
    );
    app.db
        .execute_raw(Statement::from_string(backend, sql))
        .await
        .expect("the secret is rotated");
    let with_new = deliver_signed_with(&app, &channel, &rotated, "msg_2", &event).await;
    let with_old = deliver_signed_with(&app, &channel, &channel.secret, "msg_3", &event).await;

    assert_eq!(with_new.status(), StatusCode::ACCEPTED);
    assert_problem(with_old, StatusCode::UNAUTHORIZED, "invalid_signature").await;
}

#[tokio::test]
async fn a_kept_channel_does_not_make_an_unknown_channel_answer_anything_but_404() {
    let app = TestApp::spawn().await;
    let (acme, channel) = open_shop(&app).await;
    let event = json!({"type": "note.added", "data": {}});
    accepted(deliver(&app, &channel, "msg_1", &event).await).await;
    let nowhere = Channel {
        id: uuid::Uuid::new_v4().to_string(),
        secret: channel.secret.clone(),
    };

    let first = deliver(&app, &nowhere, "msg_2", &event).await;
    let again = deliver(&app, &nowhere, "msg_2", &event).await;

    assert_problem(first, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(again, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(event_count(&app, &acme.admin_token).await, 1);
}
