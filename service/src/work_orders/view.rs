//! The detail of one work order as a given user may see it: everything the
//! mini-program's order page needs in one read.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{user, work_order, work_order_event};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::moves::{mode_of, order_lines};
use super::{OPEN, visible_order};
use crate::auth::Principal;
use crate::domain::{Phone, Role, UserId, WorkOrderId, WorkflowId};
use crate::pricing::engine::{MissingPrice, OrderLine, QuoteError};
use crate::pricing::money::Fen;
use crate::quotes::{self, EstimateError, LedgerLine, StoredLine};
use crate::region_tiers::tier_of_region;
use crate::regions::RegionCode;
use crate::tenancy::TenantScope;
use crate::users::names_of;
use crate::workflows::get_workflow;

/// An order's earnings, as far as its lifecycle has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Earnings {
    /// Priced live: the order is not accepted yet.
    Estimated { total: Fen, lines: Vec<StoredLine> },
    /// The quote the installer accepted.
    Locked { total: Fen, lines: Vec<StoredLine> },
    /// In the ledger: postings, and any reversals. `settled` once every
    /// line sits on a statement its installer accepted.
    Posted {
        total: Fen,
        lines: Vec<LedgerLine>,
        settled: bool,
    },
    /// No price applies: never a silent zero. `reason` says why, when it is
    /// not a missing price (an unresolved region, no tier, no list).
    Unpriced {
        missing: Vec<MissingPrice>,
        reason: Option<String>,
    },
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub from: Option<String>,
    pub to: String,
    pub action: String,
    pub actor: Option<(UserId, String)>,
    pub comment: Option<String>,
}

/// A work order as one user sees it.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub id: WorkOrderId,
    pub number: String,
    pub status: String,
    pub workflow_key: String,
    pub workflow_version: i32,
    pub node_key: String,
    pub node_name: String,
    pub phase: String,
    /// The actions open to this user at this node: key and name.
    pub actions: Vec<(String, String)>,
    /// Code, name and tier of the resolved region.
    pub region: Option<(String, String, Option<String>)>,
    /// When the address fits several regions: their codes and names.
    pub region_candidates: Vec<(String, String)>,
    pub assignee: Option<(UserId, String)>,
    pub customer_name: String,
    /// Masked (138****0000) for an installer until they accept the order.
    pub customer_phone: String,
    /// Only the region for an installer until they accept the order.
    pub customer_address: String,
    pub lines: Vec<OrderLine>,
    /// Absent for customers: they never see settlement prices.
    pub earnings: Option<Earnings>,
    pub timeline: Vec<TimelineEntry>,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub parent_id: Option<WorkOrderId>,
    pub external_order_no: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The order `id` as `principal` may see it, or `None` (answer 404).
