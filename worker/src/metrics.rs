//! The worker's Prometheus metrics: jobs handled by kind and outcome,
//! webhook events by type and outcome, and notification deliveries by
//! outcome and WeChat errcode, as counted by this process. Gauges of the
//! queue itself (stream length, pending count, oldest pending age), of the
//! inbox (events by type and status, dead ones included) and of the outbox
//! (notifications by delivery and errcode) are read when `/metrics` is
//! scraped, from Redis and the database, so they cover every process.

use anyhow::Context;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

/// Counters and gauges shared by the worker's tasks.
#[derive(Debug, Clone)]
pub struct WorkerMetrics {
    pub jobs: IntCounterVec,
    pub events: IntCounterVec,
    pub notifications: IntCounterVec,
    pub queue: IntGaugeVec,
    pub inbox: IntGaugeVec,
    pub outbox: IntGaugeVec,
}

impl WorkerMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> anyhow::Result<Self> {
        let metrics = Self {
            jobs: IntCounterVec::new(
                Opts::new("worker_jobs_total", "Jobs handled, by kind and outcome."),
                &["kind", "outcome"],
            )?,
            events: IntCounterVec::new(
                Opts::new(
                    "webhook_events_total",
                    "Webhook events processed, by event type and outcome.",
                ),
                &["type", "outcome"],
            )?,
            notifications: IntCounterVec::new(
                Opts::new(
                    "notification_deliveries_total",
                    "Notification delivery attempts, by outcome and WeChat errcode.",
                ),
                &["outcome", "errcode"],
            )?,
            queue: IntGaugeVec::new(
                Opts::new(
                    "job_queue",
                    "The job stream: length, pending (delivered, not acknowledged) and the oldest pending age in milliseconds.",
                ),
                &["measure"],
            )?,
            inbox: IntGaugeVec::new(
                Opts::new(
                    "webhook_inbox_events",
                    "Webhook events in the inbox of every process, by event type and status \
                     (accepted, processed, failed, dead).",
                ),
                &["type", "status"],
            )?,
            outbox: IntGaugeVec::new(
                Opts::new(
                    "notifications_by_delivery",
                    "Notifications of every process, by delivery state and the WeChat errcode \
                     of their last attempt (`none` where WeChat answered none).",
                ),
                &["delivery", "errcode"],
            )?,
        };
        for collector in [
            Box::new(metrics.jobs.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.events.clone()),
            Box::new(metrics.notifications.clone()),
            Box::new(metrics.queue.clone()),
            Box::new(metrics.inbox.clone()),
            Box::new(metrics.outbox.clone()),
        ] {
            registry
                .register(collector)
                .context("failed to register a worker metric")?;
        }
        Ok(metrics)
    }
}
