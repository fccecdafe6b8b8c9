//! What happens to a statement after its close. Each operation runs in one
//! transaction that locks the statement row first (PostgreSQL; SQLite has
//! one writer anyway), so that two people acting on one statement at once
//! are applied one after the other. Every change of status, and every
//! dispute and resolution, writes an audit entry in the same transaction,
//! and the installer's notification goes to the outbox with it.

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{
    earnings_line, statement, statement_adjustment, statement_audit, statement_dispute,
};
use sea_orm::sea_query::{Expr, ExprTrait, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use super::StatementStatus;
use crate::auth::Principal;
use crate::domain::{DisputeId, Role, StatementId};
use crate::notifications::{self, NewNotification, NotificationKind, PushData};
use crate::pricing::money::Fen;
use crate::tenancy::TenantScope;

#[derive(Debug, thiserror::Error)]
pub enum StatementActionError {
    /// No such statement or dispute, or not the caller's to act on.
    #[error("no such statement")]
    NotFound,
    /// The statement's status does not allow the action.
    #[error("{0}")]
    InvalidTransition(String),
    #[error("the dispute deadline of this statement has passed")]
    DeadlinePassed,
    #[error("this line is disputed already")]
    AlreadyDisputed,
    #[error("the line is not on this statement")]
    LineNotOnStatement,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

type Outcome<T> = Result<T, StatementActionError>;

fn contended(error: &StatementActionError) -> bool {
    matches!(error, StatementActionError::Unexpected(e) if crate::db::is_write_contention(e))
}

/// The installer accepts what the statement pays: from `issued`, or from
/// `resolved` once every dispute has an answer.
#[tracing::instrument(name = "confirm statement", skip_all, fields(tenant.id = %installer.tenant_id(), statement.id = %id))]
pub async fn confirm_statement(
    db: &DatabaseConnection,
    installer: &Principal,
    id: StatementId,
    now: DateTime<Utc>,
) -> Outcome<()> {
    crate::db::retry_contended(|| try_confirm(db, installer, id, now), contended).await
}

async fn try_confirm(
    db: &DatabaseConnection,
    installer: &Principal,
    id: StatementId,
    now: DateTime<Utc>,
) -> Outcome<()> {
    let txn = db.begin().await.context("failed to begin a confirmation")?;
    let row = own_statement(&txn, installer, id).await?;
    let from = status_of(&row)?;
    if !matches!(from, StatementStatus::Issued | StatementStatus::Resolved) {
        return Err(StatementActionError::InvalidTransition(format!(
            "a statement that is {} cannot be confirmed",
            from.as_str()
        )));
    }
    set_status(
        &txn,
        &row,
        StatementStatus::Confirmed,
        |update| update.col_expr(statement::Column::ConfirmedAt, Expr::value(now)),
        now,
    )
    .await?;
    let change = Change::new(&row, installer, "confirm", from, StatementStatus::Confirmed);
    audit(&txn, change, None, now).await?;
    txn.commit()
        .await
        .context("failed to commit a confirmation")?;
    Ok(())
}

/// A dispute to raise.
#[derive(Debug, Clone)]
pub struct NewDispute {
    /// The ledger line, as listed on the statement.
    pub line_id: Uuid,
    pub reason: String,
    pub photo_urls: Vec<String>,
}

/// The installer disputes one line of their statement, before its dispute
/// deadline. The statement becomes `disputed` until every dispute on it is
/// resolved.
#[tracing::instrument(name = "dispute statement line", skip_all, fields(tenant.id = %installer.tenant_id(), statement.id = %id))]
pub async fn dispute_line(
    db: &DatabaseConnection,
    installer: &Principal,
    id: StatementId,
    dispute: NewDispute,
    now: DateTime<Utc>,
) -> Outcome<DisputeId> {
    crate::db::retry_contended(|| try_dispute(db, installer, id, &dispute, now), contended).await
}

async fn try_dispute(
    db: &DatabaseConnection,
    installer: &Principal,
    id: StatementId,
    dispute: &NewDispute,
    now: DateTime<Utc>,
) -> Outcome<DisputeId> {
    let txn = db.begin().await.context("failed to begin a dispute")?;
    let row = own_statement(&txn, installer, id).await?;
    let from = status_of(&row)?;
    if !matches!(
        from,
        StatementStatus::Issued | StatementStatus::Disputed | StatementStatus::Resolved
    ) {
        return Err(StatementActionError::InvalidTransition(format!(
            "a statement that is {} cannot be disputed",
            from.as_str()
        )));
    }
    if now > row.dispute_deadline {
        return Err(StatementActionError::DeadlinePassed);
    }
    ensure_line_on_statement(&txn, &row, dispute.line_id).await?;

    let dispute_id = DisputeId::generate();
    insert_dispute(&txn, &row, installer, dispute_id, dispute, now).await?;
    set_status(&txn, &row, StatementStatus::Disputed, |u| u, now).await?;
    let change = Change::new(&row, installer, "dispute", from, StatementStatus::Disputed);
    let detail = format!("line {}: {}", dispute.line_id, dispute.reason);
    audit(&txn, change, Some(detail), now).await?;
    txn.commit().await.context("failed to commit a dispute")?;
    tracing::info!(dispute.id = %dispute_id, "statement line disputed");
    Ok(dispute_id)
}

async fn ensure_line_on_statement(
    db: &impl ConnectionTrait,
    row: &statement::Model,
    line: Uuid,
) -> Outcome<()> {
    let held = earnings_line::Entity::find_by_id(line)
        .filter(earnings_line::Column::TenantId.eq(row.tenant_id))
        .filter(earnings_line::Column::InstallerId.eq(row.installer_id))
        .filter(earnings_line::Column::PostedAt.gte(row.covers_from))
        .filter(earnings_line::Column::PostedAt.lt(row.covers_until))
        .count(db)
        .await
        .context("failed to look up a statement line")?;
    if held == 0 {
        return Err(StatementActionError::LineNotOnStatement);
    }
    Ok(())
}

async fn insert_dispute(
    db: &impl ConnectionTrait,
    row: &statement::Model,
    installer: &Principal,
    id: DisputeId,
    dispute: &NewDispute,
    now: DateTime<Utc>,
) -> Outcome<()> {
    let photos = serde_json::to_string(&dispute.photo_urls).context("failed to encode photos")?;
    let inserted = statement_dispute::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(row.tenant_id),
        statement_id: Set(row.id),
        earnings_line_id: Set(dispute.line_id),
        raised_by: Set(installer.user_id().as_uuid()),
        reason: Set(dispute.reason.clone()),
        photo_urls: Set(photos),
        status: Set(OPEN.to_owned()),
        resolution: Set(None),
        resolved_by: Set(None),
        resolved_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if crate::db::is_unique_violation(&e) => Err(StatementActionError::AlreadyDisputed),
        Err(e) => Err(anyhow::Error::new(e)
            .context("failed to store a dispute")
            .into()),
    }
}

/// Dispute statuses.
pub(crate) const OPEN: &str = "open";
const ACCEPTED: &str = "accepted";
const REJECTED: &str = "rejected";

/// How staff answer a dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The installer is right: an adjustment line of this amount (positive
    /// pays more, negative deducts) joins the statement.
    Accept { amount: Fen, reason: String },
    /// The line stands, for this reason.
    Reject { reason: String },
}

