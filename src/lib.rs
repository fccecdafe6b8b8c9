//! The scrm HTTP API: startup, configuration, errors, extractors and the
//! routes. Business rules live in `scrm-service`; this crate turns HTTP into
//! calls of it and its answers back into HTTP.

pub mod authn;
pub mod cli;
pub mod configuration;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod routes;
pub mod slow_clients;
pub mod startup;
pub mod state;
pub mod telemetry;
