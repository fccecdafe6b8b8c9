//! The job queue over a Redis stream with a consumer group, shared by any
//! number of API processes (producers) and workers (consumers).
//!
//! - Producers `XADD` each job as one JSON field.
//! - Every consumer has a unique name and reads batches with `XREADGROUP`.
//!   A job is acknowledged and deleted (`XACK`, `XDEL`) only after its
//!   handler has committed its effects, so the stream holds exactly the
//!   work not yet done and is never trimmed by length.
//! - A job whose handler failed in a way it could not record (the database
//!   unreachable) stays pending. Pending jobs idle longer than the
//!   visibility timeout (a failed one, or one held by a killed worker) are
//!   taken over with `XAUTOCLAIM` and run again.
//! - When Redis loses the stream or the group (a restart, a flush), the
//!   consumer recreates them; the jobs lost with it are found again by the
//!   sweeper, because their rows in the database are still due.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::metrics::WorkerMetrics;
use crate::queue::{EnqueueError, Handlers, Job, JobError, Queue};

/// The consumer group of all workers.
pub const GROUP: &str = "scrm-workers";
const FIELD: &str = "job";

/// How a consumer reads.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerOptions {
    /// Jobs read per `XREADGROUP`.
    pub batch: usize,
    /// Jobs of one batch run at once.
    pub concurrency: usize,
    /// How long `XREADGROUP` waits for new jobs.
    pub block: Duration,
    /// How long a delivered job may stay unacknowledged before another
    /// consumer takes it over.
    pub visibility_timeout: Duration,
    /// How often pending jobs are looked for.
    pub reclaim_every: Duration,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        Self {
            batch: 64,
            concurrency: 16,
            block: Duration::from_millis(1000),
            visibility_timeout: Duration::from_secs(30),
            reclaim_every: Duration::from_secs(5),
        }
    }
}

/// A managed connection opened on first use, so that a process starts,
/// and accepts webhooks, while Redis is down. Once open, the manager
/// reconnects by itself.
#[derive(Clone)]
struct LazyConnection {
    client: redis::Client,
    response_timeout: Duration,
    opened: Arc<tokio::sync::OnceCell<ConnectionManager>>,
}

impl LazyConnection {
    fn new(client: &redis::Client, response_timeout: Duration) -> Self {
        Self {
            client: client.clone(),
            response_timeout,
            opened: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The connection, opening it if it is not open yet.
    async fn get(&self) -> anyhow::Result<ConnectionManager> {
        let opened = self
            .opened
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(self.response_timeout))
                    .set_number_of_retries(2);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .context("failed to connect to Redis")?;
        Ok(opened.clone())
    }
}

/// The producer side.
#[derive(Clone)]
pub struct RedisQueue {
    connection: LazyConnection,
    stream: Arc<str>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl RedisQueue {
    /// A producer of jobs on `stream`; it connects on first use.
    pub fn new(client: &redis::Client, stream: &str) -> Self {
        Self {
            connection: LazyConnection::new(client, Duration::from_secs(2)),
            stream: Arc::from(stream),
        }
    }
}

#[async_trait::async_trait]
impl Queue for RedisQueue {
    async fn enqueue(&self, job: Job) -> Result<(), EnqueueError> {
        self.enqueue_many(vec![job]).await
    }

    async fn enqueue_many(&self, jobs: Vec<Job>) -> Result<(), EnqueueError> {
        let mut pipe = redis::pipe();
        for job in &jobs {
            let text = serde_json::to_string(job).map_err(|e| EnqueueError(e.into()))?;
            pipe.xadd(&*self.stream, "*", &[(FIELD, text)]).ignore();
        }
        let mut connection = self.connection.get().await.map_err(EnqueueError)?;
        pipe.query_async::<()>(&mut connection)
            .await
            .map_err(|e| EnqueueError(anyhow::Error::new(e).context("XADD failed")))
    }
}

/// A running consumer.
#[derive(Debug)]
pub struct RedisConsumer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RedisConsumer {
    /// Starts consuming `stream` as `name`, which must be unique among the
    /// group's consumers.
    pub async fn start(
        client: &redis::Client,
        stream: &str,
        name: String,
        handlers: Handlers,
        options: ConsumerOptions,
        metrics: Option<WorkerMetrics>,
    ) -> anyhow::Result<Self> {
        let reader = LazyConnection::new(client, options.block + Duration::from_secs(5));
        let writer = LazyConnection::new(client, Duration::from_secs(2));
        let (stop, stopped) = watch::channel(false);
        let consumer = Consumer {
            stream: Arc::from(stream),
            name,
            reader,
            writer,
            handlers: Arc::new(handlers),
            options,
            metrics,
        };
        let task = tokio::spawn(consumer.run(stopped));
        Ok(Self { stop, task })
    }

