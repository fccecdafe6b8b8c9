//! Sign-in with a password or a WeChat code, and token refresh.

use actix_web::{HttpResponse, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use scrm_service::auth::{self as service, SignedIn};

use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The tenant's code, such as `acme`.
    pub tenant: String,
    pub username: String,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WechatLoginRequest {
    pub tenant: String,
    /// The `code` of `wx.login`.
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A new session: an access token for `Authorization: Bearer`, and a
/// refresh token that works once.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
    pub user: SessionUser,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionUser {
    pub id: String,
    /// `admin`, `dispatcher`, `installer`, `partner_manager` or `customer`.
    pub role: String,
    pub name: String,
}

impl From<SignedIn> for SessionResponse {
    fn from(signed_in: SignedIn) -> Self {
        Self {
            access_token: signed_in.access_token,
            token_type: "Bearer",
            expires_in: signed_in.expires_in,
            refresh_token: signed_in.refresh_token,
            user: SessionUser {
                id: signed_in.user.id.to_string(),
                role: signed_in.user.role.as_str().to_owned(),
                name: signed_in.user.name,
            },
        }
    }
}

/// Signs in with a password. After 10 failures for one user within
/// 15 minutes, answers 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = SessionResponse),
    (status = 401, body = Problem, content_type = "application/problem+json", description = "Wrong tenant, username or password."),
    (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many failures; see Retry-After."),
))]
pub async fn login(
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let signed_in = service::sign_in_with_password(
        &state.db,
        &state.tokens,
        &body.tenant,
        &body.username,
        SecretString::from(body.password),
    )
    .await?;
    Ok(HttpResponse::Ok().json(SessionResponse::from(signed_in)))
}

/// Exchanges a refresh token for a new pair. Reusing a refresh token
/// answers 401 and revokes every token descended from the same sign-in.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = SessionResponse),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn refresh(
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let signed_in = service::refresh_session(&state.db, &state.tokens, &body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(SessionResponse::from(signed_in)))
}

/// Signs in with the code of `wx.login`. A WeChat account bound to no user
/// signs in as a new customer of the tenant.
#[utoipa::path(post, path = "/api/v1/auth/wechat/login", tag = "auth", request_body = WechatLoginRequest, responses(
    (status = 200, body = SessionResponse),
    (status = 401, body = Problem, content_type = "application/problem+json", description = "`invalid_wechat_code`: WeChat refused the code (errcode 40029)."),
    (status = 404, body = Problem, content_type = "application/problem+json", description = "No tenant has this code."),
    (status = 503, body = Problem, content_type = "application/problem+json", description = "WeChat is busy (errcode -1 or 45011) or unreachable, or WeChat sign-in is not configured; see Retry-After."),
))]
pub async fn wechat_login(
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<WechatLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let client = wechat_client(&state)?;
    let signed_in =
        service::sign_in_with_wechat(&state.db, &state.tokens, client, &body.tenant, &body.code)
            .await?;
    Ok(HttpResponse::Ok().json(SessionResponse::from(signed_in)))
}

/// The WeChat client, or 503 when WeChat is not configured.
pub fn wechat_client(state: &AppState) -> Result<&scrm_service::wechat::WechatClient, ApiError> {
    state.wechat.as_ref().ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "wechat_not_configured",
            "WeChat sign-in is not configured on this server.",
        )
    })
}
