//! Work orders: created by dispatchers and customers, moved by actions,
//! read by everyone they concern.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use scrm_service::auth::Principal;
use scrm_service::domain::{DisplayName, UserId, WorkOrderId};
use scrm_service::validation::FieldErrors;
use scrm_service::work_orders::{
    self, Earnings, MoveRequest, NewWorkOrder, OrderFilter, OrderSummary, OrderView, RawCustomer,
};

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, DEFAULT_BODY_LIMIT, PageQuery, RawBody, parse_json};
use crate::routes::quotes::{
    EarningsLineResponse, EarningsResponse, OrderLineRequest, parse_lines,
};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkOrderRequest {
    /// The workflow's key, such as `install`; its current published version
    /// is used.
    pub workflow: String,
    pub customer: CustomerRequest,
    pub lines: Vec<OrderLineRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRequest {
    pub name: String,
    pub phone: String,
    /// Free text; the order's region and tier are resolved from it.
    pub address: String,
}

#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub comment: Option<String>,
    /// Assigns an installer (dispatchers and admins, before acceptance).
    pub assignee_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub reason: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// `open`, `closed` or `cancelled`.
    pub status: Option<String>,
    pub node: Option<String>,
    /// `pre_sale`, `in_sale` or `after_sale`.
    pub phase: Option<String>,
    pub assignee_id: Option<String>,
    /// A GB/T 2260 code or prefix: `44` is all of Guangdong.
    pub region: Option<String>,
    pub overdue: Option<bool>,
    /// The order number a sales channel sent.
    pub external_order_no: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyName {
    pub key: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeResponse {
    pub key: String,
    pub name: String,
    pub phase: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowRef {
    pub key: String,
    pub version: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionResponse {
    pub code: String,
    pub name: String,
    pub tier: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerResponse {
    pub name: String,
    /// Masked (138****0000) for an installer until they accept the order.
    pub phone: String,
    /// Only the region for an installer until they accept the order.
    pub address: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineResponse {
    pub service_item: String,
    pub quantity: u32,
    pub sale_price_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineResponse {
    pub at: DateTime<Utc>,
    pub from: Option<String>,
    pub to: String,
    pub action: String,
    pub actor: Option<String>,
    pub actor_name: Option<String>,
    pub comment: Option<String>,
}

/// A work order as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkOrderResponse {
    pub id: String,
    pub number: String,
    /// `open`, `closed` or `cancelled`.
    pub status: String,
    pub workflow: WorkflowRef,
    pub node: NodeResponse,
    /// The actions open to the caller at this node.
    pub actions: Vec<KeyName>,
    /// `null` while the address is unresolved; see `region_candidates`.
    pub region: Option<RegionResponse>,
    /// When the address fits several regions: a dispatcher must choose.
    pub region_candidates: Vec<RegionResponse>,
    pub assignee: Option<PersonRef>,
    pub customer: CustomerResponse,
    pub lines: Vec<LineResponse>,
    /// Absent for customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earnings: Option<EarningsResponse>,
    pub timeline: Vec<TimelineResponse>,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub parent_id: Option<String>,
    pub external_order_no: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkOrderSummaryResponse {
    pub id: String,
    pub number: String,
    pub status: String,
    pub workflow: String,
    pub node: NodeResponse,
    pub region: Option<RegionResponse>,
    pub assignee: Option<PersonRef>,
    pub customer_name: String,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub external_order_no: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkOrderPage {
    pub items: Vec<WorkOrderSummaryResponse>,
    pub next_cursor: Option<String>,
}

fn person((id, name): (UserId, String)) -> PersonRef {
    PersonRef {
        id: id.to_string(),
        name,
    }
}

fn earnings_response(earnings: Earnings) -> EarningsResponse {
    match earnings {
        Earnings::Estimated { total, lines } => EarningsResponse::priced("estimated", total, lines),
        Earnings::Locked { total, lines } => EarningsResponse::priced("locked", total, lines),
        Earnings::Posted {
            total,
            lines,
            settled,
        } => {
            let status = if settled { "settled" } else { "posted" };
            let mut response = EarningsResponse::priced(status, total, Vec::new());
            response.lines = lines
                .into_iter()
                .map(|ledger| {
                    let reversal = ledger.entry == "reversal";
                    let mut line = EarningsLineResponse::from(ledger.line);
                    if reversal {
                        line.kind = "reversal".to_owned();
                    }
                    line
                })
                .collect();
            response
        }
        Earnings::Unpriced { missing, reason } => {
            let mut response = EarningsResponse::unpriced(missing);
            response.reason = reason;
            response
        }
    }
}

impl From<OrderView> for WorkOrderResponse {
    fn from(view: OrderView) -> Self {
        Self {
            id: view.id.to_string(),
            number: view.number,
            status: view.status,
            workflow: WorkflowRef {
                key: view.workflow_key,
                version: view.workflow_version,
            },
            node: NodeResponse {
                key: view.node_key,
                name: view.node_name,
                phase: view.phase,
            },
            actions: view
                .actions
                .into_iter()
                .map(|(key, name)| KeyName { key, name })
                .collect(),
            region: view
                .region
                .map(|(code, name, tier)| RegionResponse { code, name, tier }),
            region_candidates: view
                .region_candidates
                .into_iter()
                .map(|(code, name)| RegionResponse {
                    code,
                    name,
                    tier: None,
                })
                .collect(),
            assignee: view.assignee.map(person),
            customer: CustomerResponse {
                name: view.customer_name,
                phone: view.customer_phone,
                address: view.customer_address,
            },
            lines: view
                .lines
                .into_iter()
                .map(|l| LineResponse {
                    service_item: l.service_item,
                    quantity: l.quantity,
                    sale_price_fen: l.sale_price_fen.get(),
                })
                .collect(),
            earnings: view.earnings.map(earnings_response),
            timeline: view
                .timeline
                .into_iter()
                .map(|e| TimelineResponse {
                    at: e.at,
                    from: e.from,
                    to: e.to,
                    action: e.action,
                    actor_name: e.actor.as_ref().map(|(_, name)| name.clone()),
                    actor: e.actor.map(|(id, _)| id.to_string()),
                    comment: e.comment,
                })
                .collect(),
            due_at: view.due_at,
            overdue: view.overdue,
            parent_id: view.parent_id.map(|p| p.to_string()),
            external_order_no: view.external_order_no,
            cancel_reason: view.cancel_reason,
            created_at: view.created_at,
        }
    }
}

impl From<OrderSummary> for WorkOrderSummaryResponse {
    fn from(order: OrderSummary) -> Self {
        Self {
            id: order.id.to_string(),
            number: order.number,
            status: order.status,
            workflow: order.workflow_key,
            node: NodeResponse {
                key: order.node_key,
                name: order.node_name,
                phase: order.phase,
            },
            region: order
                .region_code
                .zip(order.region_name)
                .map(|(code, name)| RegionResponse {
                    code,
                    name,
                    tier: order.region_tier,
                }),
            assignee: order.assignee.map(person),
            customer_name: order.customer_name,
            due_at: order.due_at,
            overdue: order.overdue,
            external_order_no: order.external_order_no,
            created_at: order.created_at,
        }
    }
}

impl CreateWorkOrderRequest {
    fn parse(self) -> Result<NewWorkOrder, ApiError> {
        let mut errors = FieldErrors::new();
        let customer = work_orders::parse_customer(
            RawCustomer {
                name: &self.customer.name,
                phone: &self.customer.phone,
                address: &self.customer.address,
            },
            "customer",
            &mut errors,
        );
        let lines = parse_lines(&self.lines, &mut errors);
        errors.finish().map_err(ApiError::validation)?;
        let customer = customer.ok_or_else(|| ApiError::invalid_field("customer", "is invalid"))?;
        Ok(NewWorkOrder {
            workflow: self.workflow,
            customer,
            lines,
            external_order_no: None,
            channel_id: None,
        })
    }
}

async fn view(
    state: &AppState,
    caller: &Principal,
    id: WorkOrderId,
) -> Result<WorkOrderResponse, ApiError> {
    let view = work_orders::get_work_order(&state.db, caller, id, Utc::now())
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(view.into())
}

async fn create(
    state: &AppState,
    caller: &Principal,
    body: CreateWorkOrderRequest,
) -> Result<HttpResponse, ApiError> {
    let new = body.parse()?;
    let id = work_orders::create_work_order(&state.db, caller, new).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/work-orders/{id}")))
        .json(view(state, caller, id).await?))
}

/// A dispatcher or admin creates an order at its workflow's start node.
#[utoipa::path(post, path = "/api/v1/work-orders", tag = "work orders", security(("bearer" = [])), request_body = CreateWorkOrderRequest, responses(
    (status = 201, body = WorkOrderResponse),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_work_order(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateWorkOrderRequest>,
) -> Result<HttpResponse, ApiError> {
    create(&state, &caller, body).await
}

/// A customer asks for an installation or a repair from the mini-program.
#[utoipa::path(post, path = "/api/v1/service-requests", tag = "work orders", security(("bearer" = [])), request_body = CreateWorkOrderRequest, responses(
    (status = 201, body = WorkOrderResponse),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_service_request(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateWorkOrderRequest>,
) -> Result<HttpResponse, ApiError> {
    create(&state, &caller, body).await
}

/// One order, with everything its page needs: node, open actions, region
/// and tier, lines, earnings and timeline.
#[utoipa::path(get, path = "/api/v1/work-orders/{id}", tag = "work orders", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = WorkOrderResponse),
    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such order, or not the caller's."),
))]
pub async fn get_work_order(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = WorkOrderId::parse(&id).map_err(|_| ApiError::not_found())?;
    Ok(HttpResponse::Ok().json(view(&state, &caller, id).await?))
}

/// Takes an action at the order's node. What is not open to the caller at
/// this node answers 409 `invalid_transition` and changes nothing; a
/// concurrent move answers 409 `conflict`.
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/actions/{action}", tag = "work orders", security(("bearer" = [])),
    params(("id" = String, Path), ("action" = String, Path)), request_body = ActionRequest, responses(
    (status = 200, body = WorkOrderResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`invalid_transition` or `conflict`."),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`unpriced`, `region_unresolved`, or an invalid `assignee_id`."),
))]
pub async fn act_on_work_order(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String)>,
    RawBody(body): RawBody<DEFAULT_BODY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    let id = WorkOrderId::parse(&id).map_err(|_| ApiError::not_found())?;
    // The body is optional: an action often needs nothing but its name.
    let body: ActionRequest = if body.is_empty() {
        ActionRequest::default()
    } else {
        parse_json(&body)?
    };
    let assignee = body
        .assignee_id
        .as_deref()
        .map(|a| {
            UserId::parse(a).map_err(|_| ApiError::invalid_field("assignee_id", "is not a user id"))
        })
        .transpose()?;
    let request = MoveRequest {
        action,
        comment: body.comment,
        assignee,
    };
    work_orders::move_work_order(&state.db, &caller, id, request, Utc::now()).await?;
    Ok(HttpResponse::Ok().json(view(&state, &caller, id).await?))
}

/// Cancels an open order from any node; posted earnings are reversed.
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/cancel", tag = "work orders", security(("bearer" = [])), params(("id" = String, Path)), request_body = CancelRequest, responses(
    (status = 200, body = WorkOrderResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
pub async fn cancel_work_order(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
    ApiJson(body): ApiJson<CancelRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = WorkOrderId::parse(&id).map_err(|_| ApiError::not_found())?;
    let reason =
        DisplayName::parse(&body.reason).map_err(|m| ApiError::invalid_field("reason", m))?;
    work_orders::cancel_work_order(&state.db, &caller, id, reason.as_str(), Utc::now()).await?;
    Ok(HttpResponse::Ok().json(view(&state, &caller, id).await?))
}

fn filter_of(query: &OrderQuery) -> Result<OrderFilter, ApiError> {
    let assignee = query
        .assignee_id
        .as_deref()
        .map(|a| {
            UserId::parse(a).map_err(|_| ApiError::invalid_field("assignee_id", "is not a user id"))
        })
        .transpose()?;
    Ok(OrderFilter {
        status: query.status.clone(),
        node: query.node.clone(),
        phase: query.phase.clone(),
        assignee,
        region: query.region.clone(),
        overdue: query.overdue,
        external_order_no: query.external_order_no.clone(),
    })
}

async fn list(
    state: &AppState,
    caller: &Principal,
    query: &OrderQuery,
) -> Result<HttpResponse, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    let orders =
        work_orders::list_work_orders(&state.db, caller, &filter_of(query)?, page, Utc::now())
            .await?;
    let orders = orders.map(WorkOrderSummaryResponse::from);
    Ok(HttpResponse::Ok().json(WorkOrderPage {
        items: orders.items,
        next_cursor: orders.next_cursor,
    }))
}

/// The tenant's orders, filtered, oldest first, at most 100 a page.
#[utoipa::path(get, path = "/api/v1/work-orders", tag = "work orders", security(("bearer" = [])), params(OrderQuery), responses((status = 200, body = WorkOrderPage)))]
pub async fn list_work_orders(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<OrderQuery>,
) -> Result<HttpResponse, ApiError> {
    list(&state, &caller, &query).await
}

/// The caller's own orders: assigned to an installer, requested by a
/// customer, or of a partner manager's firm.
#[utoipa::path(get, path = "/api/v1/me/work-orders", tag = "work orders", security(("bearer" = [])), params(OrderQuery), responses((status = 200, body = WorkOrderPage)))]
pub async fn list_my_work_orders(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<OrderQuery>,
) -> Result<HttpResponse, ApiError> {
    list(&state, &caller, &query).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyEntryResponse {
    pub at: DateTime<Utc>,
    pub work_order_id: String,
    pub number: String,
    pub workflow: String,
    pub phase: String,
    pub node: KeyName,
    pub action: String,
    pub from: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyResponse {
    pub customer_id: String,
    pub entries: Vec<JourneyEntryResponse>,
}

/// One customer's whole story in time order across linked orders.
#[utoipa::path(get, path = "/api/v1/customers/{id}/journey", tag = "work orders", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = JourneyResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn customer_journey(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let customer = UserId::parse(&id).map_err(|_| ApiError::not_found())?;
    let entries = work_orders::customer_journey(&state.db, &caller, customer)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let entries = entries
        .into_iter()
        .map(|e| JourneyEntryResponse {
            at: e.at,
            work_order_id: e.work_order_id.to_string(),
            number: e.number,
            workflow: e.workflow_key,
            phase: e.phase,
            node: KeyName {
                key: e.node_key,
                name: e.node_name,
            },
            action: e.action,
            from: e.from,
        })
        .collect();
    Ok(HttpResponse::Ok().json(JourneyResponse {
        customer_id: customer.to_string(),
        entries,
    }))
}
