//! The inbox of received webhook events. Receiving stores an event in one
//! transaction keyed by (channel, `webhook-id`), so that a `202` always
//! means the event is durable and a repeated delivery changes nothing.

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{webhook_channel, webhook_event};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};

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

/// The envelope every channel event has.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(rename = "type")]
    event_type: String,
    #[allow(dead_code)]
    data: serde_json::Value,
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

/// Verifies one delivery and stores it in the inbox.
#[tracing::instrument(name = "receive webhook", skip_all, fields(channel.id = %channel_id))]
pub async fn receive(
    db: &impl ConnectionTrait,
    channel_id: ChannelId,
    headers: SignedHeaders<'_>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Received, ReceiveError> {
    let channel = webhook_channel::Entity::find_by_id(channel_id.as_uuid())
        .one(db)
        .await
        .context("failed to load a channel")?
        .ok_or(ReceiveError::UnknownChannel)?;
    let secrets = super::accepted_secrets(&channel, now)?;
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

    let id = WebhookEventId::generate();
    let row = webhook_event::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(channel.tenant_id),
        channel_id: Set(channel.id),
        webhook_id: Set(verified.webhook_id.clone()),
        event_type: Set(envelope.event_type.clone()),
        body: Set(text),
        status: Set(ACCEPTED.to_owned()),
        attempts: Set(0),
        last_error: Set(None),
        received_at: Set(now),
        next_attempt_at: Set(now + chrono::Duration::seconds(ACCEPTED_GRACE_SECS)),
        processed_at: Set(None),
    };
    let inserted = webhook_event::Entity::insert(row)
        .on_conflict_do_nothing_on([
            webhook_event::Column::ChannelId,
            webhook_event::Column::WebhookId,
        ])
        .exec(db)
        .await
        .context("failed to store a webhook event")?;
    if matches!(inserted, sea_orm::TryInsertResult::Inserted(_)) {
        tracing::info!(webhook_event.id = %id, event.kind = %envelope.event_type, "webhook accepted");
        return Ok(Received::Accepted(id));
    }
    let existing = webhook_event::Entity::find()
        .filter(webhook_event::Column::ChannelId.eq(channel.id))
        .filter(webhook_event::Column::WebhookId.eq(verified.webhook_id))
        .one(db)
        .await
        .context("failed to find a repeated webhook event")?
        .context("a repeated webhook event vanished")?;
    tracing::info!(webhook_event.id = %existing.id, "webhook repeated; nothing to do");
    Ok(Received::Duplicate(WebhookEventId::from_uuid(existing.id)))
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
