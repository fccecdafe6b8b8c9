//! Creating a work order at the start node of its workflow's current
//! version, with its region resolved from the address.

use std::collections::HashSet;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{user, work_order, work_order_line};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, QueryFilter, Set,
    TransactionTrait,
};
use uuid::Uuid;

use super::OPEN;
use super::moves::{Event, enter_node, record_event};
use crate::auth::Principal;
use crate::catalog::all_service_items;
use crate::domain::{DisplayName, Phone, Role, WorkOrderId};
use crate::pricing::engine::OrderLine;
use crate::pricing::money::Fen;
use crate::regions::{Regions, Resolution};
use crate::tenancy::TenantScope;
use crate::validation::{FieldError, FieldErrors};
use crate::workflows::{Workflow, current_workflow};

/// The customer of a new order.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub name: DisplayName,
    pub phone: Phone,
    /// The free-text address, 1 to 500 characters.
    pub address: String,
}

/// A work order to create.
#[derive(Debug, Clone)]
pub struct NewWorkOrder {
    pub workflow: String,
    pub customer: NewCustomer,
    pub lines: Vec<OrderLine>,
    /// The sales channel's order number, for orders a channel created.
    pub external_order_no: Option<String>,
    /// The channel that created the order, if one did.
    pub channel_id: Option<Uuid>,
}

/// A customer as received, before its rules are checked.
#[derive(Debug, Clone, Copy)]
pub struct RawCustomer<'a> {
    pub name: &'a str,
    pub phone: &'a str,
    pub address: &'a str,
}

/// An order line as received, before its rules are checked.
#[derive(Debug, Clone, Copy)]
pub struct RawLine<'a> {
    pub service_item: &'a str,
    pub quantity: u32,
    pub sale_price_fen: i64,
}

/// Checks a customer; each problem is added under `prefix` (`customer`).
pub fn parse_customer(
    raw: RawCustomer<'_>,
    prefix: &str,
    errors: &mut FieldErrors,
) -> Option<NewCustomer> {
    let name = errors.check(&format!("{prefix}.name"), DisplayName::parse(raw.name));
    let phone = errors.check(&format!("{prefix}.phone"), Phone::parse(raw.phone));
    let address = raw.address.trim().to_owned();
    if !(1..=500).contains(&address.chars().count()) {
        errors.add(&format!("{prefix}.address"), "must be 1 to 500 characters");
    }
    let (name, phone) = name.zip(phone)?;
    Some(NewCustomer {
        name,
        phone,
        address,
    })
}

/// Checks order lines; each problem is added under `prefix[i]` (`lines[0]`).
pub fn parse_lines(
    lines: &[RawLine<'_>],
    prefix: &str,
    errors: &mut FieldErrors,
) -> Vec<OrderLine> {
    if lines.is_empty() {
        errors.add(prefix, "must hold at least one line");
    }
    let mut parsed = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if !(1..=10_000).contains(&line.quantity) {
            errors.add(
                &format!("{prefix}[{i}].quantity"),
                "must be between 1 and 10000",
            );
        }
        let sale = errors.check(
            &format!("{prefix}[{i}].sale_price_fen"),
            Fen::non_negative(line.sale_price_fen),
        );
        if let Some(sale_price_fen) = sale {
            parsed.push(OrderLine {
                service_item: line.service_item.to_owned(),
                quantity: line.quantity,
                sale_price_fen,
            });
        }
    }
    parsed
}

