//! A ledger line held by a statement, keyed by the ledger line so that no
//! line is ever in two statements. `amount_fen` is the ledger amount,
//! copied when the period closed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "statement_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub earnings_line_id: Uuid,
    pub tenant_id: Uuid,
    pub period_id: Uuid,
    pub installer_id: Uuid,
    pub amount_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
