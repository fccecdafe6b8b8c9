//! Admin: the users of the tenant.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use scrm_service::domain::{DisplayName, PartnerId, Phone, UserId, Username};
use scrm_service::users::{self, NewUser, User};
use scrm_service::validation::FieldErrors;

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    #[schema(format = Password)]
    pub password: String,
    /// `admin`, `dispatcher`, `installer`, `partner_manager` or `customer`.
    pub role: String,
    pub name: String,
    /// An 11-digit mainland mobile number.
    pub phone: Option<String>,
    /// Installers only, and required for them: `employee`, `partner` or
    /// `freelance`.
    pub cooperation_mode: Option<String>,
    /// The partner firm of a `partner_manager`, or of an installer in
    /// `partner` mode.
    pub partner_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: String,
    pub username: String,
    pub role: String,
    pub name: String,
    pub phone: Option<String>,
    pub cooperation_mode: Option<String>,
    pub partner_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserResponse>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl From<User> for UserResponse {
    fn from(user: User) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username,
            role: user.role.as_str().to_owned(),
            name: user.name,
            phone: user.phone.map(|p| p.expose().to_owned()),
            cooperation_mode: user.cooperation_mode.map(|m| m.as_str().to_owned()),
            partner_id: user.partner_id.map(|p| p.to_string()),
            created_at: user.created_at,
        }
    }
}

impl CreateUserRequest {
    /// Parses every field, reporting every problem at once.
    fn parse(self) -> Result<NewUser, ApiError> {
        let mut errors = FieldErrors::new();
        let username = errors.check("username", Username::parse(&self.username));
        let role = errors.check("role", self.role.parse());
        let name = errors.check("name", DisplayName::parse(&self.name));
        let phone = self.phone.map(|p| errors.check("phone", Phone::parse(&p)));
        let cooperation_mode = self
            .cooperation_mode
            .map(|m| errors.check("cooperation_mode", m.parse()));
        let partner_id = self.partner_id.map(|p| {
            errors.check(
                "partner_id",
                PartnerId::parse(&p).map_err(|_| "is not a partner id".into()),
            )
        });
        let password = SecretString::from(self.password);
        errors.check("password", users::check_password(&password));
        errors.finish().map_err(ApiError::validation)?;

        match (username, role, name) {
            (Some(username), Some(role), Some(name)) => Ok(NewUser {
                username,
                password,
                role,
                name,
                phone: phone.flatten(),
                cooperation_mode: cooperation_mode.flatten(),
                partner_id: partner_id.flatten(),
            }),
            _ => Err(ApiError::unexpected(anyhow::anyhow!(
                "a parsed field went missing"
            ))),
        }
    }
}

/// Creates a user in the admin's tenant.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), request_body = CreateUserRequest, responses(
    (status = 201, body = UserResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`username_taken`."),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_user(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = body.parse()?;
    let user = users::create_user(&state.db, &caller.scope(), new).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/admin/users/{}", user.id)))
        .json(UserResponse::from(user)))
}

/// The users of the admin's tenant, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), params(PageQuery), responses(
    (status = 200, body = UserPage),
))]
pub async fn list_users(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = users::list_users(&state.db, &caller.scope(), query.parse()?).await?;
    let page = page.map(UserResponse::from);
    Ok(HttpResponse::Ok().json(UserPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One user of the admin's tenant; 404 for any other id.
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = UserResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_user(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::parse(&id).map_err(|_| ApiError::not_found())?;
    let user = users::get_user(&state.db, &caller.scope(), id).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}
