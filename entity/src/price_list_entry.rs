//! One price of a price list. `cooperation_mode` is `any` for the general price.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "price_list_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub price_list_id: Uuid,
    pub service_item: String,
    pub tier: String,
    pub cooperation_mode: String,
    pub unit_price_fen: Option<i64>,
    pub rate_ten_thousandths: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