    /// Stops reading, lets the batch in hand finish, and waits up to
    /// `grace`. Jobs it could not finish stay pending and are taken over by
    /// another consumer after the visibility timeout.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!("the Redis consumer did not stop in time; its jobs stay pending");
        }
    }
}

struct Consumer {
    stream: Arc<str>,
    name: String,
    reader: LazyConnection,
    writer: LazyConnection,
    handlers: Arc<Handlers>,
    options: ConsumerOptions,
    metrics: Option<WorkerMetrics>,
}

impl Consumer {
    async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        tracing::info!(consumer = %self.name, stream = %self.stream, "Redis consumer started");
        let mut last_reclaim = tokio::time::Instant::now() - self.options.reclaim_every;
        let mut failures: u32 = 0;
        while !*stopped.borrow() {
            // Only the waiting is cut short by a stop; a batch once read
            // runs to its end, so that stopping finishes what it holds.
            let read = async {
                if last_reclaim.elapsed() >= self.options.reclaim_every {
                    last_reclaim = tokio::time::Instant::now();
                    let reclaimed = self.reclaim().await?;
                    if !reclaimed.is_empty() {
                        return Ok(reclaimed);
                    }
                }
                self.read_new().await
            };
            let outcome = tokio::select! {
                outcome = read => outcome,
                _ = stopped.changed() => break,
            };
            let outcome = match outcome {
                Ok(entries) => self.run_batch(entries).await,
                Err(error) => Err(error),
            };
            match outcome {
                Ok(()) => failures = 0,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let delay = Duration::from_millis(100 * u64::from(failures.min(30)));
                    tracing::warn!(
                        error.message = format!("{error:#}"),
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "reading the job stream failed"
                    );
                    if is_missing_group(&error) {
                        let _ = self.ensure_group().await;
                    }
                    tokio::time::sleep(delay).await;
                }
            }
        }
        tracing::info!(consumer = %self.name, "Redis consumer stopped");
    }

    async fn ensure_group(&mut self) -> anyhow::Result<()> {
        ensure_group(&mut self.writer.get().await?, &self.stream).await
    }

    /// Reads one batch of new jobs.
    async fn read_new(&mut self) -> anyhow::Result<Vec<StreamId>> {
        let block_ms = usize::try_from(self.options.block.as_millis()).unwrap_or(1000);
        let options = StreamReadOptions::default()
            .group(GROUP, &self.name)
            .count(self.options.batch)
            .block(block_ms);
        let reply: Option<StreamReadReply> = self
            .reader
            .get()
            .await?
            .xread_options(&[&*self.stream], &[">"], &options)
            .await
            .context("XREADGROUP failed")?;
        Ok(reply
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default())
    }

    /// Takes over jobs left pending longer than the visibility timeout.
    async fn reclaim(&mut self) -> anyhow::Result<Vec<StreamId>> {
        let idle_ms = u64::try_from(self.options.visibility_timeout.as_millis()).unwrap_or(30_000);
        let mut writer = self.writer.get().await?;
        let reply: StreamAutoClaimReply = writer
            .xautoclaim_options(
                &*self.stream,
                GROUP,
                &self.name,
                idle_ms,
                "0-0",
                StreamAutoClaimOptions::default().count(self.options.batch),
            )
            .await
            .context("XAUTOCLAIM failed")?;
        if !reply.deleted_ids.is_empty() {
            // Entries deleted from the stream while pending: nothing to run.
            let _: usize = writer
                .xack(&*self.stream, GROUP, &reply.deleted_ids)
                .await
                .context("XACK failed")?;
        }
        if !reply.claimed.is_empty() {
            tracing::info!(
                reclaimed = reply.claimed.len(),
                "took over jobs left pending by a stopped or failed consumer"
            );
        }
        Ok(reply.claimed)
    }

    async fn run_batch(&mut self, entries: Vec<StreamId>) -> anyhow::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let handlers = Arc::clone(&self.handlers);
        let metrics = self.metrics.clone();
        let done: Vec<String> = futures_util::stream::iter(entries)
            .map(|entry| {
                let handlers = Arc::clone(&handlers);
                let metrics = metrics.clone();
                async move { run_entry(&handlers, metrics.as_ref(), entry).await }
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .filter_map(|id| async move { id })
            .collect()
            .await;
        if done.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.xack(&*self.stream, GROUP, &done)
            .ignore()
            .xdel(&*self.stream, &done)
            .ignore();
        pipe.query_async::<()>(&mut self.writer.get().await?)
            .await
            .context("XACK and XDEL failed")
    }
}

