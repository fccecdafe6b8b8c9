//! Group commit of inbox rows: deliveries verified at the same moment are
//! stored by one multi-row insert, one commit, rather than one each.
//!
//! Each request hands its row to one writer task over a channel and waits
//! for the answer. The writer takes the first row as soon as it comes, and
//! with it every row already waiting (up to [`MAX_BATCH_ROWS`] rows or about
//! [`MAX_BATCH_BYTES`] of bodies): a lone request is written at once, with no
//! lingering, and rows only gather while an earlier batch is being written.
//! The batch is one `INSERT … ON CONFLICT (channel_id, webhook_id) DO
//! NOTHING RETURNING id`, a transaction of its own, so each request is
//! answered only after its row is committed, and a failed insert fails
//! every request of its batch. The ids of the rows it inserted are then
//! handed to [`AfterCommit`], which queues their processing.
//!
//! The alternative, a commit per request, spends most of each request's
//! time waiting for its own commit, and the database most of its time on
//! per-transaction work that a batch shares.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use scrm_entity::webhook_event;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait, Set,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use super::inbox::{ACCEPTED, ACCEPTED_GRACE_SECS, Received};
use crate::domain::WebhookEventId;

/// The most rows in one insert.
pub const MAX_BATCH_ROWS: usize = 256;
/// A batch takes no further row once its bodies reach this size, so that a
/// burst of large bodies does not become one huge statement.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Rows that may wait for the writer; a request beyond that waits to hand
/// its row over, which holds back its sender rather than memory.
const WAITING_ROWS: usize = 4 * MAX_BATCH_ROWS;
/// Batches being written at once. One: while it is written the next one
/// gathers, so batches grow with the load. Two on PostgreSQL measured no
/// faster in `bench/webhooks.sh` (7,805 accepted a second against 8,891,
/// within the run-to-run spread), and SQLite has a single writer anyway.
/// Queuing a batch's jobs happens outside this limit, beside the next write.
const BATCHES_IN_FLIGHT: usize = 1;

/// What to do with the events a batch inserted, once they are committed:
/// queue them for processing. It logs its own failures and answers
/// nothing, since a `202` must not depend on the queue; the sweeper queues
/// whatever it could not.
pub type AfterCommit =
    Arc<dyn Fn(Vec<WebhookEventId>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A verified delivery, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub tenant_id: Uuid,
    pub channel_id: Uuid,
    pub webhook_id: String,
    pub event_type: String,
    pub body: String,
    pub received_at: DateTime<Utc>,
}

/// One delivery handed to the writer, and where its answer goes.
#[derive(Debug)]
struct Pending {
    event: NewEvent,
    reply: oneshot::Sender<Result<Received, BatchError>>,
}

/// The handle requests store their rows through; cheap to clone.
#[derive(Debug, Clone)]
pub struct InboxWriter {
    sender: mpsc::Sender<Pending>,
}

/// The running writer task, kept to stop it.
#[derive(Debug)]
pub struct InboxWriterTask {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl InboxWriter {
    /// Starts the writer task on `db`.
    pub fn start(db: DatabaseConnection, after_commit: AfterCommit) -> (Self, InboxWriterTask) {
        let (sender, receiver) = mpsc::channel(WAITING_ROWS);
        let (stop, stopped) = watch::channel(false);
        let writer = Writer {
            db,
            after_commit,
            in_flight: Arc::new(Semaphore::new(BATCHES_IN_FLIGHT)),
            batches: JoinSet::new(),
        };
        let task = tokio::spawn(writer.run(receiver, stopped));
        (Self { sender }, InboxWriterTask { stop, task })
    }

    /// Stores one event, together with whatever other requests are storing
    /// now, and answers once it is committed (or found stored before).
    pub async fn store(&self, event: NewEvent) -> anyhow::Result<Received> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Pending { event, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the inbox writer has stopped"))?;
        let outcome = answer
            .await
            .context("the inbox writer stopped before storing the event")?;
        Ok(outcome?)
    }
}

impl InboxWriterTask {
    /// Stops taking rows, writes those already handed over, and waits for
    /// that up to `grace`.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!("the inbox writer did not finish in time");
        }
    }
}

