//! Processing inbox events. Each event's effects and its inbox status commit
//! in one transaction, and the transaction begins by moving the status from
//! `accepted` or `failed` to `processed` (compare-and-set), so an event that
//! two workers hold at once takes effect once. Domain keys make repeats
//! harmless too: a channel's `order_no` maps to at most one work order, so
//! the same order delivered under a new `webhook-id` creates nothing new.
//!
//! A failure is recorded on the event: a permanent one (a payload that can
//! never be processed) makes it `dead` at once; a passing one makes it
//! `failed` with its next attempt set by the retry policy, and `dead` once
//! the attempts run out.

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{webhook_event, work_order};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};
use serde::Deserialize;

use super::inbox::{ACCEPTED, DEAD, FAILED, PROCESSED};
use crate::auth::Principal;
use crate::domain::{Role, TenantId, UserId, WebhookEventId, WorkOrderId};
use crate::retry::RetryPolicy;
use crate::tenancy::TenantScope;
use crate::validation::FieldErrors;
use crate::work_orders::{
    self, CLOSED, CreateWorkOrderError, MoveError, NewWorkOrder, OPEN, RawCustomer, RawLine,
};

/// How long a claimed event is left to its claimant before the sweeper
/// hands it out again.
pub const LEASE_SECS: i64 = 60;
/// How often SQLite's refusal of a concurrent write is met by trying again.
const CONTENDED_ATTEMPTS: u32 = 20;

/// What processing an event came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessOutcome {
    /// Its effects committed now.
    Processed,
    /// It was processed or dead before, or no such event exists.
    AlreadyDone,
    /// It failed and is tried again at `at`.
    Retrying { attempts: i32, at: DateTime<Utc> },
    /// It failed for good.
    Dead { attempts: i32 },
}

impl ProcessOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            ProcessOutcome::Processed => "processed",
            ProcessOutcome::AlreadyDone => "already_done",
            ProcessOutcome::Retrying { .. } => "failed",
            ProcessOutcome::Dead { .. } => "dead",
        }
    }
}

/// Why an event's effects could not be applied.
#[derive(Debug, thiserror::Error)]
enum EventError {
    /// No retry can mend it.
    #[error("{0}")]
    Permanent(String),
    #[error(transparent)]
    Retryable(#[from] anyhow::Error),
}

/// What processing one event came to, with the event's type for metrics
/// (`None` when no such event exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessReport {
    pub event_type: Option<String>,
    pub outcome: ProcessOutcome,
}

/// Processes one inbox event and records the outcome on it.
#[tracing::instrument(name = "process webhook event", skip_all, fields(webhook_event.id = %id))]
pub async fn process_event(
    db: &DatabaseConnection,
    id: WebhookEventId,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> anyhow::Result<ProcessReport> {
    let mut contended = 0;
    let attempt = loop {
        match apply_once(db, id, now).await {
            Attempt::Failed(_, EventError::Retryable(e))
                if contended < CONTENDED_ATTEMPTS && crate::db::is_write_contention(&e) =>
            {
                contended += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(contended)))
                    .await;
            }
            other => break other,
        }
    };
    let (event_type, outcome) = match attempt {
        Attempt::Applied(event_type) => (Some(event_type), ProcessOutcome::Processed),
        Attempt::NotClaimable => {
            let event = find_event(db, id).await?;
            (event.map(|e| e.event_type), ProcessOutcome::AlreadyDone)
        }
        Attempt::Failed(claimed, error) => {
            // Without a claim the attempt failed before reading the event;
            // the row as it stands tells what to record.
            let event = match claimed {
                Some(event) => Some(*event),
                None => find_event(db, id)
                    .await?
                    .filter(|e| e.status == ACCEPTED || e.status == FAILED),
            };
            match event {
                Some(event) => {
                    let outcome = record_failure(db, &event, error, policy, now).await?;
                    (Some(event.event_type), outcome)
                }
                None => (None, ProcessOutcome::AlreadyDone),
            }
        }
    };
    tracing::info!(
        event.kind = event_type.as_deref().unwrap_or("unknown"),
        outcome = outcome.label(),
        "webhook event handled"
    );
    Ok(ProcessReport {
        event_type,
        outcome,
    })
}

