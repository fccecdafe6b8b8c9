//! Starting and stopping the background work of one process: the queue
//! producer, a consumer of the queue and the sweeper. `scrm serve` and
//! `scrm-worker` start it the same way, so the worker in the API process
//! and the worker alone follow the same rules.

use std::sync::Arc;
use std::time::Duration;

use crate::in_process::{self, InProcessWorker};
use crate::jobs::{self, JobContext};
use crate::queue::Queue;
use crate::redis_stream::{self, ConsumerOptions, RedisConsumer, RedisQueue};
use crate::sweeper::Sweeper;

/// Where jobs travel.
#[derive(Debug, Clone)]
pub enum QueueBackend {
    /// Inside this process only.
    InProcess,
    /// On a Redis stream shared by every process of the deployment.
    Redis {
        client: redis::Client,
        stream: String,
    },
}

/// The background work a process runs.
#[derive(Debug, Default)]
pub struct Background {
    sweeper: Option<Sweeper>,
    redis_consumer: Option<RedisConsumer>,
    in_process: Option<InProcessWorker>,
}

impl Background {
    /// Starts the queue on `backend`. With `consume`, this process also
    /// runs jobs and sweeps; without it, it only produces jobs, which other
    /// processes run. Answers the producer side and the running work.
    pub async fn start(
        context: Arc<JobContext>,
        backend: &QueueBackend,
        consume: bool,
        options: ConsumerOptions,
    ) -> anyhow::Result<(Arc<dyn Queue>, Self)> {
        let handlers = jobs::handlers(Arc::clone(&context));
        let (client, stream) = match backend {
            QueueBackend::InProcess => {
                anyhow::ensure!(
                    consume,
                    "without Redis, jobs can only run inside the process that queues them"
                );
                let (queue, worker) = in_process::start(handlers, context.policy);
                let queue: Arc<dyn Queue> = Arc::new(queue);
                let background = Self {
                    sweeper: Some(Sweeper::start(context.db.clone(), Arc::clone(&queue))),
                    redis_consumer: None,
                    in_process: Some(worker),
                };
                return Ok((queue, background));
            }
            QueueBackend::Redis { client, stream } => (client, stream),
        };
        let queue: Arc<dyn Queue> = Arc::new(RedisQueue::new(client, stream));
        if !consume {
            return Ok((queue, Self::default()));
        }
        let consumer = RedisConsumer::start(
            client,
            stream,
            redis_stream::consumer_name(),
            handlers,
            options,
            context.metrics.clone(),
        )
        .await?;
        let background = Self {
            sweeper: Some(Sweeper::start(context.db.clone(), Arc::clone(&queue))),
            redis_consumer: Some(consumer),
            in_process: None,
        };
        Ok((queue, background))
    }

    /// Stops taking work, then gives the jobs in hand `grace` to finish.
    /// What a Redis consumer could not finish stays pending, and another
    /// consumer takes it over after the visibility timeout.
    pub async fn stop(self, grace: Duration) {
        if let Some(sweeper) = self.sweeper {
            sweeper.stop().await;
        }
        if let Some(consumer) = self.redis_consumer {
            consumer.stop(grace).await;
        }
        if let Some(worker) = self.in_process {
            worker.stop(grace).await;
        }
    }
}
