//! Each tenant's settlement settings: how often it settles, and how long an
//! installer has to dispute a statement. A tenant that never set them
//! settles monthly with seven days to dispute.

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::settlement_setting;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use super::period::Cadence;
use crate::tenancy::TenantScope;

/// The longest dispute window a tenant may set.
pub const MAX_DISPUTE_DAYS: i32 = 90;

/// A tenant's settlement settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettlementSettings {
    pub cadence: Cadence,
    /// Days after a statement is issued during which its lines can be
    /// disputed.
    pub dispute_days: i32,
}

impl Default for SettlementSettings {
    fn default() -> Self {
        Self {
            cadence: Cadence::Month,
            dispute_days: 7,
        }
    }
}

impl SettlementSettings {
    /// Checks a dispute window between 1 and [`MAX_DISPUTE_DAYS`] days.
    pub fn new(cadence: Cadence, dispute_days: i32) -> Result<Self, String> {
        if !(1..=MAX_DISPUTE_DAYS).contains(&dispute_days) {
            return Err(format!("must be between 1 and {MAX_DISPUTE_DAYS}"));
        }
        Ok(Self {
            cadence,
            dispute_days,
        })
    }
}

/// The tenant's settings, or the defaults.
pub async fn get_settings(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
) -> anyhow::Result<SettlementSettings> {
    let row = settlement_setting::Entity::find_by_id(scope.tenant_id().as_uuid())
        .one(db)
        .await
        .context("failed to load settlement settings")?;
    let Some(row) = row else {
        return Ok(SettlementSettings::default());
    };
    let cadence = Cadence::parse(&row.cadence)
        .map_err(anyhow::Error::msg)
        .context("a stored cadence is unknown")?;
    Ok(SettlementSettings {
        cadence,
        dispute_days: row.dispute_days,
    })
}

/// Replaces the tenant's settings. Periods already closed keep their shape.
#[tracing::instrument(name = "put settlement settings", skip_all, fields(tenant.id = %scope.tenant_id()))]
pub async fn put_settings(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    settings: SettlementSettings,
    now: DateTime<Utc>,
) -> anyhow::Result<SettlementSettings> {
    let row = settlement_setting::ActiveModel {
        tenant_id: Set(scope.tenant_id().as_uuid()),
        cadence: Set(settings.cadence.as_str().to_owned()),
        dispute_days: Set(settings.dispute_days),
        updated_at: Set(now),
    };
    settlement_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(settlement_setting::Column::TenantId)
                .update_columns([
                    settlement_setting::Column::Cadence,
                    settlement_setting::Column::DisputeDays,
                    settlement_setting::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await
        .context("failed to store settlement settings")?;
    Ok(settings)
}
