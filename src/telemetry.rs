//! The request span and the one log line per request.
//!
//! tracing-actix-web opens a span per request with a generated request id;
//! [`RequestSpan`] adds the `user.id` field that authentication fills in.
//! [`observe`] echoes the request id as `x-request-id`, counts the request
//! in the metrics, and logs one line when it is answered.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

use crate::metrics::Metrics;

/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The root span of every request.
#[derive(Debug)]
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing_actix_web::root_span!(request, user.id = tracing::field::Empty)
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Echoes the request id, records metrics and logs the answer.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req.extensions().get::<RequestId>().map(ToString::to_string);
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();

    let outcome = next.call(req).await;

    let elapsed = started.elapsed();
    let response = match outcome {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => {
            // Inner layers answer errors as responses; one that escapes is
            // still counted, and actix turns it into its answer.
            let status = error.as_response_error().status_code().as_u16();
            if let Some(metrics) = metrics {
                metrics.observe(&method, "unmatched", status, elapsed.as_secs_f64());
            }
            return Err(error);
        }
    };
    let mut response = crate::error::into_problem(response).await;
    let status = response.status().as_u16();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, status, elapsed.as_secs_f64());
    }
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    tracing::info!(
        http.status = status,
        http.route = %route,
        duration_ms = elapsed.as_millis() as u64,
        "request answered"
    );
    Ok(response)
}
