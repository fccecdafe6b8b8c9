//! Connecting to the database and bringing its schema up to date.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    Condition, ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DbErr, EntityTrait, Iterable, PrimaryKeyToColumn, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, TryGetableMany,
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
    connect_with(url, None).await
}

/// [`connect`] with at most `pool_size` connections: 8 on SQLite and 20 on
/// PostgreSQL when `None`. Several processes share one PostgreSQL, whose
/// `max_connections` bounds the sum of their pools.
pub async fn connect_with(url: &str, pool_size: Option<u32>) -> anyhow::Result<DatabaseConnection> {
    let default = if url.starts_with("sqlite") { 8 } else { 20 };
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(pool_size.unwrap_or(default))
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        // Pinging every connection on every checkout costs a round trip
        // per statement outside a transaction; only a connection idle long
        // enough to have been dropped by the server is pinged first.
        .test_before_acquire_if_idle_for(Duration::from_secs(10))
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

/// How often an operation is tried again when SQLite refuses a concurrent
/// write.
const CONTENDED_ATTEMPTS: u32 = 20;

/// Runs `operation` until it succeeds or fails for a reason other than
/// SQLite refusing a concurrent write (`contended` tells which). Each try
/// starts from the beginning, so that it sees what the other writer did.
pub async fn retry_contended<T, E, F, Fut>(
    mut operation: F,
    contended: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match operation().await {
            Err(e) if attempt < CONTENDED_ATTEMPTS && contended(&e) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt))).await;
            }
            outcome => return outcome,
        }
    }
}

/// Leases up to `limit` due rows of one table keyed by a UUID: each claimed
/// row's `next_attempt_at` moves to `lease_end`, so that no other sweeper
/// hands it out meanwhile, and its `returning` columns come back, decoded
/// in order as `T` (one type, or a tuple). The earliest due rows go first.
/// One transaction picks the rows and then updates exactly those, by key;
/// on PostgreSQL the pick locks them and skips rows that a concurrent
/// sweeper holds, so two sweepers never wait on each other or lease the
/// same row. (SQLite runs one writer at a time anyway.)
pub async fn lease_due<E, T>(
    db: &DatabaseConnection,
    due: Condition,
    next_attempt_at: E::Column,
    lease_end: DateTime<Utc>,
    limit: u64,
    returning: &[E::Column],
) -> anyhow::Result<Vec<T>>
where
    E: EntityTrait,
    T: TryGetableMany,
{
    let key = E::PrimaryKey::iter()
        .next()
        .context("a leased table needs a primary key")?
        .into_column();
    let txn = db.begin().await.context("failed to begin a lease")?;
    let picked: Vec<uuid::Uuid> = E::find()
        .select_only()
        .column(key)
        .filter(due)
        .order_by_asc(next_attempt_at)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .into_tuple()
        .all(&txn)
        .await
        .context("failed to find due rows")?;
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let update = Query::update()
        .table(E::default())
        .value(next_attempt_at, lease_end)
        .and_where(Expr::col(key).is_in(picked))
        .returning(Query::returning().columns(returning.iter().copied()))
        .to_owned();
    let statement = txn.get_database_backend().build(&update);
    let leased = txn
        .query_all_raw(statement)
        .await
        .context("failed to lease due rows")?;
    txn.commit().await.context("failed to commit a lease")?;
    leased
        .iter()
        .map(|row| T::try_get_many_by_index(row).map_err(DbErr::from))
        .collect::<Result<_, _>>()
        .context("failed to read a leased row")
}
