//! The queue interface shared by every implementation, and the registry of
//! job handlers.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// A payload that can travel as a job.
pub trait JobPayload: Serialize + DeserializeOwned + Send + 'static {
    /// The name that routes the job to its handler; stable across releases.
    const KIND: &'static str;
}

/// A job as queues carry it.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    /// How many times it has been attempted before this delivery.
    pub attempts: u32,
}

impl Job {
    /// Wraps a payload into a new job.
    pub fn new<P: JobPayload>(payload: &P) -> serde_json::Result<Self> {
        Ok(Self {
            id: Uuid::now_v7(),
            kind: P::KIND.to_owned(),
            payload: serde_json::to_value(payload)?,
            attempts: 0,
        })
    }
}

/// Why a job failed, which decides whether it is tried again.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A passing fault (a dropped connection, a busy service): retried with
    /// backoff.
    #[error("job failed and will be retried: {0:#}")]
    Retryable(anyhow::Error),
    /// A fault that no retry can mend (a bad payload, an unknown kind).
    #[error("job failed permanently: {0:#}")]
    Permanent(anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
#[error("the queue did not accept the job: {0:#}")]
pub struct EnqueueError(pub anyhow::Error);

/// Where producers put jobs.
#[async_trait::async_trait]
pub trait Queue: Send + Sync + fmt::Debug {
    async fn enqueue(&self, job: Job) -> Result<(), EnqueueError>;

    /// Queues several jobs; implementations may send them in one round trip.
    async fn enqueue_many(&self, jobs: Vec<Job>) -> Result<(), EnqueueError> {
        for job in jobs {
            self.enqueue(job).await?;
        }
        Ok(())
    }
}

type HandlerFn =
    Arc<dyn Fn(serde_json::Value) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync>;

/// The handler of each job kind.
#[derive(Clone, Default)]
pub struct Handlers {
    by_kind: HashMap<&'static str, HandlerFn>,
}

impl fmt::Debug for Handlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.by_kind.keys()).finish()
    }
}

impl Handlers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for jobs of kind `P::KIND`.
    pub fn register<P, F, Fut>(mut self, handler: F) -> Self
    where
        P: JobPayload,
        F: Fn(P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: HandlerFn = Arc::new(move |value| {
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let payload = serde_json::from_value::<P>(value).map_err(|e| {
                    JobError::Permanent(anyhow::Error::new(e).context("bad payload"))
                })?;
                handler(payload).await
            })
        });
        self.by_kind.insert(P::KIND, erased);
        self
    }

    /// Runs the handler of `job`'s kind.
    pub async fn dispatch(&self, job: &Job) -> Result<(), JobError> {
        let Some(handler) = self.by_kind.get(job.kind.as_str()) else {
            return Err(JobError::Permanent(anyhow::anyhow!(
                "no handler for job kind {}",
                job.kind
            )));
        };
        handler(job.payload.clone()).await
    }
}
