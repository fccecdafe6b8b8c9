//! Sales channels (web shops, marketplaces) that turn paid orders into work
//! orders through signed webhooks: registering a channel, rotating its
//! secret, receiving events into the inbox and processing them.

pub mod cache;
pub mod group_commit;
pub mod inbox;
pub mod process;
pub mod signature;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::webhook_channel;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;

use crate::domain::{ChannelId, DisplayName};
use crate::page::{Page, PageRequest};
use crate::tenancy::TenantScope;
use cache::ChannelCache;
use signature::SigningSecret;

/// The longest overlap a rotation may give the previous secret.
pub const MAX_ROTATION_OVERLAP_SECS: i64 = 7 * 24 * 3600;

/// A channel as the API shows it; its secret is shown only when it is made.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    pub id: ChannelId,
    pub name: String,
    /// Until when the secret before the last rotation also verifies.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<webhook_channel::Model> for Channel {
    fn from(row: webhook_channel::Model) -> Self {
        Self {
            id: ChannelId::from_uuid(row.id),
            name: row.name,
            previous_secret_valid_until: row.previous_secret_until,
            created_at: row.created_at,
        }
    }
}

/// A new secret, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedSecret {
    pub id: ChannelId,
    pub secret: String,
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateChannelError {
    #[error("a channel of this name exists")]
    NameTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum RotateSecretError {
    #[error("no such channel")]
    NotFound,
    #[error("the overlap must be between 0 and {MAX_ROTATION_OVERLAP_SECS} seconds")]
    BadOverlap,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Registers a channel and answers its id and its first secret.
#[tracing::instrument(name = "create channel", skip_all, fields(tenant.id = %scope.tenant_id()))]
pub async fn create_channel(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    name: DisplayName,
    now: DateTime<Utc>,
) -> Result<IssuedSecret, CreateChannelError> {
    let id = ChannelId::generate();
    let secret = SigningSecret::generate();
    let inserted = webhook_channel::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        name: Set(name.as_str().to_owned()),
        secret: Set(secret.clone()),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if crate::db::is_unique_violation(&e) => return Err(CreateChannelError::NameTaken),
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context("failed to insert a channel")
                .into());
        }
    }
    tracing::info!(channel.id = %id, "channel registered");
    Ok(IssuedSecret {
        id,
        secret,
        previous_secret_valid_until: None,
    })
}

/// The channels of the scope's tenant, oldest first.
pub async fn list_channels(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    page: PageRequest,
) -> anyhow::Result<Page<Channel>> {
    let rows = page
        .fetch(
            db,
            scope.select::<webhook_channel::Entity>(),
            webhook_channel::Column::Id,
            |c| c.id,
        )
        .await
        .context("failed to list channels")?;
    Ok(rows.map(Channel::from))
}

/// Gives a channel a new secret. The current one keeps verifying for
/// `overlap_secs`, so that the shop can switch without losing deliveries.
/// The channel is dropped from `kept`, this process's copy of channel rows,
/// so that here the rotation holds from the next delivery on; other
/// processes follow within their copy's TTL (see [`cache`]).
#[tracing::instrument(name = "rotate channel secret", skip_all, fields(tenant.id = %scope.tenant_id(), channel.id = %id))]
pub async fn rotate_secret(
    db: &impl ConnectionTrait,
    kept: &ChannelCache,
    scope: &TenantScope,
    id: ChannelId,
    overlap_secs: i64,
    now: DateTime<Utc>,
) -> Result<IssuedSecret, RotateSecretError> {
    if !(0..=MAX_ROTATION_OVERLAP_SECS).contains(&overlap_secs) {
        return Err(RotateSecretError::BadOverlap);
    }
    let channel = scope
        .select::<webhook_channel::Entity>()
        .filter(webhook_channel::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a channel")?
        .ok_or(RotateSecretError::NotFound)?;
    let secret = SigningSecret::generate();
    let until = now + chrono::Duration::seconds(overlap_secs);
    // Compare-and-set on the secret, so that two rotations at once cannot
    // both keep "the previous" secret.
    let updated = webhook_channel::Entity::update_many()
        .col_expr(webhook_channel::Column::Secret, Expr::value(secret.clone()))
        .col_expr(
            webhook_channel::Column::PreviousSecret,
            Expr::value(channel.secret.clone()),
        )
        .col_expr(
            webhook_channel::Column::PreviousSecretUntil,
            Expr::value(until),
        )
        .col_expr(webhook_channel::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_channel::Column::Id.eq(channel.id))
        .filter(webhook_channel::Column::Secret.eq(channel.secret))
        .exec(db)
        .await
        .context("failed to rotate a channel's secret")?;
    if updated.rows_affected == 0 {
        return Err(anyhow::anyhow!("the channel's secret changed during the rotation").into());
    }
    kept.forget(id.as_uuid());
    tracing::info!(overlap_secs, "channel secret rotated");
    Ok(IssuedSecret {
        id,
        secret,
        previous_secret_valid_until: Some(until),
    })
}

/// The secrets that verify a delivery to `channel` at `now`.
pub(crate) fn accepted_secrets(
    channel: &webhook_channel::Model,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<SigningSecret>> {
    let mut secrets = vec![SigningSecret::parse(&channel.secret).map_err(anyhow::Error::msg)?];
    if let (Some(previous), Some(until)) = (&channel.previous_secret, channel.previous_secret_until)
        && now <= until
    {
        secrets.push(SigningSecret::parse(previous).map_err(anyhow::Error::msg)?);
    }
    Ok(secrets)
}
