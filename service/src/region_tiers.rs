//! Which tier each region is priced at. An admin maps regions to tiers at
//! province, city or district level, with a default tier for the rest. The
//! most specific mapping of a region wins: a district's beats its city's,
//! and a city's beats its province's.

use std::collections::HashMap;

use anyhow::Context;
use chrono::Utc;
use scrm_entity::{region_tier, tier, tier_default};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use uuid::Uuid;

use crate::catalog::all_tiers;
use crate::domain::CatalogCode;
use crate::regions::{RegionCode, Regions};
use crate::tenancy::TenantScope;
use crate::validation::{FieldError, FieldErrors};

/// The tenant's mapping of regions to tiers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionTiers {
    pub default_tier: Option<String>,
    pub mappings: Vec<(RegionCode, String)>,
}

impl RegionTiers {
    /// The tier of `region`: its most specific mapping, else the default.
    pub fn tier_of(&self, region: &RegionCode) -> Option<&str> {
        let by_code: HashMap<&RegionCode, &str> = self
            .mappings
            .iter()
            .map(|(code, tier)| (code, tier.as_str()))
            .collect();
        region
            .lineage()
            .iter()
            .find_map(|code| by_code.get(code).copied())
            .or(self.default_tier.as_deref())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PutRegionTiersError {
    #[error("the mapping has invalid entries")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Replaces the tenant's whole mapping, in one transaction.
#[tracing::instrument(name = "put region tiers", skip_all, fields(tenant.id = %scope.tenant_id()))]
pub async fn put_region_tiers(
    db: &DatabaseConnection,
    scope: &TenantScope,
    default_tier: CatalogCode,
    mappings: Vec<(RegionCode, CatalogCode)>,
) -> Result<RegionTiers, PutRegionTiersError> {
    let tier_ids: HashMap<String, Uuid> = all_tiers(db, scope)
        .await?
        .into_iter()
        .map(|t| (t.code, t.id.as_uuid()))
        .collect();
    check_mappings(&tier_ids, &default_tier, &mappings).map_err(PutRegionTiersError::Invalid)?;

    let txn = db
        .begin()
        .await
        .context("failed to begin replacing region tiers")?;
    let tenant_id = scope.tenant_id().as_uuid();
    region_tier::Entity::delete_many()
        .filter(region_tier::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await
        .context("failed to clear region tiers")?;
    tier_default::Entity::delete_many()
        .filter(tier_default::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await
        .context("failed to clear the default tier")?;
    let now = Utc::now();
    for (region, tier) in &mappings {
        region_tier::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant_id),
            region_code: Set(region.as_str().to_owned()),
            tier_id: Set(tier_ids[tier.as_str()]),
            created_at: Set(now),
        }
        .insert(&txn)
        .await
        .context("failed to insert a region tier")?;
    }
    tier_default::ActiveModel {
        tenant_id: Set(tenant_id),
        tier_id: Set(tier_ids[default_tier.as_str()]),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .context("failed to set the default tier")?;
    txn.commit()
        .await
        .context("failed to commit region tiers")?;
    tracing::info!(mappings = mappings.len(), "region tiers replaced");
    Ok(get_region_tiers(db, scope).await?)
}

fn check_mappings(
    tier_ids: &HashMap<String, Uuid>,
    default_tier: &CatalogCode,
    mappings: &[(RegionCode, CatalogCode)],
) -> Result<(), Vec<FieldError>> {
    let mut errors = FieldErrors::new();
    if !tier_ids.contains_key(default_tier.as_str()) {
        errors.add("default_tier", "names no tier of this tenant");
    }
    let mut seen = HashMap::new();
    for (i, (region, tier)) in mappings.iter().enumerate() {
        if Regions::shipped().get(region).is_none() {
            errors.add(
                &format!("mappings[{i}].region_code"),
                "names no GB/T 2260 region",
            );
        }
        if !tier_ids.contains_key(tier.as_str()) {
            errors.add(
                &format!("mappings[{i}].tier"),
                "names no tier of this tenant",
            );
        }
        if let Some(first) = seen.insert(region.clone(), i) {
            errors.add(
                &format!("mappings[{i}].region_code"),
                format!("is mapped already by mappings[{first}]"),
            );
        }
    }
    errors.finish()
}

/// The tenant's current mapping.
pub async fn get_region_tiers(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
) -> anyhow::Result<RegionTiers> {
    let tier_codes: HashMap<Uuid, String> = all_tiers(db, scope)
        .await?
        .into_iter()
        .map(|t| (t.id.as_uuid(), t.code))
        .collect();
    let rows = scope
        .select::<region_tier::Entity>()
        .order_by_asc(region_tier::Column::RegionCode)
        .all(db)
        .await
        .context("failed to load region tiers")?;
    let default = scope
        .select::<tier_default::Entity>()
        .one(db)
        .await
        .context("failed to load the default tier")?;
    let mut mappings = Vec::with_capacity(rows.len());
    for row in rows {
        let code = RegionCode::parse(&row.region_code).map_err(anyhow::Error::msg)?;
        let tier = tier_codes
            .get(&row.tier_id)
            .context("a region maps to a missing tier")?;
        mappings.push((code, tier.clone()));
    }
    Ok(RegionTiers {
        default_tier: default.and_then(|d| tier_codes.get(&d.tier_id).cloned()),
        mappings,
    })
}

/// The tier of one region, by the same rule as [`RegionTiers::tier_of`], in
/// one statement: the tenant's tiers joined to the mappings of the region's
/// lineage and to the default. An order's detail needs no more than this,
/// where [`get_region_tiers`] reads the tenant's whole mapping.
pub async fn tier_of_region(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    region: &RegionCode,
) -> anyhow::Result<Option<String>> {
    let lineage: Vec<String> = region.lineage().into_iter().map(String::from).collect();
    // The tenant is named in the mapping's join as well as in the tier's,
    // so that PostgreSQL reads the mappings by their (tenant, region) key:
    // joined by tier alone, it reads every tenant's mappings for each
    // detail, which grew the detail's cost with the number of tenants.
    let mapped = Condition::all()
        .add(
            Expr::col((region_tier::Entity, region_tier::Column::TenantId))
                .equals((tier::Entity, tier::Column::TenantId)),
        )
        .add(
            Expr::col((region_tier::Entity, region_tier::Column::TierId))
                .equals((tier::Entity, tier::Column::Id)),
        )
        .add(Expr::col((region_tier::Entity, region_tier::Column::RegionCode)).is_in(lineage));
    let default = Condition::all()
        .add(
            Expr::col((tier_default::Entity, tier_default::Column::TierId))
                .equals((tier::Entity, tier::Column::Id)),
        )
        .add(
            Expr::col((tier_default::Entity, tier_default::Column::TenantId))
                .equals((tier::Entity, tier::Column::TenantId)),
        );
    let statement = Query::select()
        .column((tier::Entity, tier::Column::Code))
        .column((region_tier::Entity, region_tier::Column::RegionCode))
        .column((tier_default::Entity, tier_default::Column::TenantId))
        .from(tier::Entity)
        .left_join(region_tier::Entity, mapped)
        .left_join(tier_default::Entity, default)
        .and_where(
            Expr::col((tier::Entity, tier::Column::TenantId)).eq(scope.tenant_id().as_uuid()),
        )
        .cond_where(
            Condition::any()
                .add(
                    Expr::col((region_tier::Entity, region_tier::Column::RegionCode)).is_not_null(),
                )
                .add(
                    Expr::col((tier_default::Entity, tier_default::Column::TenantId)).is_not_null(),
                ),
        )
        .to_owned();
    let rows = db
        .query_all(&statement)
        .await
        .context("failed to load a region's tier")?;
    let mut tiers = RegionTiers::default();
    for row in rows {
        let code: String = row.try_get("", "code").context("a tier without a code")?;
        let mapped: Option<String> = row.try_get("", "region_code").context("a bad mapping")?;
        let default_of: Option<Uuid> = row.try_get("", "tenant_id").context("a bad default")?;
        if let Some(mapped) = mapped {
            let mapped = RegionCode::parse(&mapped).map_err(anyhow::Error::msg)?;
            tiers.mappings.push((mapped, code.clone()));
        }
        if default_of.is_some() {
            tiers.default_tier = Some(code);
        }
    }
    Ok(tiers.tier_of(region).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> RegionCode {
        RegionCode::parse(text).expect("a valid code")
    }

    #[test]
    fn the_most_specific_mapping_wins_and_the_default_covers_the_rest() {
        let tiers = RegionTiers {
            default_tier: Some("T3".into()),
            mappings: vec![
                (code("44"), "T2".into()),
                (code("4403"), "T1".into()),
                (code("440307"), "T2".into()),
            ],
        };

        assert_eq!(tiers.tier_of(&code("440305")), Some("T1"));
        assert_eq!(tiers.tier_of(&code("440307")), Some("T2"));
        assert_eq!(tiers.tier_of(&code("440103")), Some("T2"));
        assert_eq!(tiers.tier_of(&code("110105")), Some("T3"));
        assert_eq!(RegionTiers::default().tier_of(&code("110105")), None);
    }
}
