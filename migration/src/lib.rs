//! Schema migrations of scrm, one file per change, named by date and intent.
//!
//! Every migration is written with sea-query's schema builder so that it runs
//! the same on SQLite and PostgreSQL. Tenant-owned tables carry `tenant_id`
//! and their indexes start with it. Money columns, when they come, are
//! `BIGINT` fen.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261203_000001_create_tenants_and_users;
mod m20261203_000002_create_sign_in_tables;
mod m20261203_000003_create_idempotency_keys;
mod m20261203_000004_create_pricing_tables;
mod m20261203_000005_create_workflow_tables;
mod m20261203_000006_create_channel_tables;
mod m20261204_000007_index_users_by_phone;
mod m20261204_000008_create_settlement_tables;

/// All migrations in the order they apply.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261203_000001_create_tenants_and_users::Migration),
            Box::new(m20261203_000002_create_sign_in_tables::Migration),
            Box::new(m20261203_000003_create_idempotency_keys::Migration),
            Box::new(m20261203_000004_create_pricing_tables::Migration),
            Box::new(m20261203_000005_create_workflow_tables::Migration),
            Box::new(m20261203_000006_create_channel_tables::Migration),
            Box::new(m20261204_000007_index_users_by_phone::Migration),
            Box::new(m20261204_000008_create_settlement_tables::Migration),
        ]
    }
}

/// The common head of every table: a UUID primary key named `id`.
pub(crate) fn uuid_pk(table: impl IntoIden) -> TableCreateStatement {
    Table::create()
        .table(table)
        .col(
            ColumnDef::new(Alias::new("id"))
                .uuid()
                .not_null()
                .primary_key(),
        )
        .to_owned()
}

/// A `created_at` column, filled in by the application.
pub(crate) fn created_at() -> ColumnDef {
    ColumnDef::new(Alias::new("created_at"))
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}
