//! Statements (结算单): what an installer is paid for a period, how they
//! confirm or dispute it, and how staff resolve disputes and record payouts.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use scrm_service::domain::{DisputeId, PeriodId, StatementId, UserId};
use scrm_service::page::PageRequest;
use scrm_service::pricing::money::Fen;
use scrm_service::settlement::StatementStatus;
use scrm_service::settlement::export;
use scrm_service::settlement::transitions::{self, NewDispute, Resolution};
use scrm_service::settlement::views::{
    self, Adjustment, AnyStatement, AuditEntry, Dispute, FirmStatement, Person, StatementDetail,
    StatementFilter, StatementItem, StatementLine, StatementSummary,
};

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, PageQuery};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonResponse {
    pub id: String,
    pub name: String,
}

impl From<Person> for PersonResponse {
    fn from(p: Person) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name,
        }
    }
}

/// The calendar days a statement covers, in China Standard Time.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodRef {
    pub id: String,
    /// The first day, `YYYY-MM-DD`.
    pub from: String,
    /// The last day, inclusive.
    pub to: String,
}

/// An installer's statement in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementSummaryResponse {
    pub id: String,
    /// `installer`.
    pub kind: &'static str,
    pub period: PeriodRef,
    /// `issued`, `confirmed`, `disputed`, `resolved` or `paid`.
    pub status: String,
    pub installer: PersonResponse,
    pub partner_id: Option<String>,
    pub lines_count: i32,
    /// The lines as the period's close fixed them.
    pub lines_total_fen: i64,
    /// The sum of the adjustment lines.
    pub adjustments_total_fen: i64,
    /// `lines_total_fen + adjustments_total_fen`: what is paid.
    pub total_fen: i64,
    pub issued_at: DateTime<Utc>,
    /// Lines can be disputed until then.
    pub dispute_deadline: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub payout_reference: Option<String>,
}

impl From<StatementSummary> for StatementSummaryResponse {
    fn from(s: StatementSummary) -> Self {
        Self {
            id: s.id.to_string(),
            kind: "installer",
            period: PeriodRef {
                id: s.period.id.to_string(),
                from: s.period.from,
                to: s.period.to,
            },
            status: s.status.as_str().to_owned(),
            installer: s.installer.into(),
            partner_id: s.partner_id.map(|p| p.to_string()),
            lines_count: s.lines_count,
            lines_total_fen: s.lines_total_fen,
            adjustments_total_fen: s.adjustments_total_fen,
            total_fen: s.total_fen,
            issued_at: s.issued_at,
            dispute_deadline: s.dispute_deadline,
            confirmed_at: s.confirmed_at,
            paid_at: s.paid_at,
            payout_reference: s.payout_reference,
        }
    }
}

/// A ledger line on a statement, as its order showed it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementLineResponse {
    /// The ledger line's id: what a dispute names as `line_id`.
    pub id: String,
    pub work_order_id: String,
    pub work_order_number: Option<String>,
    /// `base`, `rate`, `reward`, `penalty`, …; `reversal` for a line that
    /// takes back an earlier one (a refund).
    pub kind: String,
    pub label: String,
    pub quantity: i32,
    pub amount_fen: i64,
    pub explanation: String,
    pub rule: LineRule,
    pub posted_at: DateTime<Utc>,
    /// Posted before the period began, and settled for the first time here.
    pub carried_over: bool,
}

/// The pricing the line was posted under.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineRule {
    pub price_list: String,
    pub version: i32,
    pub tier: String,
    pub region_code: String,
}

impl From<StatementLine> for StatementLineResponse {
    fn from(l: StatementLine) -> Self {
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
            quantity: l.quantity,
            amount_fen: l.amount_fen,
            explanation: l.explanation,
            rule: LineRule {
                price_list: l.price_list,
                version: l.price_list_version,
                tier: l.tier,
                region_code: l.region_code,
            },
            posted_at: l.posted_at,
            carried_over: l.carried_over,
        }
    }
}

/// A line added when a dispute was accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdjustmentResponse {
    pub id: String,
    pub dispute_id: Option<String>,
    pub amount_fen: i64,
    pub reason: String,
    pub actor: PersonResponse,
    pub at: DateTime<Utc>,
}

