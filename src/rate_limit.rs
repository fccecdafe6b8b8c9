//! Token buckets per key, for the webhook endpoint: each channel may send
//! `per_second` requests a second on average, in bursts of up to twice
//! that, to one API process. Beyond it the answer is 429 with
//! `Retry-After`, before anything is verified or stored, so that a shop
//! system stuck in a loop cannot crowd out the others.
//!
//! The buckets live in the process: with several API processes a channel
//! gets the allowance of each. The map holds a bucket per channel seen
//! lately and forgets idle ones, so that requests to made-up channel ids
//! cannot grow it without bound.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Buckets kept before idle ones are forgotten.
const MAX_BUCKETS: usize = 10_000;
/// How long a bucket stays after its last request.
const IDLE: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_second` requests a second per key, in bursts of twice that.
    pub fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        Self {
            per_second,
            burst: per_second * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's token for `key`, or answers how long until one
    /// is free.
    pub fn check(&self, key: Uuid, now: Instant) -> Result<(), Duration> {
        // A poisoned lock only means another request panicked while it held
        // it; the buckets are still usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| now.duration_since(b.at) < IDLE);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refilled = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refilled).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_twice_the_rate_passes_and_the_next_request_waits() {
        let limiter = RateLimiter::new(5);
        let (key, start) = (Uuid::now_v7(), Instant::now());
        for _ in 0..10 {
            assert!(limiter.check(key, start).is_ok());
        }
        let wait = limiter.check(key, start).expect_err("the bucket is empty");
        assert_eq!(wait, Duration::from_millis(200));
        assert!(
            limiter
                .check(key, start + Duration::from_millis(200))
                .is_ok()
        );
    }

    #[test]
    fn each_key_has_its_own_bucket() {
        let limiter = RateLimiter::new(1);
        let start = Instant::now();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(limiter.check(a, start).is_ok());
        assert!(limiter.check(a, start).is_ok());
        assert!(limiter.check(a, start).is_err());
        assert!(limiter.check(b, start).is_ok());
    }

    #[test]
    fn idle_buckets_are_forgotten_once_the_map_is_full() {
        let limiter = RateLimiter::new(1);
        let start = Instant::now();
        for _ in 0..MAX_BUCKETS {
            let _ = limiter.check(Uuid::now_v7(), start);
        }
        let later = start + IDLE + Duration::from_secs(1);
        let _ = limiter.check(Uuid::now_v7(), later);
        let held = limiter.buckets.lock().map(|b| b.len()).unwrap_or_default();
        assert_eq!(held, 1);
    }
}