/// The failure of one batch, answered to every request in it.
#[derive(Debug, Clone)]
struct BatchError(Arc<anyhow::Error>);

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

struct Writer {
    db: DatabaseConnection,
    after_commit: AfterCommit,
    in_flight: Arc<Semaphore>,
    batches: JoinSet<()>,
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::Receiver<Pending>, mut stop: watch::Receiver<bool>) {
        let mut stopping = false;
        loop {
            // The permit is taken before the rows: while a batch is being
            // written, rows wait in the channel and form the next one.
            let Ok(permit) = Arc::clone(&self.in_flight).acquire_owned().await else {
                break;
            };
            let first = tokio::select! {
                pending = receiver.recv() => pending,
                Ok(()) = stop.changed(), if !stopping => {
                    // Closing lets the rows already sent through, then ends
                    // `recv`; new requests are refused.
                    stopping = true;
                    receiver.close();
                    continue;
                }
            };
            let Some(first) = first else { break };
            let batch = gather(first, &mut receiver);
            self.batches.spawn(write_and_answer(
                self.db.clone(),
                batch,
                Arc::clone(&self.after_commit),
                permit,
            ));
            while let Some(done) = self.batches.try_join_next() {
                report_panic(done);
            }
        }
        while let Some(done) = self.batches.join_next().await {
            report_panic(done);
        }
        tracing::info!("inbox writer stopped");
    }
}

/// A batch whose task panicked has dropped its requests' answers, so each
/// of them answers 500; the panic itself is said here, once.
fn report_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done {
        tracing::error!(error.message = %error, "writing a batch of inbox rows panicked");
    }
}

/// `first` and the rows already waiting behind it, within the batch limits.
fn gather(first: Pending, receiver: &mut mpsc::Receiver<Pending>) -> Vec<Pending> {
    let mut bytes = first.event.body.len();
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH_ROWS && bytes < MAX_BATCH_BYTES {
        let Ok(next) = receiver.try_recv() else { break };
        bytes += next.event.body.len();
        batch.push(next);
    }
    batch
}

async fn write_and_answer(
    db: DatabaseConnection,
    batch: Vec<Pending>,
    after_commit: AfterCommit,
    permit: OwnedSemaphorePermit,
) {
    let (events, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| (p.event, p.reply)).unzip();
    let outcomes = match write_batch(&db, &events).await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            let error = BatchError(Arc::new(error));
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
            return;
        }
    };
    drop(permit);
    let accepted: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Received::Accepted(id) => Some(*id),
            Received::Duplicate(_) => None,
        })
        .collect();
    // A request that has gone away (its client hung up) finds its event
    // stored all the same; a repeat of it is answered as a duplicate.
    for (reply, outcome) in replies.into_iter().zip(outcomes) {
        let _ = reply.send(Ok(outcome));
    }
    if !accepted.is_empty() {
        after_commit(accepted).await;
    }
}

/// Stores `events` with one insert and answers, for each, whether it was
/// stored now or before, in the same order.
///
/// Two deliveries of one (channel, `webhook-id`) in the same batch are one
/// row: the first is written, and the other is its duplicate. Only rows the
/// insert skipped need their stored id looked up, all in one query.
async fn write_batch(
    db: &impl ConnectionTrait,
    events: &[NewEvent],
) -> anyhow::Result<Vec<Received>> {
    let firsts = first_of_each_key(events);
    let ids: Vec<WebhookEventId> = events.iter().map(|_| WebhookEventId::generate()).collect();
    let is_first = |i: &usize| firsts[*i] == *i;
    let rows = (0..events.len())
        .filter(is_first)
        .map(|i| inbox_row(&events[i], ids[i]));
    let inserted = insert_rows(db, rows).await?;

    let skipped: Vec<&NewEvent> = (0..events.len())
        .filter(|i| is_first(i) && !inserted.contains(&ids[*i].as_uuid()))
        .map(|i| &events[i])
        .collect();
    let stored_before = find_stored(db, &skipped).await?;

    let outcome = |i: usize| -> anyhow::Result<Received> {
        let first = firsts[i];
        if !inserted.contains(&ids[first].as_uuid()) {
            let key = (events[first].channel_id, events[first].webhook_id.clone());
            let stored = stored_before
                .get(&key)
                .context("a repeated webhook event vanished")?;
            return Ok(Received::Duplicate(WebhookEventId::from_uuid(*stored)));
        }
        Ok(if first == i {
            Received::Accepted(ids[i])
        } else {
            Received::Duplicate(ids[first])
        })
    };
    (0..events.len()).map(outcome).collect()
}

