//! sea-orm entities of scrm, one module per table.
//!
//! Entities are plain rows: the rules about what a row may hold live in
//! `scrm-service`, which converts rows into domain types before anything
//! else sees them. Every tenant-owned table carries `tenant_id`, and every
//! such entity implements [`TenantOwned`] so that the service layer can scope
//! its queries by construction.

pub mod earnings_line;
pub mod firm_statement;
pub mod idempotency_key;
pub mod login_failure;
pub mod notification;
pub mod partner;
pub mod price_list;
pub mod price_list_entry;
pub mod quote_line;
pub mod refresh_token;
pub mod region_tier;
pub mod service_item;
pub mod settlement_period;
pub mod settlement_setting;
pub mod statement;
pub mod statement_adjustment;
pub mod statement_audit;
pub mod statement_dispute;
pub mod tenant;
pub mod tier;
pub mod tier_default;
pub mod user;
pub mod webhook_channel;
pub mod webhook_event;
pub mod wechat_account;
pub mod wechat_template;
pub mod work_order;
pub mod work_order_event;
pub mod work_order_line;
pub mod workflow;

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
    earnings_line,
    idempotency_key,
    partner,
    price_list,
    price_list_entry,
    quote_line,
    refresh_token,
    region_tier,
    service_item,
    tier,
    tier_default,
    user,
    wechat_account,
    wechat_template,
    webhook_channel,
    webhook_event,
    notification,
    work_order,
    work_order_event,
    work_order_line,
    workflow,
    firm_statement,
    settlement_period,
    settlement_setting,
    statement,
    statement_adjustment,
    statement_audit,
    statement_dispute,
);
