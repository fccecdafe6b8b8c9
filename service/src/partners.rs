//! Partner firms (服务商): companies whose installers work for a tenant.

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::partner;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, PaginatorTrait, QueryFilter, Set};
use serde::Serialize;

use crate::domain::{DisplayName, PartnerId};
use crate::page::{Page, PageRequest};
use crate::tenancy::TenantScope;

/// A partner firm as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Partner {
    pub id: PartnerId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<partner::Model> for Partner {
    fn from(row: partner::Model) -> Self {
        Self {
            id: PartnerId::from_uuid(row.id),
            name: row.name,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GetPartnerError {
    #[error("no such partner firm")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Creates a partner firm in the scope's tenant.
#[tracing::instrument(name = "create partner", skip_all, fields(tenant.id = %scope.tenant_id()))]
pub async fn create_partner(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    name: DisplayName,
) -> anyhow::Result<Partner> {
    let row = partner::ActiveModel {
        id: Set(PartnerId::generate().as_uuid()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        name: Set(name.as_str().to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .context("failed to insert a partner firm")?;
    tracing::info!(partner.id = %row.id, "partner firm created");
    Ok(row.into())
}

/// One partner firm of the scope's tenant.
pub async fn get_partner(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: PartnerId,
) -> Result<Partner, GetPartnerError> {
    scope
        .select::<partner::Entity>()
        .filter(partner::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a partner firm")?
        .map(Partner::from)
        .ok_or(GetPartnerError::NotFound)
}

/// The partner firms of the scope's tenant, oldest first.
pub async fn list_partners(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    page: PageRequest,
) -> anyhow::Result<Page<Partner>> {
    let rows = page
        .fetch(
            db,
            scope.select::<partner::Entity>(),
            partner::Column::Id,
            |p| p.id,
        )
        .await
        .context("failed to list partner firms")?;
    Ok(rows.map(Partner::from))
}

/// Whether `id` names a partner firm of the scope's tenant.
pub(crate) async fn exists(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: PartnerId,
) -> anyhow::Result<bool> {
    let count = scope
        .select::<partner::Entity>()
        .filter(partner::Column::Id.eq(id.as_uuid()))
        .count(db)
        .await
        .context("failed to look up a partner firm")?;
    Ok(count > 0)
}
