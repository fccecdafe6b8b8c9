//! Refresh tokens: 30 days, one use each. Only a SHA-256 digest is stored,
//! so a leaked table holds no usable token.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use scrm_entity::refresh_token;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Principal, RefreshError};

/// How long a refresh token is valid.
pub const REFRESH_TOKEN_TTL: Duration = Duration::days(30);

/// The token family and user that a rotated token belonged to.
#[derive(Debug, Clone, Copy)]
pub struct RotatedFamily {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
}

/// Issues a refresh token in `family`, or in a new family when `None`.
pub async fn issue(
    db: &impl ConnectionTrait,
    principal: &Principal,
    family: Option<Uuid>,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("rt_{}", URL_SAFE_NO_PAD.encode(secret));
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(principal.tenant_id().as_uuid()),
        user_id: Set(principal.user_id().as_uuid()),
        family_id: Set(family.unwrap_or_else(Uuid::now_v7)),
        token_hash: Set(digest(&token)),
        expires_at: Set(now + REFRESH_TOKEN_TTL),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .context("failed to store a refresh token")?;
    Ok(token)
}

/// Marks `token` used and answers its family. A token that was used before
/// revokes its whole family; the caller must commit that revocation even
/// though this answers an error.
pub async fn rotate(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<RotatedFamily, RefreshError> {
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(digest(token)))
        .one(db)
        .await
        .context("failed to look up a refresh token")?
        .ok_or(RefreshError::InvalidToken)?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(RefreshError::InvalidToken);
    }

    // The `used_at IS NULL` condition makes two concurrent uses of one token
    // race on this update: exactly one of them marks it.
    let marked = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(db)
        .await
        .context("failed to mark a refresh token used")?;
    if marked.rows_affected == 0 {
        revoke_family(db, row.tenant_id, row.family_id, now).await?;
        tracing::warn!(user.id = %row.user_id, "a used refresh token was presented; its family is revoked");
        return Err(RefreshError::InvalidToken);
    }
    Ok(RotatedFamily {
        tenant_id: row.tenant_id,
        user_id: row.user_id,
        family_id: row.family_id,
    })
}

async fn revoke_family(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::TenantId.eq(tenant_id))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .context("failed to revoke a refresh token family")?;
    Ok(())
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
