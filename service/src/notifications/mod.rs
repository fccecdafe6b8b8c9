//! Notifications: one row per user and event, written to the outbox in the
//! same transaction as the change that causes it. Users read them in the
//! app; the worker pushes them as WeChat subscribe messages where the
//! tenant has set a template and the user has bound WeChat.

pub mod delivery;
pub mod templates;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::notification;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::NotificationId;
use crate::page::{Page, PageRequest};
use crate::tenancy::TenantScope;

/// What a notification is about. The first five can carry a WeChat
/// template; the rest are shown in the app only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// An order reached a node whose `notify` action names the user, or was
    /// assigned to them.
    OrderProgress,
    EarningsPosted,
    StatementIssued,
    DisputeResolved,
    Overdue,
    StatementPaid,
}

impl NotificationKind {
    /// The kinds a tenant may give a WeChat template.
    pub const WITH_TEMPLATES: [NotificationKind; 5] = [
        NotificationKind::OrderProgress,
        NotificationKind::EarningsPosted,
        NotificationKind::StatementIssued,
        NotificationKind::DisputeResolved,
        NotificationKind::Overdue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::OrderProgress => "order_progress",
            NotificationKind::EarningsPosted => "earnings_posted",
            NotificationKind::StatementIssued => "statement_issued",
            NotificationKind::DisputeResolved => "dispute_resolved",
            NotificationKind::Overdue => "overdue",
            NotificationKind::StatementPaid => "statement_paid",
        }
    }

    /// A kind that may carry a template, by its wire name.
    pub fn parse_templated(text: &str) -> Option<Self> {
        Self::WITH_TEMPLATES
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// Values a push message may show beside the title and body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_fen: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A notification to write.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub recipient: Uuid,
    pub kind: NotificationKind,
    pub work_order_id: Option<Uuid>,
    pub title: String,
    pub body: String,
    pub data: PushData,
}

/// Delivery states.
pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const IN_APP: &str = "in_app";
pub const REFUSED: &str = "refused";
pub const FAILED: &str = "failed";

/// Writes one notification to the outbox, in the caller's transaction.
pub async fn write(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    new: NewNotification,
    now: DateTime<Utc>,
) -> anyhow::Result<NotificationId> {
    let id = NotificationId::generate();
    outbox_row(scope, id, new, now)?
        .insert(db)
        .await
        .context("failed to write a notification")?;
    Ok(id)
}

/// Writes many notifications with one statement, in the caller's
/// transaction. The caller keeps the batch under the database's limit on
/// bound values (a few hundred rows).
pub async fn write_many(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    batch: Vec<NewNotification>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let rows = batch
        .into_iter()
        .map(|new| outbox_row(scope, NotificationId::generate(), new, now))
        .collect::<anyhow::Result<Vec<_>>>()?;
    notification::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await
        .context("failed to write notifications")?;
    Ok(())
}

fn outbox_row(
    scope: &TenantScope,
    id: NotificationId,
    new: NewNotification,
    now: DateTime<Utc>,
) -> anyhow::Result<notification::ActiveModel> {
    let data = serde_json::to_string(&new.data).context("failed to encode push data")?;
    Ok(notification::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        recipient_id: Set(new.recipient),
        kind: Set(new.kind.as_str().to_owned()),
        work_order_id: Set(new.work_order_id),
        title: Set(new.title),
        body: Set(new.body),
        read_at: Set(None),
        delivered_at: Set(None),
        created_at: Set(now),
        delivery: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        delivery_error: Set(None),
        data: Set(Some(data)),
    })
}

/// A notification as its recipient sees it.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationView {
    pub id: NotificationId,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub work_order_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub read: bool,
    pub read_at: Option<DateTime<Utc>>,
    /// `pending`, `sent` (pushed to WeChat), `in_app`, `refused` or `failed`.
    pub delivery: String,
}

impl From<notification::Model> for NotificationView {
    fn from(row: notification::Model) -> Self {
        Self {
            id: NotificationId::from_uuid(row.id),
            kind: row.kind,
            title: row.title,
            body: row.body,
            work_order_id: row.work_order_id,
            created_at: row.created_at,
            read: row.read_at.is_some(),
            read_at: row.read_at,
            delivery: row.delivery,
        }
    }
}

fn mine(principal: &Principal) -> sea_orm::Select<notification::Entity> {
    principal
        .scope()
        .select::<notification::Entity>()
        .filter(notification::Column::RecipientId.eq(principal.user_id().as_uuid()))
}

/// The caller's notifications, newest first, optionally unread only.
pub async fn list_mine(
    db: &impl ConnectionTrait,
    principal: &Principal,
    unread_only: bool,
    page: PageRequest,
) -> anyhow::Result<Page<NotificationView>> {
    let mut query = mine(principal);
    if unread_only {
        query = query.filter(notification::Column::ReadAt.is_null());
    }
    let rows = page
        .fetch_newest_first(db, query, notification::Column::Id, |n| n.id)
        .await
        .context("failed to list notifications")?;
    Ok(rows.map(NotificationView::from))
}

/// How many of the caller's notifications are unread.
pub async fn count_unread(db: &impl ConnectionTrait, principal: &Principal) -> anyhow::Result<u64> {
    use sea_orm::PaginatorTrait;
    mine(principal)
        .filter(notification::Column::ReadAt.is_null())
        .count(db)
        .await
        .context("failed to count unread notifications")
}

#[derive(Debug, thiserror::Error)]
pub enum MarkReadError {
    #[error("no such notification")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Marks one of the caller's notifications read; reading it again keeps
/// the first time.
pub async fn mark_read(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: NotificationId,
    now: DateTime<Utc>,
) -> Result<NotificationView, MarkReadError> {
    notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(now))
        .filter(notification::Column::TenantId.eq(principal.tenant_id().as_uuid()))
        .filter(notification::Column::RecipientId.eq(principal.user_id().as_uuid()))
        .filter(notification::Column::Id.eq(id.as_uuid()))
        .filter(notification::Column::ReadAt.is_null())
        .exec(db)
        .await
        .context("failed to mark a notification read")?;
    mine(principal)
        .filter(notification::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a notification")?
        .map(NotificationView::from)
        .ok_or(MarkReadError::NotFound)
}

/// Marks every unread notification of the caller read; answers how many.
pub async fn mark_all_read(
    db: &impl ConnectionTrait,
    principal: &Principal,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let updated = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(now))
        .filter(notification::Column::TenantId.eq(principal.tenant_id().as_uuid()))
        .filter(notification::Column::RecipientId.eq(principal.user_id().as_uuid()))
        .filter(notification::Column::ReadAt.is_null())
        .exec(db)
        .await
        .context("failed to mark notifications read")?;
    Ok(updated.rows_affected)
}
