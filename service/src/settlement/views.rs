//! Statements as each role may see them. An installer sees their own, a
//! partner manager their firm's (the firm's statement and its installers'),
//! dispatchers and admins the tenant's. For anyone else a statement does
//! not exist.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{
    earnings_line, firm_statement, partner, settlement_period, statement, statement_adjustment,
    statement_audit, statement_dispute, user, work_order,
};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use super::{StatementStatus, close::ClosedPeriod};
use crate::auth::Principal;
use crate::domain::{PeriodId, Role, StatementId};
use crate::page::{Page, PageRequest};
use crate::tenancy::TenantScope;
use crate::users::names_of;

/// The most lines a statement's detail lists; the CSV export has them all.
pub const MAX_DETAIL_LINES: u64 = 1000;

/// A person named on a statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: Uuid,
    pub name: String,
}

/// The days a statement covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeriodDays {
    pub id: PeriodId,
    pub from: String,
    pub to: String,
}

/// A statement in a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementSummary {
    pub id: StatementId,
    pub period: PeriodDays,
    pub status: StatementStatus,
    pub installer: Person,
    pub partner_id: Option<Uuid>,
    pub lines_count: i32,
    pub lines_total_fen: i64,
    pub adjustments_total_fen: i64,
    pub total_fen: i64,
    pub issued_at: DateTime<Utc>,
    pub dispute_deadline: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub payout_reference: Option<String>,
}

/// A ledger line on a statement, with what the installer saw on the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementLine {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub work_order_number: Option<String>,
    pub kind: String,
    pub entry: String,
    pub label: String,
    pub quantity: i32,
    pub amount_fen: i64,
    pub explanation: String,
    pub tier: String,
    pub region_code: String,
    pub price_list: String,
    pub price_list_version: i32,
    pub posted_at: DateTime<Utc>,
    /// Posted before the period began and not settled then.
    pub carried_over: bool,
}

/// An adjustment line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adjustment {
    pub id: Uuid,
    pub dispute_id: Option<Uuid>,
    pub amount_fen: i64,
    pub reason: String,
    pub actor: Person,
    pub at: DateTime<Utc>,
}

/// A dispute, with its answer once it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispute {
    pub id: Uuid,
    pub line_id: Uuid,
    pub reason: String,
    pub photo_urls: Vec<String>,
    /// `open`, `accepted` or `rejected`.
    pub status: String,
    pub resolution: Option<String>,
    pub resolved_by: Option<Person>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub raised_at: DateTime<Utc>,
}

/// An audit entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub action: String,
    pub from: Option<String>,
    pub to: String,
    pub actor: Option<Person>,
    pub detail: Option<String>,
}

/// An installer's statement in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementDetail {
    pub summary: StatementSummary,
    pub lines: Vec<StatementLine>,
    /// More lines exist than [`MAX_DETAIL_LINES`].
    pub lines_truncated: bool,
    pub adjustments: Vec<Adjustment>,
    pub disputes: Vec<Dispute>,
    pub audit: Vec<AuditEntry>,
}

/// A partner firm's statement: the sum of its installers'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirmStatement {
    pub id: StatementId,
    pub period: PeriodDays,
    pub partner: Person,
    /// `paid` once every installer's statement is paid; `disputed` while one
    /// is disputed; `issued` while one awaits its installer; else
    /// `confirmed`.
    pub status: StatementStatus,
    pub total_fen: i64,
    pub statements: Vec<StatementSummary>,
}

/// Either kind of statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyStatement {
    Installer(Box<StatementDetail>),
    Firm(FirmStatement),
}

/// The partner firm a manager manages, if any.
async fn managed_firm(
    db: &impl ConnectionTrait,
    manager: &Principal,
) -> anyhow::Result<Option<Uuid>> {
    let me = manager
        .scope()
        .select::<user::Entity>()
        .filter(user::Column::Id.eq(manager.user_id().as_uuid()))
        .one(db)
        .await
        .context("failed to load a partner manager")?;
    Ok(me.and_then(|m| m.partner_id))
}