#[derive(Debug, thiserror::Error)]
pub enum CreateWorkOrderError {
    #[error("the order has invalid fields")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Creates an order and runs the start node's actions, in one transaction.
#[tracing::instrument(name = "create work order", skip_all, fields(tenant.id = %creator.tenant_id()))]
pub async fn create_work_order(
    db: &DatabaseConnection,
    creator: &Principal,
    new: NewWorkOrder,
) -> Result<WorkOrderId, CreateWorkOrderError> {
    // SQLite refuses a write while another is under way (the sweepers
    // write too); the whole creation is then tried again.
    let id = crate::db::retry_contended(
        || async {
            let txn = db.begin().await.context("failed to begin a work order")?;
            let id = create_in(&txn, creator, &new, Utc::now()).await?;
            txn.commit()
                .await
                .context("failed to commit a work order")?;
            Ok(id)
        },
        |e| matches!(e, CreateWorkOrderError::Unexpected(e) if crate::db::is_write_contention(e)),
    )
    .await?;
    tracing::info!(work_order.id = %id, "work order created");
    Ok(id)
}

/// Checks and creates an order inside the caller's transaction.
pub(crate) async fn create_in(
    txn: &impl ConnectionTrait,
    creator: &Principal,
    new: &NewWorkOrder,
    now: DateTime<Utc>,
) -> Result<WorkOrderId, CreateWorkOrderError> {
    let workflow = check_order(txn, &creator.scope(), new).await?;
    Ok(insert_order(txn, creator, &workflow, new, None, now).await?)
}

async fn check_order(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    new: &NewWorkOrder,
) -> Result<Workflow, CreateWorkOrderError> {
    let mut errors = FieldErrors::new();
    let workflow = current_workflow(db, scope, &new.workflow).await?;
    if workflow.is_none() {
        errors.add("workflow", "names no published workflow of this tenant");
    }
    let items: HashSet<String> = all_service_items(db, scope)
        .await?
        .into_iter()
        .map(|i| i.code)
        .collect();
    for (i, line) in new.lines.iter().enumerate() {
        if !items.contains(&line.service_item) {
            errors.add(
                &format!("lines[{i}].service_item"),
                "names no service item of this tenant",
            );
        }
    }
    errors.finish().map_err(CreateWorkOrderError::Invalid)?;
    workflow.ok_or_else(|| CreateWorkOrderError::Invalid(Vec::new()))
}

/// Inserts an order at its start node, records the creation and runs the
/// start node's actions. Used for new orders and for `spawn`.
pub(super) async fn insert_order(
    txn: &impl ConnectionTrait,
    creator: &Principal,
    workflow: &Workflow,
    new: &NewWorkOrder,
    parent: Option<Uuid>,
    now: DateTime<Utc>,
) -> anyhow::Result<WorkOrderId> {
    let scope = creator.scope();
    let id = WorkOrderId::generate();
    let start = workflow.definition.start();
    let customer_id = customer_of(txn, creator, &new.customer.phone).await?;
    let (region_code, region_name, candidates) = region_of(&new.customer.address);
    work_order::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        number: Set(order_number(id, now)),
        workflow_id: Set(workflow.id.as_uuid()),
        workflow_key: Set(workflow.key.clone()),
        workflow_version: Set(workflow.version),
        node_key: Set(start.key.clone()),
        phase: Set(start.phase.as_str().to_owned()),
        status: Set(OPEN.to_owned()),
        customer_id: Set(customer_id),
        customer_name: Set(new.customer.name.as_str().to_owned()),
        customer_phone: Set(new.customer.phone.expose().to_owned()),
        customer_address: Set(new.customer.address.clone()),
        region_code: Set(region_code),
        region_name: Set(region_name),
        region_candidates: Set(candidates),
        assignee_id: Set(None),
        external_order_no: Set(new.external_order_no.clone()),
        parent_id: Set(parent),
        node_entered_at: Set(now),
        due_at: Set(start
            .due_in_minutes
            .map(|m| now + chrono::Duration::minutes(i64::from(m)))),
        version: Set(1),
        created_by: Set(Some(creator.user_id().as_uuid())),
        cancel_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        closed_at: Set(None),
        channel_id: Set(new.channel_id),
        overdue_reminded_for: Set(None),
    }
    .insert(txn)
    .await
    .context("failed to insert a work order")?;
    insert_lines(txn, &scope, id, &new.lines).await?;
    let event = Event {
        from: None,
        to: &start.key,
        action: "create",
        actor: Some(creator.user_id()),
        comment: None,
    };
    record_event(txn, &scope, id, event, now).await?;
    Box::pin(enter_node(txn, creator, id, workflow, start, now))
        .await
        .map_err(|e| anyhow::anyhow!("the start node's actions failed: {e}"))?;
    Ok(id)
}

async fn insert_lines(
    txn: &impl ConnectionTrait,
    scope: &TenantScope,
    id: WorkOrderId,
    lines: &[OrderLine],
) -> anyhow::Result<()> {
    for (line_no, line) in (1..).zip(lines) {
        work_order_line::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(scope.tenant_id().as_uuid()),
            work_order_id: Set(id.as_uuid()),
            line_no: Set(line_no),
            service_item: Set(line.service_item.clone()),
            quantity: Set(i32::try_from(line.quantity).context("a quantity is too large")?),
            sale_price_fen: Set(line.sale_price_fen.get()),
        }
        .insert(txn)
        .await
        .context("failed to insert an order line")?;
    }
    Ok(())
}

/// `WO-20261203-1a2b3c4d5e6f`: the date and the last 48 random bits of the
/// id. Numbers are unique per tenant, and 48 bits keep a clash unlikely
/// (about one in five million for a day of 10,000 orders of one tenant);
/// a clash fails the insert, which the caller may retry with a new id.
fn order_number(id: WorkOrderId, now: DateTime<Utc>) -> String {
    let simple = id.as_uuid().simple().to_string();
    format!(
        "WO-{}-{}",
        now.format("%Y%m%d"),
        &simple[simple.len() - 12..]
    )
}

/// The customer user: the one who asked, or a customer of the tenant with
/// this phone number, so that their journey links up.
async fn customer_of(
    db: &impl ConnectionTrait,
    creator: &Principal,
    phone: &Phone,
) -> anyhow::Result<Option<Uuid>> {
    if creator.role() == Role::Customer {
        return Ok(Some(creator.user_id().as_uuid()));
    }
    let found = creator
        .scope()
        .select::<user::Entity>()
        .filter(user::Column::Role.eq(Role::Customer.as_str()))
        .filter(user::Column::Phone.eq(phone.expose()))
        .one(db)
        .await
        .context("failed to look up the customer")?;
    Ok(found.map(|u| u.id))
}

/// The resolved region, or the candidates as JSON when it is ambiguous.
fn region_of(address: &str) -> (Option<String>, Option<String>, Option<String>) {
    match Regions::shipped().resolve(address) {
        Resolution::Resolved(region) => (
            Some(region.code.as_str().to_owned()),
            Some(region.name),
            None,
        ),
        Resolution::Ambiguous(candidates) => {
            let listed: Vec<serde_json::Value> = candidates
                .iter()
                .map(|c| serde_json::json!({"code": c.code.as_str(), "name": c.name}))
                .collect();
            (
                None,
                None,
                Some(serde_json::Value::from(listed).to_string()),
            )
        }
        Resolution::Unresolved => (None, None, None),
    }
}
