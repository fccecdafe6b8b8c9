//! Sign-in: passwords, WeChat codes, access and refresh tokens.
//!
//! Every way in ends in [`start_session`], which issues a short-lived access
//! token naming the user, the tenant and the role, and a one-use refresh
//! token. The [`Principal`] that an access token proves is the only source
//! of a [`TenantScope`].

pub mod password;
pub mod refresh;
pub mod throttle;
pub mod tokens;
mod wechat_sign_in;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{tenant, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
};
use secrecy::SecretString;
use serde::Serialize;
use uuid::Uuid;

pub use tokens::{InvalidToken, TokenKeys};
pub use wechat_sign_in::{BindWechatError, WechatSignInError, bind_wechat, sign_in_with_wechat};

use crate::domain::{Role, TenantId, UserId};
use crate::tenancy::TenantScope;

/// Who is asking: proved by a verified access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal {
    user_id: UserId,
    tenant_id: TenantId,
    role: Role,
}

impl Principal {
    pub(crate) fn new(user_id: UserId, tenant_id: TenantId, role: Role) -> Self {
        Self {
            user_id,
            tenant_id,
            role,
        }
    }

    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The tenant this principal may reach.
    pub fn scope(&self) -> TenantScope {
        TenantScope::new(self.tenant_id)
    }
}

/// The answer to every successful sign-in or refresh. Its `Debug` leaves
/// the tokens out.
#[derive(Serialize)]
pub struct SignedIn {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub user: SignedInUser,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("expires_in", &self.expires_in)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Who signed in, as the client shows it.
#[derive(Debug, Serialize)]
pub struct SignedInUser {
    pub id: UserId,
    pub role: Role,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown tenant, unknown user or wrong password: deliberately one case.
    #[error("the tenant, username or password is wrong")]
    InvalidCredentials,
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, revoked or already used (which revokes its family).
    #[error("the refresh token is not valid")]
    InvalidToken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Signs in with a password. An unknown tenant or user costs the same
/// argon2 verification as a wrong password, and counts towards throttling
/// the same way, so neither timing nor throttling tells them apart.
#[tracing::instrument(name = "sign in with password", skip_all, fields(tenant.code = %tenant_code))]
pub async fn sign_in_with_password(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    tenant_code: &str,
    username: &str,
    password: SecretString,
) -> Result<SignedIn, SignInError> {
    let now = Utc::now();
    let subject = throttle::subject(tenant_code, username);
    if let Some(retry_after_secs) = throttle::retry_after(db, &subject, now).await? {
        return Err(SignInError::Throttled { retry_after_secs });
    }

    let user = find_user_by_username(db, tenant_code, username).await?;
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
    if !password::verify_password(stored_hash, password).await {
        throttle::record_failure(db, &subject, now).await?;
        tracing::info!("password sign-in refused");
        return Err(SignInError::InvalidCredentials);
    }
    let Some(user) = user else {
        return Err(SignInError::InvalidCredentials);
    };

    throttle::clear(db, &subject).await?;
    let signed_in = start_session(db, keys, &user, None, now).await?;
    tracing::info!(user.id = %user.id, "password sign-in accepted");
    Ok(signed_in)
}

/// Exchanges a refresh token for a new pair. A token works once: presenting
/// a used one revokes every token of its family, since either the client or
/// a thief holds a copy.
#[tracing::instrument(name = "refresh session", skip_all)]
pub async fn refresh_session(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    token: &str,
) -> Result<SignedIn, RefreshError> {
    let now = Utc::now();
    let txn = db.begin().await.context("failed to begin the refresh")?;
    let rotated = refresh::rotate(&txn, token, now).await;
    // A reuse revokes the family inside this transaction: commit that too.
    txn.commit().await.context("failed to commit the refresh")?;
    let family = rotated?;

    let user = user::Entity::find_by_id(family.user_id)
        .filter(user::Column::TenantId.eq(family.tenant_id))
        .one(db)
        .await
        .context("failed to load the refreshing user")?
        .ok_or(RefreshError::InvalidToken)?;
    Ok(start_session(db, keys, &user, Some(family.family_id), now).await?)
}

/// Issues an access token and a refresh token for `user`. A `family` of
/// `None` starts a new one (a fresh sign-in).
pub(crate) async fn start_session(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    user: &user::Model,
    family: Option<Uuid>,
    now: DateTime<Utc>,
) -> anyhow::Result<SignedIn> {
    let role: Role = user
        .role
        .parse()
        .map_err(|e: String| anyhow::anyhow!("user {} has a bad role: {e}", user.id))?;
    let principal = Principal::new(
        UserId::from_uuid(user.id),
        TenantId::from_uuid(user.tenant_id),
        role,
    );
    let access_token = keys.issue(&principal, now)?;
    let refresh_token = refresh::issue(db, &principal, family, now).await?;
    Ok(SignedIn {
        access_token,
        expires_in: tokens::ACCESS_TOKEN_TTL.num_seconds(),
        refresh_token,
        user: SignedInUser {
            id: principal.user_id(),
            role,
            name: user.name.clone(),
        },
    })
}

/// Finds a tenant by its code.
pub(crate) async fn find_tenant(
    db: &impl ConnectionTrait,
    tenant_code: &str,
) -> anyhow::Result<Option<tenant::Model>> {
    tenant::Entity::find()
        .filter(tenant::Column::Code.eq(tenant_code))
        .one(db)
        .await
        .context("failed to look up the tenant")
}

async fn find_user_by_username(
    db: &impl ConnectionTrait,
    tenant_code: &str,
    username: &str,
) -> anyhow::Result<Option<user::Model>> {
    let Some(tenant) = find_tenant(db, tenant_code).await? else {
        return Ok(None);
    };
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant.id))
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await
        .context("failed to look up the user")
}
