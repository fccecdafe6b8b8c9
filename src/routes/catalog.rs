//! Admin: service items and tiers (档位).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use scrm_service::catalog::{self, ServiceItem, Tier};
use scrm_service::domain::{CatalogCode, DisplayName, ServiceItemId, TierId};
use scrm_service::validation::FieldErrors;

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceItemRequest {
    /// Such as `AC-INSTALL`: letters, digits, `-` and `_`.
    pub code: String,
    /// Such as 空调挂机安装.
    pub name: String,
    /// What a quantity of one means: 台, 套, 次 …
    pub unit: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTierRequest {
    /// Such as `T1`.
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceItemResponse {
    pub id: String,
    pub code: String,
    pub name: String,
    pub unit: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierResponse {
    pub id: String,
    pub code: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceItemPage {
    pub items: Vec<ServiceItemResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierPage {
    pub items: Vec<TierResponse>,
    pub next_cursor: Option<String>,
}

impl From<ServiceItem> for ServiceItemResponse {
    fn from(item: ServiceItem) -> Self {
        Self {
            id: item.id.to_string(),
            code: item.code,
            name: item.name,
            unit: item.unit,
            created_at: item.created_at,
        }
    }
}

impl From<Tier> for TierResponse {
    fn from(tier: Tier) -> Self {
        Self {
            id: tier.id.to_string(),
            code: tier.code,
            name: tier.name,
            created_at: tier.created_at,
        }
    }
}

/// Parses a code and a name, reporting both problems at once.
fn code_and_name(
    code: &str,
    name: &str,
    errors: &mut FieldErrors,
) -> Option<(CatalogCode, DisplayName)> {
    let code = errors.check("code", CatalogCode::parse(code));
    let name = errors.check("name", DisplayName::parse(name));
    code.zip(name)
}

/// Creates a service item.
#[utoipa::path(post, path = "/api/v1/admin/service-items", tag = "pricing", security(("bearer" = [])), request_body = CreateServiceItemRequest, responses(
    (status = 201, body = ServiceItemResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`code_taken`."),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_service_item(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateServiceItemRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let parsed = code_and_name(&body.code, &body.name, &mut errors);
    let unit = errors.check("unit", DisplayName::parse(&body.unit));
    errors.finish().map_err(ApiError::validation)?;
    let ((code, name), unit) = parsed.zip(unit).ok_or_else(missing_field)?;
    let item = catalog::create_service_item(&state.db, &caller.scope(), code, name, unit).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/admin/service-items/{}", item.id),
        ))
        .json(ServiceItemResponse::from(item)))
}

/// Creates a tier.
#[utoipa::path(post, path = "/api/v1/admin/tiers", tag = "pricing", security(("bearer" = [])), request_body = CreateTierRequest, responses(
    (status = 201, body = TierResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`code_taken`."),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_tier(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateTierRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let parsed = code_and_name(&body.code, &body.name, &mut errors);
    errors.finish().map_err(ApiError::validation)?;
    let (code, name) = parsed.ok_or_else(missing_field)?;
    let tier = catalog::create_tier(&state.db, &caller.scope(), code, name).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/admin/tiers/{}", tier.id)))
        .json(TierResponse::from(tier)))
}

fn missing_field() -> ApiError {
    ApiError::unexpected(anyhow::anyhow!("a parsed field went missing"))
}

/// The service items, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/service-items", tag = "pricing", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = ServiceItemPage)))]
pub async fn list_service_items(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = catalog::list_service_items(&state.db, &caller.scope(), query.parse()?).await?;
    let page = page.map(ServiceItemResponse::from);
    Ok(HttpResponse::Ok().json(ServiceItemPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// The tiers, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/tiers", tag = "pricing", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = TierPage)))]
pub async fn list_tiers(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = catalog::list_tiers(&state.db, &caller.scope(), query.parse()?).await?;
    let page = page.map(TierResponse::from);
    Ok(HttpResponse::Ok().json(TierPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One service item.
#[utoipa::path(get, path = "/api/v1/admin/service-items/{id}", tag = "pricing", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = ServiceItemResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_service_item(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ServiceItemId::parse(&id).map_err(|_| ApiError::not_found())?;
    let item = catalog::get_service_item(&state.db, &caller.scope(), id).await?;
    Ok(HttpResponse::Ok().json(ServiceItemResponse::from(item)))
}

/// One tier.
#[utoipa::path(get, path = "/api/v1/admin/tiers/{id}", tag = "pricing", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = TierResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_tier(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = TierId::parse(&id).map_err(|_| ApiError::not_found())?;
    let tier = catalog::get_tier(&state.db, &caller.scope(), id).await?;
    Ok(HttpResponse::Ok().json(TierResponse::from(tier)))
}
