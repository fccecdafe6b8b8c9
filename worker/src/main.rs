//! `scrm-worker`: the worker alone, for running several beside any number
//! of `scrm serve --no-worker` API processes on one PostgreSQL and one
//! Redis. It consumes the job stream and sweeps the database for due work;
//! on SIGTERM or Ctrl-C it stops reading, gives the jobs in hand 30 seconds
//! and exits 0.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;

use scrm_service::retry::RetryPolicy;
use scrm_worker::jobs::JobContext;
use scrm_worker::metrics::WorkerMetrics;
use scrm_worker::redis_stream::ConsumerOptions;
use scrm_worker::runtime::{Background, QueueBackend};
use scrm_worker::settings::{self, SettingsError};
use scrm_worker::telemetry::{self, LogFormat};

/// How long the jobs in hand get after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

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
    let stream = settings::redis_stream_from_env()?;
    let wechat = settings::wechat_from_env()?
        .map(|w| w.client())
        .transpose()?;

    let db =
        scrm_service::db::connect_with(database.url.expose_secret(), database.pool_size).await?;
    scrm_service::db::migrate(&db).await?;
    let client = redis::Client::open(redis_url.expose_secret()).context("bad REDIS_URL")?;
    let metrics = match settings::metrics_bind_from_env()? {
        Some(addr) => Some(serve_metrics(addr).await?),
        None => None,
    };
    let context = Arc::new(JobContext {
        db,
        wechat,
        policy: RetryPolicy::default(),
        metrics,
    });
    let backend = QueueBackend::Redis { client, stream };
    let (_queue, background) =
        Background::start(context, &backend, true, ConsumerOptions::default()).await?;

    tracing::info!("scrm-worker is running");
    scrm_worker::shutdown::signal().await;
    tracing::info!("stop signal received; finishing the jobs in hand");
    background.stop(SHUTDOWN_GRACE).await;
    tracing::info!("scrm-worker stopped");
    Ok(())
}

/// Registers the worker's counters and answers them on `addr`.
async fn serve_metrics(addr: std::net::SocketAddr) -> anyhow::Result<WorkerMetrics> {
    let registry = prometheus::Registry::new();
    let metrics = WorkerMetrics::register(&registry)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to listen on METRICS_BIND {addr}"))?;
    tracing::info!(metrics.addr = %addr, "serving /metrics");
    tokio::spawn(scrm_worker::metrics_endpoint::serve(listener, registry));
    Ok(metrics)
}