/// A dispatcher or admin answers an open dispute. Once no dispute of the
/// statement is open, the statement is `resolved`.
#[tracing::instrument(name = "resolve dispute", skip_all, fields(tenant.id = %staff.tenant_id(), dispute.id = %id))]
pub async fn resolve_dispute(
    db: &DatabaseConnection,
    staff: &Principal,
    id: DisputeId,
    resolution: Resolution,
    now: DateTime<Utc>,
) -> Outcome<StatementId> {
    crate::db::retry_contended(|| try_resolve(db, staff, id, &resolution, now), contended).await
}

async fn try_resolve(
    db: &DatabaseConnection,
    staff: &Principal,
    id: DisputeId,
    resolution: &Resolution,
    now: DateTime<Utc>,
) -> Outcome<StatementId> {
    let scope = staff.scope();
    let txn = db.begin().await.context("failed to begin a resolution")?;
    let find = || {
        scope
            .select::<statement_dispute::Entity>()
            .filter(statement_dispute::Column::Id.eq(id.as_uuid()))
            .one(&txn)
    };
    let seen = find()
        .await
        .context("failed to load a dispute")?
        .ok_or(StatementActionError::NotFound)?;
    let row = locked_statement(&txn, &scope, seen.statement_id).await?;
    // Read again under the statement's lock: a resolution that committed
    // while this one waited must be seen, or both would adjust.
    let dispute = find()
        .await
        .context("failed to reload a dispute")?
        .ok_or(StatementActionError::NotFound)?;
    if dispute.status != OPEN {
        return Err(StatementActionError::InvalidTransition(format!(
            "the dispute is {} already",
            dispute.status
        )));
    }
    close_dispute(&txn, staff, &dispute, resolution, now).await?;
    if let Resolution::Accept { amount, reason } = resolution {
        adjust(&txn, staff, &row, dispute.id, *amount, reason, now).await?;
    }

    let from = status_of(&row)?;
    let still_open = open_disputes(&txn, row.id).await?;
    let to = if still_open == 0 {
        StatementStatus::Resolved
    } else {
        StatementStatus::Disputed
    };
    set_status(&txn, &row, to, |u| u, now).await?;
    let detail = resolution_detail(&dispute, resolution);
    audit(
        &txn,
        Change::new(&row, staff, "resolve_dispute", from, to),
        Some(detail.clone()),
        now,
    )
    .await?;
    let total = match resolution {
        Resolution::Accept { amount, .. } => row.total_fen + amount.get(),
        Resolution::Reject { .. } => row.total_fen,
    };
    let note = (NotificationKind::DisputeResolved, "争议已处理", detail);
    notify(&txn, &scope, &row, note, total, now).await?;
    txn.commit()
        .await
        .context("failed to commit a resolution")?;
    Ok(StatementId::from_uuid(row.id))
}

