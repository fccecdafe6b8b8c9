//! Moving a work order: the transition, its node actions and its timeline
//! entry in one transaction, guarded by the order's version.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use scrm_entity::{user, work_order, work_order_event, work_order_line};

use crate::notifications::templates::format_yuan;
use crate::notifications::{self, NewNotification, NotificationKind, PushData};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use super::create::{NewCustomer, NewWorkOrder, insert_order};
use super::{CANCELLED, CLOSED, OPEN, visible_order};
use crate::auth::Principal;
use crate::domain::{CooperationMode, DisplayName, Phone, Role, UserId, WorkOrderId, WorkflowId};
use crate::pricing::engine::{MissingPrice, OrderLine, QuoteError};
use crate::pricing::money::Fen;
use crate::quotes::{self, Acceptor, EstimateError, PostQuoteError};
use crate::regions::RegionCode;
use crate::tenancy::TenantScope;
use crate::workflow::{Node, NodeAction, NodeKind, NotifyTarget};
use crate::workflows::{Workflow, current_workflow, get_workflow};

/// A move that a user asks for.
#[derive(Debug, Clone)]
pub struct MoveRequest {
    pub action: String,
    pub comment: Option<String>,
    /// Assigns (or, before the order is accepted, reassigns) an installer.
    pub assignee: Option<UserId>,
}

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("no such work order")]
    NotFound,
    /// The action is not open to this user at this node.
    #[error("{0}")]
    InvalidTransition(String),
    /// Someone else moved the order first.
    #[error("the order was changed by someone else; load it again")]
    Conflict,
    #[error("assignee_id names no installer of this tenant")]
    InvalidAssignee,
    /// The order's region is unresolved: a dispatcher must fix the address
    /// before it can be priced.
    #[error("the order's region is unresolved, so it cannot be priced")]
    RegionUnresolved,
    #[error("no price applies to this order")]
    Unpriced(Vec<MissingPrice>),
    #[error("the order cannot be priced: {0}")]
    Pricing(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<EstimateError> for MoveError {
    fn from(error: EstimateError) -> Self {
        match error {
            EstimateError::Quote(QuoteError::Unpriced(missing)) => MoveError::Unpriced(missing),
            EstimateError::Unexpected(e) => MoveError::Unexpected(e),
            other => MoveError::Pricing(other.to_string()),
        }
    }
}

/// One timeline entry.
pub(super) struct Event<'a> {
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub action: &'a str,
    pub actor: Option<UserId>,
    pub comment: Option<&'a str>,
}

pub(super) async fn record_event(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    order: WorkOrderId,
    event: Event<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    work_order_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        work_order_id: Set(order.as_uuid()),
        from_node: Set(event.from.map(str::to_owned)),
        to_node: Set(event.to.to_owned()),
        action: Set(event.action.to_owned()),
        actor_id: Set(event.actor.map(|a| a.as_uuid())),
        comment: Set(event.comment.map(str::to_owned)),
        at: Set(now),
    }
    .insert(db)
    .await
    .context("failed to record a timeline entry")?;
    Ok(())
}

/// Takes `request.action` at the order's node, if it is open to the caller.
/// When SQLite refuses the write because another one is under way, the
/// whole move is tried again from the start, so that it sees the other
/// move's result: the loser of a race then gets `invalid_transition` or
/// `conflict`, never a server error.
#[tracing::instrument(name = "move work order", skip_all, fields(tenant.id = %principal.tenant_id(), work_order.id = %id, action = %request.action))]
pub async fn move_work_order(
    db: &DatabaseConnection,
    principal: &Principal,
    id: WorkOrderId,
    request: MoveRequest,
    now: DateTime<Utc>,
) -> Result<(), MoveError> {
    crate::db::retry_contended(
        || try_move(db, principal, id, &request, now),
        |e| matches!(e, MoveError::Unexpected(e) if crate::db::is_write_contention(e)),
    )
    .await
}

