//! The signed-in user's notifications.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use scrm_service::domain::NotificationId;
use scrm_service::notifications::{self, MarkReadError, NotificationView};

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::PageQuery;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only unread notifications.
    pub unread: Option<bool>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationResponse {
    pub id: String,
    /// `order_progress`, `earnings_posted`, `statement_issued`,
    /// `dispute_resolved`, `overdue` or `statement_paid`.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub work_order_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read: bool,
    pub read_at: Option<DateTime<Utc>>,
    /// `pending`, `sent` (pushed to WeChat), `in_app` (no push: no template
    /// or no bound WeChat), `refused` (the user declined pushes) or
    /// `failed`.
    pub delivery: String,
}

impl From<NotificationView> for NotificationResponse {
    fn from(view: NotificationView) -> Self {
        Self {
            id: view.id.to_string(),
            kind: view.kind,
            title: view.title,
            body: view.body,
            work_order_id: view.work_order_id.map(|id| id.to_string()),
            created_at: view.created_at,
            read: view.read,
            read_at: view.read_at,
            delivery: view.delivery,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationResponse>,
    pub next_cursor: Option<String>,
    /// How many of the user's notifications are unread, in all.
    pub unread: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedRead {
    pub marked: u64,
}

/// The signed-in user's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "me", security(("bearer" = [])), params(NotificationQuery), responses(
    (status = 200, body = NotificationPage),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list_my_notifications(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<NotificationQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    let unread_only = query.unread.unwrap_or(false);
    let page = notifications::list_mine(&state.db, &caller, unread_only, page).await?;
    let unread = notifications::count_unread(&state.db, &caller).await?;
    let page = page.map(NotificationResponse::from);
    Ok(HttpResponse::Ok().json(NotificationPage {
        items: page.items,
        next_cursor: page.next_cursor,
        unread,
    }))
}

/// Marks one notification read.
#[utoipa::path(post, path = "/api/v1/me/notifications/{id}/read", tag = "me", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = NotificationResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn mark_notification_read(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = NotificationId::parse(&path).map_err(|_| ApiError::not_found())?;
    let view = notifications::mark_read(&state.db, &caller, id, Utc::now())
        .await
        .map_err(|e| match e {
            MarkReadError::NotFound => ApiError::not_found(),
            MarkReadError::Unexpected(cause) => ApiError::unexpected(cause),
        })?;
    Ok(HttpResponse::Ok().json(NotificationResponse::from(view)))
}

/// Marks every unread notification read.
#[utoipa::path(post, path = "/api/v1/me/notifications/read-all", tag = "me", security(("bearer" = [])), responses(
    (status = 200, body = MarkedRead),
))]
pub async fn mark_all_notifications_read(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let marked = notifications::mark_all_read(&state.db, &caller, Utc::now()).await?;
    Ok(HttpResponse::Ok().json(MarkedRead { marked }))
}
