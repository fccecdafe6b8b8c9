//! One installer's statement (结算单) for one period: the installer's
//! ledger lines posted in `covers_from..covers_until`. The span,
//! `lines_count` and `lines_total_fen` are fixed when the period closes;
//! adjustments move `adjustments_total_fen`, and `total_fen` is always
//! their sum.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "statements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub period_id: Uuid,
    pub installer_id: Uuid,
    pub partner_id: Option<Uuid>,
    pub status: String,
    pub covers_from: ChronoDateTimeUtc,
    pub covers_until: ChronoDateTimeUtc,
    pub lines_count: i32,
    pub lines_total_fen: i64,
    pub adjustments_total_fen: i64,
    pub total_fen: i64,
    pub issued_at: ChronoDateTimeUtc,
    pub dispute_deadline: ChronoDateTimeUtc,
    pub confirmed_at: Option<ChronoDateTimeUtc>,
    pub paid_at: Option<ChronoDateTimeUtc>,
    pub payout_reference: Option<String>,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
