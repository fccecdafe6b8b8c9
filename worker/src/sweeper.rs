//! The sweeper: the loop that makes the database, not the queue, the
//! source of truth. Every second it queues the webhook events and
//! notifications whose time has come (events accepted but never picked up,
//! failed ones past their backoff, pending deliveries); every half minute
//! it writes overdue reminders. Rows are claimed by compare-and-set before
//! they are queued, so several sweepers in several processes hand each row
//! out once per lease.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use scrm_service::channels::process;
use scrm_service::notifications::delivery;
use scrm_service::work_orders::overdue;

use crate::jobs::{DeliverNotification, ProcessWebhookEvent};
use crate::queue::{Job, Queue};

/// How often the sweeper looks for due work.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How often overdue orders are looked for.
const OVERDUE_EVERY: Duration = Duration::from_secs(30);
/// The most rows of each kind queued per sweep.
const BATCH: u64 = 500;

/// A running sweeper.
#[derive(Debug)]
pub struct Sweeper {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Sweeper {
    /// Starts sweeping into `queue`.
    pub fn start(db: DatabaseConnection, queue: Arc<dyn Queue>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(db, queue, stopped));
        Self { stop, task }
    }

    /// Stops after the sweep in hand.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(db: DatabaseConnection, queue: Arc<dyn Queue>, mut stopped: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(SWEEP_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_overdue = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            _ = ticks.tick() => {}
        }
        if let Err(error) = sweep(&db, queue.as_ref()).await {
            tracing::warn!(
                error.message = format!("{error:#}"),
                "sweep failed; will try again"
            );
        }
        if last_overdue.elapsed() >= OVERDUE_EVERY {
            last_overdue = tokio::time::Instant::now();
            match overdue::remind_overdue(&db, Utc::now(), BATCH).await {
                Ok(0) => {}
                Ok(reminded) => tracing::info!(reminded, "overdue reminders written"),
                Err(error) => tracing::warn!(
                    error.message = format!("{error:#}"),
                    "overdue sweep failed; will try again"
                ),
            }
        }
    }
}

/// Queues every due event and notification once.
pub async fn sweep(db: &DatabaseConnection, queue: &dyn Queue) -> anyhow::Result<usize> {
    let now = Utc::now();
    let mut jobs = Vec::new();
    for event_id in process::claim_due(db, now, BATCH).await? {
        jobs.push(Job::new(&ProcessWebhookEvent { event_id })?);
    }
    for due in delivery::claim_due(db, now, BATCH).await? {
        jobs.push(Job::new(&DeliverNotification {
            notification_id: due.id,
            attempts: due.attempts,
        })?);
    }
    let queued = jobs.len();
    if queued > 0 {
        // The rows are leased now: if they are not queued, they wait out the
        // whole lease. The first command after a Redis restart fails on the
        // connection the restart broke, and the next one reconnects, so one
        // more try saves that wait.
        if let Err(error) = queue.enqueue_many(jobs.clone()).await {
            tracing::warn!(
                error.message = format!("{:#}", error.0),
                queued,
                "queueing due work failed; trying once more"
            );
            queue.enqueue_many(jobs).await?;
        }
        tracing::debug!(queued, "due work queued");
    }
    Ok(queued)
}
