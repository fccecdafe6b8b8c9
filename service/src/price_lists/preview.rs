//! What publishing a list would change, before it is published: every
//! order whose quote was locked in the last 30 days is priced again with the
//! list, and the old totals stand beside the new ones, overall, per tier and
//! per installer. A price change is then a decision made with its figures.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use scrm_entity::{quote_line, user};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{GetPriceListError, get_price_list, price_book};
use crate::domain::{CooperationMode, PriceListId, UserId};
use crate::pricing::engine::{OrderLine, PriceBook, QuoteRequest, quote};
use crate::pricing::money::Fen;
use crate::tenancy::TenantScope;

/// How far back the preview looks.
pub const PREVIEW_WINDOW: Duration = Duration::days(30);

/// Old against new for a group of orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Comparison {
    pub orders: u64,
    /// What the orders were locked at.
    pub old_total_fen: Fen,
    /// What the list would price them at, leaving out unpriced orders.
    pub new_total_fen: Fen,
    /// Orders the list has no price for: they would not be priced at all.
    pub unpriced_orders: u64,
}

/// The preview of one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub price_list: PriceListId,
    pub version: i32,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub overall: Comparison,
    pub by_tier: Vec<(String, Comparison)>,
    /// Installer id, name, and comparison.
    pub by_installer: Vec<(UserId, String, Comparison)>,
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("no such price list")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A locked order, read back for pricing again.
struct LockedOrder {
    installer: Uuid,
    mode: CooperationMode,
    tier: String,
    region_code: String,
    old_total: Fen,
    lines: Vec<OrderLine>,
}

/// Previews list `id` against the orders locked in the 30 days before `now`.
#[tracing::instrument(name = "preview price list", skip_all, fields(tenant.id = %scope.tenant_id(), price_list.id = %id))]
pub async fn preview_price_list(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: PriceListId,
    now: DateTime<Utc>,
) -> Result<Preview, PreviewError> {
    let list = get_price_list(db, scope, id).await.map_err(|e| match e {
        GetPriceListError::NotFound => PreviewError::NotFound,
        GetPriceListError::Unexpected(e) => PreviewError::Unexpected(e),
    })?;
    let book = price_book(db, scope, &list).await?;
    let from = now - PREVIEW_WINDOW;
    let orders = locked_orders(db, scope, from, now).await?;

    let mut overall = Comparison::default();
    let mut by_tier: BTreeMap<String, Comparison> = BTreeMap::new();
    let mut by_installer: BTreeMap<Uuid, Comparison> = BTreeMap::new();
    for order in &orders {
        let new_total = reprice(&book, order);
        for group in [
            &mut overall,
            by_tier.entry(order.tier.clone()).or_default(),
            by_installer.entry(order.installer).or_default(),
        ] {
            add(group, order.old_total, new_total).context("a preview total overflows")?;
        }
    }
    let names = installer_names(db, scope, by_installer.keys().copied().collect()).await?;
    Ok(Preview {
        price_list: id,
        version: list.version,
        from,
        to: now,
        overall,
        by_tier: by_tier.into_iter().collect(),
        by_installer: by_installer
            .into_iter()
            .map(|(id, c)| {
                (
                    UserId::from_uuid(id),
                    names.get(&id).cloned().unwrap_or_default(),
                    c,
                )
            })
            .collect(),
    })
}

/// The order's total under `book`, or `None` when it is unpriced.
fn reprice(book: &PriceBook, order: &LockedOrder) -> Option<Fen> {
    let request = QuoteRequest {
        lines: &order.lines,
        tier: &order.tier,
        region_code: &order.region_code,
        mode: Some(order.mode),
        price_book: book,
    };
    quote(&request).ok().map(|q| q.total_fen)
}

fn add(group: &mut Comparison, old: Fen, new: Option<Fen>) -> Option<()> {
    group.orders += 1;
    group.old_total_fen = group.old_total_fen.checked_add(old)?;
    match new {
        Some(new) => group.new_total_fen = group.new_total_fen.checked_add(new)?,
        None => group.unpriced_orders += 1,
    }
    Some(())
}

async fn locked_orders(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Vec<LockedOrder>> {
    let rows = scope
        .select::<quote_line::Entity>()
        .filter(quote_line::Column::LockedAt.gte(from))
        .filter(quote_line::Column::LockedAt.lte(to))
        .order_by_asc(quote_line::Column::WorkOrderId)
        .order_by_asc(quote_line::Column::LineNo)
        .all(db)
        .await
        .context("failed to load locked quotes")?;
    let mut orders: Vec<(Uuid, LockedOrder)> = Vec::new();
    for row in rows {
        let line = OrderLine {
            service_item: row.service_item.clone(),
            quantity: u32::try_from(row.quantity).context("a stored quantity is negative")?,
            sale_price_fen: Fen::new(row.sale_price_fen),
        };
        match orders.last_mut() {
            Some((id, order)) if *id == row.work_order_id => {
                order.old_total = order
                    .old_total
                    .checked_add(Fen::new(row.amount_fen))
                    .context("overflow")?;
                order.lines.push(line);
            }
            _ => orders.push((row.work_order_id, first_line(row, line)?)),
        }
    }
    Ok(orders.into_iter().map(|(_, order)| order).collect())
}

fn first_line(row: quote_line::Model, line: OrderLine) -> anyhow::Result<LockedOrder> {
    Ok(LockedOrder {
        installer: row.installer_id,
        mode: row.installer_mode.parse().map_err(anyhow::Error::msg)?,
        tier: row.tier,
        region_code: row.region_code,
        old_total: Fen::new(row.amount_fen),
        lines: vec![line],
    })
}

async fn installer_names(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    ids: Vec<Uuid>,
) -> anyhow::Result<HashMap<Uuid, String>> {
    let mut names = HashMap::with_capacity(ids.len());
    // Bounded batches keep each IN list well inside every backend's limits.
    for batch in ids.chunks(500) {
        let users = scope
            .select::<user::Entity>()
            .filter(user::Column::Id.is_in(batch.iter().copied()))
            .all(db)
            .await
            .context("failed to load installer names")?;
        names.extend(users.into_iter().map(|u| (u.id, u.name)));
    }
    Ok(names)
}