/// Runs one stream entry; answers its id when it is finished with (done, or
/// failed for good), `None` when it should stay pending and run again.
async fn run_entry(
    handlers: &Handlers,
    metrics: Option<&WorkerMetrics>,
    entry: StreamId,
) -> Option<String> {
    let job: Job = match entry
        .get::<String>(FIELD)
        .map(|text| serde_json::from_str(&text))
    {
        Some(Ok(job)) => job,
        _ => {
            tracing::error!(stream.id = %entry.id, "a stream entry is not a job; dropped");
            return Some(entry.id);
        }
    };
    let span =
        tracing::info_span!("job", job.id = %job.id, job.kind = %job.kind, stream.id = %entry.id);
    let outcome = handlers.dispatch(&job).instrument(span.clone()).await;
    let label = match &outcome {
        Ok(()) => "done",
        Err(JobError::Permanent(_)) => "permanent_failure",
        Err(JobError::Retryable(_)) => "retry",
    };
    if let Some(metrics) = metrics {
        metrics.jobs.with_label_values(&[&job.kind, label]).inc();
    }
    let _entered = span.enter();
    match outcome {
        Ok(()) => Some(entry.id),
        Err(JobError::Permanent(error)) => {
            tracing::error!(
                error.message = format!("{error:#}"),
                "job failed permanently; dropped"
            );
            Some(entry.id)
        }
        Err(JobError::Retryable(error)) => {
            tracing::warn!(
                error.message = format!("{error:#}"),
                "job failed; it stays pending and runs again after the visibility timeout"
            );
            None
        }
    }
}

/// Creates the stream and the group if either is missing.
pub async fn ensure_group(connection: &mut ConnectionManager, stream: &str) -> anyhow::Result<()> {
    let created: redis::RedisResult<()> =
        connection.xgroup_create_mkstream(stream, GROUP, "0").await;
    match created {
        Ok(()) => Ok(()),
        Err(e) if e.to_string().contains("BUSYGROUP") => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context("failed to create the consumer group")),
    }
}

fn is_missing_group(error: &anyhow::Error) -> bool {
    error.chain().any(|c| c.to_string().contains("NOGROUP"))
}

/// A consumer name unique to this process: host, process id and a random
/// tail, so that a restarted process never inherits a dead one's name.
pub fn consumer_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".to_owned());
    let tail = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &tail[..8])
}

/// The queue's gauges: stream length, pending count and the oldest pending
/// job's idle time in milliseconds.
pub async fn queue_gauges(
    connection: &mut ConnectionManager,
    stream: &str,
) -> anyhow::Result<[(&'static str, i64); 3]> {
    let length: usize = connection.xlen(stream).await.context("XLEN failed")?;
    let pending: redis::streams::StreamPendingCountReply = connection
        .xpending_count(stream, GROUP, "-", "+", 1)
        .await
        .unwrap_or_default();
    let summary: redis::streams::StreamPendingReply =
        connection.xpending(stream, GROUP).await.unwrap_or_default();
    let oldest = pending.ids.first().map_or(0, |p| {
        i64::try_from(p.last_delivered_ms).unwrap_or(i64::MAX)
    });
    Ok([
        ("length", i64::try_from(length).unwrap_or(i64::MAX)),
        (
            "pending",
            i64::try_from(summary.count()).unwrap_or(i64::MAX),
        ),
        ("oldest_pending_ms", oldest),
    ])
}

/// A connection for reading gauges.
pub async fn gauge_connection(client: &redis::Client) -> anyhow::Result<ConnectionManager> {
    LazyConnection::new(client, Duration::from_secs(2))
        .get()
        .await
}
