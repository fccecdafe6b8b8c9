//! What every handler shares.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use scrm_service::auth::TokenKeys;
use scrm_service::wechat::WechatClient;
use scrm_worker::queue::Queue;

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
}
