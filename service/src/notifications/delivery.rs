//! Pushing notifications out as WeChat subscribe messages.
//!
//! Each attempt first claims the notification by advancing its attempt
//! count from the value the job carries (compare-and-set), so that two
//! workers holding the same job cannot both send it. The retry schedule
//! lives in the row (`attempts`, `next_attempt_at`), not in the queue, so a
//! queue that loses its contents loses no delivery: the sweeper finds due
//! rows again.

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{notification, wechat_account};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::templates::{Filling, fill, template_for};
use super::{FAILED, IN_APP, PENDING, PushData, REFUSED, SENT};
use crate::domain::NotificationId;
use crate::retry::RetryPolicy;
use crate::wechat::{SendError, SubscribeMessage, WechatClient};

/// How long a claimed notification is left to its claimant before the
/// sweeper hands it out again.
pub const LEASE_SECS: i64 = 60;

/// How a WeChat errcode is recorded in `delivery_error`.
const ERRCODE_PREFIX: &str = "errcode ";

/// A notification handed to a delivery job, with the attempt count it was
/// claimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueNotification {
    pub id: NotificationId,
    pub attempts: i32,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Pushed to WeChat.
    Sent,
    /// Shown in the app only: no template for its kind, no bound WeChat
    /// account, or WeChat not configured.
    InAppOnly,
    /// The user declined subscribe messages (43101); not retried.
    Refused,
    /// Given up: a template error (47003, 40037) or the last attempt.
    Failed { errcode: Option<i64> },
    /// WeChat did not take it; tried again at `at`.
    Retrying {
        errcode: Option<i64>,
        at: DateTime<Utc>,
    },
    /// Another attempt holds it, or it is already delivered.
    Skipped,
}

impl DeliveryOutcome {
    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            DeliveryOutcome::Sent => "sent",
            DeliveryOutcome::InAppOnly => "in_app",
            DeliveryOutcome::Refused => "refused",
            DeliveryOutcome::Failed { .. } => "failed",
            DeliveryOutcome::Retrying { .. } => "retrying",
            DeliveryOutcome::Skipped => "skipped",
        }
    }

    /// The WeChat errcode behind the outcome, when there was one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            DeliveryOutcome::Refused => Some(43101),
            DeliveryOutcome::Failed { errcode } | DeliveryOutcome::Retrying { errcode, .. } => {
                *errcode
            }
            _ => None,
        }
    }
}

