//! The installer's own money: the home page's figures, the ledger lines
//! with the statement each landed on, and the rewards and penalties (奖惩)
//! that staff add to an order.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{earnings_line, statement};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

use super::SETTLED_STATUSES;
use super::period::{day_of, day_start, month_start};
use crate::auth::Principal;
use crate::domain::WorkOrderId;
use crate::page::{Page, PageRequest};
use crate::pricing::money::Fen;
use crate::quotes::POSTING;
use crate::tenancy::TenantScope;
use crate::work_orders::visible_order;

/// The mini-program's home page figures, all in fen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct EarningsSummary {
    /// Posted today (China Standard Time).
    pub today_fen: i64,
    /// Posted this calendar month (China Standard Time).
    pub month_fen: i64,
    /// Everything not yet settled: lines on no statement, and statements
    /// awaiting confirmation or with open disputes, adjustments included.
    pub pending_fen: i64,
    /// Statements confirmed, resolved or paid, adjustments included.
    pub settled_fen: i64,
}

/// The caller's figures; zero for a user who has no ledger.
#[tracing::instrument(name = "summarise earnings", skip_all, fields(tenant.id = %principal.tenant_id(), user.id = %principal.user_id()))]
pub async fn earnings_summary(
    db: &impl ConnectionTrait,
    principal: &Principal,
    now: DateTime<Utc>,
) -> anyhow::Result<EarningsSummary> {
    let me = principal.user_id().as_uuid();
    let today = day_of(now);
    let (all, month, today_fen) = ledger_sums(
        db,
        &principal.scope(),
        me,
        day_start(month_start(today)),
        day_start(today),
    )
    .await?;
    let settled = SETTLED_STATUSES.map(|s| format!("'{s}'")).join(", ");
    let sum_when = |column: &str, when_settled: bool| {
        let (yes, no) = if when_settled {
            (column, "0")
        } else {
            ("0", column)
        };
        format!(
            "CAST(COALESCE(SUM(CASE WHEN status IN ({settled}) THEN {yes} ELSE {no} END), 0) \
             AS BIGINT)"
        )
    };
    let (settled_lines, settled, unsettled_adjustments): (i64, i64, i64) = principal
        .scope()
        .select::<statement::Entity>()
        .select_only()
        .expr(Expr::cust(sum_when("lines_total_fen", true)))
        .expr(Expr::cust(sum_when("total_fen", true)))
        .expr(Expr::cust(sum_when("adjustments_total_fen", false)))
        .filter(statement::Column::InstallerId.eq(me))
        .into_tuple()
        .one(db)
        .await
        .context("failed to total statements")?
        .unwrap_or_default();
    Ok(EarningsSummary {
        today_fen,
        month_fen: month,
        pending_fen: all - settled_lines + unsettled_adjustments,
        settled_fen: settled,
    })
}

/// The whole ledger of one installer, and its parts since two instants.
async fn ledger_sums(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    installer: Uuid,
    month_from: DateTime<Utc>,
    day_from: DateTime<Utc>,
) -> anyhow::Result<(i64, i64, i64)> {
    let since = |from: DateTime<Utc>| {
        let part = Expr::case(
            Expr::col(earnings_line::Column::PostedAt).gte(from),
            Expr::col(earnings_line::Column::AmountFen),
        )
        .finally(Expr::val(0i64));
        let sum = Func::coalesce([Func::sum(part).into(), Expr::val(0i64)]);
        Func::cast_as(sum, Alias::new("BIGINT"))
    };
    let sums: Option<(i64, i64, i64)> = scope
        .select::<earnings_line::Entity>()
        .select_only()
        .expr(Expr::cust("CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT)"))
        .expr(since(month_from))
        .expr(since(day_from))
        .filter(earnings_line::Column::InstallerId.eq(installer))
        .into_tuple()
        .one(db)
        .await
        .context("failed to total the ledger")?;
    Ok(sums.unwrap_or_default())
}

