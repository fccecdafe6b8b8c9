//! The jobs the worker runs, each a serde payload and a plain async
//! handler over the database. Handlers record their outcome in the
//! database and answer `Ok` for anything they recorded, so that the queue
//! acknowledges them: retries are scheduled by the rows themselves
//! (`next_attempt_at`) and picked up by the sweeper, and so survive a queue
//! that loses its contents.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

use scrm_service::channels::process;
use scrm_service::domain::{NotificationId, WebhookEventId};
use scrm_service::notifications::delivery::{self, DueNotification};
use scrm_service::retry::RetryPolicy;
use scrm_service::wechat::WechatClient;

use crate::metrics::WorkerMetrics;
use crate::queue::{Handlers, JobError, JobPayload};

/// Process one webhook event of the inbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessWebhookEvent {
    pub event_id: WebhookEventId,
}

impl JobPayload for ProcessWebhookEvent {
    const KIND: &'static str = "webhook_event";
}

/// Make one delivery attempt of a notification, claimed at `attempts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverNotification {
    pub notification_id: NotificationId,
    pub attempts: i32,
}

impl JobPayload for DeliverNotification {
    const KIND: &'static str = "notification";
}

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub db: DatabaseConnection,
    /// `None` when WeChat is not configured: notifications stay in the app.
    pub wechat: Option<WechatClient>,
    pub policy: RetryPolicy,
    pub metrics: Option<WorkerMetrics>,
}

/// The handlers of every job kind.
pub fn handlers(context: Arc<JobContext>) -> Handlers {
    let for_events = Arc::clone(&context);
    let for_notifications = context;
    Handlers::new()
        .register(move |job: ProcessWebhookEvent| {
            let context = Arc::clone(&for_events);
            async move { process_webhook_event(&context, job).await }
        })
        .register(move |job: DeliverNotification| {
            let context = Arc::clone(&for_notifications);
            async move { deliver_notification(&context, job).await }
        })
}

async fn process_webhook_event(
    context: &JobContext,
    job: ProcessWebhookEvent,
) -> Result<(), JobError> {
    let report = process::process_event(&context.db, job.event_id, &context.policy, Utc::now())
        .await
        .map_err(JobError::Retryable)?;
    if let Some(metrics) = &context.metrics {
        let event_type = report.event_type.as_deref().unwrap_or("unknown");
        metrics
            .events
            .with_label_values(&[event_type, report.outcome.label()])
            .inc();
    }
    Ok(())
}

async fn deliver_notification(
    context: &JobContext,
    job: DeliverNotification,
) -> Result<(), JobError> {
    let due = DueNotification {
        id: job.notification_id,
        attempts: job.attempts,
    };
    let outcome = delivery::deliver(
        &context.db,
        context.wechat.as_ref(),
        due,
        &context.policy,
        Utc::now(),
    )
    .await
    .map_err(JobError::Retryable)?;
    if let Some(metrics) = &context.metrics {
        let errcode = outcome
            .errcode()
            .map_or_else(|| "none".to_owned(), |c| c.to_string());
        metrics
            .notifications
            .with_label_values(&[outcome.label(), &errcode])
            .inc();
    }
    Ok(())
}