/// Claims up to `limit` pending notifications whose time has come, moving
/// each one's next attempt a lease ahead so that no other sweeper hands it
/// out meanwhile.
pub async fn claim_due(
    db: &sea_orm::DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> anyhow::Result<Vec<DueNotification>> {
    let due = Condition::all()
        .add(notification::Column::Delivery.eq(PENDING))
        .add(
            Condition::any()
                .add(notification::Column::NextAttemptAt.is_null())
                .add(notification::Column::NextAttemptAt.lte(now)),
        );
    let leased: Vec<(uuid::Uuid, i32)> = crate::db::lease_due::<notification::Entity, _>(
        db,
        due,
        notification::Column::NextAttemptAt,
        now + chrono::Duration::seconds(LEASE_SECS),
        limit,
        &[notification::Column::Id, notification::Column::Attempts],
    )
    .await
    .context("failed to claim due notifications")?;
    Ok(leased
        .into_iter()
        .map(|(id, attempts)| DueNotification {
            id: NotificationId::from_uuid(id),
            attempts,
        })
        .collect())
}

/// Makes one delivery attempt of a claimed notification and records its
/// outcome.
#[tracing::instrument(name = "deliver notification", skip_all, fields(notification.id = %due.id))]
pub async fn deliver(
    db: &impl ConnectionTrait,
    wechat: Option<&WechatClient>,
    due: DueNotification,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> anyhow::Result<DeliveryOutcome> {
    let claimed = notification::Entity::update_many()
        .col_expr(
            notification::Column::Attempts,
            Expr::value(due.attempts + 1),
        )
        .col_expr(
            notification::Column::NextAttemptAt,
            Expr::value(now + chrono::Duration::seconds(LEASE_SECS)),
        )
        .filter(notification::Column::Id.eq(due.id.as_uuid()))
        .filter(notification::Column::Delivery.eq(PENDING))
        .filter(notification::Column::Attempts.eq(due.attempts))
        .exec(db)
        .await
        .context("failed to claim a notification")?;
    if claimed.rows_affected == 0 {
        return Ok(DeliveryOutcome::Skipped);
    }
    let attempts = u32::try_from(due.attempts + 1).unwrap_or(u32::MAX);
    let row = notification::Entity::find_by_id(due.id.as_uuid())
        .one(db)
        .await
        .context("failed to load a notification")?
        .context("a claimed notification vanished")?;

    let outcome = attempt(db, wechat, &row).await?;
    let outcome = match outcome {
        Err(SendError::Unavailable { errcode }) if !policy.exhausted(attempts) => {
            let delay = policy.delay(attempts);
            let at = now + chrono::Duration::from_std(delay).unwrap_or_default();
            DeliveryOutcome::Retrying { errcode, at }
        }
        Err(SendError::Unavailable { errcode }) => DeliveryOutcome::Failed { errcode },
        Err(SendError::UserRefused) => DeliveryOutcome::Refused,
        Err(SendError::Misconfigured { errcode }) => {
            tracing::error!(
                wechat.errcode = errcode,
                notification.kind = %row.kind,
                tenant.id = %row.tenant_id,
                "WeChat refused the tenant's template setting; fix the template for this kind"
            );
            DeliveryOutcome::Failed {
                errcode: Some(errcode),
            }
        }
        Ok(outcome) => outcome,
    };
    record(db, &row, &outcome, now).await?;
    tracing::info!(
        outcome = outcome.label(),
        wechat.errcode = outcome.errcode(),
        attempts,
        "notification delivery attempted"
    );
    Ok(outcome)
}

async fn attempt(
    db: &impl ConnectionTrait,
    wechat: Option<&WechatClient>,
    row: &notification::Model,
) -> anyhow::Result<Result<DeliveryOutcome, SendError>> {
    let Some(wechat) = wechat else {
        return Ok(Ok(DeliveryOutcome::InAppOnly));
    };
    let Some(template) = template_for(db, row.tenant_id, &row.kind).await? else {
        return Ok(Ok(DeliveryOutcome::InAppOnly));
    };
    let account = wechat_account::Entity::find()
        .filter(wechat_account::Column::TenantId.eq(row.tenant_id))
        .filter(wechat_account::Column::UserId.eq(row.recipient_id))
        .one(db)
        .await
        .context("failed to find the recipient's WeChat account")?;
    let Some(account) = account else {
        return Ok(Ok(DeliveryOutcome::InAppOnly));
    };
    let data: PushData = row
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    let values = fill(
        &template.fields,
        &Filling {
            title: &row.title,
            body: &row.body,
            data: &data,
            created_at: row.created_at,
        },
    );
    let message = SubscribeMessage {
        openid: &account.openid,
        template_id: &template.template_id,
        page: template.page.as_deref(),
        data: &values,
    };
    Ok(wechat
        .send_subscribe_message(&message)
        .await
        .map(|()| DeliveryOutcome::Sent))
}

async fn record(
    db: &impl ConnectionTrait,
    row: &notification::Model,
    outcome: &DeliveryOutcome,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let errcode_text = outcome.errcode().map(|c| format!("{ERRCODE_PREFIX}{c}"));
    let mut update = notification::Entity::update_many()
        .filter(notification::Column::Id.eq(row.id))
        .col_expr(
            notification::Column::DeliveryError,
            Expr::value(errcode_text),
        );
    update = match outcome {
        DeliveryOutcome::Sent => update
            .col_expr(notification::Column::Delivery, Expr::value(SENT))
            .col_expr(notification::Column::DeliveredAt, Expr::value(now)),
        DeliveryOutcome::InAppOnly => {
            update.col_expr(notification::Column::Delivery, Expr::value(IN_APP))
        }
        DeliveryOutcome::Refused => {
            update.col_expr(notification::Column::Delivery, Expr::value(REFUSED))
        }
        DeliveryOutcome::Failed { .. } => {
            update.col_expr(notification::Column::Delivery, Expr::value(FAILED))
        }
        DeliveryOutcome::Retrying { at, .. } => {
            update.col_expr(notification::Column::NextAttemptAt, Expr::value(*at))
        }
        DeliveryOutcome::Skipped => return Ok(()),
    };
    update
        .exec(db)
        .await
        .context("failed to record a delivery")?;
    Ok(())
}

/// Counts of notifications by delivery state and the WeChat errcode that
/// ended their last attempt (`None` when there was none), for metrics. Read
/// from the database, so they cover every worker of a deployment.
pub async fn count_by_outcome(
    db: &impl ConnectionTrait,
) -> anyhow::Result<Vec<(String, Option<i64>, i64)>> {
    let rows: Vec<(String, Option<String>, i64)> = notification::Entity::find()
        .select_only()
        .column(notification::Column::Delivery)
        .column(notification::Column::DeliveryError)
        .column_as(notification::Column::Id.count(), "count")
        .group_by(notification::Column::Delivery)
        .group_by(notification::Column::DeliveryError)
        .into_tuple()
        .all(db)
        .await
        .context("failed to count notifications")?;
    Ok(rows
        .into_iter()
        .map(|(delivery, error, count)| (delivery, error.as_deref().and_then(errcode_of), count))
        .collect())
}

/// The errcode in a recorded delivery error (`errcode 43101`).
fn errcode_of(error: &str) -> Option<i64> {
    error.strip_prefix(ERRCODE_PREFIX)?.parse().ok()
}
