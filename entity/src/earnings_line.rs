//! A line of the append-only earnings ledger. `entry` is `posting` or `reversal`; a reversal carries the negated amount.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "earnings_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub work_order_id: Uuid,
    pub line_no: i32,
    pub kind: String,
    pub service_item: String,
    pub label: String,
    pub quantity: i32,
    pub sale_price_fen: i64,
    pub unit_price_fen: Option<i64>,
    pub rate_ten_thousandths: Option<i64>,
    pub amount_fen: i64,
    pub explanation: String,
    pub price_list_id: Uuid,
    pub price_list_version: i32,
    pub price_list_name: String,
    pub tier: String,
    pub region_code: String,
    pub cooperation_mode: Option<String>,
    pub installer_id: Uuid,
    pub entry: String,
    pub posted_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