#[tracing::instrument(name = "get work order", skip_all, fields(tenant.id = %principal.tenant_id(), work_order.id = %id))]
pub async fn get_work_order(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: WorkOrderId,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<OrderView>> {
    let Some(order) = visible_order(db, principal, id).await? else {
        return Ok(None);
    };
    let scope = principal.scope();
    let workflow = get_workflow(db, &scope, WorkflowId::from_uuid(order.workflow_id))
        .await?
        .context("an order's workflow version is missing")?;
    let node = workflow
        .definition
        .node(&order.node_key)
        .context("an order sits at an unknown node")?;
    let actions = if order.status == OPEN {
        let open = workflow
            .definition
            .open_actions(&order.node_key, principal.role());
        open.into_iter()
            .map(|t| (t.action.clone(), t.name.clone()))
            .collect()
    } else {
        Vec::new()
    };
    let timeline = timeline(db, &scope, order.id).await?;
    let names = people(db, &scope, &order, &timeline).await?;
    let lines = order_lines(db, &scope, order.id).await?;
    let earnings = match principal.role() {
        Role::Customer => None,
        _ => Some(earnings_of(db, &scope, &order, &lines, now).await?),
    };
    let accepted = matches!(
        earnings,
        Some(Earnings::Locked { .. } | Earnings::Posted { .. })
    ) || timeline.iter().any(|e| e.action == "accept");
    let masked = principal.role() == Role::Installer && !accepted;
    let tier = region_tier(db, &scope, order.region_code.as_deref()).await?;
    Ok(Some(OrderView {
        id,
        number: order.number.clone(),
        status: order.status.clone(),
        workflow_key: order.workflow_key.clone(),
        workflow_version: order.workflow_version,
        node_key: node.key.clone(),
        node_name: node.name.clone(),
        phase: node.phase.as_str().to_owned(),
        actions,
        region: order
            .region_code
            .clone()
            .zip(order.region_name.clone())
            .map(|(c, n)| (c, n, tier)),
        region_candidates: candidates(order.region_candidates.as_deref()),
        assignee: order.assignee_id.map(|a| {
            (
                UserId::from_uuid(a),
                names.get(&a).cloned().unwrap_or_default(),
            )
        }),
        customer_phone: if masked {
            mask_phone(&order.customer_phone)
        } else {
            order.customer_phone.clone()
        },
        customer_address: if masked {
            mask_address(&order)
        } else {
            order.customer_address.clone()
        },
        customer_name: order.customer_name.clone(),
        lines,
        earnings,
        timeline: timeline.into_iter().map(|e| with_name(e, &names)).collect(),
        overdue: order.status == OPEN && order.due_at.is_some_and(|due| due < now),
        due_at: order.due_at,
        parent_id: order.parent_id.map(WorkOrderId::from_uuid),
        external_order_no: order.external_order_no.clone(),
        cancel_reason: order.cancel_reason.clone(),
        created_at: order.created_at,
    }))
}

fn mask_phone(phone: &str) -> String {
    Phone::parse(phone)
        .map(|p| p.masked())
        .unwrap_or_else(|_| "****".to_owned())
}

fn mask_address(order: &work_order::Model) -> String {
    match &order.region_name {
        Some(region) => format!("{region}（接单后可见详细地址）"),
        None => "（接单后可见详细地址）".to_owned(),
    }
}

fn candidates(stored: Option<&str>) -> Vec<(String, String)> {
    let parsed: Vec<serde_json::Value> = stored
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    parsed
        .iter()
        .filter_map(|c| {
            Some((
                c["code"].as_str()?.to_owned(),
                c["name"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

async fn region_tier(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    code: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let Some(code) = code.and_then(|c| RegionCode::parse(c).ok()) else {
        return Ok(None);
    };
    tier_of_region(db, scope, &code).await
}

/// Posted if the ledger has lines, else locked if a quote is, else a live
/// estimate with the assignee's mode (general prices before anyone is
/// assigned).
async fn earnings_of(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    order: &work_order::Model,
    lines: &[OrderLine],
    now: DateTime<Utc>,
) -> anyhow::Result<Earnings> {
    let id = WorkOrderId::from_uuid(order.id);
    let ledger = quotes::ledger(db, scope, id).await?;
    if !ledger.is_empty() {
        let total = ledger
            .iter()
            .try_fold(Fen::ZERO, |sum, l| sum.checked_add(l.line.amount_fen));
        return Ok(Earnings::Posted {
            total: total.context("a ledger total overflows")?,
            lines: ledger,
            settled: crate::settlement::earnings::order_is_settled(db, scope, id).await?,
        });
    }
    let locked = quotes::locked_quote(db, scope, id).await?;
    if !locked.is_empty() {
        let total = locked
            .iter()
            .try_fold(Fen::ZERO, |sum, l| sum.checked_add(l.amount_fen));
        return Ok(Earnings::Locked {
            total: total.context("a quote total overflows")?,
            lines: locked,
        });
    }
    let Some(code) = order
        .region_code
        .as_deref()
        .and_then(|c| RegionCode::parse(c).ok())
    else {
        return Ok(Earnings::Unpriced {
            missing: Vec::new(),
            reason: Some("region_unresolved".into()),
        });
    };
    let mode = match order.assignee_id {
        Some(installer) => mode_of(db, scope, installer).await?,
        None => None,
    };
    Ok(
        match quotes::estimate(db, scope, &code, mode, lines, now).await {
            Ok(estimate) => Earnings::Estimated {
                total: estimate.total_fen,
                lines: estimate.lines,
            },
            Err(EstimateError::Quote(QuoteError::Unpriced(missing))) => Earnings::Unpriced {
                missing,
                reason: None,
            },
            Err(EstimateError::NoTier(_)) => Earnings::Unpriced {
                missing: Vec::new(),
                reason: Some("no_tier".into()),
            },
            Err(EstimateError::NoPriceList) => Earnings::Unpriced {
                missing: Vec::new(),
                reason: Some("no_price_list".into()),
            },
            Err(other) => return Err(anyhow::anyhow!("failed to estimate: {other}")),
        },
    )
}

/// One move of the timeline, with its actor's name.
#[derive(Debug, FromQueryResult)]
struct TimelineRow {
    from_node: Option<String>,
    to_node: String,
    action: String,
    actor_id: Option<Uuid>,
    actor_name: Option<String>,
    comment: Option<String>,
    at: DateTime<Utc>,
}

/// The order's moves, oldest first, each with its actor's name: joined in
/// the same statement, since every timeline shows who moved the order.
async fn timeline(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    order: Uuid,
) -> anyhow::Result<Vec<TimelineRow>> {
    use work_order_event::Column;
    let actor = work_order_event::Entity::belongs_to(user::Entity)
        .from(Column::ActorId)
        .to(user::Column::Id)
        .into();
    scope
        .select::<work_order_event::Entity>()
        .select_only()
        .columns([
            Column::FromNode,
            Column::ToNode,
            Column::Action,
            Column::ActorId,
        ])
        .columns([Column::Comment, Column::At])
        .column_as(user::Column::Name, "actor_name")
        .join(JoinType::LeftJoin, actor)
        .filter(Column::WorkOrderId.eq(order))
        .order_by_asc(Column::At)
        .order_by_asc(Column::Id)
        .into_model::<TimelineRow>()
        .all(db)
        .await
        .context("failed to load a timeline")
}

/// The names of everyone on the timeline and of the assignee. The assignee
/// costs a statement only when they have not moved the order yet.
async fn people(
    db: &impl ConnectionTrait,
    scope: &TenantScope,
    order: &work_order::Model,
    timeline: &[TimelineRow],
) -> anyhow::Result<HashMap<Uuid, String>> {
    let mut names: HashMap<Uuid, String> = timeline
        .iter()
        .filter_map(|row| Some((row.actor_id?, row.actor_name.clone()?)))
        .collect();
    if let Some(assignee) = order.assignee_id
        && !names.contains_key(&assignee)
    {
        names.extend(names_of(db, scope, [assignee]).await?);
    }
    Ok(names)
}

fn with_name(row: TimelineRow, names: &HashMap<Uuid, String>) -> TimelineEntry {
    TimelineEntry {
        at: row.at,
        from: row.from_node,
        to: row.to_node,
        action: row.action,
        actor: row.actor_id.map(|a| {
            (
                UserId::from_uuid(a),
                names.get(&a).cloned().unwrap_or_default(),
            )
        }),
        comment: row.comment,
    }
}
