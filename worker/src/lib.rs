//! The scrm job queue and worker.
//!
//! A job is a serde payload with a kind name, handled by a plain async
//! function registered in [`queue::Handlers`], so that handlers can be
//! tested without any queue at all. [`queue::Queue`] is what producers
//! (the API) see. [`in_process::InProcessQueue`] implements it inside one
//! process, for `scrm serve` when no `REDIS_URL` is set. The database stays
//! the source of truth: a queue only carries the news that there is work.

pub mod in_process;
pub mod jobs;
pub mod metrics;
pub mod metrics_endpoint;
pub mod queue;
pub mod redis_stream;
pub mod runtime;
pub mod settings;
pub mod shutdown;
pub mod sweeper;
pub mod telemetry;