impl From<Adjustment> for AdjustmentResponse {
    fn from(a: Adjustment) -> Self {
        Self {
            id: a.id.to_string(),
            dispute_id: a.dispute_id.map(|d| d.to_string()),
            amount_fen: a.amount_fen,
            reason: a.reason,
            actor: a.actor.into(),
            at: a.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeResponse {
    pub id: String,
    pub line_id: String,
    pub reason: String,
    pub photo_urls: Vec<String>,
    /// `open`, `accepted` or `rejected`.
    pub status: String,
    pub resolution: Option<String>,
    pub resolved_by: Option<PersonResponse>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub raised_at: DateTime<Utc>,
}

impl From<Dispute> for DisputeResponse {
    fn from(d: Dispute) -> Self {
        Self {
            id: d.id.to_string(),
            line_id: d.line_id.to_string(),
            reason: d.reason,
            photo_urls: d.photo_urls,
            status: d.status,
            resolution: d.resolution,
            resolved_by: d.resolved_by.map(PersonResponse::from),
            resolved_at: d.resolved_at,
            raised_at: d.raised_at,
        }
    }
}

/// One transition of the statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditResponse {
    pub at: DateTime<Utc>,
    /// `issue`, `confirm`, `dispute`, `resolve_dispute` or `pay`.
    pub action: String,
    pub from: Option<String>,
    pub to: String,
    /// Absent for the close, which the system does.
    pub actor: Option<PersonResponse>,
    pub detail: Option<String>,
}

impl From<AuditEntry> for AuditResponse {
    fn from(a: AuditEntry) -> Self {
        Self {
            at: a.at,
            action: a.action,
            from: a.from,
            to: a.to,
            actor: a.actor.map(PersonResponse::from),
            detail: a.detail,
        }
    }
}

/// An installer's statement in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementResponse {
    #[serde(flatten)]
    pub summary: StatementSummaryResponse,
    /// Oldest first; at most 1,000 (the CSV export has every line).
    pub lines: Vec<StatementLineResponse>,
    pub lines_truncated: bool,
    pub adjustments: Vec<AdjustmentResponse>,
    pub disputes: Vec<DisputeResponse>,
    pub audit: Vec<AuditResponse>,
}

impl From<StatementDetail> for StatementResponse {
    fn from(d: StatementDetail) -> Self {
        Self {
            summary: d.summary.into(),
            lines: d.lines.into_iter().map(Into::into).collect(),
            lines_truncated: d.lines_truncated,
            adjustments: d.adjustments.into_iter().map(Into::into).collect(),
            disputes: d.disputes.into_iter().map(Into::into).collect(),
            audit: d.audit.into_iter().map(Into::into).collect(),
        }
    }
}

/// A partner firm's statement: the sum of its installers' statements.
#[derive(Debug, Serialize, ToSchema)]
pub struct FirmStatementResponse {
    pub id: String,
    /// `firm`.
    pub kind: &'static str,
    pub period: PeriodRef,
    /// `paid` once every installer's statement is paid, `disputed` while one
    /// is, `issued` while one awaits its installer, else `confirmed`.
    pub status: String,
    pub partner: PersonResponse,
    pub total_fen: i64,
    pub statements: Vec<StatementSummaryResponse>,
}

impl From<FirmStatement> for FirmStatementResponse {
    fn from(f: FirmStatement) -> Self {
        Self {
            id: f.id.to_string(),
            kind: "firm",
            period: PeriodRef {
                id: f.period.id.to_string(),
                from: f.period.from,
                to: f.period.to,
            },
            status: f.status.as_str().to_owned(),
            partner: f.partner.into(),
            total_fen: f.total_fen,
            statements: f.statements.into_iter().map(Into::into).collect(),
        }
    }
}

/// Either kind of statement; `kind` tells which.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum AnyStatementResponse {
    Installer(StatementResponse),
    Firm(FirmStatementResponse),
}

