//! `scrm-worker`: the worker alone, for running several beside any number
//! of `scrm serve --no-worker` API processes on one PostgreSQL and one
//! Redis.

use anyhow::Context;
use secrecy::ExposeSecret;

use scrm_worker::settings::{self, SettingsError};
use scrm_worker::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init(LogFormat::from_env()?);
    let database = settings::database_from_env()?;
    let redis_url = settings::redis_from_env()?.ok_or_else(|| {
        SettingsError::new(
            "REDIS_URL",
            "is required by scrm-worker; without Redis, `scrm serve` runs jobs in-process",
        )
    })?;

    let db = scrm_service::db::connect(database.url.expose_secret()).await?;
    scrm_service::db::migrate(&db).await?;
    let client = redis::Client::open(redis_url.expose_secret()).context("bad REDIS_URL")?;
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .context("failed to connect to Redis")?;
    let _: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .context("Redis did not answer PING")?;

    // TODO: consuming jobs from the Redis stream is not built yet, so this
    // process only proves that its database and Redis answer; until it is,
    // jobs run inside `scrm serve`.
    tracing::info!("scrm-worker is connected and waiting for a stop signal");
    scrm_worker::shutdown::signal().await;
    tracing::info!("scrm-worker stopped");
    Ok(())
}
