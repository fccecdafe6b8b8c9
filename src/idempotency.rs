//! The `Idempotency-Key` header of state-changing requests: the same key
//! with the same body replays the first answer and changes nothing again.
//! It wraps scopes inside their role check, so the caller is already
//! verified; requests without the header and other methods pass through.
//! Sign-in routes are left out on purpose: their answers hold tokens, which
//! must not be stored.

use actix_web::HttpResponse;
use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::web;

use actix_web::HttpMessage;
use scrm_service::auth::Principal;
use scrm_service::idempotency::{self, Claim, IdempotencyKey, StoredResponse};

use crate::error::ApiError;
use crate::extract::{DEFAULT_BODY_LIMIT, RawBody};
use crate::state::AppState;

/// The request header that carries the key.
pub const HEADER: &str = "idempotency-key";
/// Set on a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotency-replayed";

/// The middleware function; wrap it inside a scope's [`crate::authn::RequireRole`].
pub async fn idempotent_posts(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = match req.headers().get(HEADER) {
        Some(value) if req.method() == Method::POST => {
            value.to_str().unwrap_or_default().to_owned()
        }
        _ => {
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body);
        }
    };
    let Some(principal) = req.extensions().get::<Principal>().copied() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let key = match IdempotencyKey::parse(&key) {
        Ok(key) => key,
        Err(message) => {
            return Ok(req.error_response(ApiError::invalid_field("Idempotency-Key", message)));
        }
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        let missing = ApiError::unexpected(anyhow::anyhow!("the app state is missing"));
        return Ok(req.error_response(missing));
    };

    let body = match req.extract::<RawBody<DEFAULT_BODY_LIMIT>>().await {
        Ok(RawBody(body)) => body.freeze(),
        Err(error) => return Ok(req.error_response(error)),
    };
    let hash = idempotency::fingerprint(req.method().as_str(), req.path(), &body);
    let claim_id = match idempotency::claim(&state.db, &principal, &key, &hash).await {
        Ok(Claim::Fresh(id)) => id,
        Ok(Claim::Replay(stored)) => return Ok(req.into_response(replay(stored))),
        Err(error) => return Ok(req.error_response(ApiError::from(error))),
    };
    req.set_payload(Payload::from(body));

    match next.call(req).await {
        Ok(response) => remember(&state, claim_id, response.map_into_boxed_body()).await,
        Err(error) => {
            idempotency::release(&state.db, claim_id)
                .await
                .map_err(ApiError::from)?;
            Err(error)
        }
    }
}

async fn remember(
    state: &AppState,
    claim_id: uuid::Uuid,
    response: ServiceResponse<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if response.status().is_server_error() {
        idempotency::release(&state.db, claim_id)
            .await
            .map_err(ApiError::from)?;
        return Ok(response);
    }
    let (request, response) = response.into_parts();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (head, body) = response.into_parts();
    let bytes = body::to_bytes(body)
        .await
        .map_err(|_| ApiError::unexpected(anyhow::anyhow!("failed to read a response body")))?;
    let stored = StoredResponse {
        status: head.status().as_u16(),
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    idempotency::complete(&state.db, claim_id, stored)
        .await
        .map_err(ApiError::from)?;
    let response = head.set_body(bytes).map_into_boxed_body();
    Ok(ServiceResponse::new(request, response))
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    response.insert_header((REPLAYED_HEADER, "true"));
    if let Some(content_type) = stored.content_type {
        response.insert_header((header::CONTENT_TYPE, content_type));
    }
    response.body(stored.body)
}
