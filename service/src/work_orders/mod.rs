//! Work orders (工单): created by a dispatcher, a customer or a sales
//! channel, moved through the nodes of the workflow version they started
//! on, and priced by the quote lifecycle. Every move is one transaction with
//! its node actions and its timeline entry, guarded by the order's version
//! so that two people moving one order at once cannot both win.

mod create;
mod lists;
mod moves;
pub mod overdue;
mod view;

use anyhow::Context;
use scrm_entity::{user, work_order};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter};

pub(crate) use create::create_in;
pub use create::{
    CreateWorkOrderError, NewCustomer, NewWorkOrder, RawCustomer, RawLine, create_work_order,
    parse_customer, parse_lines,
};
pub use lists::{JourneyEntry, OrderFilter, OrderSummary, customer_journey, list_work_orders};
pub(crate) use moves::cancel_in;
pub use moves::{MoveError, MoveRequest, cancel_work_order, move_work_order};
pub use view::{Earnings, OrderView, get_work_order};

use crate::auth::Principal;
use crate::domain::{Role, WorkOrderId};

/// The status of an order that has not reached an end node.
pub const OPEN: &str = "open";
/// The status of an order that reached an end node.
pub const CLOSED: &str = "closed";
/// The status of a cancelled order.
pub const CANCELLED: &str = "cancelled";

/// Loads an order that `principal` may see: dispatchers and admins see every
/// order of the tenant, an installer the orders assigned to them, a partner
/// manager those of their firm's installers, a customer their own. Anything
/// else is `None`, which callers answer as 404.
pub(crate) async fn visible_order(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: WorkOrderId,
) -> anyhow::Result<Option<work_order::Model>> {
    let scope = principal.scope();
    let Some(order) = scope
        .select::<work_order::Entity>()
        .filter(work_order::Column::Id.eq(id.as_uuid()))
        .one(db)
        .await
        .context("failed to load a work order")?
    else {
        return Ok(None);
    };
    let me = principal.user_id().as_uuid();
    let visible = match principal.role() {
        Role::Admin | Role::Dispatcher => true,
        Role::Installer => order.assignee_id == Some(me),
        Role::Customer => order.customer_id == Some(me),
        Role::PartnerManager => match order.assignee_id {
            Some(assignee) => same_firm(db, principal, assignee).await?,
            None => false,
        },
    };
    Ok(visible.then_some(order))
}

/// Whether `installer` works for the partner firm that `manager` manages.
async fn same_firm(
    db: &impl ConnectionTrait,
    manager: &Principal,
    installer: uuid::Uuid,
) -> anyhow::Result<bool> {
    let scope = manager.scope();
    let users = scope
        .select::<user::Entity>()
        .filter(user::Column::Id.is_in([manager.user_id().as_uuid(), installer]))
        .all(db)
        .await
        .context("failed to load a partner firm's people")?;
    let firm_of = |id: uuid::Uuid| users.iter().find(|u| u.id == id).and_then(|u| u.partner_id);
    Ok(firm_of(manager.user_id().as_uuid()).is_some_and(|firm| firm_of(installer) == Some(firm)))
}