async fn find_event(
    db: &DatabaseConnection,
    id: WebhookEventId,
) -> anyhow::Result<Option<webhook_event::Model>> {
    webhook_event::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await
        .context("failed to load a webhook event")
}

/// What one attempt at an event came to.
enum Attempt {
    /// Its effects committed; the event's type.
    Applied(String),
    /// It was processed or dead before, or no such event exists.
    NotClaimable,
    /// It failed and nothing of it committed. The event is given as it
    /// stood before the attempt, when the attempt got as far as claiming it.
    Failed(Option<Box<webhook_event::Model>>, EventError),
}

/// Applies the event in one transaction, which begins by claiming it: the
/// claim moves the status to `processed` and returns the row, so claiming
/// and reading the event take one statement.
async fn apply_once(db: &DatabaseConnection, id: WebhookEventId, now: DateTime<Utc>) -> Attempt {
    let txn = match db.begin().await.context("failed to begin an event") {
        Ok(txn) => txn,
        Err(e) => return Attempt::Failed(None, e.into()),
    };
    let claimed = webhook_event::Entity::update_many()
        .col_expr(webhook_event::Column::Status, Expr::value(PROCESSED))
        .col_expr(webhook_event::Column::ProcessedAt, Expr::value(now))
        .col_expr(
            webhook_event::Column::Attempts,
            Expr::col(webhook_event::Column::Attempts).add(1),
        )
        .col_expr(
            webhook_event::Column::LastError,
            Expr::value(None::<String>),
        )
        .filter(webhook_event::Column::Id.eq(id.as_uuid()))
        .filter(webhook_event::Column::Status.is_in([ACCEPTED, FAILED]))
        .exec_with_returning(&txn)
        .await
        .context("failed to claim a webhook event");
    let mut event = match claimed {
        Ok(mut rows) => match rows.pop() {
            Some(event) => event,
            None => return Attempt::NotClaimable,
        },
        Err(e) => return Attempt::Failed(None, e.into()),
    };
    // The row as it was before this attempt's claim, which rolls back with
    // the attempt if the attempt fails.
    event.attempts -= 1;
    match apply_effects(&txn, &event, now).await {
        Ok(()) => match txn.commit().await {
            Ok(()) => Attempt::Applied(event.event_type),
            Err(e) => {
                let error = anyhow::Error::new(e).context("failed to commit a webhook event");
                Attempt::Failed(Some(Box::new(event)), error.into())
            }
        },
        Err(error) => Attempt::Failed(Some(Box::new(event)), error),
    }
}

async fn apply_effects(
    txn: &impl ConnectionTrait,
    event: &webhook_event::Model,
    now: DateTime<Utc>,
) -> Result<(), EventError> {
    let data = envelope_data(&event.body)?;
    match event.event_type.as_str() {
        "order.paid" => order_paid(txn, event, data, now).await,
        "order.refunded" => order_refunded(txn, event, data, now).await,
        _ => Ok(()),
    }
}

fn envelope_data(body: &str) -> Result<serde_json::Value, EventError> {
    let mut value: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| EventError::Permanent(format!("the body is not JSON: {e}")))?;
    Ok(value
        .get_mut("data")
        .map(serde_json::Value::take)
        .unwrap_or_default())
}

fn payload<T: serde::de::DeserializeOwned>(data: serde_json::Value) -> Result<T, EventError> {
    serde_json::from_value(data).map_err(|e| EventError::Permanent(format!("bad data: {e}")))
}

#[derive(Debug, Deserialize)]
struct PaidOrder {
    order_no: String,
    paid_at: DateTime<Utc>,
    workflow: Option<String>,
    customer: PaidCustomer,
    items: Vec<PaidItem>,
}

#[derive(Debug, Deserialize)]
struct PaidCustomer {
    name: String,
    phone: String,
    address: String,
}

