//! Prices and earnings: money and rates, and the pure earnings engine.

pub mod engine;
pub mod money;
