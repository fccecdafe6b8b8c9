//! Workflows and the work orders that follow them: definitions by version,
//! orders with their lines and timeline, and the notification outbox that
//! node actions write to.

use sea_orm_migration::prelude::*;

use crate::columns::*;
use crate::{created_at, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_workflows(manager).await?;
        create_work_orders(manager).await?;
        create_order_children(manager).await?;
        create_outbox(manager).await
    }
}

async fn create_workflows(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("workflows"))
                .col(uuid("tenant_id"))
                .col(text("key", 64))
                .col(integer("version"))
                .col(text("name", 100))
                .col(text("business_type", 64))
                .col(text("status", 16))
                .col(ColumnDef::new(Alias::new("definition")).text().not_null())
                .col(optional_uuid("created_by"))
                .col(optional_uuid("published_by"))
                .col(optional_at("published_at"))
                .col(created_at())
                .to_owned(),
        )
        .await?;
    index(manager, "workflows", &["tenant_id", "key", "version"], true).await
}

async fn create_work_orders(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("work_orders"))
                .col(uuid("tenant_id"))
                .col(text("number", 32))
                .col(uuid("workflow_id"))
                .col(text("workflow_key", 64))
                .col(integer("workflow_version"))
                .col(text("node_key", 64))
                .col(text("phase", 16))
                .col(text("status", 16))
                .col(optional_uuid("customer_id"))
                .col(text("customer_name", 100))
                .col(text("customer_phone", 32))
                .col(text("customer_address", 500))
                .col(optional_text("region_code", 6))
                .col(optional_text("region_name", 200))
                .col(optional_text("region_candidates", 2000))
                .col(optional_uuid("assignee_id"))
                .col(optional_text("external_order_no", 128))
                .col(optional_uuid("parent_id"))
                .col(at("node_entered_at"))
                .col(optional_at("due_at"))
                .col(integer("version"))
                .col(optional_uuid("created_by"))
                .col(optional_text("cancel_reason", 500))
                .col(created_at())
                .col(at("updated_at"))
                .col(optional_at("closed_at"))
                .to_owned(),
        )
        .await?;
    index(manager, "work_orders", &["tenant_id", "number"], true).await?;
    index(
        manager,
        "work_orders",
        &["tenant_id", "status", "id"],
        false,
    )
    .await?;
    index(
        manager,
        "work_orders",
        &["tenant_id", "assignee_id", "id"],
        false,
    )
    .await?;
    index(
        manager,
        "work_orders",
        &["tenant_id", "customer_id", "id"],
        false,
    )
    .await?;
    index(
        manager,
        "work_orders",
        &["tenant_id", "external_order_no"],
        false,
    )
    .await?;
    index(manager, "work_orders", &["tenant_id", "parent_id"], false).await
}

async fn create_order_children(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("work_order_lines"))
                .col(uuid("tenant_id"))
                .col(uuid("work_order_id"))
                .col(integer("line_no"))
                .col(text("service_item", 64))
                .col(integer("quantity"))
                .col(
                    ColumnDef::new(Alias::new("sale_price_fen"))
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "work_order_lines",
        &["tenant_id", "work_order_id", "line_no"],
        true,
    )
    .await?;
    manager
        .create_table(
            uuid_pk(Alias::new("work_order_events"))
                .col(uuid("tenant_id"))
                .col(uuid("work_order_id"))
                .col(optional_text("from_node", 64))
                .col(text("to_node", 64))
                .col(text("action", 64))
                .col(optional_uuid("actor_id"))
                .col(optional_text("comment", 1000))
                .col(at("at"))
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "work_order_events",
        &["tenant_id", "work_order_id", "at"],
        false,
    )
    .await
}

async fn create_outbox(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("notifications"))
                .col(uuid("tenant_id"))
                .col(uuid("recipient_id"))
                .col(text("kind", 32))
                .col(optional_uuid("work_order_id"))
                .col(text("title", 100))
                .col(ColumnDef::new(Alias::new("body")).text().not_null())
                .col(optional_at("read_at"))
                .col(optional_at("delivered_at"))
                .col(created_at())
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "notifications",
        &["tenant_id", "recipient_id", "id"],
        false,
    )
    .await?;
    index(manager, "notifications", &["delivered_at", "id"], false).await
}
