//! Receiving against kept channel rows, on a SQLite file.

use sea_orm::ModelTrait;
use uuid::Uuid;

use super::*;
use crate::channels::create_channel;
use crate::channels::signature::SigningSecret;
use crate::domain::{DisplayName, TenantId};

const BODY: &[u8] = br#"{"type":"note.added","data":{}}"#;

async fn inbox() -> (Inbox, DatabaseConnection) {
    let path = std::env::temp_dir().join(format!("scrm-receive-{}.db", Uuid::new_v4()));
    let db = crate::db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("a database");
    crate::db::migrate(&db).await.expect("migrated");
    let after_commit: AfterCommit = Arc::new(|_| Box::pin(async {}));
    let (inbox, _task) = Inbox::start(db.clone(), after_commit);
    (inbox, db)
}

async fn receive_signed(
    inbox: &Inbox,
    channel: ChannelId,
    secret: &str,
    webhook_id: &str,
) -> Result<Received, ReceiveError> {
    let now = Utc::now();
    let signature = SigningSecret::parse(secret).expect("a valid secret").sign(
        webhook_id,
        now.timestamp(),
        BODY,
    );
    let headers = SignedHeaders {
        webhook_id: Some(webhook_id),
        timestamp: Some(&now.timestamp().to_string()),
        signature: Some(&signature),
    };
    inbox.receive(channel, headers, BODY, now).await
}

#[tokio::test]
async fn a_kept_channel_serves_until_a_signature_fails_and_then_is_read_again() {
    let (inbox, db) = inbox().await;
    let scope = TenantScope::new(TenantId::generate());
    let name = DisplayName::parse("shop").expect("a valid name");
    let issued = create_channel(&db, &scope, name, Utc::now())
        .await
        .expect("a channel");
    let first = receive_signed(&inbox, issued.id, &issued.secret, "msg_1").await;
    assert!(matches!(first, Ok(Received::Accepted(_))), "{first:?}");

    // The row is gone, but the kept copy still verifies.
    let row = webhook_channel::Entity::find_by_id(issued.id.as_uuid())
        .one(&db)
        .await
        .expect("read")
        .expect("the channel");
    row.delete(&db).await.expect("deleted");
    let kept = receive_signed(&inbox, issued.id, &issued.secret, "msg_2").await;
    // A failed signature reads the row again, and finds none.
    let other = receive_signed(&inbox, issued.id, &SigningSecret::generate(), "msg_3").await;
    let after = receive_signed(&inbox, issued.id, &issued.secret, "msg_4").await;

    assert!(matches!(kept, Ok(Received::Accepted(_))), "{kept:?}");
    assert!(
        matches!(other, Err(ReceiveError::UnknownChannel)),
        "{other:?}"
    );
    assert!(
        matches!(after, Err(ReceiveError::UnknownChannel)),
        "{after:?}"
    );
}
