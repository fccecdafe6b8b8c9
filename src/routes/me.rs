//! The signed-in user's own account.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::auth::wechat_client;
use crate::routes::users::UserResponse;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WechatBindingRequest {
    /// The `code` of `wx.login`.
    pub code: String,
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", security(("bearer" = [])), responses(
    (status = 200, body = UserResponse),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_me(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let user = scrm_service::users::get_user(&state.db, &caller.scope(), caller.user_id()).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

/// Binds the WeChat account behind `code` to the signed-in user, so that it
/// can sign in with `wx.login` and receive pushes.
#[utoipa::path(post, path = "/api/v1/me/wechat-binding", tag = "me", security(("bearer" = [])), request_body = WechatBindingRequest, responses(
    (status = 204, description = "Bound."),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`wechat_already_bound`: another user holds this WeChat account."),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
pub async fn bind_wechat(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<WechatBindingRequest>,
) -> Result<HttpResponse, ApiError> {
    let client = wechat_client(&state)?;
    scrm_service::auth::bind_wechat(&state.db, client, &caller, &body.code).await?;
    Ok(HttpResponse::NoContent().finish())
}
