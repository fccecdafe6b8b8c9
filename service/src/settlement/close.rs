//! Closing a settlement period.
//!
//! Periods close in order, each starting where the one before ended, so a
//! statement is simply its installer's ledger lines posted in the span
//! from the previous close's cutoff to its own period's end; lines posted
//! before a tenant's first period are carried into it. No line is copied:
//! the close is one `GROUP BY` over that span and a few batched inserts,
//! all in one transaction:
//!
//! 1. the period row, which the database keys by (tenant, first day, last
//!    day) and by (tenant, cutoff it starts from). A second close of the
//!    same period, concurrent or later, finds it and answers it;
//! 2. each installer's count and total over the span;
//! 3. the statements, their audit entries, the partner firms' statements
//!    and the `statement_issued` notifications, in multi-row inserts.
//!
//! A period closes once it has been over for [`super::period::CLOSE_GRACE`],
//! so that no posting still in flight can land behind the cutoff.

use std::collections::BTreeSet;

use anyhow::Context;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use scrm_entity::{
    earnings_line, firm_statement, settlement_period, statement, statement_audit, user,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
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

/// Bound values per multi-row insert: under SQLite's limit (32,766) and
/// PostgreSQL's (65,535).
const MAX_BOUND_VALUES: usize = 32_000;

/// Rows per insert into a table of `columns` columns.
const fn batch_rows(columns: usize) -> usize {
    MAX_BOUND_VALUES / columns
}

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
    /// A later period is closed already; periods close in order.
    #[error("periods close in order, and the period {0} to {1} is closed already")]
    OutOfOrder(String, String),
    /// Another close took the same place in the chain meanwhile; the close
    /// is tried again and then finds it.
    #[error("another close of this tenant committed first")]
    Raced,
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
        |e| match e {
            ClosePeriodError::Raced => true,
            ClosePeriodError::Unexpected(e) => crate::db::is_write_contention(e),
            _ => false,
        },
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
    if let Some(existing) = find_period(&txn, &scope, span).await? {
        return Ok(existing.into());
    }
    let covers_from = next_cutoff(&txn, &scope, span).await?;
    let period_id = PeriodId::generate();
    insert_period(&txn, admin, span, covers_from, period_id, now).await?;

    let cover = Cover {
        period: period_id,
        from: covers_from,
        until: span.ends_at(),
    };
    let totals = installer_totals(&txn, &scope, &cover).await?;
    let deadline = now + Duration::days(i64::from(dispute_days));
    write_statements(&txn, &scope, &cover, &totals, deadline, now).await?;
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

/// The time to give a ledger line posted at `now`: `now`, or the latest
/// close's cutoff when `now` is behind it (a server whose clock lags), so
/// that a line posted after a close always lands on a later statement and
/// a closed statement's lines never change.
pub async fn posting_time(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    now: DateTime<Utc>,
) -> anyhow::Result<DateTime<Utc>> {
    let cutoff: Option<DateTime<Utc>> = scope
        .select::<settlement_period::Entity>()
        .select_only()
        .column(settlement_period::Column::EndsAt)
        .order_by_desc(settlement_period::Column::EndsAt)
        .into_tuple()
        .one(db)
        .await
        .context("failed to load the latest close's cutoff")?;
    Ok(cutoff.map_or(now, |cutoff| Ord::max(now, cutoff)))
}

/// What a period's statements hold: lines posted in `from..until`.
struct Cover {
    period: PeriodId,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// Where the next period starts: the latest period's end, or the epoch for
/// a tenant's first. Refuses a period that is not after every closed one.
async fn next_cutoff(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    span: PeriodSpan,
) -> Result<DateTime<Utc>, ClosePeriodError> {
    let latest = scope
        .select::<settlement_period::Entity>()
        .order_by_desc(settlement_period::Column::EndsAt)
        .one(db)
        .await
        .context("failed to load the latest period")?;
    let Some(latest) = latest else {
        return Ok(DateTime::<Utc>::UNIX_EPOCH);
    };
    if latest.ends_at <= span.starts_at() {
        return Ok(latest.ends_at);
    }
    let overlapping = scope
        .select::<settlement_period::Entity>()
        .filter(settlement_period::Column::StartsOn.lte(span.last_day.to_string()))
        .filter(settlement_period::Column::EndsOn.gte(span.first_day.to_string()))
        .one(db)
        .await
        .context("failed to look for overlapping periods")?;
    Err(match overlapping {
        // The same period, closed by a concurrent call that committed after
        // this one looked for it: the retry answers it.
        Some(same)
            if same.starts_on == span.first_day.to_string()
                && same.ends_on == span.last_day.to_string() =>
        {
            ClosePeriodError::Raced
        }
        Some(other) => ClosePeriodError::Overlaps(other.starts_on, other.ends_on),
        None => ClosePeriodError::OutOfOrder(latest.starts_on, latest.ends_on),
    })
}

async fn insert_period(
    db: &impl ConnectionTrait,
    admin: &Principal,
    span: PeriodSpan,
    covers_from: DateTime<Utc>,
    id: PeriodId,
    now: DateTime<Utc>,
) -> Result<(), ClosePeriodError> {
    let row = settlement_period::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(admin.tenant_id().as_uuid()),
        starts_on: Set(span.first_day.to_string()),
        ends_on: Set(span.last_day.to_string()),
        starts_at: Set(span.starts_at()),
        ends_at: Set(span.ends_at()),
        covers_from: Set(covers_from),
        cadence: Set(cadence_of(span).to_owned()),
        statements: Set(0),
        closed_by: Set(admin.user_id().as_uuid()),
        closed_at: Set(now),
    };
    match settlement_period::Entity::insert(row)
        .exec_without_returning(db)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if crate::db::is_unique_violation(&e) => Err(ClosePeriodError::Raced),
        Err(e) => Err(anyhow::Error::new(e)
            .context("failed to record a period")
            .into()),
    }
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
) -> anyhow::Result<Option<settlement_period::Model>> {
    scope
        .select::<settlement_period::Entity>()
        .filter(settlement_period::Column::StartsOn.eq(span.first_day.to_string()))
        .filter(settlement_period::Column::EndsOn.eq(span.last_day.to_string()))
        .one(db)
        .await
        .context("failed to load a period")
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
    scope: &TenantScope,
    cover: &Cover,
) -> anyhow::Result<Vec<InstallerTotal>> {
    // Totals first, then the partner firm of each installer: grouping the
    // ledger alone lets the database hash-aggregate it, where grouping it
    // joined to users would sort every line.
    let totals = Alias::new("totals");
    let (count, total) = (Alias::new("lines"), Alias::new("total_fen"));
    let per_installer = Query::select()
        .column(earnings_line::Column::InstallerId)
        .expr_as(
            Func::count(Expr::col(earnings_line::Column::Id)),
            count.clone(),
        )
        .expr_as(
            Func::cast_as(
                Func::sum(Expr::col(earnings_line::Column::AmountFen)),
                Alias::new("BIGINT"),
            ),
            total.clone(),
        )
        .from(earnings_line::Entity)
        .and_where(earnings_line::Column::TenantId.eq(scope.tenant_id().as_uuid()))
        .and_where(earnings_line::Column::PostedAt.gte(cover.from))
        .and_where(earnings_line::Column::PostedAt.lt(cover.until))
        .group_by_col(earnings_line::Column::InstallerId)
        .to_owned();
    let query = Query::select()
        .expr(Expr::col((
            totals.clone(),
            earnings_line::Column::InstallerId,
        )))
        .expr(Expr::col((user::Entity, user::Column::PartnerId)))
        .expr(Expr::col((totals.clone(), count)))
        .expr(Expr::col((totals.clone(), total)))
        .from_subquery(per_installer, totals.clone())
        .left_join(
            user::Entity,
            Expr::col((user::Entity, user::Column::Id))
                .equals((totals.clone(), earnings_line::Column::InstallerId)),
        )
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
    cover: &Cover,
    totals: &[InstallerTotal],
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    // The statements table is the widest of the two written here.
    for batch in totals.chunks(batch_rows(18)) {
        let mut statements = Vec::with_capacity(batch.len());
        let mut audit = Vec::with_capacity(batch.len());
        for share in batch {
            let id = Uuid::now_v7();
            statements.push(statement::ActiveModel {
                id: Set(id),
                tenant_id: Set(scope.tenant_id().as_uuid()),
                period_id: Set(cover.period.as_uuid()),
                installer_id: Set(share.installer),
                partner_id: Set(share.partner),
                status: Set(StatementStatus::Issued.as_str().to_owned()),
                covers_from: Set(cover.from),
                covers_until: Set(cover.until),
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
    for batch in rows.chunks(batch_rows(5)) {
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
    for batch in notes.chunks(batch_rows(15)) {
        notifications::write_many(db, scope, batch.to_vec(), now).await?;
    }
    Ok(())
}