/// Whether `principal` may read the installer statement `row`.
pub(crate) async fn may_see_statement(
    db: &impl ConnectionTrait,
    principal: &Principal,
    row: &statement::Model,
) -> anyhow::Result<bool> {
    Ok(match principal.role() {
        Role::Admin | Role::Dispatcher => true,
        Role::Installer => row.installer_id == principal.user_id().as_uuid(),
        Role::PartnerManager => {
            row.partner_id.is_some() && managed_firm(db, principal).await? == row.partner_id
        }
        Role::Customer => false,
    })
}

/// The statement `id` of either kind, if the caller may see it.
#[tracing::instrument(name = "get statement", skip_all, fields(tenant.id = %principal.tenant_id(), statement.id = %id))]
pub async fn get_statement(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: StatementId,
) -> anyhow::Result<Option<AnyStatement>> {
    let scope = principal.scope();
    let row = scope
        .select::<statement::Entity>()
        .filter(statement::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a statement")?;
    if let Some(row) = row {
        if !may_see_statement(db, principal, &row).await? {
            return Ok(None);
        }
        let detail = statement_detail(db, &scope, row).await?;
        return Ok(Some(AnyStatement::Installer(Box::new(detail))));
    }
    let firm = scope
        .select::<firm_statement::Entity>()
        .filter(firm_statement::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a firm's statement")?;
    let Some(firm) = firm else {
        return Ok(None);
    };
    let visible = match principal.role() {
        Role::Admin | Role::Dispatcher => true,
        Role::PartnerManager => managed_firm(db, principal).await? == Some(firm.partner_id),
        Role::Installer | Role::Customer => false,
    };
    if !visible {
        return Ok(None);
    }
    Ok(Some(AnyStatement::Firm(firm_view(db, &scope, firm).await?)))
}

/// The installer statement `id`, if the caller may see it: for exports.
pub async fn get_installer_statement(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: StatementId,
) -> anyhow::Result<Option<(StatementSummary, Vec<StatementLine>, Vec<Adjustment>)>> {
    let scope = principal.scope();
    let row = scope
        .select::<statement::Entity>()
        .filter(statement::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a statement")?;
    let Some(row) = row else { return Ok(None) };
    if !may_see_statement(db, principal, &row).await? {
        return Ok(None);
    }
    let lines = lines_of(db, &scope, &row, None).await?;
    let adjustments = adjustments_of(db, &scope, row.id).await?;
    let summary = summaries(db, &scope, vec![row]).await?.remove(0);
    Ok(Some((summary, lines, adjustments)))
}

async fn statement_detail(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    row: statement::Model,
) -> anyhow::Result<StatementDetail> {
    let mut lines = lines_of(db, scope, &row, Some(MAX_DETAIL_LINES + 1)).await?;
    let lines_truncated = lines.len() as u64 > MAX_DETAIL_LINES;
    lines.truncate(MAX_DETAIL_LINES as usize);
    let adjustments = adjustments_of(db, scope, row.id).await?;
    let disputes = disputes_of(db, scope, row.id).await?;
    let audit = audit_of(db, scope, row.id).await?;
    let summary = summaries(db, scope, vec![row]).await?.remove(0);
    Ok(StatementDetail {
        summary,
        lines,
        lines_truncated,
        adjustments,
        disputes,
        audit,
    })
}

/// The ledger lines a statement holds, oldest first.
async fn lines_of(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    row: &statement::Model,
    limit: Option<u64>,
) -> anyhow::Result<Vec<StatementLine>> {
    let mut query = scope
        .select::<earnings_line::Entity>()
        .filter(earnings_line::Column::InstallerId.eq(row.installer_id))
        .filter(earnings_line::Column::PostedAt.gte(row.covers_from))
        .filter(earnings_line::Column::PostedAt.lt(row.covers_until))
        .order_by_asc(earnings_line::Column::PostedAt)
        .order_by_asc(earnings_line::Column::Id);
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    let ledger = query
        .all(db)
        .await
        .context("failed to load statement lines")?;
    let period_start = period_of(db, scope, row.period_id).await?.starts_at;
    let numbers = order_numbers(db, scope, ledger.iter().map(|l| l.work_order_id)).await?;
    Ok(ledger
        .into_iter()
        .map(|l| StatementLine {
            carried_over: l.posted_at < period_start,
            work_order_number: numbers.get(&l.work_order_id).cloned(),
            id: l.id,
            work_order_id: l.work_order_id,
            kind: l.kind,
            entry: l.entry,
            label: l.label,
            quantity: l.quantity,
            amount_fen: l.amount_fen,
            explanation: l.explanation,
            tier: l.tier,
            region_code: l.region_code,
            price_list: l.price_list_name,
            price_list_version: l.price_list_version,
            posted_at: l.posted_at,
        })
        .collect())
}

/// Work order numbers by id.
pub(crate) async fn order_numbers(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    ids: impl Iterator<Item = Uuid>,
) -> anyhow::Result<HashMap<Uuid, String>> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    let mut numbers = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows: Vec<(Uuid, String)> = scope
            .select::<work_order::Entity>()
            .select_only()
            .column(work_order::Column::Id)
            .column(work_order::Column::Number)
            .filter(work_order::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await
            .context("failed to load work order numbers")?;
        numbers.extend(rows);
    }
    Ok(numbers)
}

async fn period_of(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: Uuid,
) -> anyhow::Result<settlement_period::Model> {
    scope
        .select::<settlement_period::Entity>()
        .filter(settlement_period::Column::Id.eq(id))
        .one(db)
        .await
        .context("failed to load a period")?
        .context("a statement's period is missing")
}

async fn adjustments_of(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    statement: Uuid,
) -> anyhow::Result<Vec<Adjustment>> {
    let rows = scope
        .select::<statement_adjustment::Entity>()
        .filter(statement_adjustment::Column::StatementId.eq(statement))
        .order_by_asc(statement_adjustment::Column::Id)
        .all(db)
        .await
        .context("failed to load adjustments")?;
    let names = names_of(db, scope, rows.iter().map(|r| r.actor_id)).await?;
    Ok(rows
        .into_iter()
        .map(|r| Adjustment {
            actor: person(&names, r.actor_id),
            id: r.id,
            dispute_id: r.dispute_id,
            amount_fen: r.amount_fen,
            reason: r.reason,
            at: r.created_at,
        })
        .collect())
}

async fn disputes_of(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    statement: Uuid,
) -> anyhow::Result<Vec<Dispute>> {
    let rows = scope
        .select::<statement_dispute::Entity>()
        .filter(statement_dispute::Column::StatementId.eq(statement))
        .order_by_asc(statement_dispute::Column::Id)
        .all(db)
        .await
        .context("failed to load disputes")?;
    let names = names_of(db, scope, rows.iter().filter_map(|r| r.resolved_by)).await?;
    rows.into_iter()
        .map(|r| {
            let photo_urls: Vec<String> =
                serde_json::from_str(&r.photo_urls).context("stored photo URLs are not a list")?;
            Ok(Dispute {
                resolved_by: r.resolved_by.map(|id| person(&names, id)),
                id: r.id,
                line_id: r.earnings_line_id,
                reason: r.reason,
                photo_urls,
                status: r.status,
                resolution: r.resolution,
                resolved_at: r.resolved_at,
                raised_at: r.created_at,
            })
        })
        .collect()
}

async fn audit_of(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    statement: Uuid,
) -> anyhow::Result<Vec<AuditEntry>> {
    let rows = scope
        .select::<statement_audit::Entity>()
        .filter(statement_audit::Column::StatementId.eq(statement))
        // Ids are time-ordered (UUID version 7) and taken as each entry is
        // written, so they give the order of events even across clocks.
        .order_by_asc(statement_audit::Column::Id)
        .all(db)
        .await
        .context("failed to load a statement's audit log")?;
    let names = names_of(db, scope, rows.iter().filter_map(|r| r.actor_id)).await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            actor: r.actor_id.map(|id| person(&names, id)),
            at: r.at,
            action: r.action,
            from: r.from_status,
            to: r.to_status,
            detail: r.detail,
        })
        .collect())
}

