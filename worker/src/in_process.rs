//! A queue that lives inside one process: a channel and one consumer task.
//! It serves `scrm serve` when no Redis is configured. Jobs in it are lost
//! when the process stops, which is why jobs only ever carry news of work
//! whose truth is in the database.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::queue::{EnqueueError, Handlers, Job, JobError, Queue};

pub use scrm_service::retry::RetryPolicy;

/// The producer side of the in-process queue.
#[derive(Clone, Debug)]
pub struct InProcessQueue {
    sender: mpsc::UnboundedSender<Job>,
}

#[async_trait::async_trait]
impl Queue for InProcessQueue {
    async fn enqueue(&self, job: Job) -> Result<(), EnqueueError> {
        self.sender
            .send(job)
            .map_err(|_| EnqueueError(anyhow::anyhow!("the in-process worker has stopped")))
    }
}

/// The consumer task of the in-process queue.
#[derive(Debug)]
pub struct InProcessWorker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl InProcessWorker {
    /// Stops taking jobs, lets the one in hand finish, and waits for that
    /// up to `grace`.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!("the in-process worker did not stop in time");
        }
    }
}

/// Starts the consumer and answers its producer handle.
pub fn start(handlers: Handlers, policy: RetryPolicy) -> (InProcessQueue, InProcessWorker) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let queue = InProcessQueue { sender };
    let task = tokio::spawn(consume(handlers, policy, queue.clone(), receiver, stopped));
    (queue, InProcessWorker { stop, task })
}

async fn consume(
    handlers: Handlers,
    policy: RetryPolicy,
    queue: InProcessQueue,
    mut receiver: mpsc::UnboundedReceiver<Job>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let job = tokio::select! {
            _ = stopped.changed() => break,
            job = receiver.recv() => match job {
                Some(job) => job,
                None => break,
            },
        };
        let span = tracing::info_span!("job", job.id = %job.id, job.kind = %job.kind, job.attempts = job.attempts);
        run_once(&handlers, &policy, &queue, job)
            .instrument(span)
            .await;
    }
    tracing::info!(
        queue.jobs_left = receiver.len(),
        "in-process worker stopped"
    );
}

async fn run_once(handlers: &Handlers, policy: &RetryPolicy, queue: &InProcessQueue, job: Job) {
    match handlers.dispatch(&job).await {
        Ok(()) => tracing::debug!("job done"),
        Err(JobError::Permanent(error)) => {
            tracing::error!(
                error.message = format!("{error:#}"),
                "job failed permanently; dropped"
            );
        }
        Err(JobError::Retryable(error)) if job.attempts + 1 >= policy.max_attempts => {
            tracing::error!(
                error.message = format!("{error:#}"),
                "job failed its last attempt; dropped"
            );
        }
        Err(JobError::Retryable(error)) => {
            let delay = policy.delay(job.attempts);
            tracing::warn!(
                error.message = format!("{error:#}"),
                retry_in_ms = delay.as_millis() as u64,
                "job failed; will retry"
            );
            let queue = queue.clone();
            let job = Job {
                attempts: job.attempts + 1,
                ..job
            };
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = queue.enqueue(job).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::queue::JobPayload;

    #[derive(Serialize, Deserialize)]
    struct Flaky {
        fail_times: u32,
    }

    impl JobPayload for Flaky {
        const KIND: &'static str = "test.flaky";
    }

    fn fast_policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        }
    }

    async fn wait_for(calls: &AtomicU32, expected: u32) {
        for _ in 0..200 {
            if calls.load(Ordering::SeqCst) >= expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_failing_job_is_retried_until_it_succeeds() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&calls);
        let handlers = Handlers::new().register(move |job: Flaky| {
            let counter = Arc::clone(&counter);
            async move {
                let call = counter.fetch_add(1, Ordering::SeqCst);
                if call < job.fail_times {
                    Err(JobError::Retryable(anyhow::anyhow!("not yet")))
                } else {
                    Ok(())
                }
            }
        });
        let (queue, worker) = start(handlers, fast_policy());

        let job = Job::new(&Flaky { fail_times: 2 }).expect("serialisable");
        queue.enqueue(job).await.expect("enqueued");
        wait_for(&calls, 3).await;
        tokio::time::sleep(Duration::from_millis(30)).await;

        assert_eq!(calls.load(Ordering::SeqCst), 3);
        worker.stop(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn a_job_of_unknown_kind_fails_permanently() {
        let handlers = Handlers::new();
        let job = Job::new(&Flaky { fail_times: 0 }).expect("serialisable");
        let outcome = handlers.dispatch(&job).await;
        assert!(matches!(outcome, Err(JobError::Permanent(_))));
    }
}