/// A ledger line as its installer lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MyEarningsLine {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub work_order_number: Option<String>,
    pub kind: String,
    pub entry: String,
    pub label: String,
    pub amount_fen: i64,
    pub explanation: String,
    pub posted_at: DateTime<Utc>,
    /// The statement the line landed on, once its period closed.
    pub statement_id: Option<Uuid>,
}

/// The caller's ledger lines, newest first.
#[tracing::instrument(name = "list my earnings", skip_all, fields(tenant.id = %principal.tenant_id(), user.id = %principal.user_id()))]
pub async fn list_my_earnings(
    db: &impl ConnectionTrait,
    principal: &Principal,
    page: PageRequest,
) -> anyhow::Result<Page<MyEarningsLine>> {
    let scope = principal.scope();
    let query = scope
        .select::<earnings_line::Entity>()
        .filter(earnings_line::Column::InstallerId.eq(principal.user_id().as_uuid()));
    let rows = page
        .fetch_newest_first(db, query, earnings_line::Column::Id, |r| r.id)
        .await
        .context("failed to list ledger lines")?;
    let statements = statements_of_lines(db, &scope, &rows.items).await?;
    let numbers =
        super::views::order_numbers(db, &scope, rows.items.iter().map(|r| r.work_order_id)).await?;
    Ok(rows.map(|r| MyEarningsLine {
        statement_id: statements.get(&r.id).copied(),
        work_order_number: numbers.get(&r.work_order_id).cloned(),
        id: r.id,
        work_order_id: r.work_order_id,
        kind: r.kind,
        entry: r.entry,
        label: r.label,
        amount_fen: r.amount_fen,
        explanation: r.explanation,
        posted_at: r.posted_at,
    }))
}

/// The statement that holds each of `lines`, where one does: the one of
/// the line's installer whose span covers its posting time.
async fn statements_of_lines(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    lines: &[earnings_line::Model],
) -> anyhow::Result<HashMap<Uuid, Uuid>> {
    let Some(earliest) = lines.iter().map(|l| l.posted_at).min() else {
        return Ok(HashMap::new());
    };
    let installers: HashSet<Uuid> = lines.iter().map(|l| l.installer_id).collect();
    let covering = scope
        .select::<statement::Entity>()
        .filter(statement::Column::InstallerId.is_in(installers))
        .filter(statement::Column::CoversUntil.gt(earliest))
        .all(db)
        .await
        .context("failed to find lines' statements")?;
    Ok(lines
        .iter()
        .filter_map(|line| {
            covering
                .iter()
                .find(|s| covers(s, line))
                .map(|s| (line.id, s.id))
        })
        .collect())
}

/// Whether `statement` holds `line`.
fn covers(statement: &statement::Model, line: &earnings_line::Model) -> bool {
    statement.installer_id == line.installer_id
        && statement.covers_from <= line.posted_at
        && line.posted_at < statement.covers_until
}

