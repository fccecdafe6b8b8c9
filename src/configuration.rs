//! Typed settings, read from the environment variables that the README
//! lists. Startup refuses a bad value with a message naming the variable.

use std::net::SocketAddr;
use std::path::Path;

use base64::Engine;
use rand::RngCore;
use secrecy::SecretString;

use scrm_service::auth::tokens::MIN_SECRET_LEN;
pub use scrm_worker::settings::WechatSettings;
use scrm_worker::settings::{
    DatabaseSettings, SettingsError, database_from_env, non_empty_var, redis_from_env,
    redis_stream_from_env, wechat_from_env,
};
use scrm_worker::telemetry::LogFormat;

/// Everything `scrm` needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub redis_url: Option<SecretString>,
    /// The Redis stream that carries jobs (`REDIS_STREAM`).
    pub redis_stream: String,
    pub bind: SocketAddr,
    pub jwt_secret: SecretString,
    pub wechat: Option<WechatSettings>,
    pub log_format: LogFormat,
    /// Webhook requests a second that one channel may send to this process
    /// (`WEBHOOK_RATE_LIMIT`), in bursts of twice that; `None` is no limit.
    pub webhook_rate_limit: Option<u32>,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        let database = database_from_env()?;
        let bind = non_empty_var("BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
            .parse()
            .map_err(|_| {
                SettingsError::new(
                    "BIND",
                    "must be an address and port, such as 127.0.0.1:8080",
                )
            })?;
        Ok(Self {
            jwt_secret: jwt_secret_from_env(&database)?,
            redis_url: redis_from_env()?,
            redis_stream: redis_stream_from_env()?,
            wechat: wechat_from_env()?,
            log_format: LogFormat::from_env()?,
            webhook_rate_limit: webhook_rate_limit_from_env()?,
            database,
            bind,
        })
    }
}

/// The default allowance of one channel: far above what a shop's order flow
/// sends, and low enough that a client stuck in a loop is held back.
pub const DEFAULT_WEBHOOK_RATE_LIMIT: u32 = 1_000;

/// `WEBHOOK_RATE_LIMIT`: a whole number of requests a second, or `0` for no
/// limit.
fn webhook_rate_limit_from_env() -> Result<Option<u32>, SettingsError> {
    let Some(text) = non_empty_var("WEBHOOK_RATE_LIMIT") else {
        return Ok(Some(DEFAULT_WEBHOOK_RATE_LIMIT));
    };
    match text.parse::<u32>() {
        Ok(0) => Ok(None),
        Ok(rate) => Ok(Some(rate)),
        Err(_) => Err(SettingsError::new(
            "WEBHOOK_RATE_LIMIT",
            "must be a whole number of requests a second, or 0 for no limit",
        )),
    }
}

/// `JWT_SECRET`, or on the default SQLite database a key kept in a file
/// beside it, generated on first start.
fn jwt_secret_from_env(database: &DatabaseSettings) -> Result<SecretString, SettingsError> {
    if let Some(secret) = non_empty_var("JWT_SECRET") {
        if secret.len() < MIN_SECRET_LEN {
            return Err(SettingsError::new(
                "JWT_SECRET",
                format!("must be at least {MIN_SECRET_LEN} bytes"),
            ));
        }
        return Ok(SecretString::from(secret));
    }
    match (&database.sqlite_path, database.is_default) {
        (Some(path), true) => kept_secret(Path::new(&format!("{path}.jwt-secret"))),
        _ => Err(SettingsError::new(
            "JWT_SECRET",
            "is required unless the database is the default SQLite file",
        )),
    }
}

fn kept_secret(path: &Path) -> Result<SecretString, SettingsError> {
    let problem = |e: std::io::Error| {
        SettingsError::new(
            "JWT_SECRET",
            format!("is unset, and {} is unusable: {e}", path.display()),
        )
    };
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= MIN_SECRET_LEN {
            return Ok(SecretString::from(existing));
        }
    }
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::STANDARD.encode(bytes);
    std::fs::write(path, &secret).map_err(problem)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(problem)?;
    }
    tracing::warn!(
        path = %path.display(),
        "JWT_SECRET is unset: generated a signing key and kept it beside the SQLite database"
    );
    Ok(SecretString::from(secret))
}
