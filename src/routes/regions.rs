//! Admin: which tier each region is priced at, and what a free-text address
//! resolves to.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use scrm_service::domain::CatalogCode;
use scrm_service::region_tiers::{self, RegionTiers};
use scrm_service::regions::{Region, RegionCode, Regions, Resolution};
use scrm_service::validation::FieldErrors;

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionTiersRequest {
    /// The tier of every region that no mapping covers.
    pub default_tier: String,
    pub mappings: Vec<RegionTierMapping>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionTierMapping {
    /// A GB/T 2260 code of 2 (province), 4 (city) or 6 (district) digits.
    pub region_code: String,
    pub tier: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionTiersResponse {
    pub default_tier: Option<String>,
    pub mappings: Vec<MappedRegion>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MappedRegion {
    pub region_code: String,
    /// The region's full name, such as 广东省深圳市.
    pub region_name: Option<String>,
    pub tier: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// Any address as a customer or a shop writes it.
    pub address: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResolveResponse {
    /// The most specific region the address names, or `null` when it names
    /// none or several equally well.
    pub region: Option<ResolvedRegion>,
    /// When the address is ambiguous, every region it could mean.
    pub candidates: Vec<RegionName>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResolvedRegion {
    pub code: String,
    pub name: String,
    /// The tier this region is priced at, or `null` when none applies.
    pub tier: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionName {
    pub code: String,
    pub name: String,
}

impl From<Region> for RegionName {
    fn from(region: Region) -> Self {
        Self {
            code: region.code.as_str().to_owned(),
            name: region.name,
        }
    }
}

fn tiers_response(tiers: RegionTiers) -> RegionTiersResponse {
    let regions = Regions::shipped();
    RegionTiersResponse {
        default_tier: tiers.default_tier,
        mappings: tiers
            .mappings
            .into_iter()
            .map(|(code, tier)| MappedRegion {
                region_name: regions.get(&code).map(|r| r.name),
                region_code: code.as_str().to_owned(),
                tier,
            })
            .collect(),
    }
}

/// Replaces the whole mapping of regions to tiers. A district's mapping
/// beats its city's, and a city's beats its province's.
#[utoipa::path(put, path = "/api/v1/admin/region-tiers", tag = "pricing", security(("bearer" = [])), request_body = RegionTiersRequest, responses(
    (status = 200, body = RegionTiersResponse),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn put_region_tiers(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<RegionTiersRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let default_tier = errors.check("default_tier", CatalogCode::parse(&body.default_tier));
    let mut mappings = Vec::with_capacity(body.mappings.len());
    for (i, mapping) in body.mappings.iter().enumerate() {
        let code = errors.check(
            &format!("mappings[{i}].region_code"),
            RegionCode::parse(&mapping.region_code),
        );
        let tier = errors.check(
            &format!("mappings[{i}].tier"),
            CatalogCode::parse(&mapping.tier),
        );
        mappings.extend(code.zip(tier));
    }
    errors.finish().map_err(ApiError::validation)?;
    let default_tier =
        default_tier.ok_or_else(|| ApiError::invalid_field("default_tier", "is required"))?;
    let tiers =
        region_tiers::put_region_tiers(&state.db, &caller.scope(), default_tier, mappings).await?;
    Ok(HttpResponse::Ok().json(tiers_response(tiers)))
}

/// The mapping of regions to tiers.
#[utoipa::path(get, path = "/api/v1/admin/region-tiers", tag = "pricing", security(("bearer" = [])), responses((status = 200, body = RegionTiersResponse)))]
pub async fn get_region_tiers(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let tiers = region_tiers::get_region_tiers(&state.db, &caller.scope()).await?;
    Ok(HttpResponse::Ok().json(tiers_response(tiers)))
}

/// Which region, and so which tier, a free-text address resolves to. An
/// address that fits several regions equally well (朝阳区 alone) answers
/// `region: null` with the candidates: it is never guessed.
#[utoipa::path(post, path = "/api/v1/admin/regions/resolve", tag = "pricing", security(("bearer" = [])), request_body = ResolveRequest, responses((status = 200, body = ResolveResponse)))]
pub async fn resolve_region(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<ResolveRequest>,
) -> Result<HttpResponse, ApiError> {
    let response = match Regions::shipped().resolve(&body.address) {
        Resolution::Resolved(region) => {
            let tiers = region_tiers::get_region_tiers(&state.db, &caller.scope()).await?;
            let tier = tiers.tier_of(&region.code).map(str::to_owned);
            let region = ResolvedRegion {
                code: region.code.as_str().to_owned(),
                name: region.name,
                tier,
            };
            ResolveResponse {
                region: Some(region),
                candidates: Vec::new(),
            }
        }
        Resolution::Ambiguous(candidates) => ResolveResponse {
            region: None,
            candidates: candidates.into_iter().map(RegionName::from).collect(),
        },
        Resolution::Unresolved => ResolveResponse {
            region: None,
            candidates: Vec::new(),
        },
    };
    Ok(HttpResponse::Ok().json(response))
}
