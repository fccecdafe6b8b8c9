//! What the load generators count: each request's latency and status, and
//! the percentiles of the latencies. Shared by every example under
//! `examples/` through `#[path]`.

use std::collections::BTreeMap;

/// What one connection saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub latencies_us: Vec<u64>,
    pub statuses: BTreeMap<String, u64>,
}

impl Tally {
    /// Records one answer (or `timeout` / `error`).
    pub fn record(&mut self, status: String, micros: u64) {
        self.latencies_us.push(micros);
        *self.statuses.entry(status).or_default() += 1;
    }

    /// The statuses as `200:123,404:1`.
    pub fn statuses_text(&self) -> String {
        let parts: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, count)| format!("{status}:{count}"))
            .collect();
        parts.join(",")
    }
}

/// All connections' tallies in one, latencies sorted.
pub fn merge(tallies: Vec<Tally>) -> Tally {
    let mut all = Tally::default();
    for tally in tallies {
        all.latencies_us.extend(tally.latencies_us);
        for (status, count) in tally.statuses {
            *all.statuses.entry(status).or_default() += count;
        }
    }
    all.latencies_us.sort_unstable();
    all
}

/// The latency below which `share` of the requests finished, in ms, by
/// nearest rank.
pub fn percentile_ms(sorted_us: &[u64], share: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((sorted_us.len() as f64 * share).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}
