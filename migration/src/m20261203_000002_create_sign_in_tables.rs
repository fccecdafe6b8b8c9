//! What sign-in keeps: refresh tokens by family, WeChat bindings and the
//! failed attempts that throttling counts.

use sea_orm_migration::prelude::*;

use crate::{created_at, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TenantId,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum WechatAccounts {
    Table,
    TenantId,
    UserId,
    Openid,
    Unionid,
    SessionKey,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Subject,
    FailedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_refresh_tokens(manager).await?;
        create_wechat_accounts(manager).await?;
        create_login_failures(manager).await
    }
}

async fn create_refresh_tokens(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let at = |column| ColumnDef::new(column).timestamp_with_time_zone().to_owned();
    manager
        .create_table(
            uuid_pk(RefreshTokens::Table)
                .col(ColumnDef::new(RefreshTokens::TenantId).uuid().not_null())
                .col(ColumnDef::new(RefreshTokens::UserId).uuid().not_null())
                .col(ColumnDef::new(RefreshTokens::FamilyId).uuid().not_null())
                .col(
                    ColumnDef::new(RefreshTokens::TokenHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(at(RefreshTokens::ExpiresAt).not_null())
                .col(at(RefreshTokens::UsedAt).null())
                .col(at(RefreshTokens::RevokedAt).null())
                .col(created_at())
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("refresh_tokens_token_hash")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::TokenHash)
                .unique()
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("refresh_tokens_tenant_id_family_id")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::TenantId)
                .col(RefreshTokens::FamilyId)
                .to_owned(),
        )
        .await
}

async fn create_wechat_accounts(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(WechatAccounts::Table)
                .col(ColumnDef::new(WechatAccounts::TenantId).uuid().not_null())
                .col(ColumnDef::new(WechatAccounts::UserId).uuid().not_null())
                .col(
                    ColumnDef::new(WechatAccounts::Openid)
                        .string_len(128)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WechatAccounts::Unionid)
                        .string_len(128)
                        .null(),
                )
                .col(
                    ColumnDef::new(WechatAccounts::SessionKey)
                        .string_len(128)
                        .not_null(),
                )
                .col(created_at())
                .col(
                    ColumnDef::new(WechatAccounts::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
    for (name, column) in [
        ("wechat_accounts_tenant_id_openid", WechatAccounts::Openid),
        ("wechat_accounts_tenant_id_user_id", WechatAccounts::UserId),
    ] {
        manager
            .create_index(
                Index::create()
                    .name(name)
                    .table(WechatAccounts::Table)
                    .col(WechatAccounts::TenantId)
                    .col(column)
                    .unique()
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

async fn create_login_failures(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(LoginFailures::Table)
                .col(
                    ColumnDef::new(LoginFailures::Subject)
                        .string_len(200)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(LoginFailures::FailedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("login_failures_subject_failed_at")
                .table(LoginFailures::Table)
                .col(LoginFailures::Subject)
                .col(LoginFailures::FailedAt)
                .to_owned(),
        )
        .await
}