/// A statement in the caller's list; `kind` tells which.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum StatementItemResponse {
    Installer(StatementSummaryResponse),
    Firm(FirmStatementResponse),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyStatementPage {
    pub items: Vec<StatementItemResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementPage {
    pub items: Vec<StatementSummaryResponse>,
    pub next_cursor: Option<String>,
}

/// The caller's statements, newest first: an installer's own, or a
/// partner manager's firm statements. Other roles have none.
#[utoipa::path(get, path = "/api/v1/me/statements", tag = "statements", security(("bearer" = [])), params(PageQuery), responses(
    (status = 200, body = MyStatementPage),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list_my_statements(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = views::list_my_statements(&state.db, &caller, query.parse()?).await?;
    let items = page
        .items
        .into_iter()
        .map(|item| match item {
            StatementItem::Installer(s) => StatementItemResponse::Installer(s.into()),
            StatementItem::Firm(f) => StatementItemResponse::Firm(f.into()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(MyStatementPage {
        items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    pub period_id: Option<String>,
    pub installer_id: Option<String>,
    /// `issued`, `confirmed`, `disputed`, `resolved` or `paid`.
    pub status: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

impl StatementQuery {
    fn filter(&self) -> Result<(StatementFilter, PageRequest), ApiError> {
        let period = self
            .period_id
            .as_deref()
            .map(|p| {
                PeriodId::parse(p).map_err(|_| ApiError::invalid_field("period_id", "is not an id"))
            })
            .transpose()?;
        let installer = self
            .installer_id
            .as_deref()
            .map(|i| {
                UserId::parse(i)
                    .map(|u| u.as_uuid())
                    .map_err(|_| ApiError::invalid_field("installer_id", "is not an id"))
            })
            .transpose()?;
        let status = self
            .status
            .as_deref()
            .map(|s| {
                StatementStatus::parse(s)
                    .filter(|s| *s != StatementStatus::Draft)
                    .ok_or_else(|| ApiError::invalid_field("status", "is not a statement status"))
            })
            .transpose()?;
        let page = PageQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
        .parse()?;
        Ok((
            StatementFilter {
                period,
                installer,
                status,
            },
            page,
        ))
    }
}

/// The tenant's installer statements, newest first (dispatchers, admins).
#[utoipa::path(get, path = "/api/v1/statements", tag = "statements", security(("bearer" = [])), params(StatementQuery), responses(
    (status = 200, body = StatementPage),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn list_statements(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<StatementQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filter, page) = query.filter()?;
    let page = views::list_statements(&state.db, &caller.scope(), &filter, page).await?;
    let page = page.map(StatementSummaryResponse::from);
    Ok(HttpResponse::Ok().json(StatementPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

fn statement_id(raw: &str) -> Result<StatementId, ApiError> {
    StatementId::parse(raw).map_err(|_| ApiError::not_found())
}

async fn answer_statement(
    state: &AppState,
    caller: &scrm_service::auth::Principal,
    id: StatementId,
) -> Result<HttpResponse, ApiError> {
    let statement = views::get_statement(&state.db, caller, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let body = match statement {
        AnyStatement::Installer(detail) => AnyStatementResponse::Installer((*detail).into()),
        AnyStatement::Firm(firm) => AnyStatementResponse::Firm(firm.into()),
    };
    Ok(HttpResponse::Ok().json(body))
}

/// One statement: an installer's with its lines, adjustments, disputes and
/// audit log, or a partner firm's with its installers' statements.
#[utoipa::path(get, path = "/api/v1/statements/{id}", tag = "statements", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = AnyStatementResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_statement(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    answer_statement(&state, &caller, statement_id(&id)?).await
}

/// The installer accepts their statement (from `issued`, or `resolved`).
#[utoipa::path(post, path = "/api/v1/statements/{id}/confirm", tag = "statements", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = AnyStatementResponse),
    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such statement, or not the caller's own."),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`invalid_transition`: disputed, or confirmed or paid already."),
))]
pub async fn confirm_statement(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = statement_id(&id)?;
    transitions::confirm_statement(&state.db, &caller, id, Utc::now()).await?;
    answer_statement(&state, &caller, id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeRequest {
    /// The `id` of a line of this statement.
    pub line_id: String,
    /// Why the line is wrong, 1 to 500 characters.
    pub reason: String,
    /// Up to 9 `https://` (or `http://`) photo URLs.
    #[serde(default)]
    pub photo_urls: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedId {
    pub id: String,
}

const MAX_PHOTOS: usize = 9;

fn parse_dispute(body: DisputeRequest) -> Result<NewDispute, ApiError> {
    let mut errors = scrm_service::validation::FieldErrors::new();
    let line = errors.check(
        "line_id",
        uuid::Uuid::parse_str(&body.line_id).map_err(|_| "is not a line id".to_owned()),
    );
    let reason = errors.check("reason", text(&body.reason, 500));
    if body.photo_urls.len() > MAX_PHOTOS {
        errors.add("photo_urls", format!("at most {MAX_PHOTOS} photos"));
    }
    for (i, url) in body.photo_urls.iter().enumerate() {
        let web = url.starts_with("https://") || url.starts_with("http://");
        if !web || url.len() > 500 || url.chars().any(char::is_whitespace) {
            errors.add(
                &format!("photo_urls[{i}]"),
                "must be an http(s) URL of at most 500 characters",
            );
        }
    }
    errors.finish().map_err(ApiError::validation)?;
    match (line, reason) {
        (Some(line_id), Some(reason)) => Ok(NewDispute {
            line_id,
            reason,
            photo_urls: body.photo_urls,
        }),
        _ => Err(ApiError::bad_request("the dispute could not be read")),
    }
}

/// Trimmed text of 1 to `max` characters.
fn text(raw: &str, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    let count = trimmed.chars().count();
    if count == 0 || count > max {
        return Err(format!("must be 1 to {max} characters"));
    }
    Ok(trimmed.to_owned())
}

/// The installer disputes one line of their statement, before its
/// `dispute_deadline`. The statement is `disputed` until staff answer.
#[utoipa::path(post, path = "/api/v1/statements/{id}/disputes", tag = "statements", security(("bearer" = [])), params(("id" = String, Path)), request_body = DisputeRequest, responses(
    (status = 201, body = CreatedId),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`invalid_transition`, `dispute_deadline_passed` or `already_disputed`."),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`, also when `line_id` is not on this statement."),
))]
pub async fn dispute_line(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
    ApiJson(body): ApiJson<DisputeRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = statement_id(&id)?;
    let dispute = parse_dispute(body)?;
    let dispute = transitions::dispute_line(&state.db, &caller, id, dispute, Utc::now()).await?;
    Ok(HttpResponse::Created().json(CreatedId {
        id: dispute.to_string(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// True: the installer is right, and `amount_fen` is added to the
    /// statement as an adjustment line. False: the line stands.
    pub accept: bool,
    /// With `accept`: the adjustment, non-zero; positive pays more.
    pub amount_fen: Option<i64>,
    /// Shown to the installer, 1 to 500 characters.
    pub reason: String,
}

fn parse_resolution(body: ResolveRequest) -> Result<Resolution, ApiError> {
    let mut errors = scrm_service::validation::FieldErrors::new();
    let reason = errors.check("reason", text(&body.reason, 500));
    match (body.accept, body.amount_fen) {
        (true, None) => errors.add("amount_fen", "is required to accept a dispute"),
        (true, Some(0)) => errors.add("amount_fen", "must not be zero"),
        (true, Some(a)) if a.unsigned_abs() > MAX_ADJUSTMENT_FEN => errors.add(
            "amount_fen",
            format!("must be within ±{MAX_ADJUSTMENT_FEN}"),
        ),
        (false, Some(_)) => errors.add("amount_fen", "is only for an accepted dispute"),
        _ => {}
    }
    errors.finish().map_err(ApiError::validation)?;
    let reason = reason.ok_or_else(|| ApiError::bad_request("the resolution could not be read"))?;
    Ok(match body.amount_fen {
        Some(amount) if body.accept => Resolution::Accept {
            amount: Fen::new(amount),
            reason,
        },
        _ => Resolution::Reject { reason },
    })
}

/// The largest adjustment one resolution may make: ¥1,000,000.00.
const MAX_ADJUSTMENT_FEN: u64 = 100_000_000;

/// A dispatcher or admin answers a dispute. Answers the statement.
#[utoipa::path(post, path = "/api/v1/disputes/{id}/resolve", tag = "statements", security(("bearer" = [])), params(("id" = String, Path)), request_body = ResolveRequest, responses(
    (status = 200, body = AnyStatementResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`invalid_transition`: the dispute has its answer already."),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn resolve_dispute(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
    ApiJson(body): ApiJson<ResolveRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = DisputeId::parse(&id).map_err(|_| ApiError::not_found())?;
    let resolution = parse_resolution(body)?;
    let statement =
        transitions::resolve_dispute(&state.db, &caller, id, resolution, Utc::now()).await?;
    answer_statement(&state, &caller, statement).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaidRequest {
    /// The bank or payment system's reference, 1 to 100 characters.
    pub reference: String,
}

/// An admin records the payout of a confirmed or resolved statement, or of
/// one nobody disputed by its deadline.
#[utoipa::path(post, path = "/api/v1/statements/{id}/paid", tag = "statements", security(("bearer" = [])), params(("id" = String, Path)), request_body = PaidRequest, responses(
    (status = 200, body = AnyStatementResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`invalid_transition`"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn mark_statement_paid(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
    ApiJson(body): ApiJson<PaidRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = statement_id(&id)?;
    let reference =
        text(&body.reference, 100).map_err(|m| ApiError::invalid_field("reference", m))?;
    transitions::mark_paid(&state.db, &caller, id, &reference, Utc::now()).await?;
    answer_statement(&state, &caller, id).await
}

fn csv_response(name: String, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(name)],
        })
        .body(body)
}

/// One installer statement as CSV: UTF-8 with a BOM (for Excel), every
/// line and adjustment, and a total row equal to `total_fen`.
#[utoipa::path(get, path = "/api/v1/statements/{id}/export.csv", tag = "statements", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, content_type = "text/csv", body = String),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn export_statement(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = statement_id(&id)?;
    let (summary, lines, adjustments) = views::get_installer_statement(&state.db, &caller, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let body = export::statement_csv(&summary, &lines, &adjustments);
    Ok(csv_response(format!("statement-{id}.csv"), body))
}

/// Summaries for a CSV of many statements.
pub(crate) fn summaries_csv(statements: &[StatementSummary]) -> String {
    export::statements_csv(statements)
}
