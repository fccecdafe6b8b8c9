//! The stored first answer to a state-changing request sent with an
//! `Idempotency-Key`, replayed when the same user sends the same key again.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub key: String,
    /// SHA-256 of method, path and body, hex.
    pub request_hash: String,
    /// `None` while the first request is still being handled.
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub response_content_type: Option<String>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
