//! Sign-in throttling: after 10 failed password attempts for one tenant and
//! username within 15 minutes, further attempts are refused until the oldest
//! of them leaves the window. Failures are stored in the database, so every
//! API process counts the same attempts.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use scrm_entity::login_failure;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

/// Failed attempts allowed within [`WINDOW`].
pub const MAX_FAILURES: usize = 10;
/// The window over which failures are counted.
pub const WINDOW: Duration = Duration::minutes(15);

/// The throttling key of a sign-in attempt, whether or not such a user
/// exists.
pub fn subject(tenant_code: &str, username: &str) -> String {
    let mut subject = format!("{}/{}", tenant_code.to_lowercase(), username.to_lowercase());
    subject.truncate(subject.floor_char_boundary(200));
    subject
}

/// Seconds until `subject` may try again, or `None` when it may try now.
pub async fn retry_after(
    db: &impl ConnectionTrait,
    subject: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<u64>> {
    let recent: Vec<DateTime<Utc>> = login_failure::Entity::find()
        .select_only()
        .column(login_failure::Column::FailedAt)
        .filter(login_failure::Column::Subject.eq(subject))
        .filter(login_failure::Column::FailedAt.gt(now - WINDOW))
        .order_by_desc(login_failure::Column::FailedAt)
        .limit(MAX_FAILURES as u64)
        .into_tuple()
        .all(db)
        .await
        .context("failed to count failed sign-ins")?;
    if recent.len() < MAX_FAILURES {
        return Ok(None);
    }
    // The tenth most recent failure is the one whose expiry reopens the door.
    let oldest_counted = recent[MAX_FAILURES - 1];
    let wait = (oldest_counted + WINDOW - now).num_seconds().max(1);
    Ok(Some(wait as u64))
}

/// Records a failed attempt, and forgets this subject's expired ones.
pub async fn record_failure(
    db: &impl ConnectionTrait,
    subject: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Subject.eq(subject))
        .filter(login_failure::Column::FailedAt.lte(now - WINDOW))
        .exec(db)
        .await
        .context("failed to prune failed sign-ins")?;
    login_failure::ActiveModel {
        id: Set(Uuid::now_v7()),
        subject: Set(subject.to_owned()),
        failed_at: Set(now),
    }
    .insert(db)
    .await
    .context("failed to record a failed sign-in")?;
    Ok(())
}

/// Forgets a subject's failures after a successful sign-in.
pub async fn clear(db: &impl ConnectionTrait, subject: &str) -> anyhow::Result<()> {
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Subject.eq(subject))
        .exec(db)
        .await
        .context("failed to clear failed sign-ins")?;
    Ok(())
}