fn person(names: &HashMap<Uuid, String>, id: Uuid) -> Person {
    Person {
        id,
        name: names.get(&id).cloned().unwrap_or_default(),
    }
}

/// Summaries of statement rows, with their periods and installers' names.
async fn summaries(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    rows: Vec<statement::Model>,
) -> anyhow::Result<Vec<StatementSummary>> {
    let names = names_of(db, scope, rows.iter().map(|r| r.installer_id)).await?;
    let mut period_ids: Vec<Uuid> = rows.iter().map(|r| r.period_id).collect();
    period_ids.sort_unstable();
    period_ids.dedup();
    let periods: HashMap<Uuid, settlement_period::Model> = scope
        .select::<settlement_period::Entity>()
        .filter(settlement_period::Column::Id.is_in(period_ids))
        .all(db)
        .await
        .context("failed to load periods")?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    rows.into_iter()
        .map(|r| {
            let period = periods
                .get(&r.period_id)
                .context("a statement's period is missing")?;
            Ok(StatementSummary {
                id: StatementId::from_uuid(r.id),
                period: PeriodDays {
                    id: PeriodId::from_uuid(period.id),
                    from: period.starts_on.clone(),
                    to: period.ends_on.clone(),
                },
                status: StatementStatus::parse(&r.status)
                    .context("a stored statement status is unknown")?,
                installer: person(&names, r.installer_id),
                partner_id: r.partner_id,
                lines_count: r.lines_count,
                lines_total_fen: r.lines_total_fen,
                adjustments_total_fen: r.adjustments_total_fen,
                total_fen: r.total_fen,
                issued_at: r.issued_at,
                dispute_deadline: r.dispute_deadline,
                confirmed_at: r.confirmed_at,
                paid_at: r.paid_at,
                payout_reference: r.payout_reference,
            })
        })
        .collect()
}

