//! The settings that `scrm` and `scrm-worker` share, read from the
//! environment. A bad value is refused with a message naming the variable.

use secrecy::SecretString;

use scrm_service::db::DEFAULT_DATABASE_URL;
use scrm_service::wechat::{DEFAULT_API_BASE, WechatClient};

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct SettingsError {
    pub variable: &'static str,
    pub message: String,
}

impl SettingsError {
    pub fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

/// Where the database is. The URL may carry a password, so it is a secret.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretString,
    /// True when `DATABASE_URL` was unset and the default SQLite file is used.
    pub is_default: bool,
    pub is_sqlite: bool,
    /// The SQLite file, when the database is one.
    pub sqlite_path: Option<String>,
    /// The most connections this process opens (`DATABASE_POOL_SIZE`);
    /// `None` is the default of `scrm_service::db::connect`.
    pub pool_size: Option<u32>,
}

/// Reads `DATABASE_URL`.
pub fn database_from_env() -> Result<DatabaseSettings, SettingsError> {
    let explicit = non_empty_var("DATABASE_URL");
    let url = explicit
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    let is_sqlite = url.starts_with("sqlite:");
    if !is_sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(SettingsError::new(
            "DATABASE_URL",
            "must start with sqlite:, postgres:// or postgresql://",
        ));
    }
    let sqlite_path = is_sqlite.then(|| sqlite_file(&url)).flatten();
    let pool_size = match non_empty_var("DATABASE_POOL_SIZE") {
        None => None,
        Some(text) => Some(text.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            SettingsError::new("DATABASE_POOL_SIZE", "must be a whole number above 0")
        })?),
    };
    Ok(DatabaseSettings {
        url: SecretString::from(url),
        is_default: explicit.is_none(),
        is_sqlite,
        sqlite_path,
        pool_size,
    })
}

/// Reads `REDIS_URL`; `None` means the in-process queue.
pub fn redis_from_env() -> Result<Option<SecretString>, SettingsError> {
    match non_empty_var("REDIS_URL") {
        None => Ok(None),
        Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
            Ok(Some(SecretString::from(url)))
        }
        Some(_) => Err(SettingsError::new(
            "REDIS_URL",
            "must start with redis:// or rediss://",
        )),
    }
}

/// The stream jobs travel on when none is named.
pub const DEFAULT_REDIS_STREAM: &str = "scrm:jobs";

/// Reads `REDIS_STREAM`: the key of the job stream. Every process of one
/// deployment must use the same; two deployments on one Redis use two.
pub fn redis_stream_from_env() -> Result<String, SettingsError> {
    match non_empty_var("REDIS_STREAM") {
        None => Ok(DEFAULT_REDIS_STREAM.to_owned()),
        Some(key) if key.len() <= 200 && !key.chars().any(char::is_whitespace) => Ok(key),
        Some(_) => Err(SettingsError::new(
            "REDIS_STREAM",
            "must be at most 200 characters without spaces",
        )),
    }
}

/// Reads `METRICS_BIND`: where `scrm-worker` answers `GET /metrics`, as
/// `IP:port`. Unset, the worker serves no HTTP at all.
pub fn metrics_bind_from_env() -> Result<Option<std::net::SocketAddr>, SettingsError> {
    non_empty_var("METRICS_BIND")
        .map(|text| {
            text.parse()
                .map_err(|_| SettingsError::new("METRICS_BIND", "must be IP:port"))
        })
        .transpose()
}

/// The mini-program's credentials; without them WeChat sign-in is off.
#[derive(Debug, Clone)]
pub struct WechatSettings {
    pub appid: String,
    pub secret: SecretString,
    pub api_base: String,
}

impl WechatSettings {
    /// A client for these credentials.
    pub fn client(&self) -> anyhow::Result<WechatClient> {
        WechatClient::new(&self.api_base, &self.appid, self.secret.clone())
    }
}

/// Reads `WECHAT_APPID`, `WECHAT_SECRET` and `WECHAT_API_BASE`.
pub fn wechat_from_env() -> Result<Option<WechatSettings>, SettingsError> {
    let api_base = non_empty_var("WECHAT_API_BASE").unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
    if !api_base.starts_with("http://") && !api_base.starts_with("https://") {
        return Err(SettingsError::new(
            "WECHAT_API_BASE",
            "must start with http:// or https://",
        ));
    }
    match (
        non_empty_var("WECHAT_APPID"),
        non_empty_var("WECHAT_SECRET"),
    ) {
        (None, None) => Ok(None),
        (Some(appid), Some(secret)) => Ok(Some(WechatSettings {
            appid,
            secret: SecretString::from(secret),
            api_base,
        })),
        (Some(_), None) => Err(SettingsError::new(
            "WECHAT_SECRET",
            "is required with WECHAT_APPID",
        )),
        (None, Some(_)) => Err(SettingsError::new(
            "WECHAT_APPID",
            "is required with WECHAT_SECRET",
        )),
    }
}

/// An environment variable, treating an empty value as unset.
pub fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn sqlite_file(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_file_is_read_from_the_url() {
        assert_eq!(
            sqlite_file("sqlite://scrm.db?mode=rwc").as_deref(),
            Some("scrm.db")
        );
        assert_eq!(
            sqlite_file("sqlite:/tmp/x.db").as_deref(),
            Some("/tmp/x.db")
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }
}