async fn try_move(
    db: &DatabaseConnection,
    principal: &Principal,
    id: WorkOrderId,
    request: &MoveRequest,
    now: DateTime<Utc>,
) -> Result<(), MoveError> {
    let txn = db.begin().await.context("failed to begin a move")?;
    let order = visible_order(&txn, principal, id)
        .await?
        .ok_or(MoveError::NotFound)?;
    if order.status != OPEN {
        return Err(MoveError::InvalidTransition(format!(
            "the order is {}",
            order.status
        )));
    }
    let scope = principal.scope();
    let workflow = workflow_of(&txn, &scope, &order).await?;
    let transition = workflow
        .definition
        .transition(&order.node_key, &request.action)
        .filter(|t| t.allows(principal.role()))
        .ok_or_else(|| {
            MoveError::InvalidTransition(format!("`{}` is not open to you here", request.action))
        })?;
    let target = workflow
        .definition
        .node(&transition.to)
        .context("a transition leads nowhere")?;
    let assignee = new_assignee(&txn, principal, &order, request.assignee).await?;

    update_order(&txn, &order, target, assignee, now).await?;
    let event = Event {
        from: Some(&order.node_key),
        to: &target.key,
        action: &request.action,
        actor: Some(principal.user_id()),
        comment: request.comment.as_deref(),
    };
    record_event(&txn, &scope, id, event, now).await?;
    enter_node(&txn, principal, id, &workflow, target, now).await?;
    let notifies_installer = target
        .on_enter
        .contains(&NodeAction::Notify(NotifyTarget::Installer));
    if let Some(installer) = assignee.filter(|a| Some(*a) != order.assignee_id)
        && !notifies_installer
    {
        notify_assigned(&txn, &scope, &order, installer, now).await?;
    }
    txn.commit().await.context("failed to commit a move")?;
    tracing::info!(node = %target.key, "work order moved");
    Ok(())
}

async fn workflow_of(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    order: &work_order::Model,
) -> anyhow::Result<Workflow> {
    get_workflow(db, scope, WorkflowId::from_uuid(order.workflow_id))
        .await?
        .context("an order's workflow version is missing")
}

/// The assignee after this move. Only dispatchers and admins assign, and
/// only an installer of the tenant, and only before the quote is locked.
async fn new_assignee(
    db: &impl ConnectionTrait,
    principal: &Principal,
    order: &work_order::Model,
    requested: Option<UserId>,
) -> Result<Option<Uuid>, MoveError> {
    let Some(requested) = requested else {
        return Ok(order.assignee_id);
    };
    if !matches!(principal.role(), Role::Admin | Role::Dispatcher) {
        return Err(MoveError::InvalidTransition(
            "only a dispatcher assigns installers".into(),
        ));
    }
    let scope = principal.scope();
    if !quotes::locked_quote(db, &scope, WorkOrderId::from_uuid(order.id))
        .await?
        .is_empty()
    {
        return Err(MoveError::InvalidTransition(
            "the order is accepted; it cannot be reassigned".into(),
        ));
    }
    let installer = scope
        .select::<user::Entity>()
        .filter(user::Column::Id.eq(requested.as_uuid()))
        .filter(user::Column::Role.eq(Role::Installer.as_str()))
        .one(db)
        .await
        .context("failed to load the assignee")?;
    installer
        .map(|u| Some(u.id))
        .ok_or(MoveError::InvalidAssignee)
}

async fn update_order(
    db: &impl ConnectionTrait,
    order: &work_order::Model,
    target: &Node,
    assignee: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), MoveError> {
    let ends = target.kind == NodeKind::End;
    let due_at = target
        .due_in_minutes
        .map(|m| now + Duration::minutes(i64::from(m)));
    let updated = work_order::Entity::update_many()
        .col_expr(work_order::Column::NodeKey, Expr::value(target.key.clone()))
        .col_expr(
            work_order::Column::Phase,
            Expr::value(target.phase.as_str()),
        )
        .col_expr(
            work_order::Column::Status,
            Expr::value(if ends { CLOSED } else { OPEN }),
        )
        .col_expr(work_order::Column::AssigneeId, Expr::value(assignee))
        .col_expr(work_order::Column::NodeEnteredAt, Expr::value(now))
        .col_expr(work_order::Column::DueAt, Expr::value(due_at))
        .col_expr(
            work_order::Column::ClosedAt,
            Expr::value(ends.then_some(now)),
        )
        .col_expr(work_order::Column::UpdatedAt, Expr::value(now))
        .col_expr(work_order::Column::Version, Expr::value(order.version + 1))
        .filter(work_order::Column::TenantId.eq(order.tenant_id))
        .filter(work_order::Column::Id.eq(order.id))
        .filter(work_order::Column::Version.eq(order.version))
        .exec(db)
        .await
        .context("failed to move a work order")?;
    if updated.rows_affected == 0 {
        return Err(MoveError::Conflict);
    }
    Ok(())
}

