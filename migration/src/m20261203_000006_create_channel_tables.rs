//! Sales channels and what they send: channels with their signing secrets,
//! the inbox of received webhook events, the link from a channel's order
//! number to its work order, per-tenant WeChat subscribe-message templates,
//! and the delivery state of notifications.

use sea_orm_migration::prelude::*;

use crate::columns::*;
use crate::{created_at, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_channels(manager).await?;
        create_inbox(manager).await?;
        create_templates(manager).await?;
        extend_work_orders(manager).await?;
        extend_notifications(manager).await
    }
}

async fn create_channels(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("webhook_channels"))
                .col(uuid("tenant_id"))
                .col(text("name", 100))
                .col(text("secret", 200))
                .col(optional_text("previous_secret", 200))
                .col(optional_at("previous_secret_until"))
                .col(created_at())
                .col(at("updated_at"))
                .to_owned(),
        )
        .await?;
    index(manager, "webhook_channels", &["tenant_id", "name"], true).await
}

async fn create_inbox(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("webhook_events"))
                .col(uuid("tenant_id"))
                .col(uuid("channel_id"))
                .col(text("webhook_id", 200))
                .col(text("event_type", 100))
                .col(ColumnDef::new(Alias::new("body")).text().not_null())
                .col(text("status", 16))
                .col(integer("attempts"))
                .col(optional_text("last_error", 1000))
                .col(at("received_at"))
                .col(at("next_attempt_at"))
                .col(optional_at("processed_at"))
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "webhook_events",
        &["channel_id", "webhook_id"],
        true,
    )
    .await?;
    index(
        manager,
        "webhook_events",
        &["status", "next_attempt_at"],
        false,
    )
    .await?;
    index(
        manager,
        "webhook_events",
        &["tenant_id", "channel_id", "received_at"],
        false,
    )
    .await
}

async fn create_templates(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Alias::new("wechat_templates"))
                .col(uuid("tenant_id"))
                .col(text("kind", 32))
                .col(text("template_id", 128))
                .col(optional_text("page", 200))
                .col(ColumnDef::new(Alias::new("fields")).text().not_null())
                .col(at("updated_at"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("tenant_id"))
                        .col(Alias::new("kind")),
                )
                .to_owned(),
        )
        .await
}

/// SQLite adds one column per statement, so each column is its own change.
async fn add_column(
    manager: &SchemaManager<'_>,
    table: &'static str,
    column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(Alias::new(table))
                .add_column(column)
                .to_owned(),
        )
        .await
}

async fn extend_work_orders(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    add_column(manager, "work_orders", optional_uuid("channel_id")).await?;
    add_column(manager, "work_orders", optional_at("overdue_reminded_for")).await?;
    // One work order per channel order number; orders without a channel
    // (NULL) are not constrained.
    index(
        manager,
        "work_orders",
        &["channel_id", "external_order_no"],
        true,
    )
    .await?;
    index(manager, "work_orders", &["status", "due_at"], false).await
}

async fn extend_notifications(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    add_column(
        manager,
        "notifications",
        ColumnDef::new(Alias::new("delivery"))
            .string_len(16)
            .not_null()
            .default("pending")
            .to_owned(),
    )
    .await?;
    add_column(
        manager,
        "notifications",
        ColumnDef::new(Alias::new("attempts"))
            .integer()
            .not_null()
            .default(0)
            .to_owned(),
    )
    .await?;
    add_column(manager, "notifications", optional_at("next_attempt_at")).await?;
    add_column(
        manager,
        "notifications",
        optional_text("delivery_error", 300),
    )
    .await?;
    // The values a push message shows (amount, order number, time), as JSON.
    add_column(manager, "notifications", optional_text("data", 2000)).await?;
    index(
        manager,
        "notifications",
        &["delivery", "next_attempt_at"],
        false,
    )
    .await
}
