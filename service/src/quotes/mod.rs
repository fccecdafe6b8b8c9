//! The quote lifecycle of a work order's earnings.
//!
//! - `estimated`: computed live from the price list in force, while the
//!   order is not yet accepted ([`estimate`]).
//! - `locked`: [`lock_quote`] stores the lines the installer accepted; they
//!   no longer follow price changes.
//! - `posted`: [`post_quote`] writes the locked lines into the append-only
//!   earnings ledger. A unique key on (order, line, entry) means a line is
//!   posted at most once, however often a job is replayed. A correction is
//!   a reversing line ([`reverse_postings`]), never an update.

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{earnings_line, quote_line};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{CooperationMode, UserId, WorkOrderId};
use crate::price_lists::price_book_in_force;
use crate::pricing::engine::{self, EarningsLine, OrderLine, Quote, QuoteError, QuoteRequest};
use crate::pricing::money::{Fen, Rate};
use crate::region_tiers::get_region_tiers;
use crate::regions::RegionCode;
use crate::settlement::close::posting_time;
use crate::tenancy::TenantScope;

/// The rule behind a stored line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRule {
    pub price_list_id: Uuid,
    pub price_list: String,
    pub version: i32,
    pub tier: String,
    pub region_code: String,
    pub cooperation_mode: Option<CooperationMode>,
}

/// An earnings line as stored and shown: with its explanation written out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredLine {
    pub line_no: i32,
    pub kind: String,
    pub service_item: String,
    pub label: String,
    pub quantity: i32,
    pub sale_price_fen: Fen,
    pub unit_price_fen: Option<Fen>,
    pub rate: Option<Rate>,
    pub amount_fen: Fen,
    pub explanation: String,
    pub rule: StoredRule,
}

impl StoredLine {
    fn from_engine(line_no: i32, line: &EarningsLine) -> Self {
        Self {
            line_no,
            kind: line.kind.to_owned(),
            service_item: line.service_item.clone(),
            label: line.label.to_string(),
            quantity: i32::try_from(line.quantity).unwrap_or(i32::MAX),
            sale_price_fen: line.sale_price_fen,
            unit_price_fen: line.unit_price_fen,
            rate: line.rate,
            amount_fen: line.amount_fen,
            explanation: line.explanation(),
            rule: StoredRule {
                price_list_id: line.rule.price_list_id,
                price_list: line.rule.price_list.to_string(),
                version: line.rule.version,
                tier: line.rule.tier.to_string(),
                region_code: line.rule.region_code.to_string(),
                cooperation_mode: line.rule.cooperation_mode,
            },
        }
    }
}

/// A live estimate: the tier it used and the quote, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub tier: String,
    pub total_fen: Fen,
    pub lines: Vec<StoredLine>,
}

#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    /// No mapping and no default tier covers the region.
    #[error("no tier applies to region {0}")]
    NoTier(String),
    /// No published price list is in force.
    #[error("no published price list is in force")]
    NoPriceList,
    /// The list in force has no price for some lines: never a silent zero.
    #[error(transparent)]
    Quote(#[from] QuoteError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Prices `lines` for an installer of `mode` in `region`, with the list in
/// force at `at`. With no mode (nobody assigned yet) only general prices
/// apply.
#[tracing::instrument(name = "estimate quote", skip_all, fields(tenant.id = %scope.tenant_id(), region.code = %region.as_str()))]
pub async fn estimate(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    region: &RegionCode,
    mode: Option<CooperationMode>,
    lines: &[OrderLine],
    at: DateTime<Utc>,
) -> Result<Estimate, EstimateError> {
    let tiers = get_region_tiers(db, scope).await?;
    let tier = tiers
        .tier_of(region)
        .ok_or_else(|| EstimateError::NoTier(region.as_str().to_owned()))?
        .to_owned();
    let book = price_book_in_force(db, scope, at)
        .await?
        .ok_or(EstimateError::NoPriceList)?;
    let request = QuoteRequest {
        lines,
        tier: &tier,
        region_code: region.as_str(),
        mode,
        price_book: &book,
    };
    let quote = engine::quote(&request)?;
    Ok(Estimate {
        tier,
        total_fen: quote.total_fen,
        lines: numbered(&quote),
    })
}

fn numbered(quote: &Quote) -> Vec<StoredLine> {
    (1..)
        .zip(&quote.lines)
        .map(|(n, line)| StoredLine::from_engine(n, line))
        .collect()
}

/// Who accepted a quote, and in which cooperation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acceptor {
    pub installer: UserId,
    pub mode: CooperationMode,
}