/// For each event, the index of the first event in the batch with the same
/// (channel, `webhook-id`).
fn first_of_each_key(events: &[NewEvent]) -> Vec<usize> {
    let mut seen: HashMap<(Uuid, &str), usize> = HashMap::with_capacity(events.len());
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            *seen
                .entry((e.channel_id, e.webhook_id.as_str()))
                .or_insert(i)
        })
        .collect()
}

fn inbox_row(event: &NewEvent, id: WebhookEventId) -> webhook_event::ActiveModel {
    let due = event.received_at + chrono::Duration::seconds(ACCEPTED_GRACE_SECS);
    webhook_event::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(event.tenant_id),
        channel_id: Set(event.channel_id),
        webhook_id: Set(event.webhook_id.clone()),
        event_type: Set(event.event_type.clone()),
        body: Set(event.body.clone()),
        status: Set(ACCEPTED.to_owned()),
        attempts: Set(0),
        last_error: Set(None),
        received_at: Set(event.received_at),
        next_attempt_at: Set(due),
        processed_at: Set(None),
    }
}

/// Inserts the rows, skipping any whose key is stored, and answers the ids
/// of those it inserted. `RETURNING` names only inserted rows, on
/// PostgreSQL and on SQLite alike.
async fn insert_rows(
    db: &impl ConnectionTrait,
    rows: impl IntoIterator<Item = webhook_event::ActiveModel>,
) -> anyhow::Result<HashSet<Uuid>> {
    let conflict = OnConflict::columns([
        webhook_event::Column::ChannelId,
        webhook_event::Column::WebhookId,
    ])
    .do_nothing()
    .to_owned();
    let mut statement = webhook_event::Entity::insert_many(rows)
        .on_conflict(conflict)
        .into_query();
    statement.returning_col(webhook_event::Column::Id);
    let returned = db
        .query_all(&statement)
        .await
        .context("failed to store webhook events")?;
    returned
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id"))
        .collect::<Result<_, _>>()
        .context("failed to read the ids of stored webhook events")
}

/// The ids stored before for the keys of `events`, by (channel,
/// `webhook-id`).
async fn find_stored(
    db: &impl ConnectionTrait,
    events: &[&NewEvent],
) -> anyhow::Result<HashMap<(Uuid, String), Uuid>> {
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let keys = events.iter().fold(Condition::any(), |any, e| {
        any.add(
            Condition::all()
                .add(webhook_event::Column::ChannelId.eq(e.channel_id))
                .add(webhook_event::Column::WebhookId.eq(e.webhook_id.as_str())),
        )
    });
    let found: Vec<(Uuid, Uuid, String)> = webhook_event::Entity::find()
        .select_only()
        .columns([
            webhook_event::Column::Id,
            webhook_event::Column::ChannelId,
            webhook_event::Column::WebhookId,
        ])
        .filter(keys)
        .into_tuple()
        .all(db)
        .await
        .context("failed to find repeated webhook events")?;
    Ok(found
        .into_iter()
        .map(|(id, channel, webhook_id)| ((channel, webhook_id), id))
        .collect())
}

#[cfg(test)]
mod tests;
