//! How failed work is tried again: capped exponential backoff with full
//! jitter, and a fixed number of attempts. The webhook inbox, notification
//! delivery and the in-process queue all follow this one policy.

use std::time::Duration;

use rand::Rng;

/// Attempts, and the delays between them.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempts + 1`: a random time up to
    /// `base × 2^attempts`, capped at `max_delay`.
    pub fn delay(&self, attempts: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempts.min(20)))
            .min(self.max_delay);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }

    /// Whether work that has failed `attempts` times is given up.
    pub fn exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_but_never_exceeds_its_cap() {
        let policy = RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(500),
        };
        for attempts in 0..40 {
            let ceiling =
                Duration::from_millis(10 * 2u64.pow(attempts.min(20))).min(policy.max_delay);
            assert!(policy.delay(attempts) <= ceiling);
        }
        assert!(!policy.exhausted(7));
        assert!(policy.exhausted(8));
    }
}
