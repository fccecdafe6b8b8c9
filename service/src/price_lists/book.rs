//! Price lists arranged for the engine: the list in force at a moment, or
//! any one list, with the item names that label earnings lines.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::price_list;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder};

use super::{PUBLISHED, PriceList, get_price_list};
use crate::catalog::all_service_items;
use crate::domain::PriceListId;
use crate::pricing::engine::{Price, PriceBook, PriceEntry};
use crate::tenancy::TenantScope;

/// The published list in force at `at`: the latest `effective_from` not
/// after it, and of those the highest version.
pub async fn price_book_in_force(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    at: DateTime<Utc>,
) -> anyhow::Result<Option<PriceBook>> {
    let Some(row) = scope
        .select::<price_list::Entity>()
        .filter(price_list::Column::Status.eq(PUBLISHED))
        .filter(price_list::Column::EffectiveFrom.lte(at))
        .order_by_desc(price_list::Column::EffectiveFrom)
        .order_by_desc(price_list::Column::Version)
        .one(db)
        .await
        .context("failed to find the price list in force")?
    else {
        return Ok(None);
    };
    let list = get_price_list(db, scope, PriceListId::from_uuid(row.id))
        .await
        .map_err(|e| anyhow::anyhow!("the list in force vanished: {e}"))?;
    Ok(Some(price_book(db, scope, &list).await?))
}

/// Any list, draft or published, arranged for the engine.
pub async fn price_book(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    list: &PriceList,
) -> anyhow::Result<PriceBook> {
    let names: HashMap<String, String> = all_service_items(db, scope)
        .await?
        .into_iter()
        .map(|i| (i.code, i.name))
        .collect();
    let entries = list.prices.iter().map(|p| PriceEntry {
        service_item_name: names
            .get(&p.service_item)
            .cloned()
            .unwrap_or_else(|| p.service_item.clone()),
        service_item: p.service_item.clone(),
        tier: p.tier.clone(),
        cooperation_mode: p.cooperation_mode,
        price: Price {
            unit_price_fen: p.unit_price_fen,
            rate: p.rate,
        },
    });
    Ok(PriceBook::new(
        list.id.as_uuid(),
        &list.name,
        list.version,
        entries,
    ))
}
