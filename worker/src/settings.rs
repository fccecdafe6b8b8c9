//! The settings that `scrm` and `scrm-worker` share, read from the
//! environment. A bad value is refused with a message naming the variable.

use secrecy::SecretString;

use scrm_service::db::DEFAULT_DATABASE_URL;

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
    Ok(DatabaseSettings {
        url: SecretString::from(url),
        is_default: explicit.is_none(),
        is_sqlite,
        sqlite_path,
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
