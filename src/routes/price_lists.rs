//! Admin: price lists, from draft to published.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use scrm_service::domain::{DisplayName, PriceListId};
use scrm_service::price_lists::{self, Gap, NewPrice, NewPriceList, PriceList};
use scrm_service::pricing::money::{Fen, Rate};
use scrm_service::validation::FieldErrors;

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePriceListRequest {
    pub name: String,
    /// When the list takes effect once published.
    pub effective_from: DateTime<Utc>,
    pub prices: Vec<PriceRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceRequest {
    /// A service item's code.
    pub service_item: String,
    /// A tier's code.
    pub tier: String,
    /// `employee`, `partner` or `freelance`; absent for the general price,
    /// which a mode's own price beats.
    pub cooperation_mode: Option<String>,
    /// Fen per unit, not negative.
    pub unit_price_fen: Option<i64>,
    /// A share of the sale price, from `"0.0000"` to `"1.0000"`.
    pub rate: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceResponse {
    pub service_item: String,
    pub tier: String,
    pub cooperation_mode: Option<String>,
    pub unit_price_fen: Option<i64>,
    pub rate: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceListResponse {
    pub id: String,
    pub name: String,
    pub version: i32,
    /// `draft` or `published`.
    pub status: String,
    pub effective_from: DateTime<Utc>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub published_by: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// Empty in lists; complete in the detail.
    pub prices: Vec<PriceResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceListPage {
    pub items: Vec<PriceListResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedResponse {
    #[serde(flatten)]
    pub price_list: PriceListResponse,
    /// Item × tier combinations that some cooperation mode has no price
    /// for: orders of those will be unpriced, never priced at zero.
    pub unpriced: Vec<GapResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GapResponse {
    pub service_item: String,
    pub tier: String,
    pub cooperation_modes: Vec<String>,
}

impl From<PriceList> for PriceListResponse {
    fn from(list: PriceList) -> Self {
        Self {
            id: list.id.to_string(),
            name: list.name,
            version: list.version,
            status: list.status.to_owned(),
            effective_from: list.effective_from,
            created_by: list.created_by.to_string(),
            created_at: list.created_at,
            published_by: list.published_by.map(|u| u.to_string()),
            published_at: list.published_at,
            prices: list.prices.into_iter().map(PriceResponse::from).collect(),
        }
    }
}

impl From<NewPrice> for PriceResponse {
    fn from(price: NewPrice) -> Self {
        Self {
            service_item: price.service_item,
            tier: price.tier,
            cooperation_mode: price.cooperation_mode.map(|m| m.as_str().to_owned()),
            unit_price_fen: price.unit_price_fen.map(Fen::get),
            rate: price.rate.map(|r| r.to_string()),
        }
    }
}

impl From<Gap> for GapResponse {
    fn from(gap: Gap) -> Self {
        Self {
            service_item: gap.service_item,
            tier: gap.tier,
            cooperation_modes: gap
                .cooperation_modes
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
        }
    }
}

fn parse_price(i: usize, price: &PriceRequest, errors: &mut FieldErrors) -> Option<NewPrice> {
    let field = |name: &str| format!("prices[{i}].{name}");
    let mode = price
        .cooperation_mode
        .as_deref()
        .map(|m| errors.check(&field("cooperation_mode"), m.parse()));
    let unit = price
        .unit_price_fen
        .map(|f| errors.check(&field("unit_price_fen"), Fen::non_negative(f)));
    let rate = price
        .rate
        .as_deref()
        .map(|r| errors.check(&field("rate"), Rate::parse(r)));
    if unit.is_none() && rate.is_none() {
        errors.add(
            &format!("prices[{i}]"),
            "needs a unit_price_fen, a rate, or both",
        );
    }
    let (mode, unit, rate) = (lift(mode)?, lift(unit)?, lift(rate)?);
    Some(NewPrice {
        service_item: price.service_item.clone(),
        tier: price.tier.clone(),
        cooperation_mode: mode,
        unit_price_fen: unit,
        rate,
    })
}

/// `None` when an optional field was given but did not parse.
fn lift<T>(value: Option<Option<T>>) -> Option<Option<T>> {
    match value {
        None => Some(None),
        Some(parsed) => parsed.map(Some),
    }
}

/// Writes a draft price list. It takes effect only once published.
#[utoipa::path(post, path = "/api/v1/admin/price-lists", tag = "pricing", security(("bearer" = [])), request_body = CreatePriceListRequest, responses(
    (status = 201, body = PriceListResponse),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "Every invalid price, each named by its path such as `prices[2].rate`."),
))]
pub async fn create_price_list(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreatePriceListRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", DisplayName::parse(&body.name));
    let prices: Vec<Option<NewPrice>> = body
        .prices
        .iter()
        .enumerate()
        .map(|(i, p)| parse_price(i, p, &mut errors))
        .collect();
    errors.finish().map_err(ApiError::validation)?;
    let new = NewPriceList {
        name: name.ok_or_else(|| ApiError::invalid_field("name", "is required"))?,
        effective_from: body.effective_from,
        prices: prices.into_iter().flatten().collect(),
    };
    let list =
        price_lists::create_price_list(&state.db, &caller.scope(), caller.user_id(), new).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/admin/price-lists/{}", list.id),
        ))
        .json(PriceListResponse::from(list)))
}