async fn close_dispute(
    db: &impl ConnectionTrait,
    staff: &Principal,
    dispute: &statement_dispute::Model,
    resolution: &Resolution,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let (status, reason) = match resolution {
        Resolution::Accept { reason, .. } => (ACCEPTED, reason),
        Resolution::Reject { reason } => (REJECTED, reason),
    };
    statement_dispute::Entity::update_many()
        .col_expr(statement_dispute::Column::Status, Expr::value(status))
        .col_expr(
            statement_dispute::Column::Resolution,
            Expr::value(reason.clone()),
        )
        .col_expr(
            statement_dispute::Column::ResolvedBy,
            Expr::value(staff.user_id().as_uuid()),
        )
        .col_expr(statement_dispute::Column::ResolvedAt, Expr::value(now))
        .filter(statement_dispute::Column::Id.eq(dispute.id))
        .exec(db)
        .await
        .context("failed to resolve a dispute")?;
    Ok(())
}

/// Adds an adjustment line and moves the statement's totals with it, so
/// that `total_fen` stays the lines plus the adjustments (the table checks
/// it).
async fn adjust(
    db: &impl ConnectionTrait,
    staff: &Principal,
    row: &statement::Model,
    dispute: Uuid,
    amount: Fen,
    reason: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    statement_adjustment::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(row.tenant_id),
        statement_id: Set(row.id),
        dispute_id: Set(Some(dispute)),
        amount_fen: Set(amount.get()),
        reason: Set(reason.to_owned()),
        actor_id: Set(staff.user_id().as_uuid()),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .context("failed to add an adjustment")?;
    statement::Entity::update_many()
        .col_expr(
            statement::Column::AdjustmentsTotalFen,
            Expr::col(statement::Column::AdjustmentsTotalFen).add(amount.get()),
        )
        .col_expr(
            statement::Column::TotalFen,
            Expr::col(statement::Column::TotalFen).add(amount.get()),
        )
        .filter(statement::Column::Id.eq(row.id))
        .exec(db)
        .await
        .context("failed to move a statement's total")?;
    Ok(())
}

async fn open_disputes(db: &impl ConnectionTrait, statement: Uuid) -> anyhow::Result<u64> {
    statement_dispute::Entity::find()
        .filter(statement_dispute::Column::StatementId.eq(statement))
        .filter(statement_dispute::Column::Status.eq(OPEN))
        .count(db)
        .await
        .context("failed to count open disputes")
}

fn resolution_detail(dispute: &statement_dispute::Model, resolution: &Resolution) -> String {
    match resolution {
        Resolution::Accept { amount, reason } => {
            format!(
                "争议成立，调整 {amount}：{reason}（争议：{}）",
                dispute.reason
            )
        }
        Resolution::Reject { reason } => {
            format!("争议不成立：{reason}（争议：{}）", dispute.reason)
        }
    }
}

/// An admin records the payout of a statement the installer accepted. A
/// statement nobody disputed by its deadline counts as accepted too.
#[tracing::instrument(name = "mark statement paid", skip_all, fields(tenant.id = %admin.tenant_id(), statement.id = %id))]
pub async fn mark_paid(
    db: &DatabaseConnection,
    admin: &Principal,
    id: StatementId,
    reference: &str,
    now: DateTime<Utc>,
) -> Outcome<()> {
    crate::db::retry_contended(|| try_mark_paid(db, admin, id, reference, now), contended).await
}

