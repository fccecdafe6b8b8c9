//! Every error the API answers, as `application/problem+json` (RFC 9457)
//! with a stable machine-readable `code`. Service errors are mapped to
//! statuses here and nowhere else. A 5xx body says nothing internal; its
//! cause chain is logged once, here, inside the request's span.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use scrm_service::auth::{BindWechatError, RefreshError, SignInError, WechatSignInError};
use scrm_service::catalog::{CreateCatalogError, GetCatalogError};
use scrm_service::idempotency::ClaimError;
use scrm_service::partners::GetPartnerError;
use scrm_service::price_lists::{
    CreatePriceListError, GetPriceListError, PreviewError, PublishPriceListError,
};
use scrm_service::pricing::engine::QuoteError;
use scrm_service::quotes::EstimateError;
use scrm_service::region_tiers::PutRegionTiersError;
use scrm_service::settlement::close::ClosePeriodError;
use scrm_service::settlement::earnings::RewardError;
use scrm_service::settlement::fairness::FairnessError;
use scrm_service::settlement::period::SpanError;
use scrm_service::settlement::transitions::StatementActionError;
use scrm_service::users::{CreateUserError, GetUserError};
use scrm_service::validation::FieldError;
use scrm_service::wechat::WechatError;
use scrm_service::work_orders::{CreateWorkOrderError, MoveError};
use scrm_service::workflows::{CreateWorkflowError, PublishWorkflowError};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after_secs: Option<u64>,
    cause: Option<anyhow::Error>,
}

/// The body of an error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:scrm:problem:` and the code.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable and machine-readable: `validation_failed`, `not_found`, …
    pub code: String,
    /// For `validation_failed`: every problem, each naming its field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// One invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_secs: None,
            cause: None,
        }
    }

    /// 404: the object does not exist, or is not the caller's to see.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "No such resource.")
    }

    /// 401: no valid credentials.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 400: the request could not be read.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", detail)
    }

    /// 422 listing every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The request has invalid fields; see errors.",
        );
        error.errors = errors;
        error
    }

    /// 422 for one invalid field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// 413: the body is larger than this route accepts.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The body is larger than {limit} bytes."),
        )
    }

    /// 408: the body did not arrive in time (see `slow_clients`).
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The request body did not arrive in time.",
        )
    }

    /// 500 with the cause kept for the log.
    pub fn unexpected(cause: anyhow::Error) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. It has been logged.",
        );
        error.cause = Some(cause);
        error
    }

    /// Adds a `Retry-After` header.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_secs = Some(seconds);
        self
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:scrm:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            errors: self
                .errors
                .iter()
                .map(|e| ProblemField {
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            tracing::error!(
                error.cause_chain = format!("{cause:?}"),
                "request failed unexpectedly"
            );
        }
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(seconds) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        let body = serde_json::to_string(&self.problem()).unwrap_or_else(|_| "{}".to_owned());
        response.body(body)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(cause: anyhow::Error) -> Self {
        Self::unexpected(cause)
    }
}

