//! The tenant's catalogue: service items (what is priced) and tiers (档位,
//! how regions are grouped for pricing). Both are named by a code that
//! price lists and region mappings refer to.

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{service_item, tier};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, Set};

use crate::db::is_unique_violation;
use crate::domain::{CatalogCode, DisplayName, ServiceItemId, TierId};
use crate::page::{Page, PageRequest};
use crate::tenancy::TenantScope;

/// A kind of work that is priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceItem {
    pub id: ServiceItemId,
    pub code: String,
    pub name: String,
    /// What a quantity of one means: 台, 套, 次 …
    pub unit: String,
    pub created_at: DateTime<Utc>,
}

/// A settlement tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub id: TierId,
    pub code: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<service_item::Model> for ServiceItem {
    fn from(row: service_item::Model) -> Self {
        Self {
            id: ServiceItemId::from_uuid(row.id),
            code: row.code,
            name: row.name,
            unit: row.unit,
            created_at: row.created_at,
        }
    }
}

impl From<tier::Model> for Tier {
    fn from(row: tier::Model) -> Self {
        Self {
            id: TierId::from_uuid(row.id),
            code: row.code,
            name: row.name,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateCatalogError {
    #[error("the code is taken in this tenant")]
    CodeTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum GetCatalogError {
    #[error("no such entry")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

fn insert_error(error: sea_orm::DbErr, what: &str) -> CreateCatalogError {
    if is_unique_violation(&error) {
        CreateCatalogError::CodeTaken
    } else {
        anyhow::Error::new(error)
            .context(format!("failed to insert a {what}"))
            .into()
    }
}

/// Creates a service item.
#[tracing::instrument(name = "create service item", skip_all, fields(tenant.id = %scope.tenant_id()))]
pub async fn create_service_item(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    code: CatalogCode,
    name: DisplayName,
    unit: DisplayName,
) -> Result<ServiceItem, CreateCatalogError> {
    let row = service_item::ActiveModel {
        id: Set(ServiceItemId::generate().as_uuid()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        code: Set(code.as_str().to_owned()),
        name: Set(name.as_str().to_owned()),
        unit: Set(unit.as_str().to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .map_err(|e| insert_error(e, "service item"))?;
    Ok(row.into())
}

/// Creates a tier.
#[tracing::instrument(name = "create tier", skip_all, fields(tenant.id = %scope.tenant_id()))]
pub async fn create_tier(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    code: CatalogCode,
    name: DisplayName,
) -> Result<Tier, CreateCatalogError> {
    let row = tier::ActiveModel {
        id: Set(TierId::generate().as_uuid()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        code: Set(code.as_str().to_owned()),
        name: Set(name.as_str().to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .map_err(|e| insert_error(e, "tier"))?;
    Ok(row.into())
}

/// One service item of the tenant.
pub async fn get_service_item(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: ServiceItemId,
) -> Result<ServiceItem, GetCatalogError> {
    scope
        .select::<service_item::Entity>()
        .filter(service_item::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a service item")?
        .map(ServiceItem::from)
        .ok_or(GetCatalogError::NotFound)
}

/// One tier of the tenant.
pub async fn get_tier(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: TierId,
) -> Result<Tier, GetCatalogError> {
    scope
        .select::<tier::Entity>()
        .filter(tier::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a tier")?
        .map(Tier::from)
        .ok_or(GetCatalogError::NotFound)
}

/// The tenant's service items, oldest first.
pub async fn list_service_items(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    page: PageRequest,
) -> anyhow::Result<Page<ServiceItem>> {
    let rows = page
        .fetch(
            db,
            scope.select::<service_item::Entity>(),
            service_item::Column::Id,
            |r| r.id,
        )
        .await
        .context("failed to list service items")?;
    Ok(rows.map(ServiceItem::from))
}

/// The tenant's tiers, oldest first.
pub async fn list_tiers(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    page: PageRequest,
) -> anyhow::Result<Page<Tier>> {
    let rows = page
        .fetch(db, scope.select::<tier::Entity>(), tier::Column::Id, |r| {
            r.id
        })
        .await
        .context("failed to list tiers")?;
    Ok(rows.map(Tier::from))
}

/// Every service item of the tenant, by code; for validating price lists.
pub(crate) async fn all_service_items(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
) -> anyhow::Result<Vec<ServiceItem>> {
    let rows = scope
        .select::<service_item::Entity>()
        .all(db)
        .await
        .context("failed to load service items")?;
    Ok(rows.into_iter().map(ServiceItem::from).collect())
}

/// Every tier of the tenant; for validating price lists and mappings.
pub(crate) async fn all_tiers(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
) -> anyhow::Result<Vec<Tier>> {
    let rows = scope
        .select::<tier::Entity>()
        .all(db)
        .await
        .context("failed to load tiers")?;
    Ok(rows.into_iter().map(Tier::from).collect())
}
