//! Connecting to the database and bringing its schema up to date.

use std::time::Duration;

use anyhow::Context;
use scrm_migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    TransactionTrait,
};

/// The database URL used when `DATABASE_URL` is unset: a SQLite file in the
/// working folder, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://scrm.db?mode=rwc";

/// An arbitrary constant that names the migration lock among PostgreSQL
/// advisory locks.
const MIGRATION_LOCK_KEY: i64 = 0x5c12_0001;

/// Opens a connection pool. SQL statement logging is off: sqlx would log
/// every statement at INFO, with its parameters.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if url.starts_with("sqlite") { 8 } else { 20 })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .context("failed to connect to the database")?;
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        // WAL lets readers work beside the one writer. The mode is kept in the
        // file, so setting it on one connection serves them all; sqlx already
        // gives every connection a 5 s busy timeout.
        db.execute_unprepared("PRAGMA journal_mode = WAL;")
            .await
            .context("failed to configure SQLite")?;
    }
    Ok(db)
}

/// Applies pending migrations. On PostgreSQL the whole run holds a
/// transaction-scoped advisory lock, so that several processes starting at
/// once apply each migration exactly once: the others wait, then find
/// nothing left to do. SQLite serialises writers on its own.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    let txn = db.begin().await.context("failed to begin the migration")?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await
        .context("failed to take the migration lock")?;
    }
    Migrator::up(&txn, None)
        .await
        .context("failed to apply migrations")?;
    txn.commit()
        .await
        .context("failed to commit the migrations")?;
    tracing::info!("database schema is up to date");
    Ok(())
}

/// Answers whether the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

/// Whether a database error is a unique-constraint violation: the one place
/// that recognises them, so that callers can answer 409 or 422.
pub fn is_unique_violation(error: &sea_orm::DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Whether an error comes from SQLite refusing a write while another
/// connection writes (`SQLITE_BUSY`). Such an operation can simply be tried
/// again; PostgreSQL waits for the other writer instead.
pub fn is_write_contention(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let text = cause.to_string();
        text.contains("database is locked")
            || text.contains("(code: 5)")
            || text.contains("(code: 517)")
    })
}
