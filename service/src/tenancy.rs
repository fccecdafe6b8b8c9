//! Tenant scoping that a query cannot forget.
//!
//! A [`TenantScope`] is only made from an authenticated principal (or, for
//! background jobs, from a stored row that names its tenant), and the only
//! way this crate reads tenant-owned rows is [`TenantScope::select`], which
//! adds the tenant filter itself. An id of another tenant therefore finds
//! nothing, and the API answers 404 for it.

use scrm_entity::TenantOwned;
use sea_orm::{ColumnTrait, QueryFilter, Select};

use crate::domain::TenantId;

/// The tenant whose rows an operation may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantScope {
    tenant_id: TenantId,
}

impl TenantScope {
    pub(crate) fn new(tenant_id: TenantId) -> Self {
        Self { tenant_id }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// Starts a query over the rows of `E` that belong to this tenant.
    pub fn select<E: TenantOwned>(&self) -> Select<E> {
        E::find().filter(E::tenant_column().eq(self.tenant_id.as_uuid()))
    }
}
