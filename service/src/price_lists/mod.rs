//! Price lists: drafts that an admin writes, published versions that never
//! change afterwards, and the list in force at a moment. Every version stays
//! readable, with who published it and when.

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{price_list, price_list_entry};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use crate::catalog::{all_service_items, all_tiers};
use crate::db::is_unique_violation;
use crate::domain::{CooperationMode, DisplayName, PriceListId, UserId};
use crate::page::{Page, PageRequest};
use crate::pricing::money::{Fen, Rate};
use crate::tenancy::TenantScope;
use crate::validation::{FieldError, FieldErrors};

/// The wire and database name of the general price's mode.
const ANY_MODE: &str = "any";
const DRAFT: &str = "draft";
const PUBLISHED: &str = "published";

/// One price of a new list, each field already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrice {
    pub service_item: String,
    pub tier: String,
    pub cooperation_mode: Option<CooperationMode>,
    pub unit_price_fen: Option<Fen>,
    pub rate: Option<Rate>,
}

/// A price list to create.
#[derive(Debug, Clone)]
pub struct NewPriceList {
    pub name: DisplayName,
    pub effective_from: DateTime<Utc>,
    pub prices: Vec<NewPrice>,
}

/// A price list with its prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceList {
    pub id: PriceListId,
    pub name: String,
    pub version: i32,
    pub status: &'static str,
    pub effective_from: DateTime<Utc>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub published_by: Option<UserId>,
    pub published_at: Option<DateTime<Utc>>,
    pub prices: Vec<NewPrice>,
}