/// Stores the accepted quote of a work order. Locking again changes
/// nothing: the first lines stay, and are answered.
#[tracing::instrument(name = "lock quote", skip_all, fields(tenant.id = %scope.tenant_id(), work_order.id = %work_order))]
pub async fn lock_quote(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    work_order: WorkOrderId,
    acceptor: Acceptor,
    lines: &[StoredLine],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<StoredLine>> {
    let rows: Vec<quote_line::ActiveModel> = lines
        .iter()
        .map(|line| quote_row(scope, work_order, acceptor, line, now))
        .collect();
    if !rows.is_empty() {
        quote_line::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([
                quote_line::Column::TenantId,
                quote_line::Column::WorkOrderId,
                quote_line::Column::LineNo,
            ])
            .exec(db)
            .await
            .context("failed to lock a quote")?;
    }
    locked_quote(db, scope, work_order).await
}

/// The locked lines of a work order; empty when none are locked.
pub async fn locked_quote(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    work_order: WorkOrderId,
) -> anyhow::Result<Vec<StoredLine>> {
    let rows = scope
        .select::<quote_line::Entity>()
        .filter(quote_line::Column::WorkOrderId.eq(work_order.as_uuid()))
        .order_by_asc(quote_line::Column::LineNo)
        .all(db)
        .await
        .context("failed to load a locked quote")?;
    rows.into_iter().map(from_quote_row).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum PostQuoteError {
    #[error("the work order has no locked quote to post")]
    NotLocked,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Posts the locked lines of a work order to the earnings ledger of
/// `installer`. Posting again adds nothing. Answers the order's ledger
/// lines.
#[tracing::instrument(name = "post quote", skip_all, fields(tenant.id = %scope.tenant_id(), work_order.id = %work_order))]
pub async fn post_quote(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    work_order: WorkOrderId,
    installer: UserId,
    now: DateTime<Utc>,
) -> Result<Vec<LedgerLine>, PostQuoteError> {
    let locked = locked_quote(db, scope, work_order).await?;
    if locked.is_empty() {
        return Err(PostQuoteError::NotLocked);
    }
    let now = posting_time(db, scope, now).await?;
    let rows = locked
        .iter()
        .map(|line| ledger_row(scope, work_order, installer, line, POSTING, now));
    insert_ledger(db, rows.collect()).await?;
    Ok(ledger(db, scope, work_order).await?)
}

/// Reverses every posted line of a work order that is not reversed yet,
/// with a line of the negated amount. Reversing again adds nothing.
#[tracing::instrument(name = "reverse postings", skip_all, fields(tenant.id = %scope.tenant_id(), work_order.id = %work_order))]
pub async fn reverse_postings(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    work_order: WorkOrderId,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<LedgerLine>> {
    let posted: Vec<LedgerLine> = ledger(db, scope, work_order)
        .await?
        .into_iter()
        .filter(|l| l.entry == POSTING)
        .collect();
    let now = posting_time(db, scope, now).await?;
    let mut rows = Vec::with_capacity(posted.len());
    for posting in &posted {
        let amount = posting
            .line
            .amount_fen
            .checked_neg()
            .context("an amount cannot be negated")?;
        let reversed = StoredLine {
            amount_fen: amount,
            explanation: format!("冲销：{}", posting.line.explanation),
            ..posting.line.clone()
        };
        rows.push(ledger_row(
            scope,
            work_order,
            posting.installer,
            &reversed,
            REVERSAL,
            now,
        ));
    }
    insert_ledger(db, rows).await?;
    ledger(db, scope, work_order).await
}

/// A line of the earnings ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerLine {
    pub id: Uuid,
    pub installer: UserId,
    /// `posting` or `reversal`.
    pub entry: String,
    pub posted_at: DateTime<Utc>,
    pub line: StoredLine,
}

pub(crate) const POSTING: &str = "posting";
const REVERSAL: &str = "reversal";

/// The ledger lines of a work order, in the order they were written.
pub async fn ledger(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    work_order: WorkOrderId,
) -> anyhow::Result<Vec<LedgerLine>> {
    let rows = scope
        .select::<earnings_line::Entity>()
        .filter(earnings_line::Column::WorkOrderId.eq(work_order.as_uuid()))
        .order_by_asc(earnings_line::Column::Id)
        .all(db)
        .await
        .context("failed to load ledger lines")?;
    rows.into_iter().map(from_ledger_row).collect()
}

async fn insert_ledger(
    db: &impl ConnectionTrait,
    rows: Vec<earnings_line::ActiveModel>,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    earnings_line::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([
            earnings_line::Column::TenantId,
            earnings_line::Column::WorkOrderId,
            earnings_line::Column::LineNo,
            earnings_line::Column::Entry,
        ])
        .exec(db)
        .await
        .context("failed to write ledger lines")?;
    Ok(())
}

mod rows;
use rows::{from_ledger_row, from_quote_row, ledger_row, quote_row};

#[cfg(test)]
mod tests;
