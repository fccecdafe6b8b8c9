//! Settlement (结算): each tenant's settings, the closed periods, one
//! statement per installer and period, disputes, adjustments, partner
//! firms' statements and the audit log of every statement's transitions.
//!
//! A statement holds its installer's ledger lines posted in
//! `covers_from..covers_until`: the span from the previous close's cutoff
//! to its own period's end. The rules that the database can hold, it
//! holds:
//! - each period starts where the one before ended: `covers_from` is unique
//!   per tenant and below `ends_at`, so the periods form one chain of
//!   disjoint spans, and a posted line belongs to at most one statement;
//! - a statement's `total_fen` is checked to be its lines plus adjustments;
//! - triggers refuse updates and deletes of ledger lines, adjustments and
//!   audit entries, and any change to the span and lines total of an
//!   issued statement.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::columns::*;
use crate::{created_at, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_settings(manager).await?;
        create_periods(manager).await?;
        create_statements(manager).await?;
        create_disputes(manager).await?;
        create_adjustments(manager).await?;
        create_firm_statements(manager).await?;
        create_audit(manager).await?;
        forbid_changes(manager).await
    }
}

async fn create_settings(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Alias::new("settlement_settings"))
                .col(uuid("tenant_id").primary_key())
                .col(text("cadence", 8))
                .col(integer("dispute_days"))
                .col(at("updated_at"))
                .to_owned(),
        )
        .await
}

async fn create_periods(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("settlement_periods"))
                .col(uuid("tenant_id"))
                .col(text("starts_on", 10))
                .col(text("ends_on", 10))
                .col(at("starts_at"))
                .col(at("ends_at"))
                .col(at("covers_from"))
                .col(text("cadence", 8))
                .col(integer("statements"))
                .col(uuid("closed_by"))
                .col(at("closed_at"))
                .check(Expr::col(Alias::new("covers_from")).lt(Expr::col(Alias::new("ends_at"))))
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "settlement_periods",
        &["tenant_id", "starts_on", "ends_on"],
        true,
    )
    .await?;
    // No two periods may start from the same cutoff: the chain never forks.
    index(
        manager,
        "settlement_periods",
        &["tenant_id", "covers_from"],
        true,
    )
    .await
}

async fn create_statements(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("statements"))
                .col(uuid("tenant_id"))
                .col(uuid("period_id"))
                .col(uuid("installer_id"))
                .col(optional_uuid("partner_id"))
                .col(text("status", 16))
                .col(at("covers_from"))
                .col(at("covers_until"))
                .col(integer("lines_count"))
                .col(fen("lines_total_fen"))
                .col(fen("adjustments_total_fen"))
                .col(fen("total_fen"))
                .col(at("issued_at"))
                .col(at("dispute_deadline"))
                .col(optional_at("confirmed_at"))
                .col(optional_at("paid_at"))
                .col(optional_text("payout_reference", 100))
                .col(at("updated_at"))
                .check(
                    Expr::col(Alias::new("total_fen")).eq(Expr::col(Alias::new("lines_total_fen"))
                        .add(Expr::col(Alias::new("adjustments_total_fen")))),
                )
                .to_owned(),
        )
        .await?;
    index(manager, "statements", &["period_id", "installer_id"], true).await?;
    index(manager, "statements", &["tenant_id", "installer_id"], false).await?;
    index(manager, "statements", &["tenant_id", "partner_id"], false).await
}

async fn create_disputes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("statement_disputes"))
                .col(uuid("tenant_id"))
                .col(uuid("statement_id"))
                .col(uuid("earnings_line_id"))
                .col(uuid("raised_by"))
                .col(text("reason", 500))
                .col(ColumnDef::new(Alias::new("photo_urls")).text().not_null())
                .col(text("status", 16))
                .col(optional_text("resolution", 500))
                .col(optional_uuid("resolved_by"))
                .col(optional_at("resolved_at"))
                .col(created_at())
                .to_owned(),
        )
        .await?;
    // One dispute per line: its resolution is final.
    index(manager, "statement_disputes", &["earnings_line_id"], true).await?;
    index(manager, "statement_disputes", &["statement_id"], false).await
}

async fn create_adjustments(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("statement_adjustments"))
                .col(uuid("tenant_id"))
                .col(uuid("statement_id"))
                .col(optional_uuid("dispute_id"))
                .col(fen("amount_fen"))
                .col(text("reason", 500))
                .col(uuid("actor_id"))
                .col(created_at())
                .to_owned(),
        )
        .await?;
    index(manager, "statement_adjustments", &["statement_id"], false).await
}

async fn create_firm_statements(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("firm_statements"))
                .col(uuid("tenant_id"))
                .col(uuid("period_id"))
                .col(uuid("partner_id"))
                .col(created_at())
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "firm_statements",
        &["period_id", "partner_id"],
        true,
    )
    .await?;
    index(
        manager,
        "firm_statements",
        &["tenant_id", "partner_id"],
        false,
    )
    .await
}

async fn create_audit(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            uuid_pk(Alias::new("statement_audit"))
                .col(uuid("tenant_id"))
                .col(uuid("statement_id"))
                .col(optional_uuid("actor_id"))
                .col(text("action", 32))
                .col(optional_text("from_status", 16))
                .col(text("to_status", 16))
                .col(optional_text("detail", 1000))
                .col(at("at"))
                .to_owned(),
        )
        .await?;
    index(manager, "statement_audit", &["statement_id", "at"], false).await
}

/// Tables whose rows, once written, never change or go away.
const APPEND_ONLY: [&str; 3] = ["earnings_lines", "statement_adjustments", "statement_audit"];

/// The columns of a statement that its close fixed for good.
const FIXED_STATEMENT_COLUMNS: &str =
    "period_id, installer_id, covers_from, covers_until, lines_count, lines_total_fen";

async fn forbid_changes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let statements = match manager.get_database_backend() {
        DatabaseBackend::Postgres => postgres_triggers(),
        DatabaseBackend::Sqlite => sqlite_triggers(),
        _ => {
            return Err(DbErr::Migration(
                "scrm runs on SQLite and PostgreSQL".into(),
            ));
        }
    };
    for statement in statements {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}

fn postgres_triggers() -> Vec<String> {
    let mut statements = vec![
        "CREATE FUNCTION scrm_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION '% rows never change (%)', TG_TABLE_NAME, TG_OP; END $$"
            .to_owned(),
    ];
    for table in APPEND_ONLY {
        statements.push(format!(
            "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION scrm_refuse_change()"
        ));
    }
    statements.push(format!(
        "CREATE TRIGGER statements_fixed BEFORE UPDATE OF {FIXED_STATEMENT_COLUMNS} OR DELETE \
         ON statements FOR EACH ROW EXECUTE FUNCTION scrm_refuse_change()"
    ));
    statements
}

fn sqlite_triggers() -> Vec<String> {
    let refuse = |name: &str, event: &str, table: &str| {
        format!(
            "CREATE TRIGGER {name} BEFORE {event} ON {table} \
             BEGIN SELECT RAISE(ABORT, '{table} rows never change'); END"
        )
    };
    let mut statements = Vec::new();
    for table in APPEND_ONLY {
        statements.push(refuse(&format!("{table}_no_update"), "UPDATE", table));
        statements.push(refuse(&format!("{table}_no_delete"), "DELETE", table));
    }
    statements.push(refuse(
        "statements_fixed",
        &format!("UPDATE OF {FIXED_STATEMENT_COLUMNS}"),
        "statements",
    ));
    statements.push(refuse("statements_no_delete", "DELETE", "statements"));
    statements
}
