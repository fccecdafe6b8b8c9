//! Admin: what an installer would earn for an order, priced live with the
//! list in force. Work orders show the same earnings block.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use scrm_service::domain::CooperationMode;
use scrm_service::pricing::engine::{MissingPrice, OrderLine, QuoteError};
use scrm_service::pricing::money::Fen;
use scrm_service::quotes::{self, EstimateError, StoredLine};
use scrm_service::regions::{RegionCode, Regions, Resolution};
use scrm_service::validation::FieldErrors;
use scrm_service::work_orders::{self, RawLine};

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::regions::RegionName;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EstimateRequest {
    /// The region's GB/T 2260 code; or give `address` instead.
    pub region_code: Option<String>,
    /// A free-text address, resolved to its region.
    pub address: Option<String>,
    /// The installer's mode: `employee`, `partner` or `freelance`.
    pub cooperation_mode: String,
    pub lines: Vec<OrderLineRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLineRequest {
    pub service_item: String,
    /// 1 to 10 000.
    pub quantity: u32,
    /// The price the customer paid for one unit, in fen.
    pub sale_price_fen: i64,
}

/// The earnings of an order, as installers and admins see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarningsResponse {
    /// `estimated`, `locked`, `posted`, `settled` or `unpriced`.
    pub status: String,
    /// Exactly the sum of `lines`; `null` when unpriced.
    pub total_fen: Option<i64>,
    pub lines: Vec<EarningsLineResponse>,
    /// When unpriced: every item × tier × mode that has no price.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<MissingPriceResponse>,
    /// When unpriced for another reason than a missing price:
    /// `region_unresolved`, `no_tier` or `no_price_list`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EarningsLineResponse {
    pub kind: String,
    pub label: String,
    pub quantity: i32,
    pub unit_price_fen: Option<i64>,
    /// Four places, such as `"0.0300"`.
    pub rate: Option<String>,
    pub amount_fen: i64,
    /// One sentence, in Chinese, that says how the amount was reached.
    pub explanation: String,
    pub rule: RuleResponse,
}

/// The rule behind a line: the price list, its version, the tier and the
/// region.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleResponse {
    /// The price list's id.
    pub price_list: String,
    pub price_list_name: String,
    pub version: i32,
    pub tier: String,
    pub region_code: String,
    /// Set when the price was specific to the installer's mode.
    pub cooperation_mode: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MissingPriceResponse {
    pub service_item: String,
    pub tier: String,
    /// `null` when nobody is assigned yet and only general prices apply.
    pub cooperation_mode: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EstimateResponse {
    pub region: RegionName,
    pub tier: Option<String>,
    pub earnings: EarningsResponse,
}

impl From<StoredLine> for EarningsLineResponse {
    fn from(line: StoredLine) -> Self {
        Self {
            kind: line.kind,
            label: line.label,
            quantity: line.quantity,
            unit_price_fen: line.unit_price_fen.map(Fen::get),
            rate: line.rate.map(|r| r.to_string()),
            amount_fen: line.amount_fen.get(),
            explanation: line.explanation,
            rule: RuleResponse {
                price_list: line.rule.price_list_id.to_string(),
                price_list_name: line.rule.price_list,
                version: line.rule.version,
                tier: line.rule.tier,
                region_code: line.rule.region_code,
                cooperation_mode: line.rule.cooperation_mode.map(|m| m.as_str().to_owned()),
            },
        }
    }
}

impl EarningsResponse {
    /// A priced block with `status`.
    pub fn priced(status: &str, total: Fen, lines: Vec<StoredLine>) -> Self {
        Self {
            status: status.to_owned(),
            total_fen: Some(total.get()),
            lines: lines.into_iter().map(EarningsLineResponse::from).collect(),
            missing: Vec::new(),
            reason: None,
        }
    }

    /// The block of an order that no price applies to: never a zero.
    pub fn unpriced(missing: Vec<MissingPrice>) -> Self {
        Self {
            status: "unpriced".to_owned(),
            total_fen: None,
            lines: Vec::new(),
            missing: missing
                .into_iter()
                .map(|m| MissingPriceResponse {
                    service_item: m.service_item,
                    tier: m.tier,
                    cooperation_mode: m.cooperation_mode.map(|c| c.as_str().to_owned()),
                })
                .collect(),
            reason: None,
        }
    }
}

/// Parses order lines, naming each bad field by its path.
pub fn parse_lines(lines: &[OrderLineRequest], errors: &mut FieldErrors) -> Vec<OrderLine> {
    let raw: Vec<RawLine<'_>> = lines
        .iter()
        .map(|l| RawLine {
            service_item: &l.service_item,
            quantity: l.quantity,
            sale_price_fen: l.sale_price_fen,
        })
        .collect();
    work_orders::parse_lines(&raw, "lines", errors)
}

fn region_of(body: &EstimateRequest) -> Result<RegionName, ApiError> {
    let regions = Regions::shipped();
    if let Some(code) = &body.region_code {
        let code =
            RegionCode::parse(code).map_err(|m| ApiError::invalid_field("region_code", m))?;
        let region = regions
            .get(&code)
            .ok_or_else(|| ApiError::invalid_field("region_code", "names no GB/T 2260 region"))?;
        return Ok(region.into());
    }
    let address = body
        .address
        .as_deref()
        .ok_or_else(|| ApiError::invalid_field("region_code", "give region_code or address"))?;
    match regions.resolve(address) {
        Resolution::Resolved(region) => Ok(region.into()),
        Resolution::Ambiguous(candidates) => {
            let names: Vec<String> = candidates
                .iter()
                .map(|c| format!("{} {}", c.code.as_str(), c.name))
                .collect();
            Err(ApiError::invalid_field(
                "address",
                format!("fits several regions: {}", names.join(", ")),
            ))
        }
        Resolution::Unresolved => Err(ApiError::invalid_field("address", "names no known region")),
    }
}

/// Prices an order as it would be priced now, line by line, with the rule
/// behind each line. An order no price applies to answers `unpriced` with
/// every missing combination.
#[utoipa::path(post, path = "/api/v1/admin/quotes/estimate", tag = "pricing", security(("bearer" = [])), request_body = EstimateRequest, responses(
    (status = 200, body = EstimateResponse),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid fields; an ambiguous or unknown address; `no_tier` or `no_price_list`."),
))]
pub async fn estimate_quote(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<EstimateRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let mode: Option<CooperationMode> =
        errors.check("cooperation_mode", body.cooperation_mode.parse());
    let lines = parse_lines(&body.lines, &mut errors);
    errors.finish().map_err(ApiError::validation)?;
    let mode = mode.ok_or_else(|| ApiError::invalid_field("cooperation_mode", "is required"))?;
    let region = region_of(&body)?;
    let code =
        RegionCode::parse(&region.code).map_err(|m| ApiError::invalid_field("region_code", m))?;

    let estimated = quotes::estimate(
        &state.db,
        &caller.scope(),
        &code,
        Some(mode),
        &lines,
        Utc::now(),
    )
    .await;
    let (tier, earnings) = match estimated {
        Ok(estimate) => (
            Some(estimate.tier),
            EarningsResponse::priced("estimated", estimate.total_fen, estimate.lines),
        ),
        Err(EstimateError::Quote(QuoteError::Unpriced(missing))) => (
            missing.first().map(|m| m.tier.clone()),
            EarningsResponse::unpriced(missing),
        ),
        Err(other) => return Err(other.into()),
    };
    Ok(HttpResponse::Ok().json(EstimateResponse {
        region,
        tier,
        earnings,
    }))
}
