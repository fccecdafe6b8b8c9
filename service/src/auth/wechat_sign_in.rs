//! Signing in and binding accounts with a WeChat mini-program login code.

use anyhow::Context;
use chrono::Utc;
use scrm_entity::{user, wechat_account};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::{Principal, SignedIn, TokenKeys, find_tenant, start_session};
use crate::db::is_unique_violation;
use crate::domain::Role;
use crate::wechat::{WechatClient, WechatError, WechatSession};

/// The display name of a customer created by a first WeChat sign-in.
const NEW_CUSTOMER_NAME: &str = "微信用户";

#[derive(Debug, thiserror::Error)]
pub enum WechatSignInError {
    #[error("no tenant has this code")]
    UnknownTenant,
    #[error(transparent)]
    Wechat(#[from] WechatError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum BindWechatError {
    #[error("this WeChat account is bound to another user")]
    BoundToAnotherUser,
    #[error(transparent)]
    Wechat(#[from] WechatError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Signs in with the `code` of `wx.login`. A WeChat account that no user is
/// bound to becomes a new customer of the tenant.
#[tracing::instrument(name = "sign in with wechat", skip_all, fields(tenant.code = %tenant_code))]
pub async fn sign_in_with_wechat(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    client: &WechatClient,
    tenant_code: &str,
    code: &str,
) -> Result<SignedIn, WechatSignInError> {
    let tenant = find_tenant(db, tenant_code)
        .await?
        .ok_or(WechatSignInError::UnknownTenant)?;
    let session = client.code_to_session(code).await?;

    let user = match find_account(db, tenant.id, &session.openid).await? {
        Some(account) => {
            refresh_session_key(db, account.clone(), &session).await?;
            load_user(db, tenant.id, account.user_id).await?
        }
        None => match create_customer(db, tenant.id, &session).await {
            Ok(user) => user,
            // A concurrent first sign-in of the same account created it.
            Err(e) if e.downcast_ref().is_some_and(is_unique_violation) => {
                let account = find_account(db, tenant.id, &session.openid)
                    .await?
                    .context("the WeChat account vanished after a conflict")?;
                load_user(db, tenant.id, account.user_id).await?
            }
            Err(e) => return Err(e.into()),
        },
    };
    let signed_in = start_session(db, keys, &user, None, Utc::now()).await?;
    tracing::info!(user.id = %user.id, "WeChat sign-in accepted");
    Ok(signed_in)
}

/// Binds the WeChat account behind `code` to the signed-in user, replacing
/// any account the user had bound before.
#[tracing::instrument(name = "bind wechat", skip_all, fields(user.id = %principal.user_id()))]
pub async fn bind_wechat(
    db: &DatabaseConnection,
    client: &WechatClient,
    principal: &Principal,
    code: &str,
) -> Result<(), BindWechatError> {
    let session = client.code_to_session(code).await?;
    let scope = principal.scope();
    let user_id = principal.user_id().as_uuid();

    if let Some(account) = find_account(db, scope.tenant_id().as_uuid(), &session.openid).await? {
        if account.user_id != user_id {
            return Err(BindWechatError::BoundToAnotherUser);
        }
        refresh_session_key(db, account, &session).await?;
        return Ok(());
    }

    let existing = scope
        .select::<wechat_account::Entity>()
        .filter(wechat_account::Column::UserId.eq(user_id))
        .one(db)
        .await
        .context("failed to look up the user's WeChat account")?;
    let now = Utc::now();
    let saved = match existing {
        Some(account) => {
            let mut account = account.into_active_model();
            account.openid = Set(session.openid.clone());
            account.unionid = Set(session.unionid.clone());
            account.session_key = Set(session.session_key.expose_secret().to_owned());
            account.updated_at = Set(now);
            account.update(db).await.map(|_| ())
        }
        None => new_account(scope.tenant_id().as_uuid(), user_id, &session)
            .insert(db)
            .await
            .map(|_| ()),
    };
    match saved {
        Ok(()) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(BindWechatError::BoundToAnotherUser),
        Err(e) => Err(anyhow::Error::new(e)
            .context("failed to bind the WeChat account")
            .into()),
    }
}

async fn find_account(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    openid: &str,
) -> anyhow::Result<Option<wechat_account::Model>> {
    wechat_account::Entity::find()
        .filter(wechat_account::Column::TenantId.eq(tenant_id))
        .filter(wechat_account::Column::Openid.eq(openid))
        .one(db)
        .await
        .context("failed to look up the WeChat account")
}

async fn load_user(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    user_id: Uuid,
) -> anyhow::Result<user::Model> {
    user::Entity::find_by_id(user_id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .one(db)
        .await
        .context("failed to load the WeChat account's user")?
        .context("a WeChat account points at a missing user")
}

async fn refresh_session_key(
    db: &impl ConnectionTrait,
    account: wechat_account::Model,
    session: &WechatSession,
) -> anyhow::Result<()> {
    let mut account = account.into_active_model();
    account.session_key = Set(session.session_key.expose_secret().to_owned());
    account.updated_at = Set(Utc::now());
    account
        .update(db)
        .await
        .context("failed to store the WeChat session key")?;
    Ok(())
}

async fn create_customer(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    session: &WechatSession,
) -> anyhow::Result<user::Model> {
    let txn = db
        .begin()
        .await
        .context("failed to begin creating a customer")?;
    let id = Uuid::now_v7();
    let user = user::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        username: Set(format!("wx_{}", id.simple())),
        password_hash: Set(None),
        role: Set(Role::Customer.as_str().to_owned()),
        name: Set(NEW_CUSTOMER_NAME.to_owned()),
        phone: Set(None),
        cooperation_mode: Set(None),
        partner_id: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await
    .context("failed to create a WeChat customer")?;
    new_account(tenant_id, id, session).insert(&txn).await?;
    txn.commit()
        .await
        .context("failed to commit a new customer")?;
    tracing::info!(user.id = %id, "a first WeChat sign-in created a customer");
    Ok(user)
}

fn new_account(
    tenant_id: Uuid,
    user_id: Uuid,
    session: &WechatSession,
) -> wechat_account::ActiveModel {
    let now = Utc::now();
    wechat_account::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant_id),
        user_id: Set(user_id),
        openid: Set(session.openid.clone()),
        unionid: Set(session.unionid.clone()),
        session_key: Set(session.session_key.expose_secret().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
}
