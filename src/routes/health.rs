//! Liveness, readiness and metrics, outside `/api/v1`.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;

/// How long a dependency may take to answer a readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether each dependency answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `up` or `down`.
    pub database: &'static str,
    /// `up`, `down`, or `not_configured` when the queue is in-process.
    pub redis: &'static str,
}

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process runs.")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// 200 only while the database, and Redis where one is configured, answer.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Readiness, description = "Every dependency answers."),
    (status = 503, body = Readiness, description = "A dependency does not answer."),
))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database_up = tokio::time::timeout(PROBE_TIMEOUT, scrm_service::db::ping(&state.db))
        .await
        .unwrap_or(false);
    let redis = match &state.redis {
        None => "not_configured",
        Some(client) if ping_redis(client).await => "up",
        Some(_) => "down",
    };
    let readiness = Readiness {
        database: if database_up { "up" } else { "down" },
        redis,
    };
    if database_up && redis != "down" {
        HttpResponse::Ok().json(readiness)
    } else {
        tracing::warn!(
            readiness.database = readiness.database,
            readiness.redis = readiness.redis,
            "not ready"
        );
        HttpResponse::ServiceUnavailable().json(readiness)
    }
}

async fn ping_redis(client: &redis::Client) -> bool {
    let probe = async {
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .ok()
    };
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, probe).await,
        Ok(Some(_))
    )
}

/// The Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format.", content_type = "text/plain")))]
pub async fn metrics(
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    refresh_gauges(&state, &metrics.worker).await;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render()?))
}

/// Reads the gauges that live outside this process: the inbox and the
/// outbox from the database, and the job stream from Redis. A source that
/// does not answer leaves its gauges as they were; `/readyz` reports it.
async fn refresh_gauges(state: &AppState, worker: &scrm_worker::metrics::WorkerMetrics) {
    if let Ok(counts) = scrm_service::channels::process::count_by_type_and_status(&state.db).await {
        worker.inbox.reset();
        for (event_type, status, count) in counts {
            worker
                .inbox
                .with_label_values(&[&event_type, &status])
                .set(count);
        }
    }
    if let Ok(counts) = scrm_service::notifications::delivery::count_by_outcome(&state.db).await {
        worker.outbox.reset();
        for (delivery, errcode, count) in counts {
            let errcode = errcode.map_or_else(|| "none".to_owned(), |c| c.to_string());
            worker
                .outbox
                .with_label_values(&[&delivery, &errcode])
                .add(count);
        }
    }
    if let Some(client) = &state.redis
        && let Ok(mut connection) = scrm_worker::redis_stream::gauge_connection(client).await
        && let Ok(gauges) =
            scrm_worker::redis_stream::queue_gauges(&mut connection, &state.redis_stream).await
    {
        for (measure, value) in gauges {
            worker.queue.with_label_values(&[measure]).set(value);
        }
    }
}