async fn firm_view(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    firm: firm_statement::Model,
) -> anyhow::Result<FirmStatement> {
    let members = scope
        .select::<statement::Entity>()
        .filter(statement::Column::PeriodId.eq(firm.period_id))
        .filter(statement::Column::PartnerId.eq(firm.partner_id))
        .order_by_asc(statement::Column::Id)
        .all(db)
        .await
        .context("failed to load a firm's statements")?;
    let statements = summaries(db, scope, members).await?;
    let period = period_of(db, scope, firm.period_id).await?;
    let partner_name = scope
        .select::<partner::Entity>()
        .filter(partner::Column::Id.eq(firm.partner_id))
        .one(db)
        .await
        .context("failed to load a partner firm")?
        .map(|p| p.name)
        .unwrap_or_default();
    Ok(FirmStatement {
        id: StatementId::from_uuid(firm.id),
        period: PeriodDays {
            id: PeriodId::from_uuid(period.id),
            from: period.starts_on,
            to: period.ends_on,
        },
        partner: Person {
            id: firm.partner_id,
            name: partner_name,
        },
        status: firm_status(statements.iter().map(|s| s.status)),
        total_fen: statements.iter().map(|s| s.total_fen).sum(),
        statements,
    })
}

/// The status of a firm's statement from its installers' statements.
pub fn firm_status(members: impl Iterator<Item = StatementStatus> + Clone) -> StatementStatus {
    let mut all = members.clone().peekable();
    if all.peek().is_some() && members.clone().all(|s| s == StatementStatus::Paid) {
        StatementStatus::Paid
    } else if members.clone().any(|s| s == StatementStatus::Disputed) {
        StatementStatus::Disputed
    } else if members.clone().any(|s| s == StatementStatus::Issued) {
        StatementStatus::Issued
    } else {
        StatementStatus::Confirmed
    }
}

