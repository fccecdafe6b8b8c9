//! Lists of work orders, filtered and paged, and one customer's journey
//! across linked orders.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{user, work_order, work_order_event};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::OPEN;
use crate::auth::Principal;
use crate::domain::{Role, UserId, WorkOrderId, WorkflowId};
use crate::page::{Page, PageRequest};
use crate::region_tiers::get_region_tiers;
use crate::regions::RegionCode;
use crate::tenancy::TenantScope;
use crate::users::names_of;
use crate::workflows::get_workflow;

/// What a list is narrowed to; every field is optional.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<String>,
    pub node: Option<String>,
    pub phase: Option<String>,
    pub assignee: Option<UserId>,
    /// A region code or its prefix: `44` lists all of Guangdong.
    pub region: Option<String>,
    pub overdue: Option<bool>,
    pub external_order_no: Option<String>,
}

/// One order in a list.
#[derive(Debug, Clone)]
pub struct OrderSummary {
    pub id: WorkOrderId,
    pub number: String,
    pub status: String,
    pub workflow_key: String,
    pub node_key: String,
    pub node_name: String,
    pub phase: String,
    pub region_code: Option<String>,
    pub region_name: Option<String>,
    /// The tier the tenant's mapping gives the region now.
    pub region_tier: Option<String>,
    pub assignee: Option<(UserId, String)>,
    pub customer_name: String,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub external_order_no: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The orders `principal` may see that match `filter`, oldest first. Names
/// of nodes and assignees come from a constant number of queries per page.
pub async fn list_work_orders(
    db: &impl ConnectionTrait,
    principal: &Principal,
    filter: &OrderFilter,
    page: PageRequest,
    now: DateTime<Utc>,
) -> anyhow::Result<Page<OrderSummary>> {
    let scope = principal.scope();
    let query = scope
        .select::<work_order::Entity>()
        .filter(role_condition(principal))
        .filter(filter_condition(filter, now));
    let rows = page
        .fetch(db, query, work_order::Column::Id, |o| o.id)
        .await
        .context("failed to list work orders")?;
    let assignees: Vec<Uuid> = rows.items.iter().filter_map(|o| o.assignee_id).collect();
    let names = names_of(db, &scope, assignees).await?;
    let node_names = node_names(db, &scope, &rows.items).await?;
    // One read of the tenant's mapping serves the whole page.
    let tiers = if rows.items.iter().any(|o| o.region_code.is_some()) {
        Some(get_region_tiers(db, &scope).await?)
    } else {
        None
    };
    let tier_of = |code: Option<&str>| {
        let code = RegionCode::parse(code?).ok()?;
        tiers.as_ref()?.tier_of(&code).map(str::to_owned)
    };
    Ok(rows.map(|order| OrderSummary {
        region_tier: tier_of(order.region_code.as_deref()),
        id: WorkOrderId::from_uuid(order.id),
        node_name: node_names
            .get(&(order.workflow_id, order.node_key.clone()))
            .map(|n| n.0.clone())
            .unwrap_or_default(),
        assignee: order.assignee_id.map(|a| {
            (
                UserId::from_uuid(a),
                names.get(&a).cloned().unwrap_or_default(),
            )
        }),
        overdue: order.status == OPEN && order.due_at.is_some_and(|due| due < now),
        number: order.number,
        status: order.status,
        workflow_key: order.workflow_key,
        node_key: order.node_key,
        phase: order.phase,
        region_code: order.region_code,
        region_name: order.region_name,
        customer_name: order.customer_name,
        due_at: order.due_at,
        external_order_no: order.external_order_no,
        created_at: order.created_at,
    }))
}

/// Which orders a role sees at all.
fn role_condition(principal: &Principal) -> Condition {
    let me = principal.user_id().as_uuid();
    match principal.role() {
        Role::Admin | Role::Dispatcher => Condition::all(),
        Role::Installer => Condition::all().add(work_order::Column::AssigneeId.eq(me)),
        Role::Customer => Condition::all().add(work_order::Column::CustomerId.eq(me)),
        Role::PartnerManager => {
            // The installers of the manager's own firm.
            let mut firm = Query::select();
            firm.column(user::Column::PartnerId)
                .from(user::Entity)
                .and_where(user::Column::Id.eq(me))
                .and_where(user::Column::TenantId.eq(principal.tenant_id().as_uuid()));
            let mut installers = Query::select();
            installers
                .column(user::Column::Id)
                .from(user::Entity)
                .and_where(user::Column::TenantId.eq(principal.tenant_id().as_uuid()))
                .and_where(user::Column::PartnerId.in_subquery(firm));
            Condition::all().add(work_order::Column::AssigneeId.in_subquery(installers))
        }
    }
}

fn filter_condition(filter: &OrderFilter, now: DateTime<Utc>) -> Condition {
    let mut condition = Condition::all();
    if let Some(status) = &filter.status {
        condition = condition.add(work_order::Column::Status.eq(status.as_str()));
    }
    if let Some(node) = &filter.node {
        condition = condition.add(work_order::Column::NodeKey.eq(node.as_str()));
    }
    if let Some(phase) = &filter.phase {
        condition = condition.add(work_order::Column::Phase.eq(phase.as_str()));
    }
    if let Some(assignee) = filter.assignee {
        condition = condition.add(work_order::Column::AssigneeId.eq(assignee.as_uuid()));
    }
    if let Some(region) = &filter.region {
        condition = condition.add(work_order::Column::RegionCode.starts_with(region.as_str()));
    }
    if let Some(number) = &filter.external_order_no {
        condition = condition.add(work_order::Column::ExternalOrderNo.eq(number.as_str()));
    }
    let overdue = Condition::all()
        .add(work_order::Column::Status.eq(OPEN))
        .add(work_order::Column::DueAt.lt(now));
    match filter.overdue {
        Some(true) => condition.add(overdue),
        Some(false) => condition.add(overdue.not()),
        None => condition,
    }
}

/// The names and phases of the nodes the listed orders sit at, from the (cached)
/// definitions of their workflow versions.
async fn node_names(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    orders: &[work_order::Model],
) -> anyhow::Result<HashMap<(Uuid, String), (String, String)>> {
    let mut names = HashMap::new();
    let mut versions: Vec<Uuid> = orders.iter().map(|o| o.workflow_id).collect();
    versions.sort_unstable();
    versions.dedup();
    for id in versions {
        let Some(workflow) = get_workflow(db, scope, WorkflowId::from_uuid(id)).await? else {
            continue;
        };
        for node in workflow.definition.nodes() {
            names.insert(
                (id, node.key.clone()),
                (node.name.clone(), node.phase.as_str().to_owned()),
            );
        }
    }
    Ok(names)
}

/// One step of a customer's journey.
#[derive(Debug, Clone)]
pub struct JourneyEntry {
    pub at: DateTime<Utc>,
    pub work_order_id: WorkOrderId,
    pub number: String,
    pub workflow_key: String,
    pub phase: String,
    pub node_key: String,
    pub node_name: String,
    pub action: String,
    pub from: Option<String>,
}

/// The most linked orders a journey follows.
const JOURNEY_LIMIT: u64 = 500;

/// One customer's whole story in time order: their orders, the orders
/// spawned from those, and every move of each. `None` when the caller may
/// not see this customer (answer 404).
pub async fn customer_journey(
    db: &impl ConnectionTrait,
    principal: &Principal,
    customer: UserId,
) -> anyhow::Result<Option<Vec<JourneyEntry>>> {
    let allowed = matches!(principal.role(), Role::Admin | Role::Dispatcher)
        || (principal.role() == Role::Customer && principal.user_id() == customer);
    let scope = principal.scope();
    let exists = scope
        .select::<user::Entity>()
        .filter(user::Column::Id.eq(customer.as_uuid()))
        .filter(user::Column::Role.eq(Role::Customer.as_str()))
        .one(db)
        .await
        .context("failed to load the customer")?
        .is_some();
    if !(allowed && exists) {
        return Ok(None);
    }
    let orders = linked_orders(db, &scope, customer.as_uuid()).await?;
    let node_names = node_names(db, &scope, &orders).await?;
    let by_id: HashMap<Uuid, &work_order::Model> = orders.iter().map(|o| (o.id, o)).collect();
    let events = scope
        .select::<work_order_event::Entity>()
        .filter(work_order_event::Column::WorkOrderId.is_in(by_id.keys().copied()))
        .order_by_asc(work_order_event::Column::At)
        .order_by_asc(work_order_event::Column::Id)
        .all(db)
        .await
        .context("failed to load a journey")?;
    Ok(Some(
        events
            .into_iter()
            .filter_map(|event| {
                let order = by_id.get(&event.work_order_id)?;
                let node = node_names.get(&(order.workflow_id, event.to_node.clone()));
                Some(JourneyEntry {
                    at: event.at,
                    work_order_id: WorkOrderId::from_uuid(order.id),
                    number: order.number.clone(),
                    workflow_key: order.workflow_key.clone(),
                    phase: node
                        .map(|n| n.1.clone())
                        .unwrap_or_else(|| order.phase.clone()),
                    node_name: node.map(|n| n.0.clone()).unwrap_or_default(),
                    node_key: event.to_node,
                    action: event.action,
                    from: event.from_node,
                })
            })
            .collect(),
    ))
}

/// The customer's orders and, level by level, the orders spawned from them.
async fn linked_orders(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    customer: Uuid,
) -> anyhow::Result<Vec<work_order::Model>> {
    let mut orders = scope
        .select::<work_order::Entity>()
        .filter(work_order::Column::CustomerId.eq(customer))
        .limit(JOURNEY_LIMIT)
        .all(db)
        .await
        .context("failed to load a customer's orders")?;
    let mut frontier: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    while !frontier.is_empty() && (orders.len() as u64) < JOURNEY_LIMIT {
        let children = scope
            .select::<work_order::Entity>()
            .filter(work_order::Column::ParentId.is_in(frontier))
            .limit(JOURNEY_LIMIT)
            .all(db)
            .await
            .context("failed to load linked orders")?;
        let new: Vec<work_order::Model> = children
            .into_iter()
            .filter(|c| !orders.iter().any(|o| o.id == c.id))
            .collect();
        frontier = new.iter().map(|o| o.id).collect();
        orders.extend(new);
    }
    Ok(orders)
}
