//! The inbox of received webhook events. Receiving stores an event keyed
//! by (channel, `webhook-id`) and answers only once it is committed, so
//! that a `202` always means the event is durable and a repeated delivery
//! changes nothing. Concurrent deliveries share one insert and one commit
//! (see [`super::group_commit`]); admins list, read and replay events here.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{webhook_channel, webhook_event};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::cache::ChannelCache;
use super::group_commit::{AfterCommit, InboxWriter, InboxWriterTask, NewEvent};
use super::signature::{self, SignatureError, SignedHeaders};
use crate::domain::{ChannelId, WebhookEventId};
use crate::page::{Page, PageRequest};
use crate::tenancy::TenantScope;

/// The largest body a channel may send.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// How long an accepted event may wait for its queued job before the
/// sweeper queues it again (the queue may have lost it).
pub const ACCEPTED_GRACE_SECS: i64 = 30;

/// Inbox statuses.
pub const ACCEPTED: &str = "accepted";
pub const PROCESSED: &str = "processed";
pub const FAILED: &str = "failed";
pub const DEAD: &str = "dead";

/// The envelope every channel event has. `data` must be there, but its
/// shape is for processing to check, so receiving skips over it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(rename = "type")]
    event_type: String,
    #[allow(dead_code)]
    data: serde::de::IgnoredAny,
}

/// What receiving a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Newly stored: queue it for processing.
    Accepted(WebhookEventId),
    /// This `webhook-id` was stored before; nothing changed.
    Duplicate(WebhookEventId),
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("no such channel")]
    UnknownChannel,
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("the body is not a channel event: {0}")]
    Malformed(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Where deliveries arrive: it verifies each against its channel, kept in a
/// [`ChannelCache`], and stores it through the [`InboxWriter`], which
/// commits concurrent deliveries together.
#[derive(Debug, Clone)]
pub struct Inbox {
    db: DatabaseConnection,
    channels: Arc<ChannelCache>,
    writer: InboxWriter,
}

impl Inbox {
    /// Starts the inbox's writer on `db`; `after_commit` queues what it
    /// stores. Answers the inbox and the writer task, to stop at shutdown.
    pub fn start(db: DatabaseConnection, after_commit: AfterCommit) -> (Self, InboxWriterTask) {
        let (writer, task) = InboxWriter::start(db.clone(), after_commit);
        let inbox = Self {
            db,
            channels: Arc::new(ChannelCache::default()),
            writer,
        };
        (inbox, task)
    }

    /// The channel rows this process keeps; a rotation forgets its entry.
    pub fn channels(&self) -> &ChannelCache {
        &self.channels
    }

    /// Verifies one delivery and stores it in the inbox.
    #[tracing::instrument(name = "receive webhook", skip_all, fields(channel.id = %channel_id))]
    pub async fn receive(
        &self,
        channel_id: ChannelId,
        headers: SignedHeaders<'_>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Received, ReceiveError> {
        let event = self.verify(channel_id, headers, body, now).await?;
        let event_type = event.event_type.clone();
        let received = self.writer.store(event).await?;
        match received {
            Received::Accepted(id) => {
                tracing::info!(
                    webhook_event.id = %id,
                    event.kind = %event_type,
                    "webhook accepted"
                );
            }
            Received::Duplicate(id) => {
                tracing::info!(webhook_event.id = %id, "webhook repeated; nothing to do");
            }
        }
        Ok(received)
    }

    /// Checks the delivery against its channel and answers the row to store.
    /// A signature that fails against a kept row is checked once more
    /// against a fresh read, so that a secret rotated on another process
    /// verifies here at once.
    async fn verify(
        &self,
        channel_id: ChannelId,
        headers: SignedHeaders<'_>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<NewEvent, ReceiveError> {
        if let Some(kept) = self.channels.get(channel_id.as_uuid(), Instant::now()) {
            match check(&kept, headers, body, now) {
                Err(ReceiveError::Signature(SignatureError::NoValidSignature)) => {}
                checked => return checked,
            }
        }
        let channel = self.read_channel(channel_id).await?;
        check(&channel, headers, body, now)
    }

    /// Reads the channel and keeps it. An unknown id is not kept, so it is
    /// read, and refused, every time; a kept row that is gone is dropped.
    async fn read_channel(
        &self,
        channel_id: ChannelId,
    ) -> Result<Arc<webhook_channel::Model>, ReceiveError> {
        let ticket = self.channels.ticket(Instant::now());
        let found = webhook_channel::Entity::find_by_id(channel_id.as_uuid())
            .one(&self.db)
            .await
            .context("failed to load a channel")?;
        let Some(channel) = found else {
            // Only a kept row is forgotten: forgetting also holds back the
            // rows being read meanwhile, which unknown ids must not do.
            if self
                .channels
                .get(channel_id.as_uuid(), ticket.at())
                .is_some()
            {
                self.channels.forget(channel_id.as_uuid());
            }
            return Err(ReceiveError::UnknownChannel);
        };
        let channel = Arc::new(channel);
        self.channels.put(Arc::clone(&channel), ticket);
        Ok(channel)
    }
}

/// Verifies the signature against the secrets `channel` accepts at `now`
/// and checks the body's envelope.
fn check(
    channel: &webhook_channel::Model,
    headers: SignedHeaders<'_>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<NewEvent, ReceiveError> {
    let secrets = super::accepted_secrets(channel, now)?;
    let verified = signature::verify(headers, body, &secrets, now.timestamp())?;
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| ReceiveError::Malformed(e.to_string()))?;
    if envelope.event_type.is_empty() || envelope.event_type.len() > 100 {
        return Err(ReceiveError::Malformed(
            "`type` must be 1 to 100 characters".into(),
        ));
    }
    if verified.webhook_id.len() > 200 {
        return Err(ReceiveError::Malformed(
            "the webhook-id header is longer than 200 characters".into(),
        ));
    }
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ReceiveError::Malformed("the body is not UTF-8".into()))?;
    Ok(NewEvent {
        tenant_id: channel.tenant_id,
        channel_id: channel.id,
        webhook_id: verified.webhook_id,
        event_type: envelope.event_type,
        body: text,
        received_at: now,
    })
}

