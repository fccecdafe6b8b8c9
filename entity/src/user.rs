//! A person who signs in: admin, dispatcher, installer, partner manager or
//! customer. `role` and `cooperation_mode` hold the wire names that the
//! service layer parses.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub username: String,
    /// PHC string of an argon2id hash; `None` for accounts that only sign in
    /// through WeChat.
    pub password_hash: Option<String>,
    pub role: String,
    pub name: String,
    pub phone: Option<String>,
    pub cooperation_mode: Option<String>,
    pub partner_id: Option<Uuid>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