/// An item × tier for which some cooperation modes have no price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub service_item: String,
    pub tier: String,
    pub cooperation_modes: Vec<CooperationMode>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreatePriceListError {
    #[error("the price list has invalid prices")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum PublishPriceListError {
    #[error("no such price list")]
    NotFound,
    #[error("the price list is already published; published lists never change")]
    AlreadyPublished,
    #[error("the price list cannot be published as it is")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum GetPriceListError {
    #[error("no such price list")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Checks what only the database can tell: that every item and tier exists,
/// and that no item × tier × mode is priced twice.
async fn check_prices(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    prices: &[NewPrice],
) -> Result<(), CreatePriceListError> {
    let items: HashSet<String> = all_service_items(db, scope)
        .await?
        .into_iter()
        .map(|i| i.code)
        .collect();
    let tiers: HashSet<String> = all_tiers(db, scope)
        .await?
        .into_iter()
        .map(|t| t.code)
        .collect();
    let mut errors = FieldErrors::new();
    let mut seen: HashMap<(&str, &str, Option<CooperationMode>), usize> = HashMap::new();
    for (i, price) in prices.iter().enumerate() {
        if !items.contains(&price.service_item) {
            errors.add(
                &format!("prices[{i}].service_item"),
                "names no service item of this tenant",
            );
        }
        if !tiers.contains(&price.tier) {
            errors.add(&format!("prices[{i}].tier"), "names no tier of this tenant");
        }
        let key = (
            price.service_item.as_str(),
            price.tier.as_str(),
            price.cooperation_mode,
        );
        if let Some(first) = seen.insert(key, i) {
            errors.add(
                &format!("prices[{i}]"),
                format!("prices the same item, tier and mode as prices[{first}]"),
            );
        }
    }
    errors.finish().map_err(CreatePriceListError::Invalid)
}

/// Creates a draft with the next version number of the tenant.
#[tracing::instrument(name = "create price list", skip_all, fields(tenant.id = %scope.tenant_id()))]
pub async fn create_price_list(
    db: &DatabaseConnection,
    scope: &TenantScope,
    created_by: UserId,
    new: NewPriceList,
) -> Result<PriceList, CreatePriceListError> {
    check_prices(db, scope, &new.prices).await?;
    // Two drafts created at once may pick the same next version; the unique
    // index refuses the second, which then tries the following number.
    // SQLite may also refuse the write while another one is under way.
    let draft = || {
        crate::db::retry_contended(
            || insert_draft(db, scope, created_by, &new),
            crate::db::is_write_contention,
        )
    };
    for _ in 0..5 {
        match draft().await {
            Ok(list) => {
                tracing::info!(price_list.id = %list.id, price_list.version = list.version, "price list drafted");
                return Ok(list);
            }
            Err(e) if e.downcast_ref().is_some_and(is_unique_violation) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(anyhow::anyhow!("could not find a free version number").into())
}

async fn insert_draft(
    db: &DatabaseConnection,
    scope: &TenantScope,
    created_by: UserId,
    new: &NewPriceList,
) -> anyhow::Result<PriceList> {
    let txn = db.begin().await.context("failed to begin a price list")?;
    let latest: Option<i32> = scope
        .select::<price_list::Entity>()
        .select_only()
        .column_as(price_list::Column::Version.max(), "latest")
        .into_tuple::<Option<i32>>()
        .one(&txn)
        .await
        .context("failed to read the latest version")?
        .flatten();
    let id = PriceListId::generate();
    let now = Utc::now();
    price_list::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        name: Set(new.name.as_str().to_owned()),
        version: Set(latest.unwrap_or(0) + 1),
        status: Set(DRAFT.to_owned()),
        effective_from: Set(new.effective_from),
        created_by: Set(created_by.as_uuid()),
        published_by: Set(None),
        published_at: Set(None),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    for price in &new.prices {
        entry_row(scope, id, price)
            .insert(&txn)
            .await
            .context("failed to insert a price")?;
    }
    txn.commit()
        .await
        .context("failed to commit a price list")?;
    Ok(PriceList {
        id,
        name: new.name.as_str().to_owned(),
        version: latest.unwrap_or(0) + 1,
        status: DRAFT,
        effective_from: new.effective_from,
        created_by,
        created_at: now,
        published_by: None,
        published_at: None,
        prices: new.prices.clone(),
    })
}

fn entry_row(
    scope: &TenantScope,
    list: PriceListId,
    price: &NewPrice,
) -> price_list_entry::ActiveModel {
    price_list_entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        price_list_id: Set(list.as_uuid()),
        service_item: Set(price.service_item.clone()),
        tier: Set(price.tier.clone()),
        cooperation_mode: Set(price
            .cooperation_mode
            .map_or(ANY_MODE, CooperationMode::as_str)
            .to_owned()),
        unit_price_fen: Set(price.unit_price_fen.map(Fen::get)),
        rate_ten_thousandths: Set(price.rate.map(Rate::ten_thousandths)),
    }
}

/// One price list with its prices.
pub async fn get_price_list(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: PriceListId,
) -> Result<PriceList, GetPriceListError> {
    let row = scope
        .select::<price_list::Entity>()
        .filter(price_list::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a price list")?
        .ok_or(GetPriceListError::NotFound)?;
    let entries = load_entries(db, scope, id).await?;
    Ok(to_price_list(row, entries)?)
}

async fn load_entries(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: PriceListId,
) -> anyhow::Result<Vec<NewPrice>> {
    let rows = scope
        .select::<price_list_entry::Entity>()
        .filter(price_list_entry::Column::PriceListId.eq(id.as_uuid()))
        .order_by_asc(price_list_entry::Column::Id)
        .all(db)
        .await
        .context("failed to load prices")?;
    rows.into_iter().map(to_price).collect()
}

fn to_price(row: price_list_entry::Model) -> anyhow::Result<NewPrice> {
    let cooperation_mode = match row.cooperation_mode.as_str() {
        ANY_MODE => None,
        mode => Some(mode.parse().map_err(anyhow::Error::msg)?),
    };
    let rate = row
        .rate_ten_thousandths
        .map(Rate::from_ten_thousandths)
        .transpose();
    Ok(NewPrice {
        service_item: row.service_item,
        tier: row.tier,
        cooperation_mode,
        unit_price_fen: row.unit_price_fen.map(Fen::new),
        rate: rate.map_err(anyhow::Error::msg)?,
    })
}

fn to_price_list(row: price_list::Model, prices: Vec<NewPrice>) -> anyhow::Result<PriceList> {
    let status = match row.status.as_str() {
        DRAFT => DRAFT,
        PUBLISHED => PUBLISHED,
        other => anyhow::bail!("price list {} has an unknown status {other}", row.id),
    };
    Ok(PriceList {
        id: PriceListId::from_uuid(row.id),
        name: row.name,
        version: row.version,
        status,
        effective_from: row.effective_from,
        created_by: UserId::from_uuid(row.created_by),
        created_at: row.created_at,
        published_by: row.published_by.map(UserId::from_uuid),
        published_at: row.published_at,
        prices,
    })
}

/// The tenant's price lists, oldest first, without their prices.
pub async fn list_price_lists(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    page: PageRequest,
) -> anyhow::Result<Page<PriceList>> {
    let rows = page
        .fetch(
            db,
            scope.select::<price_list::Entity>(),
            price_list::Column::Id,
            |r| r.id,
        )
        .await
        .context("failed to list price lists")?;
    let lists = rows
        .items
        .into_iter()
        .map(|row| to_price_list(row, Vec::new()));
    Ok(Page {
        items: lists.collect::<anyhow::Result<_>>()?,
        next_cursor: rows.next_cursor,
    })
}

/// Publishes a draft, after which it never changes. A list may not start in
/// the past when a published list starts after it: that would rewrite what
/// was in force. Answers the list and the item × tier combinations that
/// some cooperation mode has no price for, so that the gap is a visible
/// decision.
#[tracing::instrument(name = "publish price list", skip_all, fields(tenant.id = %scope.tenant_id(), price_list.id = %id))]
pub async fn publish_price_list(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    publisher: UserId,
    id: PriceListId,
    now: DateTime<Utc>,
) -> Result<(PriceList, Vec<Gap>), PublishPriceListError> {
    let list = get_price_list(db, scope, id).await.map_err(|e| match e {
        GetPriceListError::NotFound => PublishPriceListError::NotFound,
        GetPriceListError::Unexpected(e) => PublishPriceListError::Unexpected(e),
    })?;
    if list.status == PUBLISHED {
        return Err(PublishPriceListError::AlreadyPublished);
    }
    if list.effective_from < now && later_list_exists(db, scope, list.effective_from).await? {
        return Err(PublishPriceListError::Invalid(vec![FieldError {
            field: "effective_from".into(),
            message: "is in the past while a later published list exists".into(),
        }]));
    }
    // Only a draft is updated, so a concurrent publish changes nothing twice.
    let updated = price_list::Entity::update_many()
        .col_expr(price_list::Column::Status, Expr::value(PUBLISHED))
        .col_expr(
            price_list::Column::PublishedBy,
            Expr::value(publisher.as_uuid()),
        )
        .col_expr(price_list::Column::PublishedAt, Expr::value(now))
        .filter(price_list::Column::TenantId.eq(scope.tenant_id().as_uuid()))
        .filter(price_list::Column::Id.eq(id.as_uuid()))
        .filter(price_list::Column::Status.eq(DRAFT))
        .exec(db)
        .await
        .context("failed to publish a price list")?;
    if updated.rows_affected == 0 {
        return Err(PublishPriceListError::AlreadyPublished);
    }
    let gaps = gaps(db, scope, &list.prices).await?;
    tracing::info!(
        price_list.version = list.version,
        gaps = gaps.len(),
        "price list published"
    );
    let published = PriceList {
        status: PUBLISHED,
        published_by: Some(publisher),
        published_at: Some(now),
        ..list
    };
    Ok((published, gaps))
}

async fn later_list_exists(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    effective_from: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let later = scope
        .select::<price_list::Entity>()
        .filter(price_list::Column::Status.eq(PUBLISHED))
        .filter(price_list::Column::EffectiveFrom.gt(effective_from))
        .one(db)
        .await
        .context("failed to look for later price lists")?;
    Ok(later.is_some())
}

/// Every item × tier of the catalogue for which some mode has no price.
async fn gaps(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    prices: &[NewPrice],
) -> anyhow::Result<Vec<Gap>> {
    let items = all_service_items(db, scope).await?;
    let tiers = all_tiers(db, scope).await?;
    let priced: HashSet<(&str, &str, Option<CooperationMode>)> = prices
        .iter()
        .map(|p| (p.service_item.as_str(), p.tier.as_str(), p.cooperation_mode))
        .collect();
    let modes = [
        CooperationMode::Employee,
        CooperationMode::Partner,
        CooperationMode::Freelance,
    ];
    let mut found = BTreeSet::new();
    for item in &items {
        for tier in &tiers {
            let (i, t) = (item.code.as_str(), tier.code.as_str());
            if priced.contains(&(i, t, None)) {
                continue;
            }
            let unpriced: Vec<CooperationMode> = modes
                .into_iter()
                .filter(|m| !priced.contains(&(i, t, Some(*m))))
                .collect();
            if !unpriced.is_empty() {
                found.insert((
                    i.to_owned(),
                    t.to_owned(),
                    unpriced.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
                ));
            }
        }
    }
    Ok(found
        .into_iter()
        .map(|(service_item, tier, modes)| Gap {
            service_item,
            tier,
            cooperation_modes: modes.iter().filter_map(|m| m.parse().ok()).collect(),
        })
        .collect())
}

mod book;
mod preview;
pub use book::{price_book, price_book_in_force};
pub use preview::{Comparison, Preview, PreviewError, preview_price_list};
