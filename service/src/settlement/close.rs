//! Closing a settlement period.
//!
//! One transaction does it all, set-based, so that a month of a million
//! ledger lines closes in a few statements rather than a million:
//!
//! 1. The period row, keyed by (tenant, first day, last day). A second close
//!    of the same period, concurrent or later, finds it and answers it.
//! 2. `INSERT … SELECT` copies every ledger line posted before the period's
//!    end that no statement holds yet into `statement_lines`. Its primary
//!    key is the ledger line, so no line can land in two statements.
//!    Lines posted before the period began and never settled (a tenant's
//!    first close, say) are carried into it rather than left behind.
//! 3. One `GROUP BY` over those rows gives each installer's count and
//!    total, and the statements, their audit entries, the partner firms'
//!    statements and the `statement_issued` notifications are written in
//!    batches.

use std::collections::BTreeSet;

use anyhow::Context;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use scrm_entity::{
    earnings_line, firm_statement, settlement_period, statement, statement_audit, statement_line,
    user,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};
use uuid::Uuid;

use super::StatementStatus;
use super::period::{PeriodSpan, SpanError, parse_span};
use super::settings::get_settings;
use crate::auth::Principal;
use crate::domain::PeriodId;
use crate::notifications::{self, NewNotification, NotificationKind, PushData};
use crate::pricing::money::Fen;
use crate::tenancy::TenantScope;

/// Rows written per multi-row insert: under SQLite's and PostgreSQL's limits
/// on bound values for the widest of these tables.
const BATCH_ROWS: usize = 500;

/// A closed period as answered to the admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedPeriod {
    pub id: PeriodId,
    pub first_day: String,
    pub last_day: String,
    pub statements: i32,
    pub closed_at: DateTime<Utc>,
    /// False when the period was closed before and this close changed
    /// nothing.
    pub created: bool,
}

