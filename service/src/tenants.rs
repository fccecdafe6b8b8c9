//! Tenants, and the first admin of each: what `scrm create-admin` does.

use anyhow::Context;
use chrono::Utc;
use scrm_entity::tenant;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set, TransactionTrait};
use secrecy::SecretString;

use crate::auth::find_tenant;
use crate::db::is_unique_violation;
use crate::domain::{DisplayName, Role, TenantCode, TenantId, Username};
use crate::tenancy::TenantScope;
use crate::users::{CreateUserError, NewUser, User, create_user};

#[derive(Debug, thiserror::Error)]
pub enum CreateAdminError {
    #[error(transparent)]
    User(#[from] CreateUserError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Creates the tenant if it is missing, and an admin in it. On SQLite a
/// transaction that has read cannot start writing while another connection
/// writes (a running server's worker, say), so a refused write is tried
/// again from the start, as the other writes of the service are.
#[tracing::instrument(name = "create admin", skip_all, fields(tenant.code = %code.as_str()))]
pub async fn create_admin(
    db: &DatabaseConnection,
    code: &TenantCode,
    username: Username,
    password: SecretString,
) -> Result<(TenantId, User), CreateAdminError> {
    crate::db::retry_contended(
        || try_create_admin(db, code, username.clone(), password.clone()),
        |e| match e {
            CreateAdminError::Unexpected(e)
            | CreateAdminError::User(CreateUserError::Unexpected(e)) => {
                crate::db::is_write_contention(e)
            }
            CreateAdminError::User(_) => false,
        },
    )
    .await
}

async fn try_create_admin(
    db: &DatabaseConnection,
    code: &TenantCode,
    username: Username,
    password: SecretString,
) -> Result<(TenantId, User), CreateAdminError> {
    let txn = db
        .begin()
        .await
        .context("failed to begin creating an admin")?;
    let tenant_id = ensure_tenant(&txn, code).await?;
    let new = NewUser {
        name: DisplayName::parse(username.as_str()).map_err(anyhow::Error::msg)?,
        username,
        password,
        role: Role::Admin,
        phone: None,
        cooperation_mode: None,
        partner_id: None,
    };
    let admin = create_user(&txn, &TenantScope::new(tenant_id), new).await?;
    txn.commit()
        .await
        .context("failed to commit the new admin")?;
    Ok((tenant_id, admin))
}

async fn ensure_tenant(
    db: &impl sea_orm::ConnectionTrait,
    code: &TenantCode,
) -> anyhow::Result<TenantId> {
    if let Some(existing) = find_tenant(db, code.as_str()).await? {
        return Ok(TenantId::from_uuid(existing.id));
    }
    let inserted = tenant::ActiveModel {
        id: Set(TenantId::generate().as_uuid()),
        code: Set(code.as_str().to_owned()),
        name: Set(code.as_str().to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(row) => {
            tracing::info!(tenant.id = %row.id, "tenant created");
            let id = TenantId::from_uuid(row.id);
            crate::workflows::install_templates(db, &TenantScope::new(id)).await?;
            Ok(id)
        }
        // Another process created it between the look-up and the insert.
        Err(e) if is_unique_violation(&e) => find_tenant(db, code.as_str())
            .await?
            .map(|t| TenantId::from_uuid(t.id))
            .context("the tenant vanished after a conflict"),
        Err(e) => Err(anyhow::Error::new(e).context("failed to insert a tenant")),
    }
}