#[derive(Debug, Deserialize)]
struct PaidItem {
    service_item: String,
    quantity: u32,
    sale_price_fen: i64,
}

#[derive(Debug, Deserialize)]
struct RefundedOrder {
    order_no: String,
}

/// The principal a channel acts as: it creates orders in its tenant, and is
/// recorded as their creator.
fn channel_principal(event: &webhook_event::Model) -> Principal {
    Principal::new(
        UserId::from_uuid(event.channel_id),
        TenantId::from_uuid(event.tenant_id),
        Role::Dispatcher,
    )
}

fn check_order_no(order_no: &str) -> Result<(), EventError> {
    if order_no.trim().is_empty() || order_no.len() > 128 {
        return Err(EventError::Permanent(
            "data.order_no must be 1 to 128 characters".into(),
        ));
    }
    Ok(())
}

async fn order_paid(
    txn: &impl ConnectionTrait,
    event: &webhook_event::Model,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), EventError> {
    let paid: PaidOrder = payload(data)?;
    check_order_no(&paid.order_no)?;
    if channel_order(txn, event, &paid.order_no).await?.is_some() {
        tracing::info!("the channel's order already has its work order");
        return Ok(());
    }
    let mut errors = FieldErrors::new();
    let customer = work_orders::parse_customer(
        RawCustomer {
            name: &paid.customer.name,
            phone: &paid.customer.phone,
            address: &paid.customer.address,
        },
        "data.customer",
        &mut errors,
    );
    let raw: Vec<RawLine<'_>> = paid
        .items
        .iter()
        .map(|i| RawLine {
            service_item: &i.service_item,
            quantity: i.quantity,
            sale_price_fen: i.sale_price_fen,
        })
        .collect();
    let lines = work_orders::parse_lines(&raw, "data.items", &mut errors);
    let invalid = |errors: Vec<crate::validation::FieldError>| {
        let listed: Vec<String> = errors
            .iter()
            .map(|e| format!("{} {}", e.field, e.message))
            .collect();
        EventError::Permanent(listed.join("; "))
    };
    errors.finish().map_err(invalid)?;
    let customer = customer.ok_or_else(|| EventError::Permanent("bad customer".into()))?;
    let new = NewWorkOrder {
        workflow: paid.workflow.unwrap_or_else(|| "install".to_owned()),
        customer,
        lines,
        external_order_no: Some(paid.order_no.clone()),
        channel_id: Some(event.channel_id),
    };
    let creator = channel_principal(event);
    match work_orders::create_in(txn, &creator, &new, now).await {
        Ok(id) => {
            tracing::info!(work_order.id = %id, paid_at = %paid.paid_at, "work order created from a paid order");
            Ok(())
        }
        Err(CreateWorkOrderError::Invalid(errors)) => Err(invalid(errors)),
        Err(CreateWorkOrderError::Unexpected(e)) => Err(EventError::Retryable(e)),
    }
}

async fn order_refunded(
    txn: &impl ConnectionTrait,
    event: &webhook_event::Model,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), EventError> {
    let refunded: RefundedOrder = payload(data)?;
    check_order_no(&refunded.order_no)?;
    // The paid event may not have been processed yet: retried, it will be.
    let order = channel_order(txn, event, &refunded.order_no)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no work order for this order number yet"))?;
    let scope = TenantScope::new(TenantId::from_uuid(event.tenant_id));
    match order.status.as_str() {
        OPEN => {
            let reason = format!("渠道退款：{}", refunded.order_no);
            match work_orders::cancel_in(txn, &scope, &order, None, &reason, now).await {
                Ok(()) => {}
                Err(MoveError::Unexpected(e)) => return Err(e.into()),
                Err(other) => return Err(anyhow::anyhow!("cancelling failed: {other}").into()),
            }
        }
        CLOSED => {
            let id = WorkOrderId::from_uuid(order.id);
            crate::quotes::reverse_postings(txn, &scope, id, now).await?;
        }
        _ => {}
    }
    tracing::info!(work_order.id = %order.id, "refund applied");
    Ok(())
}

