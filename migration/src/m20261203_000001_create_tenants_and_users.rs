//! Tenants, partner firms and users: the accounts everything else hangs on.

use sea_orm_migration::prelude::*;

use crate::{created_at, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Code,
    Name,
}

#[derive(DeriveIden)]
enum Partners {
    Table,
    TenantId,
    Name,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    TenantId,
    Username,
    PasswordHash,
    Role,
    Name,
    Phone,
    CooperationMode,
    PartnerId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                uuid_pk(Tenants::Table)
                    .col(
                        ColumnDef::new(Tenants::Code)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Tenants::Name).string_len(200).not_null())
                    .col(created_at())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                uuid_pk(Partners::Table)
                    .col(ColumnDef::new(Partners::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Partners::Name).string_len(200).not_null())
                    .col(created_at())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("partners_tenant_id_id")
                    .table(Partners::Table)
                    .col(Partners::TenantId)
                    .col(Alias::new("id"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                uuid_pk(Users::Table)
                    .col(ColumnDef::new(Users::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Users::Username).string_len(64).not_null())
                    .col(ColumnDef::new(Users::PasswordHash).string_len(200).null())
                    .col(ColumnDef::new(Users::Role).string_len(32).not_null())
                    .col(ColumnDef::new(Users::Name).string_len(100).not_null())
                    .col(ColumnDef::new(Users::Phone).string_len(32).null())
                    .col(ColumnDef::new(Users::CooperationMode).string_len(32).null())
                    .col(ColumnDef::new(Users::PartnerId).uuid().null())
                    .col(created_at())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_tenant_id_username")
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .col(Users::Username)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_tenant_id_id")
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .col(Alias::new("id"))
                    .to_owned(),
            )
            .await
    }
}
