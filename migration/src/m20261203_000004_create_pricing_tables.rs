//! Pricing: service items, tiers and the regions mapped to them, price lists
//! and their entries, locked quote lines and the append-only earnings
//! ledger. Money is `BIGINT` fen; a rate is `BIGINT` ten-thousandths.

use sea_orm_migration::prelude::*;

use crate::columns::*;
use crate::{created_at, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_catalog(manager).await?;
        create_price_lists(manager).await?;
        create_quote_lines(manager).await?;
        create_earnings_lines(manager).await
    }
}

async fn create_catalog(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    for table in ["service_items", "tiers"] {
        let mut create = uuid_pk(Alias::new(table));
        create
            .col(uuid("tenant_id"))
            .col(text("code", 64))
            .col(text("name", 200));
        if table == "service_items" {
            create.col(text("unit", 32));
        }
        manager
            .create_table(create.col(created_at()).to_owned())
            .await?;
        index(manager, table, &["tenant_id", "code"], true).await?;
    }
    manager
        .create_table(
            uuid_pk(Alias::new("region_tiers"))
                .col(uuid("tenant_id"))
                .col(text("region_code", 6))
                .col(uuid("tier_id"))
                .col(created_at())
                .to_owned(),
        )
        .await?;
    index(manager, "region_tiers", &["tenant_id", "region_code"], true).await?;
    manager
        .create_table(
            Table::create()
                .table(Alias::new("tier_defaults"))
                .col(uuid("tenant_id").primary_key().to_owned())
                .col(uuid("tier_id"))
                .col(at("updated_at"))
                .to_owned(),
        )
        .await
}

async fn create_price_lists(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("price_lists"))
                .col(uuid("tenant_id"))
                .col(text("name", 200))
                .col(ColumnDef::new(Alias::new("version")).integer().not_null())
                .col(text("status", 16))
                .col(at("effective_from"))
                .col(uuid("created_by"))
                .col(ColumnDef::new(Alias::new("published_by")).uuid().null())
                .col(
                    ColumnDef::new(Alias::new("published_at"))
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(created_at())
                .to_owned(),
        )
        .await?;
    index(manager, "price_lists", &["tenant_id", "version"], true).await?;
    index(
        manager,
        "price_lists",
        &["tenant_id", "status", "effective_from"],
        false,
    )
    .await?;
    manager
        .create_table(
            uuid_pk(Alias::new("price_list_entries"))
                .col(uuid("tenant_id"))
                .col(uuid("price_list_id"))
                .col(text("service_item", 64))
                .col(text("tier", 64))
                // `any` for the general price; unique indexes treat NULLs as
                // distinct, so a NULL could not keep duplicates out.
                .col(text("cooperation_mode", 16))
                .col(optional_big("unit_price_fen"))
                .col(optional_big("rate_ten_thousandths"))
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "price_list_entries",
        &[
            "tenant_id",
            "price_list_id",
            "service_item",
            "tier",
            "cooperation_mode",
        ],
        true,
    )
    .await
}

/// The columns that a locked quote line and an earnings line share.
fn line_columns(create: &mut TableCreateStatement) {
    create
        .col(uuid("tenant_id"))
        .col(uuid("work_order_id"))
        .col(ColumnDef::new(Alias::new("line_no")).integer().not_null())
        .col(text("kind", 32))
        .col(text("service_item", 64))
        .col(text("label", 200))
        .col(ColumnDef::new(Alias::new("quantity")).integer().not_null())
        .col(fen("sale_price_fen"))
        .col(optional_big("unit_price_fen"))
        .col(optional_big("rate_ten_thousandths"))
        .col(fen("amount_fen"))
        .col(ColumnDef::new(Alias::new("explanation")).text().not_null())
        .col(uuid("price_list_id"))
        .col(
            ColumnDef::new(Alias::new("price_list_version"))
                .integer()
                .not_null(),
        )
        .col(text("price_list_name", 200))
        .col(text("tier", 64))
        .col(text("region_code", 6))
        .col(
            ColumnDef::new(Alias::new("cooperation_mode"))
                .string_len(16)
                .null(),
        );
}

async fn create_quote_lines(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut create = uuid_pk(Alias::new("quote_lines"));
    line_columns(&mut create);
    create
        .col(uuid("installer_id"))
        // The installer's mode when the quote was locked, so that a preview
        // can price the same order again under another list.
        .col(text("installer_mode", 16))
        .col(at("locked_at"));
    manager.create_table(create.to_owned()).await?;
    index(
        manager,
        "quote_lines",
        &["tenant_id", "work_order_id", "line_no"],
        true,
    )
    .await?;
    index(manager, "quote_lines", &["tenant_id", "locked_at"], false).await
}

async fn create_earnings_lines(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut create = uuid_pk(Alias::new("earnings_lines"));
    line_columns(&mut create);
    create
        .col(uuid("installer_id"))
        // `posting` or `reversal`: each line is posted, and reversed, at most once.
        .col(text("entry", 16))
        .col(at("posted_at"));
    manager.create_table(create.to_owned()).await?;
    index(
        manager,
        "earnings_lines",
        &["tenant_id", "work_order_id", "line_no", "entry"],
        true,
    )
    .await?;
    index(
        manager,
        "earnings_lines",
        &["tenant_id", "installer_id", "posted_at"],
        false,
    )
    .await
}
