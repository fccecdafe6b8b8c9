//! Reminders for orders that have stayed at a node past its
//! `due_in_minutes`. Each overdue episode (one due time) is reminded once:
//! the order records the due time it was reminded for, set by
//! compare-and-set in the same transaction as the reminders, so several
//! sweepers never remind twice.

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::{user, work_order};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

use super::OPEN;
use crate::domain::{Role, TenantId};
use crate::notifications::{self, NewNotification, NotificationKind, PushData};
use crate::tenancy::TenantScope;

/// The most dispatchers one reminder goes to.
const DISPATCHER_FAN_OUT: u64 = 50;

/// Sends the reminders of up to `limit` orders that became overdue and
/// were not reminded yet; answers how many orders were reminded.
pub async fn remind_overdue(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> anyhow::Result<usize> {
    let due = work_order::Entity::find()
        .filter(work_order::Column::Status.eq(OPEN))
        .filter(work_order::Column::DueAt.lte(now))
        .filter(
            Condition::any()
                .add(work_order::Column::OverdueRemindedFor.is_null())
                .add(
                    Expr::col(work_order::Column::OverdueRemindedFor)
                        .ne(Expr::col(work_order::Column::DueAt)),
                ),
        )
        .order_by_asc(work_order::Column::DueAt)
        .limit(limit)
        .all(db)
        .await
        .context("failed to find overdue orders")?;
    let mut reminded = 0;
    for order in due {
        if remind_one(db, &order, now).await? {
            reminded += 1;
        }
    }
    Ok(reminded)
}

async fn remind_one(
    db: &DatabaseConnection,
    order: &work_order::Model,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let Some(due_at) = order.due_at else {
        return Ok(false);
    };
    let txn = db.begin().await.context("failed to begin a reminder")?;
    let claimed = work_order::Entity::update_many()
        .col_expr(work_order::Column::OverdueRemindedFor, Expr::value(due_at))
        .filter(work_order::Column::Id.eq(order.id))
        .filter(work_order::Column::DueAt.eq(due_at))
        .filter(
            Condition::any()
                .add(work_order::Column::OverdueRemindedFor.is_null())
                .add(work_order::Column::OverdueRemindedFor.ne(due_at)),
        )
        .exec(&txn)
        .await
        .context("failed to claim an overdue reminder")?;
    if claimed.rows_affected == 0 {
        return Ok(false);
    }
    let scope = TenantScope::new(TenantId::from_uuid(order.tenant_id));
    let dispatchers: Vec<Uuid> = scope
        .select::<user::Entity>()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Role.eq(Role::Dispatcher.as_str()))
        .limit(DISPATCHER_FAN_OUT)
        .into_tuple()
        .all(&txn)
        .await
        .context("failed to find dispatchers")?;
    let recipients = order.assignee_id.into_iter().chain(dispatchers);
    for recipient in recipients {
        let new = NewNotification {
            recipient,
            kind: NotificationKind::Overdue,
            work_order_id: Some(order.id),
            title: format!("工单超时：{}", order.number),
            body: format!("工单{}在当前节点已超过时限", order.number),
            data: PushData {
                amount_fen: None,
                order_number: Some(order.number.clone()),
                node: Some(order.node_key.clone()),
            },
        };
        notifications::write(&txn, &scope, new, now).await?;
    }
    txn.commit()
        .await
        .context("failed to commit an overdue reminder")?;
    tracing::info!(work_order.id = %order.id, tenant.id = %order.tenant_id, "overdue reminder written");
    Ok(true)
}