async fn channel_order(
    db: &impl ConnectionTrait,
    event: &webhook_event::Model,
    order_no: &str,
) -> anyhow::Result<Option<work_order::Model>> {
    work_order::Entity::find()
        .filter(work_order::Column::TenantId.eq(event.tenant_id))
        .filter(work_order::Column::ChannelId.eq(event.channel_id))
        .filter(work_order::Column::ExternalOrderNo.eq(order_no))
        .one(db)
        .await
        .context("failed to find the channel's order")
}

async fn record_failure(
    db: &DatabaseConnection,
    event: &webhook_event::Model,
    error: EventError,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> anyhow::Result<ProcessOutcome> {
    let attempts = event.attempts + 1;
    let (status, message, outcome) = match &error {
        EventError::Permanent(message) => {
            (DEAD, message.clone(), ProcessOutcome::Dead { attempts })
        }
        EventError::Retryable(cause) => {
            let message = format!("{cause:#}");
            if policy.exhausted(u32::try_from(attempts).unwrap_or(u32::MAX)) {
                (DEAD, message, ProcessOutcome::Dead { attempts })
            } else {
                let delay = policy.delay(u32::try_from(attempts).unwrap_or(u32::MAX));
                let at = now + chrono::Duration::from_std(delay).unwrap_or_default();
                (FAILED, message, ProcessOutcome::Retrying { attempts, at })
            }
        }
    };
    let next_attempt_at = match &outcome {
        ProcessOutcome::Retrying { at, .. } => *at,
        _ => now,
    };
    let message: String = message.chars().take(1000).collect();
    if status == DEAD {
        tracing::error!(error.message = %message, attempts, "webhook event is dead");
    } else {
        tracing::warn!(error.message = %message, attempts, "webhook event failed; will retry");
    }
    webhook_event::Entity::update_many()
        .col_expr(webhook_event::Column::Status, Expr::value(status))
        .col_expr(webhook_event::Column::Attempts, Expr::value(attempts))
        .col_expr(webhook_event::Column::LastError, Expr::value(message))
        .col_expr(
            webhook_event::Column::NextAttemptAt,
            Expr::value(next_attempt_at),
        )
        .filter(webhook_event::Column::Id.eq(event.id))
        .filter(webhook_event::Column::Status.is_in([ACCEPTED, FAILED]))
        .filter(webhook_event::Column::Attempts.eq(event.attempts))
        .exec(db)
        .await
        .context("failed to record a webhook event's failure")?;
    Ok(outcome)
}

/// Claims up to `limit` events that are due (accepted and never picked up
/// within the grace period, or failed and past their backoff), moving each
/// one's next attempt a lease ahead so that no other sweeper hands it out
/// meanwhile.
pub async fn claim_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> anyhow::Result<Vec<WebhookEventId>> {
    let due = Condition::all()
        .add(webhook_event::Column::Status.is_in([ACCEPTED, FAILED]))
        .add(webhook_event::Column::NextAttemptAt.lte(now));
    let ids: Vec<uuid::Uuid> = crate::db::lease_due::<webhook_event::Entity, _>(
        db,
        due,
        webhook_event::Column::NextAttemptAt,
        now + chrono::Duration::seconds(LEASE_SECS),
        limit,
        &[webhook_event::Column::Id],
    )
    .await
    .context("failed to claim due webhook events")?;
    Ok(ids.into_iter().map(WebhookEventId::from_uuid).collect())
}

/// Counts of the inbox by event type and status, for metrics. They are
/// read from the database, so they cover every process of a deployment.
pub async fn count_by_type_and_status(
    db: &impl ConnectionTrait,
) -> anyhow::Result<Vec<(String, String, i64)>> {
    webhook_event::Entity::find()
        .select_only()
        .column(webhook_event::Column::EventType)
        .column(webhook_event::Column::Status)
        .column_as(webhook_event::Column::Id.count(), "count")
        .group_by(webhook_event::Column::EventType)
        .group_by(webhook_event::Column::Status)
        .into_tuple()
        .all(db)
        .await
        .context("failed to count webhook events")
}
