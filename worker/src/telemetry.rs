//! Log output for every scrm binary: readable lines on a terminal, one JSON
//! object per line with `LOG_FORMAT=json`. `RUST_LOG` overrides the levels;
//! by default sqlx and sea-orm are held to warnings, since they would log
//! every statement.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::{SettingsError, non_empty_var};

const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl LogFormat {
    /// Reads `LOG_FORMAT`: `pretty` (the default) or `json`.
    pub fn from_env() -> Result<Self, SettingsError> {
        match non_empty_var("LOG_FORMAT").as_deref() {
            None | Some("pretty") => Ok(LogFormat::Pretty),
            Some("json") => Ok(LogFormat::Json),
            Some(_) => Err(SettingsError::new("LOG_FORMAT", "must be pretty or json")),
        }
    }
}

/// Installs the global subscriber. A second call does nothing, so tests may
/// call it freely.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
    };
}