impl From<settlement_period::Model> for ClosedPeriod {
    fn from(row: settlement_period::Model) -> Self {
        Self {
            id: PeriodId::from_uuid(row.id),
            first_day: row.starts_on,
            last_day: row.ends_on,
            statements: row.statements,
            closed_at: row.closed_at,
            created: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClosePeriodError {
    #[error(transparent)]
    Span(#[from] SpanError),
    /// Another closed period shares days with this one.
    #[error("the period overlaps the closed period {0} to {1}")]
    Overlaps(String, String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Closes the period `from..=to` (CST calendar days) for the caller's
/// tenant. Closing a period that is already closed answers it and changes
/// nothing.
#[tracing::instrument(name = "close settlement period", skip_all, fields(tenant.id = %admin.tenant_id(), period.from = %from, period.to = %to))]
pub async fn close_period(
    db: &DatabaseConnection,
    admin: &Principal,
    from: &str,
    to: &str,
    now: DateTime<Utc>,
) -> Result<ClosedPeriod, ClosePeriodError> {
    // Stored times keep microseconds; answering the same instant as a later
    // read of the row keeps a repeated close's answer identical.
    let now = now.trunc_subsecs(6);
    let scope = admin.scope();
    let settings = get_settings(db, &scope).await?;
    let span = parse_span(from, to, settings.cadence, now)?;
    let closed = crate::db::retry_contended(
        || try_close(db, admin, span, settings.dispute_days, now),
        |e| matches!(e, ClosePeriodError::Unexpected(e) if crate::db::is_write_contention(e)),
    )
    .await?;
    tracing::info!(
        period.id = %closed.id,
        statements = closed.statements,
        created = closed.created,
        "settlement period closed"
    );
    Ok(closed)
}

async fn try_close(
    db: &DatabaseConnection,
    admin: &Principal,
    span: PeriodSpan,
    dispute_days: i32,
    now: DateTime<Utc>,
) -> Result<ClosedPeriod, ClosePeriodError> {
    let scope = admin.scope();
    let txn = db.begin().await.context("failed to begin a close")?;
    let period_id = PeriodId::generate();
    let claimed = claim_period(&txn, admin, span, period_id, now).await?;
    if !claimed {
        let existing = find_period(&txn, &scope, span).await?;
        return Ok(existing.into());
    }
    refuse_overlap(&txn, &scope, span, period_id).await?;

    collect_lines(&txn, &scope, period_id, span.ends_at()).await?;
    let totals = installer_totals(&txn, period_id).await?;
    let deadline = now + Duration::days(i64::from(dispute_days));
    write_statements(&txn, &scope, period_id, &totals, deadline, now).await?;
    write_firm_statements(&txn, &scope, period_id, &totals, now).await?;
    notify_installers(&txn, &scope, &totals, span, now).await?;

    let count = i32::try_from(totals.len()).context("too many statements for one period")?;
    settlement_period::Entity::update_many()
        .col_expr(settlement_period::Column::Statements, Expr::value(count))
        .filter(settlement_period::Column::Id.eq(period_id.as_uuid()))
        .exec(&txn)
        .await
        .context("failed to count a period's statements")?;
    txn.commit().await.context("failed to commit a close")?;
    Ok(ClosedPeriod {
        id: period_id,
        first_day: span.first_day.to_string(),
        last_day: span.last_day.to_string(),
        statements: count,
        closed_at: now,
        created: true,
    })
}

/// Inserts the period unless it exists; answers whether this call did.
async fn claim_period(
    db: &impl ConnectionTrait,
    admin: &Principal,
    span: PeriodSpan,
    id: PeriodId,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let row = settlement_period::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(admin.tenant_id().as_uuid()),
        starts_on: Set(span.first_day.to_string()),
        ends_on: Set(span.last_day.to_string()),
        starts_at: Set(span.starts_at()),
        ends_at: Set(span.ends_at()),
        cadence: Set(cadence_of(span).to_owned()),
        statements: Set(0),
        closed_by: Set(admin.user_id().as_uuid()),
        closed_at: Set(now),
    };
    let inserted = settlement_period::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                settlement_period::Column::TenantId,
                settlement_period::Column::StartsOn,
                settlement_period::Column::EndsOn,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .context("failed to record a period")?;
    Ok(inserted == 1)
}

/// A span of seven days is a week; any other validated span is a month.
fn cadence_of(span: PeriodSpan) -> &'static str {
    if span.last_day - span.first_day == Duration::days(6) {
        "week"
    } else {
        "month"
    }
}

async fn find_period(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    span: PeriodSpan,
) -> anyhow::Result<settlement_period::Model> {
    scope
        .select::<settlement_period::Entity>()
        .filter(settlement_period::Column::StartsOn.eq(span.first_day.to_string()))
        .filter(settlement_period::Column::EndsOn.eq(span.last_day.to_string()))
        .one(db)
        .await
        .context("failed to load a period")?
        .context("a claimed period is missing")
}

async fn refuse_overlap(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    span: PeriodSpan,
    id: PeriodId,
) -> Result<(), ClosePeriodError> {
    let other = scope
        .select::<settlement_period::Entity>()
        .filter(settlement_period::Column::Id.ne(id.as_uuid()))
        .filter(settlement_period::Column::StartsOn.lte(span.last_day.to_string()))
        .filter(settlement_period::Column::EndsOn.gte(span.first_day.to_string()))
        .one(db)
        .await
        .context("failed to look for overlapping periods")?;
    match other {
        Some(other) => Err(ClosePeriodError::Overlaps(other.starts_on, other.ends_on)),
        None => Ok(()),
    }
}

/// Copies every unsettled ledger line posted before `ends_at` into the
/// period, in one statement.
async fn collect_lines(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    period: PeriodId,
    ends_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let ledger = Alias::new("ledger");
    let held = Alias::new("held");
    let unsettled = Query::select()
        .expr(Expr::col((ledger.clone(), earnings_line::Column::Id)))
        .expr(Expr::col((ledger.clone(), earnings_line::Column::TenantId)))
        .expr(Expr::val(period.as_uuid()))
        .expr(Expr::col((
            ledger.clone(),
            earnings_line::Column::InstallerId,
        )))
        .expr(Expr::col((
            ledger.clone(),
            earnings_line::Column::AmountFen,
        )))
        .from_as(earnings_line::Entity, ledger.clone())
        .and_where(
            Expr::col((ledger.clone(), earnings_line::Column::TenantId))
                .eq(scope.tenant_id().as_uuid()),
        )
        .and_where(Expr::col((ledger.clone(), earnings_line::Column::PostedAt)).lt(ends_at))
        .and_where(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from_as(statement_line::Entity, held.clone())
                    .and_where(
                        Expr::col((held.clone(), statement_line::Column::EarningsLineId))
                            .equals((ledger.clone(), earnings_line::Column::Id)),
                    )
                    .to_owned(),
            )
            .not(),
        )
        .to_owned();
    let insert = Query::insert()
        .into_table(statement_line::Entity)
        .columns([
            statement_line::Column::EarningsLineId,
            statement_line::Column::TenantId,
            statement_line::Column::PeriodId,
            statement_line::Column::InstallerId,
            statement_line::Column::AmountFen,
        ])
        .select_from(unsettled)
        .context("failed to build the line copy")?
        .to_owned();
    db.execute(&insert)
        .await
        .context("failed to collect a period's lines")?;
    Ok(())
}

/// One installer's share of a period.
#[derive(Clone, Debug)]
pub(crate) struct InstallerTotal {
    pub installer: Uuid,
    pub partner: Option<Uuid>,
    pub lines: i32,
    pub total_fen: i64,
}

async fn installer_totals(
    db: &impl ConnectionTrait,
    period: PeriodId,
) -> anyhow::Result<Vec<InstallerTotal>> {
    let lines = Alias::new("lines");
    let query = Query::select()
        .expr(Expr::col((
            lines.clone(),
            statement_line::Column::InstallerId,
        )))
        .expr(Expr::col((user::Entity, user::Column::PartnerId)))
        .expr(Func::count(Expr::col((
            lines.clone(),
            statement_line::Column::EarningsLineId,
        ))))
        .expr(Expr::cust("CAST(SUM(lines.amount_fen) AS BIGINT)"))
        .from_as(statement_line::Entity, lines.clone())
        .left_join(
            user::Entity,
            Expr::col((user::Entity, user::Column::Id))
                .equals((lines.clone(), statement_line::Column::InstallerId)),
        )
        .and_where(
            Expr::col((lines.clone(), statement_line::Column::PeriodId)).eq(period.as_uuid()),
        )
        .group_by_col((lines.clone(), statement_line::Column::InstallerId))
        .group_by_col((user::Entity, user::Column::PartnerId))
        .to_owned();
    let rows = db
        .query_all(&query)
        .await
        .context("failed to total a period's lines")?;
    rows.iter()
        .map(|row| {
            let (installer, partner, lines, total): (Uuid, Option<Uuid>, i64, i64) =
                sea_orm::TryGetableMany::try_get_many_by_index(row)
                    .map_err(sea_orm::DbErr::from)
                    .context("failed to read a period total")?;
            Ok(InstallerTotal {
                installer,
                partner,
                lines: i32::try_from(lines).context("a statement holds too many lines")?,
                total_fen: total,
            })
        })
        .collect()
}

async fn write_statements(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    period: PeriodId,
    totals: &[InstallerTotal],
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    for batch in totals.chunks(BATCH_ROWS) {
        let mut statements = Vec::with_capacity(batch.len());
        let mut audit = Vec::with_capacity(batch.len());
        for share in batch {
            let id = Uuid::now_v7();
            statements.push(statement::ActiveModel {
                id: Set(id),
                tenant_id: Set(scope.tenant_id().as_uuid()),
                period_id: Set(period.as_uuid()),
                installer_id: Set(share.installer),
                partner_id: Set(share.partner),
                status: Set(StatementStatus::Issued.as_str().to_owned()),
                lines_count: Set(share.lines),
                lines_total_fen: Set(share.total_fen),
                adjustments_total_fen: Set(0),
                total_fen: Set(share.total_fen),
                issued_at: Set(now),
                dispute_deadline: Set(deadline),
                confirmed_at: Set(None),
                paid_at: Set(None),
                payout_reference: Set(None),
                updated_at: Set(now),
            });
            audit.push(statement_audit::ActiveModel {
                id: Set(Uuid::now_v7()),
                tenant_id: Set(scope.tenant_id().as_uuid()),
                statement_id: Set(id),
                actor_id: Set(None),
                action: Set("issue".to_owned()),
                from_status: Set(Some(StatementStatus::Draft.as_str().to_owned())),
                to_status: Set(StatementStatus::Issued.as_str().to_owned()),
                detail: Set(Some(format!(
                    "{} lines, {}",
                    share.lines,
                    Fen::new(share.total_fen)
                ))),
                at: Set(now),
            });
        }
        statement::Entity::insert_many(statements)
            .exec_without_returning(db)
            .await
            .context("failed to write statements")?;
        statement_audit::Entity::insert_many(audit)
            .exec_without_returning(db)
            .await
            .context("failed to audit issued statements")?;
    }
    Ok(())
}

async fn write_firm_statements(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    period: PeriodId,
    totals: &[InstallerTotal],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let firms: BTreeSet<Uuid> = totals.iter().filter_map(|t| t.partner).collect();
    let rows: Vec<firm_statement::ActiveModel> = firms
        .into_iter()
        .map(|partner| firm_statement::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(scope.tenant_id().as_uuid()),
            period_id: Set(period.as_uuid()),
            partner_id: Set(partner),
            created_at: Set(now),
        })
        .collect();
    for batch in rows.chunks(BATCH_ROWS) {
        firm_statement::Entity::insert_many(batch.to_vec())
            .exec_without_returning(db)
            .await
            .context("failed to write partner firms' statements")?;
    }
    Ok(())
}

async fn notify_installers(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    totals: &[InstallerTotal],
    span: PeriodSpan,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let period = format!("{} 至 {}", span.first_day, span.last_day);
    let notes: Vec<NewNotification> = totals
        .iter()
        .map(|share| NewNotification {
            recipient: share.installer,
            kind: NotificationKind::StatementIssued,
            work_order_id: None,
            title: "结算单已出".to_owned(),
            body: format!(
                "{period} 的结算单共 {} 条，合计 {}，请核对确认。",
                share.lines,
                Fen::new(share.total_fen)
            ),
            data: PushData {
                amount_fen: Some(share.total_fen),
                ..PushData::default()
            },
        })
        .collect();
    for batch in notes.chunks(BATCH_ROWS) {
        notifications::write_many(db, scope, batch.to_vec(), now).await?;
    }
    Ok(())
}