/// Runs a node's `on_enter` actions inside the move's transaction. `spawn`
/// runs only on a move, never while an order is being created, so that a
/// template cannot start orders without end.
pub(super) async fn enter_node(
    db: &impl ConnectionTrait,
    actor: &Principal,
    id: WorkOrderId,
    workflow: &Workflow,
    node: &Node,
    now: DateTime<Utc>,
) -> Result<(), MoveError> {
    if node.on_enter.is_empty() {
        return Ok(());
    }
    let scope = actor.scope();
    let order = scope
        .select::<work_order::Entity>()
        .filter(work_order::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to reload a work order")?
        .context("a work order vanished during its move")?;
    for action in &node.on_enter {
        match action {
            NodeAction::LockQuote => lock(db, &scope, &order, now).await?,
            NodeAction::Settle => settle(db, &scope, &order, now).await?,
            NodeAction::Notify(target) => {
                notify(db, &scope, &order, *target, &node.name, now).await?
            }
            NodeAction::Spawn { workflow: key }
                if order.node_key != workflow.definition.start().key =>
            {
                spawn(db, actor, &order, key, now).await?;
            }
            NodeAction::Spawn { .. } => {}
        }
    }
    Ok(())
}

/// The order's lines, for pricing.
pub(super) async fn order_lines(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    order: uuid::Uuid,
) -> anyhow::Result<Vec<OrderLine>> {
    let rows = scope
        .select::<work_order_line::Entity>()
        .filter(work_order_line::Column::WorkOrderId.eq(order))
        .order_by_asc(work_order_line::Column::LineNo)
        .all(db)
        .await
        .context("failed to load order lines")?;
    rows.into_iter()
        .map(|r| {
            Ok(OrderLine {
                service_item: r.service_item,
                quantity: u32::try_from(r.quantity).context("a stored quantity is negative")?,
                sale_price_fen: Fen::new(r.sale_price_fen),
            })
        })
        .collect()
}

/// The installer's cooperation mode.
pub(super) async fn mode_of(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    installer: Uuid,
) -> anyhow::Result<Option<CooperationMode>> {
    let row = scope
        .select::<user::Entity>()
        .filter(user::Column::Id.eq(installer))
        .one(db)
        .await
        .context("failed to load the assignee")?;
    Ok(row
        .and_then(|u| u.cooperation_mode)
        .and_then(|m| m.parse().ok()))
}

async fn lock(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    order: &work_order::Model,
    now: DateTime<Utc>,
) -> Result<(), MoveError> {
    let id = WorkOrderId::from_uuid(order.id);
    if !quotes::locked_quote(db, scope, id).await?.is_empty() {
        return Ok(());
    }
    let installer = order
        .assignee_id
        .ok_or_else(|| MoveError::InvalidTransition("no installer is assigned".into()))?;
    let code = order
        .region_code
        .as_deref()
        .ok_or(MoveError::RegionUnresolved)?;
    let region = RegionCode::parse(code).map_err(anyhow::Error::msg)?;
    let mode = mode_of(db, scope, installer)
        .await?
        .context("the assignee has no cooperation mode")?;
    let lines = order_lines(db, scope, order.id).await?;
    let estimate = quotes::estimate(db, scope, &region, Some(mode), &lines, now).await?;
    let acceptor = Acceptor {
        installer: UserId::from_uuid(installer),
        mode,
    };
    quotes::lock_quote(db, scope, id, acceptor, &estimate.lines, now).await?;
    Ok(())
}

async fn settle(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    order: &work_order::Model,
    now: DateTime<Utc>,
) -> Result<(), MoveError> {
    lock(db, scope, order, now).await?;
    let installer = order
        .assignee_id
        .ok_or_else(|| MoveError::InvalidTransition("no installer is assigned".into()))?;
    let id = WorkOrderId::from_uuid(order.id);
    match quotes::post_quote(db, scope, id, UserId::from_uuid(installer), now).await {
        Ok(lines) => {
            let total: i64 = lines
                .iter()
                .filter(|l| l.entry == quotes::POSTING)
                .map(|l| l.line.amount_fen.get())
                .sum();
            let new = NewNotification {
                recipient: installer,
                kind: NotificationKind::EarningsPosted,
                work_order_id: Some(order.id),
                title: "收入入账".to_owned(),
                body: format!("工单{}入账{}", order.number, format_yuan(total)),
                data: PushData {
                    amount_fen: Some(total),
                    order_number: Some(order.number.clone()),
                    node: None,
                },
            };
            notifications::write(db, scope, new, now).await?;
            Ok(())
        }
        Err(PostQuoteError::NotLocked) => Err(MoveError::Pricing("no quote is locked".into())),
        Err(PostQuoteError::Unexpected(e)) => Err(e.into()),
    }
}

/// The most dispatchers one notification goes to.
const DISPATCHER_FAN_OUT: u64 = 50;

/// Tells a newly assigned installer about the order, where the node it
/// moved to does not already (its `on_enter` has no `notify: installer`),
/// so that every workflow tells installers what is theirs.
async fn notify_assigned(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    order: &work_order::Model,
    installer: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let new = NewNotification {
        recipient: installer,
        kind: NotificationKind::OrderProgress,
        work_order_id: Some(order.id),
        title: "新工单派给您".to_owned(),
        body: format!("工单{}已派给您，请查看并接单", order.number),
        data: PushData {
            amount_fen: None,
            order_number: Some(order.number.clone()),
            node: None,
        },
    };
    notifications::write(db, scope, new, now).await?;
    Ok(())
}

async fn notify(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    order: &work_order::Model,
    target: NotifyTarget,
    node_name: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let recipients: Vec<Uuid> = match target {
        NotifyTarget::Installer => order.assignee_id.into_iter().collect(),
        NotifyTarget::Customer => order.customer_id.into_iter().collect(),
        NotifyTarget::Dispatcher => scope
            .select::<user::Entity>()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::Role.eq(Role::Dispatcher.as_str()))
            .limit(DISPATCHER_FAN_OUT)
            .into_tuple()
            .all(db)
            .await
            .context("failed to find dispatchers")?,
    };
    for recipient in recipients {
        let new = NewNotification {
            recipient,
            kind: NotificationKind::OrderProgress,
            work_order_id: Some(order.id),
            title: node_name.to_owned(),
            body: format!("工单{}已到「{}」", order.number, node_name),
            data: PushData {
                amount_fen: None,
                order_number: Some(order.number.clone()),
                node: Some(node_name.to_owned()),
            },
        };
        notifications::write(db, scope, new, now).await?;
    }
    Ok(())
}

