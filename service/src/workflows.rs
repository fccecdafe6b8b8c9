//! Workflow definitions by version. An admin posts a definition as a draft;
//! publishing makes it the version new orders of its key start on. Orders
//! keep the version they started on to the end, and every version stays
//! readable. A new tenant starts with ready templates, published.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::workflow;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::Value;

use crate::db::is_unique_violation;
use crate::domain::{UserId, WorkflowId};
use crate::page::{Page, PageRequest};
use crate::tenancy::TenantScope;
use crate::validation::FieldError;
use crate::workflow::{WorkflowDefinition, templates};

const DRAFT: &str = "draft";
const PUBLISHED: &str = "published";

/// One version of a workflow.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub id: WorkflowId,
    pub key: String,
    pub version: i32,
    pub status: &'static str,
    pub definition: Arc<WorkflowDefinition>,
    pub created_at: DateTime<Utc>,
    pub published_by: Option<UserId>,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateWorkflowError {
    #[error("the workflow definition has problems")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum PublishWorkflowError {
    #[error("no such workflow")]
    NotFound,
    #[error("the workflow is already published")]
    AlreadyPublished,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Published versions never change: each is parsed once per process and
/// kept, with its tenant, so that reading it again (every order detail and
/// every move does) costs no statement. Drafts are read each time, since
/// they are few and may still be replaced by a new version.
static PUBLISHED_VERSIONS: LazyLock<Mutex<HashMap<uuid::Uuid, (uuid::Uuid, Workflow)>>> =
    LazyLock::new(Default::default);
const PUBLISHED_CAPACITY: usize = 1_000;

fn cached_version(scope: &TenantScope, id: WorkflowId) -> Option<Workflow> {
    let cache = PUBLISHED_VERSIONS.lock().ok()?;
    let (tenant, workflow) = cache.get(&id.as_uuid())?;
    (*tenant == scope.tenant_id().as_uuid()).then(|| workflow.clone())
}

fn to_workflow(row: workflow::Model) -> anyhow::Result<Workflow> {
    if row.status == PUBLISHED
        && let Some((_, found)) = PUBLISHED_VERSIONS
            .lock()
            .ok()
            .and_then(|cache| cache.get(&row.id).cloned())
    {
        return Ok(found);
    }
    let json: Value =
        serde_json::from_str(&row.definition).context("a stored definition is not JSON")?;
    // Stored definitions were checked when written; `spawn` targets need no
    // second look.
    let definition = WorkflowDefinition::parse(&json, &|_| true).map_err(|problems| {
        anyhow::anyhow!("a stored definition no longer parses: {problems:?}")
    })?;
    let workflow = Workflow {
        id: WorkflowId::from_uuid(row.id),
        key: row.key,
        version: row.version,
        status: if row.status == PUBLISHED {
            PUBLISHED
        } else {
            DRAFT
        },
        definition: Arc::new(definition),
        created_at: row.created_at,
        published_by: row.published_by.map(UserId::from_uuid),
        published_at: row.published_at,
    };
    if workflow.status == PUBLISHED
        && let Ok(mut cache) = PUBLISHED_VERSIONS.lock()
    {
        if cache.len() >= PUBLISHED_CAPACITY {
            cache.clear();
        }
        cache.insert(row.id, (row.tenant_id, workflow.clone()));
    }
    Ok(workflow)
}

async fn tenant_keys(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
) -> anyhow::Result<HashSet<String>> {
    let keys: Vec<String> = scope
        .select::<workflow::Entity>()
        .select_only()
        .column(workflow::Column::Key)
        .distinct()
        .into_tuple()
        .all(db)
        .await
        .context("failed to list workflow keys")?;
    Ok(keys.into_iter().collect())
}

/// Checks and stores a definition as a draft, the next version of its key.
#[tracing::instrument(name = "create workflow", skip_all, fields(tenant.id = %scope.tenant_id()))]
pub async fn create_workflow(
    db: &DatabaseConnection,
    scope: &TenantScope,
    created_by: Option<UserId>,
    json: &Value,
) -> Result<Workflow, CreateWorkflowError> {
    let mut known = tenant_keys(db, scope).await?;
    known.extend(json.get("key").and_then(Value::as_str).map(str::to_owned));
    let definition = WorkflowDefinition::parse(json, &|key| known.contains(key))
        .map_err(CreateWorkflowError::Invalid)?;
    Ok(insert_draft(db, scope, created_by, &definition).await?)
}

async fn insert_draft(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    created_by: Option<UserId>,
    definition: &WorkflowDefinition,
) -> anyhow::Result<Workflow> {
    for _ in 0..5 {
        let latest: Option<i32> = scope
            .select::<workflow::Entity>()
            .select_only()
            .column_as(workflow::Column::Version.max(), "latest")
            .filter(workflow::Column::Key.eq(definition.key()))
            .into_tuple::<Option<i32>>()
            .one(db)
            .await
            .context("failed to read the latest workflow version")?
            .flatten();
        let row = workflow::ActiveModel {
            id: Set(WorkflowId::generate().as_uuid()),
            tenant_id: Set(scope.tenant_id().as_uuid()),
            key: Set(definition.key().to_owned()),
            version: Set(latest.unwrap_or(0) + 1),
            name: Set(definition.name().to_owned()),
            business_type: Set(definition.business_type().to_owned()),
            status: Set(DRAFT.to_owned()),
            definition: Set(definition.to_json().to_string()),
            created_by: Set(created_by.map(|u| u.as_uuid())),
            published_by: Set(None),
            published_at: Set(None),
            created_at: Set(Utc::now()),
        };
        match row.insert(db).await {
            Ok(row) => return to_workflow(row),
            // A concurrent draft of the same key took this version.
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(anyhow::Error::new(e).context("failed to insert a workflow")),
        }
    }
    anyhow::bail!("could not find a free workflow version")
}

/// Publishes a draft: new orders of its key start on it from now on.
#[tracing::instrument(name = "publish workflow", skip_all, fields(tenant.id = %scope.tenant_id(), workflow.id = %id))]
pub async fn publish_workflow(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    publisher: Option<UserId>,
    id: WorkflowId,
) -> Result<Workflow, PublishWorkflowError> {
    let now = Utc::now();
    let updated = workflow::Entity::update_many()
        .col_expr(workflow::Column::Status, Expr::value(PUBLISHED))
        .col_expr(
            workflow::Column::PublishedBy,
            Expr::value(publisher.map(|u| u.as_uuid())),
        )
        .col_expr(workflow::Column::PublishedAt, Expr::value(now))
        .filter(workflow::Column::TenantId.eq(scope.tenant_id().as_uuid()))
        .filter(workflow::Column::Id.eq(id.as_uuid()))
        .filter(workflow::Column::Status.eq(DRAFT))
        .exec(db)
        .await
        .context("failed to publish a workflow")?;
    let workflow = get_workflow(db, scope, id)
        .await?
        .ok_or(PublishWorkflowError::NotFound)?;
    if updated.rows_affected == 0 {
        return Err(PublishWorkflowError::AlreadyPublished);
    }
    Ok(workflow)
}

/// One version of a workflow, draft or published.
pub async fn get_workflow(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    id: WorkflowId,
) -> anyhow::Result<Option<Workflow>> {
    if let Some(found) = cached_version(scope, id) {
        return Ok(Some(found));
    }
    let row = scope
        .select::<workflow::Entity>()
        .filter(workflow::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a workflow")?;
    row.map(to_workflow).transpose()
}

/// The published version of `key` that new orders start on: the highest.
pub async fn current_workflow(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    key: &str,
) -> anyhow::Result<Option<Workflow>> {
    let row = scope
        .select::<workflow::Entity>()
        .filter(workflow::Column::Key.eq(key))
        .filter(workflow::Column::Status.eq(PUBLISHED))
        .order_by_desc(workflow::Column::Version)
        .one(db)
        .await
        .context("failed to find the current workflow")?;
    row.map(to_workflow).transpose()
}

/// Every version of every workflow, oldest first.
pub async fn list_workflows(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    page: PageRequest,
) -> anyhow::Result<Page<Workflow>> {
    let rows = page
        .fetch(
            db,
            scope.select::<workflow::Entity>(),
            workflow::Column::Id,
            |r| r.id,
        )
        .await
        .context("failed to list workflows")?;
    let items = rows
        .items
        .into_iter()
        .map(to_workflow)
        .collect::<anyhow::Result<_>>()?;
    Ok(Page {
        items,
        next_cursor: rows.next_cursor,
    })
}

/// Gives a tenant the ready templates it lacks, published as their first
/// version. Safe to call again: a key the tenant has is left alone.
pub async fn install_templates(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
) -> anyhow::Result<()> {
    let have = tenant_keys(db, scope).await?;
    let all = templates();
    let template_keys: HashSet<String> = all
        .iter()
        .filter_map(|t| t.get("key").and_then(Value::as_str).map(str::to_owned))
        .collect();
    for template in &all {
        let definition = WorkflowDefinition::parse(template, &|key| template_keys.contains(key))
            .map_err(|problems| anyhow::anyhow!("a shipped template is invalid: {problems:?}"))?;
        if have.contains(definition.key()) {
            continue;
        }
        let draft = insert_draft(db, scope, None, &definition).await?;
        publish_workflow(db, scope, None, draft.id)
            .await
            .map_err(|e| anyhow::anyhow!("failed to publish a template: {e}"))?;
    }
    Ok(())
}