/// Whether every ledger line of an order sits on a statement its installer
/// has accepted (confirmed, resolved or paid). False for an order with no
/// ledger lines.
pub async fn order_is_settled(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    order: WorkOrderId,
) -> anyhow::Result<bool> {
    let lines = scope
        .select::<earnings_line::Entity>()
        .filter(earnings_line::Column::WorkOrderId.eq(order.as_uuid()))
        .all(db)
        .await
        .context("failed to load an order's ledger")?;
    if lines.is_empty() {
        return Ok(false);
    }
    let held = statements_of_lines(db, scope, &lines).await?;
    if held.len() < lines.len() {
        return Ok(false);
    }
    let ids: HashSet<Uuid> = held.into_values().collect();
    let statuses: Vec<String> = scope
        .select::<statement::Entity>()
        .select_only()
        .column(statement::Column::Status)
        .filter(statement::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await
        .context("failed to load statements' statuses")?;
    Ok(statuses
        .iter()
        .all(|s| SETTLED_STATUSES.contains(&s.as_str())))
}

#[derive(Debug, thiserror::Error)]
pub enum RewardError {
    #[error("no such work order")]
    NotFound,
    /// Rewards and penalties judge finished work: the order's earnings
    /// must be posted first.
    #[error("the order's earnings are not posted yet")]
    NotPosted,
    #[error("another change to this order's earnings was under way; try again")]
    Conflict,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Kinds of the lines that staff add.
pub const REWARD: &str = "reward";
pub const PENALTY: &str = "penalty";

/// Adds a reward (a positive amount) or a penalty (a negative one) to an
/// order whose earnings are posted, as a ledger line of the order's
/// installer. It keeps the order's tier, region and price list, so that it
/// is read beside the lines it judges, and lands on the next statement like
/// any other line.
#[tracing::instrument(name = "add reward or penalty", skip_all, fields(tenant.id = %staff.tenant_id(), work_order.id = %order))]
pub async fn add_reward_or_penalty(
    db: &DatabaseConnection,
    staff: &Principal,
    order: WorkOrderId,
    amount: Fen,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, RewardError> {
    let id = crate::db::retry_contended(
        || try_reward(db, staff, order, amount, reason, now),
        |e| matches!(e, RewardError::Unexpected(e) if crate::db::is_write_contention(e)),
    )
    .await?;
    tracing::info!(earnings_line.id = %id, amount_fen = amount.get(), "reward or penalty posted");
    Ok(id)
}

async fn try_reward(
    db: &DatabaseConnection,
    staff: &Principal,
    order: WorkOrderId,
    amount: Fen,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, RewardError> {
    let scope = staff.scope();
    let txn = db.begin().await.context("failed to begin a reward")?;
    visible_order(&txn, staff, order)
        .await?
        .ok_or(RewardError::NotFound)?;
    let ledger = scope
        .select::<earnings_line::Entity>()
        .filter(earnings_line::Column::WorkOrderId.eq(order.as_uuid()))
        .order_by_asc(earnings_line::Column::LineNo)
        .all(&txn)
        .await
        .context("failed to load an order's ledger")?;
    let Some(model) = ledger
        .iter()
        .find(|l| l.entry == POSTING && l.line_no < REWARD_LINES)
    else {
        return Err(RewardError::NotPosted);
    };
    let highest = ledger.iter().map(|l| l.line_no).max().unwrap_or(0);
    let line_no = Ord::max(highest, REWARD_LINES - 1) + 1;
    let now = super::close::posting_time(&txn, &scope, now).await?;
    let id = Uuid::now_v7();
    let (kind, label) = if amount.get() >= 0 {
        (REWARD, "奖励")
    } else {
        (PENALTY, "扣罚")
    };
    let row = earnings_line::ActiveModel {
        id: Set(id),
        tenant_id: Set(model.tenant_id),
        work_order_id: Set(model.work_order_id),
        line_no: Set(line_no),
        kind: Set(kind.to_owned()),
        service_item: Set(model.service_item.clone()),
        label: Set(label.to_owned()),
        quantity: Set(1),
        sale_price_fen: Set(0),
        unit_price_fen: Set(None),
        rate_ten_thousandths: Set(None),
        amount_fen: Set(amount.get()),
        explanation: Set(format!("{label}{amount}：{reason}")),
        price_list_id: Set(model.price_list_id),
        price_list_version: Set(model.price_list_version),
        price_list_name: Set(model.price_list_name.clone()),
        tier: Set(model.tier.clone()),
        region_code: Set(model.region_code.clone()),
        cooperation_mode: Set(model.cooperation_mode.clone()),
        installer_id: Set(model.installer_id),
        entry: Set(POSTING.to_owned()),
        posted_at: Set(now),
    };
    match row.insert(&txn).await {
        Ok(_) => {}
        Err(e) if crate::db::is_unique_violation(&e) => return Err(RewardError::Conflict),
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context("failed to post a reward")
                .into());
        }
    }
    txn.commit().await.context("failed to commit a reward")?;
    Ok(id)
}

/// Line numbers from here on belong to rewards and penalties, so that they
/// never collide with the numbers of an order's priced lines.
const REWARD_LINES: i32 = 1000;