/// An inbox event as an admin sees it.
#[derive(Debug, Clone, Serialize)]
pub struct InboxEvent {
    pub id: WebhookEventId,
    pub channel_id: ChannelId,
    pub webhook_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
    /// When a failed event is tried again.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub processed_at: Option<DateTime<Utc>>,
    /// The event as the channel sent it.
    pub body: serde_json::Value,
}

impl From<webhook_event::Model> for InboxEvent {
    fn from(row: webhook_event::Model) -> Self {
        Self {
            id: WebhookEventId::from_uuid(row.id),
            channel_id: ChannelId::from_uuid(row.channel_id),
            webhook_id: row.webhook_id,
            event_type: row.event_type,
            next_attempt_at: (row.status == FAILED).then_some(row.next_attempt_at),
            status: row.status,
            attempts: row.attempts,
            last_error: row.last_error,
            received_at: row.received_at,
            processed_at: row.processed_at,
            body: serde_json::from_str(&row.body).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Filters of the event list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub channel_id: Option<ChannelId>,
    pub status: Option<String>,
}

/// The tenant's received events, oldest first.
pub async fn list_events(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    filter: EventFilter,
    page: PageRequest,
) -> anyhow::Result<Page<InboxEvent>> {
    let mut query = scope.select::<webhook_event::Entity>();
    if let Some(channel) = filter.channel_id {
        query = query.filter(webhook_event::Column::ChannelId.eq(channel.as_uuid()));
    }
    if let Some(status) = filter.status {
        query = query.filter(webhook_event::Column::Status.eq(status));
    }
    let rows = page
        .fetch(db, query, webhook_event::Column::Id, |e| e.id)
        .await
        .context("failed to list webhook events")?;
    Ok(rows.map(InboxEvent::from))
}

#[derive(Debug, thiserror::Error)]
pub enum GetEventError {
    #[error("no such event")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// One received event of the tenant.
pub async fn get_event(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: WebhookEventId,
) -> Result<InboxEvent, GetEventError> {
    scope
        .select::<webhook_event::Entity>()
        .filter(webhook_event::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a webhook event")?
        .map(InboxEvent::from)
        .ok_or(GetEventError::NotFound)
}

/// Puts an event back to be processed, with its attempts reset. Replaying an
/// event that already took effect is harmless: processing finds the work
/// done and changes nothing.
#[tracing::instrument(name = "replay webhook event", skip_all, fields(tenant.id = %scope.tenant_id(), webhook_event.id = %id))]
pub async fn replay_event(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: WebhookEventId,
    now: DateTime<Utc>,
) -> Result<InboxEvent, GetEventError> {
    let updated = webhook_event::Entity::update_many()
        .col_expr(webhook_event::Column::Status, Expr::value(ACCEPTED))
        .col_expr(webhook_event::Column::Attempts, Expr::value(0))
        .col_expr(
            webhook_event::Column::NextAttemptAt,
            Expr::value(now + chrono::Duration::seconds(ACCEPTED_GRACE_SECS)),
        )
        .filter(webhook_event::Column::TenantId.eq(scope.tenant_id().as_uuid()))
        .filter(webhook_event::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await
        .context("failed to replay a webhook event")?;
    if updated.rows_affected == 0 {
        return Err(GetEventError::NotFound);
    }
    tracing::info!("webhook event put back for processing");
    get_event(db, scope, id).await
}

#[cfg(test)]
mod tests;
