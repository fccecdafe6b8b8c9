//! The business rules of scrm and their persistence, shared by the HTTP API
//! and the worker. Nothing here knows about actix: operations take a
//! connection (`&impl ConnectionTrait`, so a transaction can be passed in)
//! and domain types, and answer domain types or an `<Operation>Error`.
//!
//! Tenant-owned rows are reached only through a [`tenancy::TenantScope`],
//! which comes from an authenticated [`auth::Principal`].

pub mod auth;
pub mod catalog;
pub mod channels;
pub mod db;
pub mod domain;
pub mod idempotency;
pub mod notifications;
pub mod page;
pub mod partners;
pub mod price_lists;
pub mod pricing;
pub mod quotes;
pub mod region_tiers;
pub mod regions;
pub mod retry;
pub mod settlement;
pub mod tenancy;
pub mod tenants;
pub mod users;
pub mod validation;
pub mod wechat;
pub mod work_orders;
pub mod workflow;
pub mod workflows;
