//! A closed settlement period: calendar days `starts_on..=ends_on` in China
//! Standard Time, and the same span as the UTC instants
//! `starts_at..ends_at`. Its statements hold the lines posted in
//! `covers_from..ends_at`, where `covers_from` is the previous period's
//! `ends_at` (the Unix epoch for a tenant's first period).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "settlement_periods")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub starts_on: String,
    pub ends_on: String,
    pub starts_at: ChronoDateTimeUtc,
    pub ends_at: ChronoDateTimeUtc,
    pub covers_from: ChronoDateTimeUtc,
    pub cadence: String,
    pub statements: i32,
    pub closed_by: Uuid,
    pub closed_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