/// A page of statements in a list.
#[derive(Clone, Debug)]
pub enum StatementItem {
    Installer(StatementSummary),
    Firm(FirmStatement),
}

/// The caller's statements, newest first: an installer's own, or a partner
/// manager's firm statements. Other roles have none of their own.
#[tracing::instrument(name = "list my statements", skip_all, fields(tenant.id = %principal.tenant_id(), user.id = %principal.user_id()))]
pub async fn list_my_statements(
    db: &impl ConnectionTrait,
    principal: &Principal,
    page: PageRequest,
) -> anyhow::Result<Page<StatementItem>> {
    let scope = principal.scope();
    match principal.role() {
        Role::Installer => {
            let query = scope
                .select::<statement::Entity>()
                .filter(statement::Column::InstallerId.eq(principal.user_id().as_uuid()));
            let rows = page
                .fetch_newest_first(db, query, statement::Column::Id, |r| r.id)
                .await
                .context("failed to list statements")?;
            let next_cursor = rows.next_cursor;
            let items = summaries(db, &scope, rows.items).await?;
            Ok(Page {
                items: items.into_iter().map(StatementItem::Installer).collect(),
                next_cursor,
            })
        }
        Role::PartnerManager => {
            let Some(firm) = managed_firm(db, principal).await? else {
                return Ok(Page {
                    items: Vec::new(),
                    next_cursor: None,
                });
            };
            let query = scope
                .select::<firm_statement::Entity>()
                .filter(firm_statement::Column::PartnerId.eq(firm));
            let rows = page
                .fetch_newest_first(db, query, firm_statement::Column::Id, |r| r.id)
                .await
                .context("failed to list firm statements")?;
            let mut items = Vec::with_capacity(rows.items.len());
            for row in rows.items {
                items.push(StatementItem::Firm(firm_view(db, &scope, row).await?));
            }
            Ok(Page {
                items,
                next_cursor: rows.next_cursor,
            })
        }
        Role::Admin | Role::Dispatcher | Role::Customer => Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        }),
    }
}

/// What staff may filter the tenant's statements by.
#[derive(Clone, Debug, Default)]
pub struct StatementFilter {
    pub period: Option<PeriodId>,
    pub installer: Option<Uuid>,
    pub status: Option<StatementStatus>,
}

/// The tenant's installer statements, newest first, for staff.
pub async fn list_statements(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    filter: &StatementFilter,
    page: PageRequest,
) -> anyhow::Result<Page<StatementSummary>> {
    let mut query = scope.select::<statement::Entity>();
    if let Some(period) = filter.period {
        query = query.filter(statement::Column::PeriodId.eq(period.as_uuid()));
    }
    if let Some(installer) = filter.installer {
        query = query.filter(statement::Column::InstallerId.eq(installer));
    }
    if let Some(status) = filter.status {
        query = query.filter(statement::Column::Status.eq(status.as_str()));
    }
    let rows = page
        .fetch_newest_first(db, query, statement::Column::Id, |r| r.id)
        .await
        .context("failed to list statements")?;
    let next_cursor = rows.next_cursor;
    Ok(Page {
        items: summaries(db, scope, rows.items).await?,
        next_cursor,
    })
}

/// The tenant's closed periods, newest first.
pub async fn list_periods(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    page: PageRequest,
) -> anyhow::Result<Page<ClosedPeriod>> {
    let query = scope.select::<settlement_period::Entity>();
    let rows = page
        .fetch_newest_first(db, query, settlement_period::Column::Id, |r| r.id)
        .await
        .context("failed to list periods")?;
    Ok(rows.map(ClosedPeriod::from))
}

/// One closed period.
pub async fn get_period(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: PeriodId,
) -> anyhow::Result<Option<ClosedPeriod>> {
    Ok(scope
        .select::<settlement_period::Entity>()
        .filter(settlement_period::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a period")?
        .map(ClosedPeriod::from))
}
