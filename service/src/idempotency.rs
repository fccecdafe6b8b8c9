//! Idempotency keys: a state-changing request sent again with the same
//! `Idempotency-Key` and the same body gets the first answer again, and
//! changes nothing the second time.
//!
//! The first request claims the key by inserting a row (the unique index on
//! tenant, user and key decides races), runs, and then stores its answer on
//! the row. A repeat while the first is still running is told so; a repeat
//! with a different body is refused, since it cannot be the same intent.

use anyhow::Context;
use chrono::Utc;
use scrm_entity::idempotency_key;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::is_unique_violation;

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// A validated `Idempotency-Key` header value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// 1 to 255 visible ASCII characters.
    pub fn parse(text: &str) -> Result<Self, String> {
        let visible = text.bytes().all(|b| b.is_ascii_graphic());
        if (1..=MAX_KEY_LEN).contains(&text.len()) && visible {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            ))
        }
    }
}

/// The stored first answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// What to do with a request that carries a key.
#[derive(Debug)]
pub enum Claim {
    /// The key is new: handle the request, then [`complete`] or [`release`].
    Fresh(Uuid),
    /// The key was used with the same request: answer this.
    Replay(StoredResponse),
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("this Idempotency-Key was used with a different request")]
    KeyReused,
    #[error("a request with this Idempotency-Key is still being handled")]
    InFlight,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The fingerprint that tells one request from another under the same key.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Claims `key` for `principal`'s request, or finds its earlier answer.
pub async fn claim(
    db: &impl ConnectionTrait,
    principal: &Principal,
    key: &IdempotencyKey,
    request_hash: &str,
) -> Result<Claim, ClaimError> {
    let id = Uuid::now_v7();
    let inserted = idempotency_key::ActiveModel {
        id: Set(id),
        tenant_id: Set(principal.tenant_id().as_uuid()),
        user_id: Set(principal.user_id().as_uuid()),
        key: Set(key.0.clone()),
        request_hash: Set(request_hash.to_owned()),
        response_status: Set(None),
        response_body: Set(None),
        response_content_type: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => Ok(Claim::Fresh(id)),
        Err(e) if is_unique_violation(&e) => earlier_answer(db, principal, key, request_hash).await,
        Err(e) => Err(anyhow::Error::new(e)
            .context("failed to claim an idempotency key")
            .into()),
    }
}

async fn earlier_answer(
    db: &impl ConnectionTrait,
    principal: &Principal,
    key: &IdempotencyKey,
    request_hash: &str,
) -> Result<Claim, ClaimError> {
    let row = principal
        .scope()
        .select::<idempotency_key::Entity>()
        .filter(idempotency_key::Column::UserId.eq(principal.user_id().as_uuid()))
        .filter(idempotency_key::Column::Key.eq(key.0.as_str()))
        .one(db)
        .await
        .context("failed to load an idempotency key")?
        // Released between our insert and this read: the client may retry.
        .ok_or(ClaimError::InFlight)?;
    if row.request_hash != request_hash {
        return Err(ClaimError::KeyReused);
    }
    match (row.response_status, row.response_body) {
        (Some(status), Some(body)) => Ok(Claim::Replay(StoredResponse {
            status: u16::try_from(status).context("a stored status is out of range")?,
            content_type: row.response_content_type,
            body,
        })),
        _ => Err(ClaimError::InFlight),
    }
}

/// Stores the answer to a claimed request.
pub async fn complete(
    db: &impl ConnectionTrait,
    claim_id: Uuid,
    response: StoredResponse,
) -> anyhow::Result<()> {
    let row = idempotency_key::Entity::find_by_id(claim_id)
        .one(db)
        .await
        .context("failed to load a claimed idempotency key")?
        .context("a claimed idempotency key vanished")?;
    let mut row = row.into_active_model();
    row.response_status = Set(Some(i32::from(response.status)));
    row.response_content_type = Set(response.content_type);
    row.response_body = Set(Some(response.body));
    row.update(db)
        .await
        .context("failed to store an idempotent answer")?;
    Ok(())
}

/// Gives a claimed key up, so that a request that failed on the server's
/// side can be retried under the same key.
pub async fn release(db: &impl ConnectionTrait, claim_id: Uuid) -> anyhow::Result<()> {
    idempotency_key::Entity::delete_by_id(claim_id)
        .exec(db)
        .await
        .context("failed to release an idempotency key")?;
    Ok(())
}
