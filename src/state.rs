//! What every handler shares.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use scrm_service::auth::TokenKeys;
use scrm_service::channels::inbox::Inbox;
use scrm_service::wechat::WechatClient;
use scrm_worker::queue::Queue;

use crate::rate_limit::RateLimiter;

/// The application state, built once at startup.
#[derive(Debug)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub tokens: TokenKeys,
    /// `None` when WeChat credentials are not configured.
    pub wechat: Option<WechatClient>,
    /// `None` when the queue is in-process.
    pub redis: Option<redis::Client>,
    /// The Redis stream that carries jobs.
    pub redis_stream: String,
    pub queue: Arc<dyn Queue>,
    /// Where sales channels' webhooks are verified and stored.
    pub inbox: Inbox,
    pub clock: Clock,
    /// Per-channel allowance of the webhook endpoint; `None` is no limit.
    pub webhook_limiter: Option<RateLimiter>,
}

/// The calendar that closing a settlement period goes by: a period can be
/// closed once it is over. The server runs on the system clock. The tests
/// run a server some weeks ahead, so that they can close the month in which
/// they just posted earnings; everything else keeps the system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    ahead: chrono::Duration,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system clock moved `ahead` into the future.
    pub fn ahead_by(ahead: chrono::Duration) -> Self {
        Self { ahead }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.ahead
    }
}
