//! The writer on a SQLite file: batches, duplicates inside and across
//! batches, and a failed insert.

use std::sync::Mutex;

use sea_orm::{DatabaseConnection, PaginatorTrait};

use super::*;

async fn database(migrated: bool) -> DatabaseConnection {
    let path = std::env::temp_dir().join(format!("scrm-inbox-{}.db", Uuid::new_v4()));
    let db = crate::db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("a database");
    if migrated {
        crate::db::migrate(&db).await.expect("migrated");
    }
    db
}

fn event(channel_id: Uuid, webhook_id: &str) -> NewEvent {
    NewEvent {
        tenant_id: Uuid::nil(),
        channel_id,
        webhook_id: webhook_id.to_owned(),
        event_type: "note.added".to_owned(),
        body: r#"{"type":"note.added","data":{}}"#.to_owned(),
        received_at: Utc::now(),
    }
}

/// An [`AfterCommit`] that records what it was given.
fn recorder() -> (AfterCommit, Arc<Mutex<Vec<WebhookEventId>>>) {
    let queued = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&queued);
    let after_commit: AfterCommit = Arc::new(move |ids| {
        let into = Arc::clone(&into);
        Box::pin(async move {
            into.lock().expect("not poisoned").extend(ids);
        })
    });
    (after_commit, queued)
}

#[tokio::test]
async fn a_batch_stores_each_key_once_and_names_the_stored_row_for_every_repeat() {
    let db = database(true).await;
    let channel = Uuid::now_v7();
    let before = write_batch(&db, &[event(channel, "old")])
        .await
        .expect("stored");
    let batch = [
        event(channel, "new"),
        event(channel, "new"),
        event(channel, "old"),
        event(Uuid::now_v7(), "new"),
    ];

    let outcomes = write_batch(&db, &batch).await.expect("stored");

    let Received::Accepted(old) = before[0] else {
        panic!("the first delivery is accepted: {before:?}");
    };
    let Received::Accepted(new) = outcomes[0] else {
        panic!("the first of a key is accepted: {outcomes:?}");
    };
    assert_eq!(outcomes[1], Received::Duplicate(new));
    assert_eq!(outcomes[2], Received::Duplicate(old));
    assert!(matches!(outcomes[3], Received::Accepted(other) if other != new));
    let rows = webhook_event::Entity::find()
        .count(&db)
        .await
        .expect("counted");
    assert_eq!(rows, 3);
}

#[tokio::test]
async fn concurrent_stores_are_answered_and_only_new_events_are_queued() {
    let db = database(true).await;
    let (after_commit, queued) = recorder();
    let (writer, task) = InboxWriter::start(db.clone(), after_commit);
    let channel = Uuid::now_v7();

    let stores = (0..40).map(|n| {
        let writer = writer.clone();
        let key = format!("msg_{}", n % 20);
        tokio::spawn(async move { writer.store(event(channel, &key)).await })
    });
    let mut outcomes = Vec::new();
    for store in stores {
        outcomes.push(store.await.expect("not panicked").expect("stored"));
    }
    task.stop(Duration::from_secs(5)).await;

    let accepted: HashSet<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Received::Accepted(id) => Some(*id),
            Received::Duplicate(_) => None,
        })
        .collect();
    assert_eq!(accepted.len(), 20, "{outcomes:?}");
    let queued: HashSet<_> = queued
        .lock()
        .expect("not poisoned")
        .iter()
        .copied()
        .collect();
    assert_eq!(queued, accepted);
    let rows = webhook_event::Entity::find()
        .count(&db)
        .await
        .expect("counted");
    assert_eq!(rows, 20);
}

#[tokio::test]
async fn a_failed_insert_fails_every_store_of_its_batch_and_queues_nothing() {
    let db = database(false).await;
    let (after_commit, queued) = recorder();
    let (writer, task) = InboxWriter::start(db, after_commit);
    let channel = Uuid::now_v7();

    let stores = (0..10).map(|n| {
        let writer = writer.clone();
        tokio::spawn(async move { writer.store(event(channel, &format!("msg_{n}"))).await })
    });
    let mut failures = Vec::new();
    for store in stores {
        let outcome = store.await.expect("not panicked");
        failures.push(format!(
            "{:#}",
            outcome.expect_err("no table to store into")
        ));
    }
    task.stop(Duration::from_secs(5)).await;

    assert!(
        failures
            .iter()
            .all(|f| f.contains("failed to store webhook events")),
        "{failures:?}"
    );
    assert!(queued.lock().expect("not poisoned").is_empty());
}

#[tokio::test]
async fn a_stopped_writer_refuses_new_rows() {
    let db = database(true).await;
    let (after_commit, _) = recorder();
    let (writer, task) = InboxWriter::start(db, after_commit);

    task.stop(Duration::from_secs(5)).await;
    let refused = writer.store(event(Uuid::now_v7(), "late")).await;

    assert!(refused.is_err(), "{refused:?}");
}