async fn try_mark_paid(
    db: &DatabaseConnection,
    admin: &Principal,
    id: StatementId,
    reference: &str,
    now: DateTime<Utc>,
) -> Outcome<()> {
    let scope = admin.scope();
    let txn = db.begin().await.context("failed to begin a payout")?;
    let row = locked_statement(&txn, &scope, id.as_uuid()).await?;
    let from = status_of(&row)?;
    let unanswered_past_deadline = from == StatementStatus::Issued && now > row.dispute_deadline;
    let accepted = from.is_settled() && from != StatementStatus::Paid;
    if !accepted && !unanswered_past_deadline {
        return Err(StatementActionError::InvalidTransition(format!(
            "a statement that is {} cannot be paid; it needs the installer's confirmation, \
             resolved disputes, or its dispute deadline to pass",
            from.as_str()
        )));
    }
    let reference = reference.to_owned();
    set_status(
        &txn,
        &row,
        StatementStatus::Paid,
        |update| {
            update
                .col_expr(statement::Column::PaidAt, Expr::value(now))
                .col_expr(
                    statement::Column::PayoutReference,
                    Expr::value(reference.clone()),
                )
        },
        now,
    )
    .await?;
    let detail = format!("payout reference {reference}");
    audit(
        &txn,
        Change::new(&row, admin, "pay", from, StatementStatus::Paid),
        Some(detail),
        now,
    )
    .await?;
    let body = format!(
        "结算单已付款 {}，付款单号 {reference}。",
        Fen::new(row.total_fen)
    );
    let note = (NotificationKind::StatementPaid, "结算款已支付", body);
    notify(&txn, &scope, &row, note, row.total_fen, now).await?;
    txn.commit().await.context("failed to commit a payout")?;
    Ok(())
}

/// The caller's own statement, locked: only its installer acts on it.
async fn own_statement(
    db: &impl ConnectionTrait,
    installer: &Principal,
    id: StatementId,
) -> Outcome<statement::Model> {
    let row = locked_statement(db, &installer.scope(), id.as_uuid()).await?;
    let owner =
        installer.role() == Role::Installer && row.installer_id == installer.user_id().as_uuid();
    if !owner {
        // Staff and the firm's manager may read it, but acting on it is the
        // installer's alone; everyone else must not learn it exists.
        return Err(StatementActionError::NotFound);
    }
    Ok(row)
}

async fn locked_statement(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: Uuid,
) -> Outcome<statement::Model> {
    scope
        .select::<statement::Entity>()
        .filter(statement::Column::Id.eq(id))
        .lock(LockType::Update)
        .one(db)
        .await
        .context("failed to load a statement")?
        .ok_or(StatementActionError::NotFound)
}

fn status_of(row: &statement::Model) -> anyhow::Result<StatementStatus> {
    StatementStatus::parse(&row.status).context("a stored statement status is unknown")
}

async fn set_status(
    db: &impl ConnectionTrait,
    row: &statement::Model,
    to: StatementStatus,
    extra: impl FnOnce(sea_orm::UpdateMany<statement::Entity>) -> sea_orm::UpdateMany<statement::Entity>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let update = statement::Entity::update_many()
        .col_expr(statement::Column::Status, Expr::value(to.as_str()))
        .col_expr(statement::Column::UpdatedAt, Expr::value(now))
        .filter(statement::Column::Id.eq(row.id));
    extra(update)
        .exec(db)
        .await
        .context("failed to move a statement")?;
    Ok(())
}

/// One audited move of a statement.
struct Change {
    tenant: Uuid,
    statement: Uuid,
    actor: Uuid,
    action: &'static str,
    from: StatementStatus,
    to: StatementStatus,
}

impl Change {
    fn new(
        row: &statement::Model,
        actor: &Principal,
        action: &'static str,
        from: StatementStatus,
        to: StatementStatus,
    ) -> Self {
        Self {
            tenant: row.tenant_id,
            statement: row.id,
            actor: actor.user_id().as_uuid(),
            action,
            from,
            to,
        }
    }
}

async fn audit(
    db: &impl ConnectionTrait,
    change: Change,
    detail: Option<String>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    statement_audit::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(change.tenant),
        statement_id: Set(change.statement),
        actor_id: Set(Some(change.actor)),
        action: Set(change.action.to_owned()),
        from_status: Set(Some(change.from.as_str().to_owned())),
        to_status: Set(change.to.as_str().to_owned()),
        detail: Set(detail),
        at: Set(now),
    }
    .insert(db)
    .await
    .context("failed to audit a statement")?;
    Ok(())
}

async fn notify(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    row: &statement::Model,
    (kind, title, body): (NotificationKind, &str, String),
    amount_fen: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let note = NewNotification {
        recipient: row.installer_id,
        kind,
        work_order_id: None,
        title: title.to_owned(),
        body,
        data: PushData {
            amount_fen: Some(amount_fen),
            ..PushData::default()
        },
    };
    notifications::write(db, scope, note, now).await?;
    Ok(())
}
