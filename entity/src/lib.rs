//! sea-orm entities of scrm, one module per table.
//!
//! Entities are plain rows: the rules about what a row may hold live in
//! `scrm-service`, which converts rows into domain types before anything
//! else sees them. Every tenant-owned table carries `tenant_id`, and every
//! such entity implements [`TenantOwned`] so that the service layer can scope
//! its queries by construction.

pub mod idempotency_key;
pub mod login_failure;
pub mod partner;
pub mod refresh_token;
pub mod tenant;
pub mod user;
pub mod wechat_account;

use sea_orm::EntityTrait;

/// An entity whose rows belong to exactly one tenant.
pub trait TenantOwned: EntityTrait {
    /// The column that holds the owning tenant's id.
    fn tenant_column() -> Self::Column;
}

macro_rules! tenant_owned {
    ($($module:ident),* $(,)?) => {
        $(impl TenantOwned for $module::Entity {
            fn tenant_column() -> Self::Column {
                $module::Column::TenantId
            }
        })*
    };
}

tenant_owned!(
    idempotency_key,
    partner,
    refresh_token,
    user,
    wechat_account
);
