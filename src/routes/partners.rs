//! Admin: partner firms (服务商).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use scrm_service::domain::{DisplayName, PartnerId};
use scrm_service::partners::{self, Partner};

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePartnerRequest {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerResponse {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerPage {
    pub items: Vec<PartnerResponse>,
    pub next_cursor: Option<String>,
}

impl From<Partner> for PartnerResponse {
    fn from(partner: Partner) -> Self {
        Self {
            id: partner.id.to_string(),
            name: partner.name,
            created_at: partner.created_at,
        }
    }
}

/// Creates a partner firm in the admin's tenant.
#[utoipa::path(post, path = "/api/v1/admin/partners", tag = "admin", security(("bearer" = [])), request_body = CreatePartnerRequest, responses(
    (status = 201, body = PartnerResponse),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_partner(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreatePartnerRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = DisplayName::parse(&body.name).map_err(|m| ApiError::invalid_field("name", m))?;
    let partner = partners::create_partner(&state.db, &caller.scope(), name).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/admin/partners/{}", partner.id),
        ))
        .json(PartnerResponse::from(partner)))
}

/// The partner firms of the admin's tenant, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/partners", tag = "admin", security(("bearer" = [])), params(PageQuery), responses(
    (status = 200, body = PartnerPage),
))]
pub async fn list_partners(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = partners::list_partners(&state.db, &caller.scope(), query.parse()?).await?;
    let page = page.map(PartnerResponse::from);
    Ok(HttpResponse::Ok().json(PartnerPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One partner firm of the admin's tenant; 404 for any other id.
#[utoipa::path(get, path = "/api/v1/admin/partners/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = PartnerResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_partner(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = PartnerId::parse(&id).map_err(|_| ApiError::not_found())?;
    let partner = partners::get_partner(&state.db, &caller.scope(), id).await?;
    Ok(HttpResponse::Ok().json(PartnerResponse::from(partner)))
}