impl From<SignInError> for ApiError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::InvalidCredentials => {
                Self::unauthorized("invalid_credentials", error.to_string())
            }
            SignInError::Throttled { retry_after_secs } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                error.to_string(),
            )
            .retry_after(retry_after_secs),
            SignInError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidToken => {
                Self::unauthorized("invalid_refresh_token", error.to_string())
            }
            RefreshError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<WechatError> for ApiError {
    fn from(error: WechatError) -> Self {
        match error {
            WechatError::InvalidCode => {
                Self::unauthorized("invalid_wechat_code", error.to_string())
            }
            WechatError::Unavailable { retry_after_secs } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "wechat_unavailable",
                error.to_string(),
            )
            .retry_after(retry_after_secs),
            WechatError::Refused { .. } => {
                Self::new(StatusCode::BAD_GATEWAY, "wechat_refused", error.to_string())
            }
            WechatError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<WechatSignInError> for ApiError {
    fn from(error: WechatSignInError) -> Self {
        match error {
            WechatSignInError::UnknownTenant => {
                Self::new(StatusCode::NOT_FOUND, "not_found", error.to_string())
            }
            WechatSignInError::Wechat(e) => e.into(),
            WechatSignInError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<BindWechatError> for ApiError {
    fn from(error: BindWechatError) -> Self {
        match error {
            BindWechatError::BoundToAnotherUser => Self::new(
                StatusCode::CONFLICT,
                "wechat_already_bound",
                error.to_string(),
            ),
            BindWechatError::Wechat(e) => e.into(),
            BindWechatError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<CreateUserError> for ApiError {
    fn from(error: CreateUserError) -> Self {
        match error {
            CreateUserError::Invalid(errors) => Self::validation(errors),
            CreateUserError::UsernameTaken => {
                Self::new(StatusCode::CONFLICT, "username_taken", error.to_string())
            }
            CreateUserError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<GetUserError> for ApiError {
    fn from(error: GetUserError) -> Self {
        match error {
            GetUserError::NotFound => Self::not_found(),
            GetUserError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<GetPartnerError> for ApiError {
    fn from(error: GetPartnerError) -> Self {
        match error {
            GetPartnerError::NotFound => Self::not_found(),
            GetPartnerError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<ClaimError> for ApiError {
    fn from(error: ClaimError) -> Self {
        match error {
            ClaimError::KeyReused => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                error.to_string(),
            ),
            ClaimError::InFlight => Self::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_flight",
                error.to_string(),
            )
            .retry_after(1),
            ClaimError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<CreateCatalogError> for ApiError {
    fn from(error: CreateCatalogError) -> Self {
        match error {
            CreateCatalogError::CodeTaken => {
                Self::new(StatusCode::CONFLICT, "code_taken", error.to_string())
            }
            CreateCatalogError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<GetCatalogError> for ApiError {
    fn from(error: GetCatalogError) -> Self {
        match error {
            GetCatalogError::NotFound => Self::not_found(),
            GetCatalogError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<PutRegionTiersError> for ApiError {
    fn from(error: PutRegionTiersError) -> Self {
        match error {
            PutRegionTiersError::Invalid(errors) => Self::validation(errors),
            PutRegionTiersError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<CreatePriceListError> for ApiError {
    fn from(error: CreatePriceListError) -> Self {
        match error {
            CreatePriceListError::Invalid(errors) => Self::validation(errors),
            CreatePriceListError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<GetPriceListError> for ApiError {
    fn from(error: GetPriceListError) -> Self {
        match error {
            GetPriceListError::NotFound => Self::not_found(),
            GetPriceListError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<PublishPriceListError> for ApiError {
    fn from(error: PublishPriceListError) -> Self {
        match error {
            PublishPriceListError::NotFound => Self::not_found(),
            PublishPriceListError::AlreadyPublished => {
                Self::new(StatusCode::CONFLICT, "already_published", error.to_string())
            }
            PublishPriceListError::Invalid(errors) => Self::validation(errors),
            PublishPriceListError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<PreviewError> for ApiError {
    fn from(error: PreviewError) -> Self {
        match error {
            PreviewError::NotFound => Self::not_found(),
            PreviewError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<EstimateError> for ApiError {
    fn from(error: EstimateError) -> Self {
        let detail = error.to_string();
        let unprocessable =
            |code| Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail.clone());
        match error {
            EstimateError::NoTier(_) => unprocessable("no_tier"),
            EstimateError::NoPriceList => unprocessable("no_price_list"),
            EstimateError::Quote(QuoteError::Unpriced(_)) => unprocessable("unpriced"),
            EstimateError::Quote(QuoteError::Overflow { .. }) => unprocessable("amount_overflow"),
            EstimateError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<CreateWorkflowError> for ApiError {
    fn from(error: CreateWorkflowError) -> Self {
        match error {
            CreateWorkflowError::Invalid(errors) => Self::validation(errors),
            CreateWorkflowError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<PublishWorkflowError> for ApiError {
    fn from(error: PublishWorkflowError) -> Self {
        match error {
            PublishWorkflowError::NotFound => Self::not_found(),
            PublishWorkflowError::AlreadyPublished => {
                Self::new(StatusCode::CONFLICT, "already_published", error.to_string())
            }
            PublishWorkflowError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<CreateWorkOrderError> for ApiError {
    fn from(error: CreateWorkOrderError) -> Self {
        match error {
            CreateWorkOrderError::Invalid(errors) => Self::validation(errors),
            CreateWorkOrderError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<MoveError> for ApiError {
    fn from(error: MoveError) -> Self {
        let detail = error.to_string();
        match error {
            MoveError::NotFound => Self::not_found(),
            MoveError::InvalidTransition(_) => {
                Self::new(StatusCode::CONFLICT, "invalid_transition", detail)
            }
            MoveError::Conflict => Self::new(StatusCode::CONFLICT, "conflict", detail),
            MoveError::InvalidAssignee => Self::invalid_field("assignee_id", detail),
            MoveError::RegionUnresolved => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "region_unresolved",
                detail,
            ),
            MoveError::Unpriced(missing) => {
                let listed: Vec<String> = missing
                    .iter()
                    .map(|m| format!("{} at {}", m.service_item, m.tier))
                    .collect();
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unpriced",
                    format!("No price applies to {}.", listed.join(", ")),
                )
            }
            MoveError::Pricing(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unpriced", detail)
            }
            MoveError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<ClosePeriodError> for ApiError {
    fn from(error: ClosePeriodError) -> Self {
        let detail = error.to_string();
        match error {
            ClosePeriodError::Span(span) => {
                let field = match span {
                    SpanError::NotADate("from") => "from",
                    _ => "to",
                };
                Self::invalid_field(field, detail)
            }
            ClosePeriodError::Overlaps(..) => {
                Self::new(StatusCode::CONFLICT, "period_overlaps", detail)
            }
            ClosePeriodError::OutOfOrder(..) => {
                Self::new(StatusCode::CONFLICT, "period_out_of_order", detail)
            }
            // Tried again until it finds the other close; reaching here
            // means the other close kept failing.
            ClosePeriodError::Raced => Self::new(StatusCode::CONFLICT, "conflict", detail),
            ClosePeriodError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<StatementActionError> for ApiError {
    fn from(error: StatementActionError) -> Self {
        let detail = error.to_string();
        match error {
            StatementActionError::NotFound => Self::not_found(),
            StatementActionError::InvalidTransition(_) => {
                Self::new(StatusCode::CONFLICT, "invalid_transition", detail)
            }
            StatementActionError::DeadlinePassed => {
                Self::new(StatusCode::CONFLICT, "dispute_deadline_passed", detail)
            }
            StatementActionError::AlreadyDisputed => {
                Self::new(StatusCode::CONFLICT, "already_disputed", detail)
            }
            StatementActionError::LineNotOnStatement => Self::invalid_field("line_id", detail),
            StatementActionError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<RewardError> for ApiError {
    fn from(error: RewardError) -> Self {
        let detail = error.to_string();
        match error {
            RewardError::NotFound => Self::not_found(),
            RewardError::NotPosted => {
                Self::new(StatusCode::CONFLICT, "earnings_not_posted", detail)
            }
            RewardError::Conflict => Self::new(StatusCode::CONFLICT, "conflict", detail),
            RewardError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

impl From<FairnessError> for ApiError {
    fn from(error: FairnessError) -> Self {
        let detail = error.to_string();
        match error {
            FairnessError::TooManyLines => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "report_too_large", detail)
            }
            FairnessError::Unexpected(cause) => Self::unexpected(cause),
        }
    }
}

#[cfg(test)]
impl ApiError {
    /// The fields named by a validation error, for unit tests.
    pub fn errors_for_test(&self) -> Vec<String> {
        self.errors.iter().map(|e| e.field.clone()).collect()
    }
}

/// Rewrites an error answer that did not come from [`ApiError`] (actix's
/// own: a bad query string, a method a route does not take, a body its
/// extractor refused) into problem+json, so that clients meet one shape.
pub async fn into_problem(
    response: actix_web::dev::ServiceResponse<actix_web::body::BoxBody>,
) -> actix_web::dev::ServiceResponse<actix_web::body::BoxBody> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/"));
    if status.as_u16() < 400 || is_problem {
        return response;
    }
    let (request, original) = response.into_parts();
    let text = actix_web::body::to_bytes(original.into_body())
        .await
        .unwrap_or_default();
    let code = match status {
        StatusCode::BAD_REQUEST => "malformed_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal_error",
        _ => "request_failed",
    };
    let detail = if status.is_server_error() || text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        String::from_utf8_lossy(&text).into_owned()
    };
    let problem = ApiError::new(status, code, detail).error_response();
    actix_web::dev::ServiceResponse::new(request, problem)
}