/// Publishes a draft: from its `effective_from` it is the list in force,
/// and it never changes again. The answer lists what it leaves unpriced.
#[utoipa::path(post, path = "/api/v1/admin/price-lists/{id}/publish", tag = "pricing", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = PublishedResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_published`."),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`effective_from` is in the past while a later list exists."),
))]
pub async fn publish_price_list(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = PriceListId::parse(&id).map_err(|_| ApiError::not_found())?;
    let (list, gaps) = price_lists::publish_price_list(
        &state.db,
        &caller.scope(),
        caller.user_id(),
        id,
        Utc::now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(PublishedResponse {
        price_list: list.into(),
        unpriced: gaps.into_iter().map(GapResponse::from).collect(),
    }))
}

/// Every version, oldest first, without prices.
#[utoipa::path(get, path = "/api/v1/admin/price-lists", tag = "pricing", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = PriceListPage)))]
pub async fn list_price_lists(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = price_lists::list_price_lists(&state.db, &caller.scope(), query.parse()?).await?;
    let page = page.map(PriceListResponse::from);
    Ok(HttpResponse::Ok().json(PriceListPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One version with its prices.
#[utoipa::path(get, path = "/api/v1/admin/price-lists/{id}", tag = "pricing", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = PriceListResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_price_list(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = PriceListId::parse(&id).map_err(|_| ApiError::not_found())?;
    let list = price_lists::get_price_list(&state.db, &caller.scope(), id).await?;
    Ok(HttpResponse::Ok().json(PriceListResponse::from(list)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComparisonResponse {
    pub orders: u64,
    /// What the orders were locked at.
    pub old_total_fen: i64,
    /// What this list would price them at, unpriced orders left out.
    pub new_total_fen: i64,
    /// Orders this list has no price for.
    pub unpriced_orders: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierComparison {
    pub tier: String,
    #[serde(flatten)]
    pub comparison: ComparisonResponse,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstallerComparison {
    pub installer_id: String,
    pub name: String,
    #[serde(flatten)]
    pub comparison: ComparisonResponse,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewResponse {
    pub price_list: String,
    pub version: i32,
    /// The orders compared are those whose quote was locked in this window.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub overall: ComparisonResponse,
    pub by_tier: Vec<TierComparison>,
    pub by_installer: Vec<InstallerComparison>,
}

impl From<price_lists::Comparison> for ComparisonResponse {
    fn from(c: price_lists::Comparison) -> Self {
        Self {
            orders: c.orders,
            old_total_fen: c.old_total_fen.get(),
            new_total_fen: c.new_total_fen.get(),
            unpriced_orders: c.unpriced_orders,
        }
    }
}

/// Prices the orders locked in the last 30 days again with this list, and
/// sets their old totals beside the new ones: overall, per tier and per
/// installer.
#[utoipa::path(post, path = "/api/v1/admin/price-lists/{id}/preview", tag = "pricing", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = PreviewResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn preview_price_list(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = PriceListId::parse(&id).map_err(|_| ApiError::not_found())?;
    let preview =
        price_lists::preview_price_list(&state.db, &caller.scope(), id, Utc::now()).await?;
    Ok(HttpResponse::Ok().json(PreviewResponse {
        price_list: preview.price_list.to_string(),
        version: preview.version,
        from: preview.from,
        to: preview.to,
        overall: preview.overall.into(),
        by_tier: preview
            .by_tier
            .into_iter()
            .map(|(tier, c)| TierComparison {
                tier,
                comparison: c.into(),
            })
            .collect(),
        by_installer: preview
            .by_installer
            .into_iter()
            .map(|(id, name, c)| InstallerComparison {
                installer_id: id.to_string(),
                name,
                comparison: c.into(),
            })
            .collect(),
    }))
}
