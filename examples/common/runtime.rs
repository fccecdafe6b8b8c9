//! The runtime every load generator runs on.

use std::future::Future;

use anyhow::Context;

/// Runs `work` to its end on a multi-threaded runtime with as many threads
/// as cores: a generator shares the machine with the server it measures,
/// so it asks for no more.
pub fn block_on(work: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the Tokio runtime")?
        .block_on(work)
}