async fn spawn(
    db: &impl ConnectionTrait,
    actor: &Principal,
    order: &work_order::Model,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(), MoveError> {
    let scope = actor.scope();
    let workflow = current_workflow(db, &scope, key).await?.ok_or_else(|| {
        MoveError::InvalidTransition(format!("workflow `{key}` has no published version"))
    })?;
    let customer = NewCustomer {
        name: DisplayName::parse(&order.customer_name).map_err(anyhow::Error::msg)?,
        phone: Phone::parse(&order.customer_phone).map_err(anyhow::Error::msg)?,
        address: order.customer_address.clone(),
    };
    let new = NewWorkOrder {
        workflow: key.to_owned(),
        customer,
        lines: order_lines(db, &scope, order.id).await?,
        external_order_no: None,
        channel_id: None,
    };
    Box::pin(insert_order(
        db,
        actor,
        &workflow,
        &new,
        Some(order.id),
        now,
    ))
    .await?;
    Ok(())
}

/// Cancels an open order from any node. Earnings already posted for it are
/// reversed by new lines, never edited.
#[tracing::instrument(name = "cancel work order", skip_all, fields(tenant.id = %principal.tenant_id(), work_order.id = %id))]
pub async fn cancel_work_order(
    db: &DatabaseConnection,
    principal: &Principal,
    id: WorkOrderId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), MoveError> {
    let txn = db.begin().await.context("failed to begin a cancellation")?;
    let order = visible_order(&txn, principal, id)
        .await?
        .ok_or(MoveError::NotFound)?;
    cancel_in(
        &txn,
        &principal.scope(),
        &order,
        Some(principal.user_id()),
        reason,
        now,
    )
    .await?;
    txn.commit()
        .await
        .context("failed to commit a cancellation")?;
    Ok(())
}

/// Cancels an open order inside the caller's transaction: the status, the
/// timeline entry and the reversal of any posted earnings land together.
pub(crate) async fn cancel_in(
    txn: &impl ConnectionTrait,
    scope: &TenantScope,
    order: &work_order::Model,
    actor: Option<UserId>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), MoveError> {
    if order.status != OPEN {
        return Err(MoveError::InvalidTransition(format!(
            "the order is {}",
            order.status
        )));
    }
    let updated = work_order::Entity::update_many()
        .col_expr(work_order::Column::Status, Expr::value(CANCELLED))
        .col_expr(work_order::Column::CancelReason, Expr::value(reason))
        .col_expr(work_order::Column::ClosedAt, Expr::value(now))
        .col_expr(work_order::Column::UpdatedAt, Expr::value(now))
        .col_expr(work_order::Column::Version, Expr::value(order.version + 1))
        .filter(work_order::Column::TenantId.eq(order.tenant_id))
        .filter(work_order::Column::Id.eq(order.id))
        .filter(work_order::Column::Version.eq(order.version))
        .exec(txn)
        .await
        .context("failed to cancel a work order")?;
    if updated.rows_affected == 0 {
        return Err(MoveError::Conflict);
    }
    let id = WorkOrderId::from_uuid(order.id);
    let event = Event {
        from: Some(&order.node_key),
        to: &order.node_key,
        action: "cancel",
        actor,
        comment: Some(reason),
    };
    record_event(txn, scope, id, event, now).await?;
    quotes::reverse_postings(txn, scope, id, now).await?;
    Ok(())
}
