//! Finding a tenant's customer by phone number, which every new work order
//! does to link the customer's journey, without reading the whole users
//! table.

use sea_orm_migration::prelude::*;

use crate::columns::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        index(manager, "users", &["tenant_id", "phone"], false).await
    }
}
