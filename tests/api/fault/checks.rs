//! What the fault test reads back: counts from the test's database, and
//! the state of the job stream.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TryGetable, Value};

use crate::helpers::{TestApp, say};

/// How often the drain's progress is shown.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Inbox events still to be processed.
pub const UNSETTLED: &str =
    "SELECT COUNT(*) FROM webhook_events WHERE status IN ('accepted', 'failed')";

/// Runs a query that answers one number.
pub async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    scalar(db, sql, []).await
}

/// Runs a query that answers one value. The test's own connections are
/// dropped with everyone else's, so a failed query is tried a few times.
pub async fn scalar<T, const N: usize>(db: &DatabaseConnection, sql: &str, values: [Value; N]) -> T
where
    T: TryGetable,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        match try_scalar(db, sql, values.clone()).await {
            Ok(value) => return value,
            Err(e) if attempts >= 5 => panic!("the query fails: {e:#}: {sql}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn try_scalar<T: TryGetable, const N: usize>(
    db: &DatabaseConnection,
    sql: &str,
    values: [Value; N],
) -> anyhow::Result<T> {
    let statement = Statement::from_sql_and_values(db.get_database_backend(), sql, values);
    let row = db.query_one_raw(statement).await?;
    let row = row.ok_or_else(|| anyhow::anyhow!("no row"))?;
    Ok(row.try_get_by_index::<T>(0)?)
}

/// Jobs pending in the group, and entries in the stream. A missing stream
/// or group holds none.
pub async fn stream_state(redis: &redis::Client, stream: &str) -> (usize, usize) {
    let Ok(mut connection) = redis.get_multiplexed_async_connection().await else {
        return (usize::MAX, usize::MAX);
    };
    let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
        .arg(stream)
        .arg("scrm-workers")
        .query_async(&mut connection)
        .await
        .unwrap_or_default();
    let length: usize = redis::cmd("XLEN")
        .arg(stream)
        .query_async(&mut connection)
        .await
        .unwrap_or(usize::MAX);
    (pending.count(), length)
}

/// Waits until no inbox event is left to process and the stream is empty,
/// failing once `limit` has passed since `since`; answers how long after
/// `since` that was.
pub async fn until_drained(
    app: &TestApp,
    redis: &redis::Client,
    since: Instant,
    limit: Duration,
) -> Duration {
    let mut reported = Instant::now();
    loop {
        let unsettled = count(&app.db, UNSETTLED).await;
        let (pending, length) = stream_state(redis, &app.redis_stream).await;
        if unsettled == 0 && pending == 0 && length == 0 {
            return since.elapsed();
        }
        if reported.elapsed() >= REPORT_EVERY {
            reported = Instant::now();
            say(&format!(
                "fault test: {:>6.1}s after the last fault: {unsettled} inbox events \
                 unsettled, {pending} jobs pending, {length} in the stream",
                since.elapsed().as_secs_f64()
            ));
        }
        assert!(
            since.elapsed() < limit,
            "not drained {limit:?} after the last fault: {unsettled} inbox events unsettled, \
             {pending} jobs pending, {length} in the stream"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Asserts that `sql` counts `expected`, and says so.
pub async fn expect(app: &TestApp, sql: &str, expected: i64, what: &str) {
    let found = count(&app.db, sql).await;
    assert_eq!(found, expected, "{what}: {sql}");
    say(&format!("fault test: check passed: {what} ({found})"));
}
