//! End-to-end tests of the API: one binary, a real server per test.

mod authorization;
mod cli;
mod fault;
mod health;
mod helpers;
mod idempotency;
mod notifications;
mod pricing;
mod problems;
mod reminders;
mod sign_in;
mod slow_clients;
mod statements;
mod tenancy;
mod tokens;
mod webhooks;
mod wechat;
mod work_orders;
