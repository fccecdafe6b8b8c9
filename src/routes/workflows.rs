//! Admin: workflow definitions, by version.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use scrm_service::domain::WorkflowId;
use scrm_service::workflows::{self, Workflow};

use crate::authn::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, PageQuery};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowResponse {
    pub id: String,
    pub key: String,
    pub version: i32,
    /// `draft` or `published`.
    pub status: String,
    pub name: String,
    pub business_type: String,
    /// The definition in the format it was posted in.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowPage {
    pub items: Vec<WorkflowResponse>,
    pub next_cursor: Option<String>,
}

impl From<Workflow> for WorkflowResponse {
    fn from(workflow: Workflow) -> Self {
        Self {
            id: workflow.id.to_string(),
            key: workflow.key,
            version: workflow.version,
            status: workflow.status.to_owned(),
            name: workflow.definition.name().to_owned(),
            business_type: workflow.definition.business_type().to_owned(),
            definition: workflow.definition.to_json(),
            created_at: workflow.created_at,
            published_at: workflow.published_at,
        }
    }
}

/// Checks a definition and stores it as a draft, the next version of its
/// key. A broken graph answers 422 with every problem, each naming the node
/// or transition.
#[utoipa::path(post, path = "/api/v1/admin/workflows", tag = "workflows", security(("bearer" = [])),
    request_body(content = Object, description = "A workflow definition, as the API contract describes."),
    responses(
        (status = 201, body = WorkflowResponse),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_workflow(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let workflow =
        workflows::create_workflow(&state.db, &caller.scope(), Some(caller.user_id()), &body)
            .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/admin/workflows/{}", workflow.id),
        ))
        .json(WorkflowResponse::from(workflow)))
}

/// Publishes a draft: new orders of its key start on this version.
#[utoipa::path(post, path = "/api/v1/admin/workflows/{id}/publish", tag = "workflows", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = WorkflowResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_published`."),
))]
pub async fn publish_workflow(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = WorkflowId::parse(&id).map_err(|_| ApiError::not_found())?;
    let workflow =
        workflows::publish_workflow(&state.db, &caller.scope(), Some(caller.user_id()), id).await?;
    Ok(HttpResponse::Ok().json(WorkflowResponse::from(workflow)))
}

/// Every version of every workflow, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/workflows", tag = "workflows", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = WorkflowPage)))]
pub async fn list_workflows(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = workflows::list_workflows(&state.db, &caller.scope(), query.parse()?).await?;
    let page = page.map(WorkflowResponse::from);
    Ok(HttpResponse::Ok().json(WorkflowPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One version of a workflow.
#[utoipa::path(get, path = "/api/v1/admin/workflows/{id}", tag = "workflows", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = WorkflowResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_workflow(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = WorkflowId::parse(&id).map_err(|_| ApiError::not_found())?;
    let workflow = workflows::get_workflow(&state.db, &caller.scope(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(WorkflowResponse::from(workflow)))
}
