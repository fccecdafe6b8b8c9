//! Admin: sales channels, the inbox of their webhook events, and the WeChat
//! subscribe-message templates of notifications.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use scrm_service::channels::inbox::{self, EventFilter, GetEventError, InboxEvent};
use scrm_service::channels::{self, Channel, CreateChannelError, IssuedSecret, RotateSecretError};
use scrm_service::domain::{ChannelId, DisplayName, WebhookEventId};
use scrm_service::notifications::NotificationKind;
use scrm_service::notifications::templates::{
    self, FieldSource, PutTemplateError, TemplateSetting,
};
use scrm_worker::jobs::ProcessWebhookEvent;
use scrm_worker::queue::Job;

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, DEFAULT_BODY_LIMIT, PageQuery, RawBody, parse_json};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannelRequest {
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretRequest {
    /// How long the current secret keeps verifying beside the new one, in
    /// seconds (0 to 604800). 86400 (a day) when absent.
    pub overlap_seconds: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SecretResponse {
    pub id: String,
    /// `whsec_` + base64; the HMAC key is the decoded bytes. Shown once.
    pub secret: String,
    /// Until when the previous secret also verifies, after a rotation.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
}

impl From<IssuedSecret> for SecretResponse {
    fn from(issued: IssuedSecret) -> Self {
        Self {
            id: issued.id.to_string(),
            secret: issued.secret,
            previous_secret_valid_until: issued.previous_secret_valid_until,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelResponse {
    pub id: String,
    pub name: String,
    /// The address the channel posts its events to.
    pub webhook_path: String,
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Channel> for ChannelResponse {
    fn from(channel: Channel) -> Self {
        Self {
            webhook_path: format!("/api/v1/webhooks/{}", channel.id),
            id: channel.id.to_string(),
            name: channel.name,
            previous_secret_valid_until: channel.previous_secret_valid_until,
            created_at: channel.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelPage {
    pub items: Vec<ChannelResponse>,
    pub next_cursor: Option<String>,
}

/// The overlap a rotation gives when none is named: a day.
const DEFAULT_OVERLAP_SECS: i64 = 86_400;

/// Registers a sales channel and answers its id and signing secret.
#[utoipa::path(post, path = "/api/v1/admin/webhook-channels", tag = "channels", security(("bearer" = [])), request_body = CreateChannelRequest, responses(
    (status = 201, body = SecretResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`channel_exists`: the name is taken."),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_channel(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateChannelRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = DisplayName::parse(&body.name).map_err(|m| ApiError::invalid_field("name", m))?;
    let issued = channels::create_channel(&state.db, &caller.scope(), name, Utc::now())
        .await
        .map_err(|e| match e {
            CreateChannelError::NameTaken => ApiError::new(
                actix_web::http::StatusCode::CONFLICT,
                "channel_exists",
                "A channel of this name exists.",
            ),
            CreateChannelError::Unexpected(cause) => ApiError::unexpected(cause),
        })?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/webhooks/{}", issued.id)))
        .json(SecretResponse::from(issued)))
}

/// The tenant's channels, oldest first. Secrets are never listed.
#[utoipa::path(get, path = "/api/v1/admin/webhook-channels", tag = "channels", security(("bearer" = [])), params(PageQuery), responses(
    (status = 200, body = ChannelPage),
))]
pub async fn list_channels(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = channels::list_channels(&state.db, &caller.scope(), query.parse()?).await?;
    let page = page.map(ChannelResponse::from);
    Ok(HttpResponse::Ok().json(ChannelPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Gives a channel a new secret. The current one keeps verifying for the
/// overlap, so that the shop can switch without losing deliveries; after it,
/// only the new one does. The new secret verifies at once on every API
/// process; the replaced one may still verify for up to 5 seconds after the
/// overlap on API processes other than the one that rotated it, the life of
/// their copy of the channel. The body is optional; a body that is sent
/// must parse, or nothing is rotated.
#[utoipa::path(post, path = "/api/v1/admin/webhook-channels/{id}/rotate-secret", tag = "channels", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RotateSecretRequest, responses(
    (status = 200, body = SecretResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
    RawBody(body): RawBody<DEFAULT_BODY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let id = ChannelId::parse(&path).map_err(|_| ApiError::not_found())?;
    // The body is optional, but one that is sent must be read: an
    // `Option<ApiJson<_>>` turns a body that does not parse into `None`, which
    // rotated the secret with the default overlap whatever the body said.
    let body: RotateSecretRequest = if body.is_empty() {
        RotateSecretRequest::default()
    } else {
        parse_json(&body)?
    };
    let overlap = body.overlap_seconds.unwrap_or(DEFAULT_OVERLAP_SECS);
    let kept = state.inbox.channels();
    let issued = channels::rotate_secret(&state.db, kept, &caller.scope(), id, overlap, Utc::now())
        .await
        .map_err(|e| match e {
            RotateSecretError::NotFound => ApiError::not_found(),
            RotateSecretError::BadOverlap => {
                ApiError::invalid_field("overlap_seconds", e.to_string())
            }
            RotateSecretError::Unexpected(cause) => ApiError::unexpected(cause),
        })?;
    Ok(HttpResponse::Ok().json(SecretResponse::from(issued)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    pub channel_id: Option<String>,
    /// `accepted`, `processed`, `failed` or `dead`.
    pub status: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    pub id: String,
    pub channel_id: String,
    pub webhook_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// `accepted`, `processed`, `failed` (tried again at `next_attempt_at`)
    /// or `dead` (gave up; replay it once the cause is mended).
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub processed_at: Option<DateTime<Utc>>,
    pub body: serde_json::Value,
}

impl From<InboxEvent> for EventResponse {
    fn from(event: InboxEvent) -> Self {
        Self {
            id: event.id.to_string(),
            channel_id: event.channel_id.to_string(),
            webhook_id: event.webhook_id,
            event_type: event.event_type,
            status: event.status,
            attempts: event.attempts,
            last_error: event.last_error,
            received_at: event.received_at,
            next_attempt_at: event.next_attempt_at,
            processed_at: event.processed_at,
            body: event.body,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<EventResponse>,
    pub next_cursor: Option<String>,
}

const STATUSES: [&str; 4] = ["accepted", "processed", "failed", "dead"];

/// Every event the tenant's channels sent, oldest first, with its status.
#[utoipa::path(get, path = "/api/v1/admin/webhook-events", tag = "channels", security(("bearer" = [])), params(EventQuery), responses(
    (status = 200, body = EventPage),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list_events(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<EventQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    let channel_id = query
        .channel_id
        .as_deref()
        .map(ChannelId::parse)
        .transpose()
        .map_err(|_| ApiError::invalid_field("channel_id", "is not a channel id"))?;
    if let Some(status) = &query.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::invalid_field(
            "status",
            "must be accepted, processed, failed or dead",
        ));
    }
    let filter = EventFilter {
        channel_id,
        status: query.status.clone(),
    };
    let page = inbox::list_events(&state.db, &caller.scope(), filter, page).await?;
    let page = page.map(EventResponse::from);
    Ok(HttpResponse::Ok().json(EventPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

fn event_error(error: GetEventError) -> ApiError {
    match error {
        GetEventError::NotFound => ApiError::not_found(),
        GetEventError::Unexpected(cause) => ApiError::unexpected(cause),
    }
}

/// One received event.
#[utoipa::path(get, path = "/api/v1/admin/webhook-events/{id}", tag = "channels", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = EventResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_event(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = WebhookEventId::parse(&path).map_err(|_| ApiError::not_found())?;
    let event = inbox::get_event(&state.db, &caller.scope(), id)
        .await
        .map_err(event_error)?;
    Ok(HttpResponse::Ok().json(EventResponse::from(event)))
}

/// Processes an event again, with its attempts reset: for a dead event once
/// its cause is mended. Replaying an event that already took effect changes
/// nothing, because a channel's order number maps to one work order.
#[utoipa::path(post, path = "/api/v1/admin/webhook-events/{id}/replay", tag = "channels", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = EventResponse, description = "Queued again; `status` is `accepted`."),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn replay_event(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = WebhookEventId::parse(&path).map_err(|_| ApiError::not_found())?;
    let event = inbox::replay_event(&state.db, &caller.scope(), id, Utc::now())
        .await
        .map_err(event_error)?;
    match Job::new(&ProcessWebhookEvent { event_id: id }) {
        Ok(job) => {
            if let Err(error) = state.queue.enqueue(job).await {
                tracing::warn!(
                    error.message = format!("{:#}", error.0),
                    "replay not queued; the sweeper will queue it"
                );
            }
        }
        Err(error) => tracing::warn!(error.message = %error, "replay job not built"),
    }
    Ok(HttpResponse::Ok().json(EventResponse::from(event)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutTemplateRequest {
    /// The subscribe-message template id from the WeChat console.
    pub template_id: String,
    /// The mini-program page a tap opens, such as `pages/orders/detail`.
    pub page: Option<String>,
    /// Template field key (`thing1`, `amount2`, …) → the value it shows:
    /// `title`, `body`, `amount` (`¥240.00`), `order_number`, `node` or
    /// `time` (China Standard Time). Values are cut to what WeChat allows
    /// for the field's type (`thing`: 20 characters). When absent, a
    /// default mapping for the kind is used.
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub fields: Option<BTreeMap<String, FieldSource>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateResponse {
    pub kind: String,
    pub template_id: String,
    pub page: Option<String>,
    #[schema(value_type = BTreeMap<String, String>)]
    pub fields: BTreeMap<String, FieldSource>,
}

impl From<TemplateSetting> for TemplateResponse {
    fn from(setting: TemplateSetting) -> Self {
        Self {
            kind: setting.kind.as_str().to_owned(),
            template_id: setting.template_id,
            page: setting.page,
            fields: setting.fields,
        }
    }
}

/// Sets the WeChat subscribe-message template of one kind of notification:
/// `order_progress`, `earnings_posted`, `statement_issued`,
/// `dispute_resolved` or `overdue`. A kind without a template is delivered
/// in the app only.
#[utoipa::path(put, path = "/api/v1/admin/wechat-templates/{kind}", tag = "channels", security(("bearer" = [])),
    params(("kind" = String, Path)), request_body = PutTemplateRequest, responses(
    (status = 200, body = TemplateResponse),
    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such kind."),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn put_template(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
    ApiJson(body): ApiJson<PutTemplateRequest>,
) -> Result<HttpResponse, ApiError> {
    let kind = NotificationKind::parse_templated(&path).ok_or_else(ApiError::not_found)?;
    let setting = TemplateSetting {
        kind,
        template_id: body.template_id,
        page: body.page,
        fields: body
            .fields
            .unwrap_or_else(|| templates::default_fields(kind)),
    };
    templates::put_template(&state.db, &caller.scope(), &setting, Utc::now())
        .await
        .map_err(|e| match e {
            PutTemplateError::Invalid { field, message } => {
                ApiError::invalid_field(&field, message)
            }
            PutTemplateError::Unexpected(cause) => ApiError::unexpected(cause),
        })?;
    Ok(HttpResponse::Ok().json(TemplateResponse::from(setting)))
}

/// The templates the tenant has set.
#[utoipa::path(get, path = "/api/v1/admin/wechat-templates", tag = "channels", security(("bearer" = [])), responses(
    (status = 200, body = Vec<TemplateResponse>),
))]
pub async fn list_templates(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let settings = templates::list_templates(&state.db, &caller.scope()).await?;
    let listed: Vec<TemplateResponse> = settings.into_iter().map(TemplateResponse::from).collect();
    Ok(HttpResponse::Ok().json(listed))
}
