//! Signed webhooks from sales channels.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use scrm_service::channels::group_commit::AfterCommit;
use scrm_service::channels::inbox::{MAX_BODY_BYTES, ReceiveError, Received};
use scrm_service::channels::signature::SignedHeaders;
use scrm_service::domain::{ChannelId, WebhookEventId};
use scrm_worker::jobs::ProcessWebhookEvent;
use scrm_worker::queue::{Job, Queue};

use crate::error::{ApiError, Problem};
use crate::extract::RawBody;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceipt {
    /// The inbox event's id, which an admin can look up.
    pub event_id: String,
    /// `accepted` (stored now) or `duplicate` (this `webhook-id` was
    /// stored before; nothing happens twice).
    pub status: &'static str,
}

/// A channel's event, signed as Standard Webhooks says: `webhook-id`,
/// `webhook-timestamp` (Unix seconds, within 5 minutes of the server's
/// clock) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` of
/// `"{id}.{timestamp}.{body}"`; several may be given, separated by spaces,
/// and one valid one is enough). `202` means the event is stored and will be
/// processed whatever happens afterwards.
#[utoipa::path(post, path = "/api/v1/webhooks/{channel_id}", tag = "webhooks",
    params(("channel_id" = String, Path, description = "The channel's id.")),
    request_body(content = serde_json::Value, description = "`{\"type\", \"data\"}`: `order.paid`, `order.refunded`, or any other type, which is stored and does nothing."),
    responses(
        (status = 202, body = WebhookReceipt, description = "Accepted."),
        (status = 200, body = WebhookReceipt, description = "This `webhook-id` was accepted before; nothing happens twice."),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not a channel event."),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "A signing header is missing, no signature is valid, or the timestamp is more than 5 minutes away."),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such channel."),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "The body is over 256 KiB."),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "`rate_limited`: the channel sent more than its allowance (1,000 a second per API process by default, in bursts of twice that); `Retry-After` says when to send again. Nothing was stored."),
    ))]
pub async fn receive_webhook(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    RawBody(body): RawBody<MAX_BODY_BYTES>,
) -> Result<HttpResponse, ApiError> {
    let channel_id = ChannelId::parse(&path).map_err(|_| ApiError::not_found())?;
    if let Some(limiter) = &state.webhook_limiter {
        limiter
            .check(channel_id.as_uuid(), std::time::Instant::now())
            .map_err(|wait| {
                ApiError::new(
                    actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "This channel sent more webhooks than it may; send again after Retry-After.",
                )
                .retry_after(wait.as_secs().max(1))
            })?;
    }
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let headers = SignedHeaders {
        webhook_id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    };
    // Answered once the event is committed. Its job is queued by the inbox
    // writer after the commit (see `queue_accepted_events`).
    let received = state
        .inbox
        .receive(channel_id, headers, &body, Utc::now())
        .await
        .map_err(receive_error)?;
    let (status, event_id, word) = match received {
        Received::Accepted(id) => (actix_web::http::StatusCode::ACCEPTED, id, "accepted"),
        Received::Duplicate(id) => (actix_web::http::StatusCode::OK, id, "duplicate"),
    };
    Ok(HttpResponse::build(status).json(WebhookReceipt {
        event_id: event_id.to_string(),
        status: word,
    }))
}

/// What the inbox writer does with the events each batch committed: one
/// `webhook_event` job for each, queued together (one pipelined round trip
/// on Redis). A queue that refuses them is logged and otherwise ignored:
/// the events are stored, and the sweeper queues them after their grace.
pub fn queue_accepted_events(queue: Arc<dyn Queue>) -> AfterCommit {
    Arc::new(move |ids: Vec<WebhookEventId>| {
        let queue = Arc::clone(&queue);
        Box::pin(async move {
            let count = ids.len();
            let jobs: Result<Vec<Job>, _> = ids
                .into_iter()
                .map(|event_id| Job::new(&ProcessWebhookEvent { event_id }))
                .collect();
            let queued = match jobs {
                Ok(jobs) => queue.enqueue_many(jobs).await.map_err(|e| e.0),
                Err(e) => Err(e.into()),
            };
            if let Err(error) = queued {
                tracing::warn!(
                    webhook_event.count = count,
                    error.message = format!("{error:#}"),
                    "events are stored but could not be queued; the sweeper will queue them"
                );
            }
        })
    })
}

fn receive_error(error: ReceiveError) -> ApiError {
    match error {
        ReceiveError::UnknownChannel => ApiError::not_found(),
        ReceiveError::Signature(e) => ApiError::unauthorized("invalid_signature", e.to_string()),
        ReceiveError::Malformed(detail) => ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "malformed_event",
            detail,
        ),
        ReceiveError::Unexpected(cause) => ApiError::unexpected(cause),
    }
}
