//! A work order (工单) at a node of the workflow version it started on. `version` guards concurrent moves.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "work_orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub number: String,
    pub workflow_id: Uuid,
    pub workflow_key: String,
    pub workflow_version: i32,
    pub node_key: String,
    pub phase: String,
    pub status: String,
    pub customer_id: Option<Uuid>,
    pub customer_name: String,
    pub customer_phone: String,
    pub customer_address: String,
    pub region_code: Option<String>,
    pub region_name: Option<String>,
    pub region_candidates: Option<String>,
    pub assignee_id: Option<Uuid>,
    pub external_order_no: Option<String>,
    pub parent_id: Option<Uuid>,
    pub node_entered_at: ChronoDateTimeUtc,
    pub due_at: Option<ChronoDateTimeUtc>,
    pub version: i32,
    pub created_by: Option<Uuid>,
    pub cancel_reason: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub closed_at: Option<ChronoDateTimeUtc>,
    /// The channel whose order number `external_order_no` is.
    pub channel_id: Option<Uuid>,
    /// The due time whose overdue reminder has gone out, so that each overdue episode is reminded once.
    pub overdue_reminded_for: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
