//! Settlement for admins (closing periods, settings, exports, the fairness
//! report), the installer's earnings home page and ledger, and the rewards
//! and penalties (奖惩) that staff add to an order.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use scrm_service::domain::{PeriodId, WorkOrderId};
use scrm_service::page::PageRequest;
use scrm_service::pricing::money::Fen;
use scrm_service::settlement::close::{self, ClosedPeriod};
use scrm_service::settlement::earnings::{self, EarningsSummary, MyEarningsLine};
use scrm_service::settlement::fairness::{self, FairnessGroup};
use scrm_service::settlement::period::{Cadence, day_start};
use scrm_service::settlement::settings::{self, SettlementSettings};
use scrm_service::settlement::views::{self, StatementFilter};

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, PageQuery};
use crate::routes::statements::{CreatedId, summaries_csv};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosePeriodRequest {
    /// The first day, `YYYY-MM-DD` in China Standard Time: a Monday for a
    /// weekly tenant, the 1st for a monthly one.
    pub from: String,
    /// The last day, inclusive: the Sunday after `from`, or the month's
    /// last day. The period must be over.
    pub to: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodResponse {
    pub id: String,
    pub from: String,
    pub to: String,
    /// How many installer statements the close issued.
    pub statements: i32,
    pub closed_at: DateTime<Utc>,
}

impl From<ClosedPeriod> for PeriodResponse {
    fn from(p: ClosedPeriod) -> Self {
        Self {
            id: p.id.to_string(),
            from: p.first_day,
            to: p.last_day,
            statements: p.statements,
            closed_at: p.closed_at,
        }
    }
}

/// Closes a period, ten minutes or more after its last day ended: every
/// installer with ledger lines posted since the previous close's cutoff
/// (or ever, at a tenant's first close) gets one statement of exactly those
/// lines, and every partner firm one statement that sums its installers'.
/// Periods close in order. Closing the same period again answers it with
/// 200 and creates nothing.
#[utoipa::path(post, path = "/api/v1/admin/settlement-periods", tag = "settlement", security(("bearer" = [])), request_body = ClosePeriodRequest, responses(
    (status = 201, body = PeriodResponse, description = "Closed now."),
    (status = 200, body = PeriodResponse, description = "Closed before; nothing changed."),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`period_overlaps`: shares days with a closed period; `period_out_of_order`: a later period is closed already (periods close in order)."),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "Not a whole week or month of the tenant's cadence, or not over yet."),
))]
pub async fn close_period(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<ClosePeriodRequest>,
) -> Result<HttpResponse, ApiError> {
    let closed =
        close::close_period(&state.db, &caller, &body.from, &body.to, state.clock.now()).await?;
    let mut response = if closed.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(PeriodResponse::from(closed)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodPage {
    pub items: Vec<PeriodResponse>,
    pub next_cursor: Option<String>,
}

/// The closed periods, newest first.
#[utoipa::path(get, path = "/api/v1/admin/settlement-periods", tag = "settlement", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = PeriodPage)))]
pub async fn list_periods(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = views::list_periods(&state.db, &caller.scope(), query.parse()?).await?;
    let page = page.map(PeriodResponse::from);
    Ok(HttpResponse::Ok().json(PeriodPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

fn period_id(raw: &str) -> Result<PeriodId, ApiError> {
    PeriodId::parse(raw).map_err(|_| ApiError::not_found())
}

/// One closed period.
#[utoipa::path(get, path = "/api/v1/admin/settlement-periods/{id}", tag = "settlement", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = PeriodResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_period(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let period = views::get_period(&state.db, &caller.scope(), period_id(&id)?)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(PeriodResponse::from(period)))
}

/// Every statement of a period as CSV (UTF-8 with a BOM), one row each and
/// a total row.
#[utoipa::path(get, path = "/api/v1/admin/settlement-periods/{id}/export.csv", tag = "settlement", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, content_type = "text/csv", body = String),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn export_period(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let scope = caller.scope();
    let period = views::get_period(&state.db, &scope, period_id(&id)?)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let filter = StatementFilter {
        period: Some(period.id),
        ..StatementFilter::default()
    };
    // Page through in the list's own order, so that an export of any size
    // never holds more than one page of rows per query.
    let mut statements = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = PageRequest::parse(Some(scrm_service::page::MAX_LIMIT), cursor.as_deref())
            .map_err(|(_, m)| ApiError::bad_request(m))?;
        let found = views::list_statements(&state.db, &scope, &filter, page).await?;
        statements.extend(found.items);
        match found.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    statements.reverse();
    let name = format!("statements-{}-{}.csv", period.first_day, period.last_day);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(summaries_csv(&statements)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettlementSettingsBody {
    /// `week` (Monday to Sunday) or `month`.
    pub cadence: String,
    /// Days after issue during which lines can be disputed, 1 to 90.
    pub dispute_days: i32,
}

impl From<SettlementSettings> for SettlementSettingsBody {
    fn from(s: SettlementSettings) -> Self {
        Self {
            cadence: s.cadence.as_str().to_owned(),
            dispute_days: s.dispute_days,
        }
    }
}

/// The tenant's settlement settings (monthly, 7 days to dispute, until
/// set).
#[utoipa::path(get, path = "/api/v1/admin/settlement-settings", tag = "settlement", security(("bearer" = [])), responses((status = 200, body = SettlementSettingsBody)))]
pub async fn get_settings(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let current = settings::get_settings(&state.db, &caller.scope()).await?;
    Ok(HttpResponse::Ok().json(SettlementSettingsBody::from(current)))
}

/// Sets how often the tenant settles and how long disputes stay open.
#[utoipa::path(put, path = "/api/v1/admin/settlement-settings", tag = "settlement", security(("bearer" = [])), request_body = SettlementSettingsBody, responses(
    (status = 200, body = SettlementSettingsBody),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn put_settings(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<SettlementSettingsBody>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = scrm_service::validation::FieldErrors::new();
    let cadence = errors.check("cadence", Cadence::parse(&body.cadence));
    let window = cadence.map(|c| SettlementSettings::new(c, body.dispute_days));
    if let Some(Err(message)) = &window {
        errors.add("dispute_days", message.clone());
    }
    errors.finish().map_err(ApiError::validation)?;
    let Some(Ok(wanted)) = window else {
        return Err(ApiError::bad_request("the settings could not be read"));
    };
    let stored = settings::put_settings(&state.db, &caller.scope(), wanted, Utc::now()).await?;
    Ok(HttpResponse::Ok().json(SettlementSettingsBody::from(stored)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FairnessQuery {
    /// The first day, `YYYY-MM-DD` (China Standard Time).
    pub from: String,
    /// The last day, inclusive.
    pub to: String,
    /// Flag installers whose mean for comparable orders is further than
    /// this share from the median: a decimal such as `0.2` (the default,
    /// 20 %), between 0 and 10.
    pub deviation: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SpreadResponse {
    pub p10_fen: i64,
    pub p50_fen: i64,
    pub p90_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutlierResponse {
    pub installer_id: String,
    /// The comparable work: priced items and quantities, such as
    /// `AC-INSTALL×2`.
    pub work: String,
    pub orders: usize,
    pub mean_fen: i64,
    pub median_fen: i64,
    /// `(mean − median) / median`, four places.
    pub deviation: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FairnessGroupResponse {
    pub tier: String,
    pub region_code: String,
    pub cooperation_mode: Option<String>,
    pub orders: usize,
    pub installers: usize,
    /// Net earnings per order (nearest-rank percentiles).
    pub per_order: SpreadResponse,
    /// Earnings per installer per CST month.
    pub per_installer_month: SpreadResponse,
    pub lines: usize,
    pub disputed_lines: usize,
    /// Disputed lines over lines, four places.
    pub dispute_rate: String,
    pub outliers: Vec<OutlierResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FairnessResponse {
    pub from: String,
    pub to: String,
    pub deviation: String,
    pub groups: Vec<FairnessGroupResponse>,
}

impl From<FairnessGroup> for FairnessGroupResponse {
    fn from(g: FairnessGroup) -> Self {
        let spread = |s: fairness::Spread| SpreadResponse {
            p10_fen: s.p10_fen,
            p50_fen: s.p50_fen,
            p90_fen: s.p90_fen,
        };
        Self {
            tier: g.tier,
            region_code: g.region_code,
            cooperation_mode: g.cooperation_mode,
            orders: g.orders,
            installers: g.installers,
            per_order: spread(g.per_order),
            per_installer_month: spread(g.per_installer_month),
            lines: g.lines,
            disputed_lines: g.disputed_lines,
            dispute_rate: format!("{:.4}", g.dispute_rate),
            outliers: g
                .outliers
                .into_iter()
                .map(|o| OutlierResponse {
                    installer_id: o.installer_id.to_string(),
                    work: o.work,
                    orders: o.orders,
                    mean_fen: o.mean_fen,
                    median_fen: o.median_fen,
                    deviation: format!("{:.4}", o.deviation),
                })
                .collect(),
        }
    }
}

/// The longest span one report covers.
const MAX_REPORT_DAYS: i64 = 366;

fn report_span(query: &FairnessQuery) -> Result<(DateTime<Utc>, DateTime<Utc>, Decimal), ApiError> {
    let day = |field: &str, raw: &str| {
        chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map_err(|_| ApiError::invalid_field(field, "must be a date such as 2026-11-01"))
    };
    let (first, last) = (day("from", &query.from)?, day("to", &query.to)?);
    let days = (last - first).num_days();
    if !(0..MAX_REPORT_DAYS).contains(&days) {
        return Err(ApiError::invalid_field(
            "to",
            format!("must be on or after `from`, and at most {MAX_REPORT_DAYS} days later"),
        ));
    }
    let deviation = match query.deviation.as_deref() {
        None => Decimal::new(2, 1),
        Some(raw) => raw
            .parse::<Decimal>()
            .ok()
            .filter(|d| *d >= Decimal::ZERO && *d <= Decimal::TEN)
            .ok_or_else(|| {
                ApiError::invalid_field("deviation", "must be a decimal from 0 to 10")
            })?,
    };
    Ok((
        day_start(first),
        day_start(last + chrono::Duration::days(1)),
        deviation,
    ))
}

/// The fairness report (公平性) over the ledger lines posted in a span, by
/// tier, region and cooperation mode: earnings per order and per installer
/// per month as p10/p50/p90, the dispute rate, and installers whose pay for
/// comparable orders deviates beyond `deviation`.
#[utoipa::path(get, path = "/api/v1/admin/fairness-report", tag = "settlement", security(("bearer" = [])), params(FairnessQuery), responses(
    (status = 200, body = FairnessResponse),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn fairness_report(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<FairnessQuery>,
) -> Result<HttpResponse, ApiError> {
    let (from, to, deviation) = report_span(&query)?;
    let groups = fairness::fairness_report(&state.db, &caller.scope(), from, to, deviation).await?;
    Ok(HttpResponse::Ok().json(FairnessResponse {
        from: query.from.clone(),
        to: query.to.clone(),
        deviation: format!("{deviation}"),
        groups: groups.into_iter().map(Into::into).collect(),
    }))
}

/// The mini-program's home page, in fen. Pending plus settled is the whole
/// ledger plus every adjustment.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarningsSummaryResponse {
    /// Posted today (China Standard Time).
    pub today_fen: i64,
    /// Posted this calendar month (China Standard Time).
    pub month_fen: i64,
    /// Not yet settled: lines on no statement yet, and statements awaiting
    /// confirmation or with open disputes.
    pub pending_fen: i64,
    /// On statements that are confirmed, resolved or paid.
    pub settled_fen: i64,
}

impl From<EarningsSummary> for EarningsSummaryResponse {
    fn from(s: EarningsSummary) -> Self {
        Self {
            today_fen: s.today_fen,
            month_fen: s.month_fen,
            pending_fen: s.pending_fen,
            settled_fen: s.settled_fen,
        }
    }
}

/// The caller's earnings at a glance.
#[utoipa::path(get, path = "/api/v1/me/earnings/summary", tag = "me", security(("bearer" = [])), responses(
    (status = 200, body = EarningsSummaryResponse),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn my_earnings_summary(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let summary = earnings::earnings_summary(&state.db, &caller, Utc::now()).await?;
    Ok(HttpResponse::Ok().json(EarningsSummaryResponse::from(summary)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyEarningsLineResponse {
    pub id: String,
    pub work_order_id: String,
    pub work_order_number: Option<String>,
    /// `base`, `rate`, `reward`, `penalty`, or `reversal` for a line that
    /// takes an earlier one back.
    pub kind: String,
    pub label: String,
    pub amount_fen: i64,
    pub explanation: String,
    pub posted_at: DateTime<Utc>,
    /// The statement that holds the line, once its period is closed.
    pub statement_id: Option<String>,
}

impl From<MyEarningsLine> for MyEarningsLineResponse {
    fn from(l: MyEarningsLine) -> Self {
        let kind = if l.entry == "reversal" {
            "reversal".to_owned()
        } else {
            l.kind
        };
        Self {
            id: l.id.to_string(),
            work_order_id: l.work_order_id.to_string(),
            work_order_number: l.work_order_number,
            kind,
            label: l.label,
            amount_fen: l.amount_fen,
            explanation: l.explanation,
            posted_at: l.posted_at,
            statement_id: l.statement_id.map(|s| s.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyEarningsPage {
    pub items: Vec<MyEarningsLineResponse>,
    pub next_cursor: Option<String>,
}

/// The caller's posted ledger lines, newest first.
#[utoipa::path(get, path = "/api/v1/me/earnings", tag = "me", security(("bearer" = [])), params(PageQuery), responses(
    (status = 200, body = MyEarningsPage),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list_my_earnings(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = earnings::list_my_earnings(&state.db, &caller, query.parse()?).await?;
    let page = page.map(MyEarningsLineResponse::from);
    Ok(HttpResponse::Ok().json(MyEarningsPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewardRequest {
    /// Positive for a reward (奖励), negative for a penalty (扣罚); not zero.
    pub amount_fen: i64,
    /// Shown to the installer on the order and the statement, 1 to 200
    /// characters.
    pub reason: String,
}

/// The largest reward or penalty: ¥100,000.00.
const MAX_REWARD_FEN: u64 = 10_000_000;

/// Adds a reward or penalty to an order whose earnings are posted. It is a
/// ledger line like any other: the installer sees it on the order, and it
/// lands on the next statement.
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/rewards-and-penalties", tag = "work orders", security(("bearer" = [])), params(("id" = String, Path)), request_body = RewardRequest, responses(
    (status = 201, body = CreatedId, description = "The ledger line's id."),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`earnings_not_posted`, or `conflict` with a concurrent change."),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn add_reward_or_penalty(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
    ApiJson(body): ApiJson<RewardRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = WorkOrderId::parse(&id).map_err(|_| ApiError::not_found())?;
    let mut errors = scrm_service::validation::FieldErrors::new();
    if body.amount_fen == 0 || body.amount_fen.unsigned_abs() > MAX_REWARD_FEN {
        errors.add(
            "amount_fen",
            format!("must be non-zero and within ±{MAX_REWARD_FEN}"),
        );
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        errors.add("reason", "must be 1 to 200 characters");
    }
    errors.finish().map_err(ApiError::validation)?;
    let line = earnings::add_reward_or_penalty(
        &state.db,
        &caller,
        id,
        Fen::new(body.amount_fen),
        reason,
        Utc::now(),
    )
    .await?;
    Ok(HttpResponse::Created().json(CreatedId {
        id: line.to_string(),
    }))
}
