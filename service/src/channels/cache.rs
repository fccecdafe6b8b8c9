//! A per-process copy of channel rows, kept for a few seconds, so that most
//! deliveries verify their signature without reading their channel first.
//!
//! What it may cost in safety, and why that is bounded:
//!
//! - A secret that a rotation on this process replaced stops verifying at
//!   once, since the rotation forgets the entry ([`ChannelCache::forget`]).
//! - On another API process, the replaced secret may keep verifying for at
//!   most [`CHANNEL_TTL`] after the rotation, until that process's entry
//!   expires. A shop that has just switched secrets still signs with the
//!   new one, so this only widens the overlap the admin chose by a few
//!   seconds.
//! - The new secret works everywhere at once: a delivery that fails to
//!   verify against a cached row is checked again against a fresh read.
//! - Only channels that exist are kept, so an unknown id is read (and
//!   answered 404) every time, and random ids cannot fill the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use scrm_entity::webhook_channel;
use uuid::Uuid;

/// How long a channel row is used before it is read again.
pub const CHANNEL_TTL: Duration = Duration::from_secs(5);
/// The most channels kept at once. A tenant has a handful of channels, so
/// this is far above any real deployment; it only bounds the memory.
pub const CHANNEL_CAPACITY: usize = 10_000;

/// Channel rows by id, each for [`CHANNEL_TTL`].
#[derive(Debug)]
pub struct ChannelCache {
    ttl: Duration,
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Uuid, Entry>,
    /// How many times a row was forgotten, so that a read that began
    /// before a rotation cannot put the replaced row back after it.
    forgotten: u64,
}

/// Taken before reading a row and given back with it to [`ChannelCache::put`].
#[derive(Debug, Clone, Copy)]
pub struct ReadTicket {
    forgotten: u64,
    at: Instant,
}

impl ReadTicket {
    /// When the read began.
    pub fn at(&self) -> Instant {
        self.at
    }
}

#[derive(Debug)]
struct Entry {
    row: Arc<webhook_channel::Model>,
    read_at: Instant,
}

impl Default for ChannelCache {
    fn default() -> Self {
        Self::new(CHANNEL_TTL, CHANNEL_CAPACITY)
    }
}

impl ChannelCache {
    /// A cache that keeps each row for `ttl`, and at most `capacity` rows.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The channel's row, if it was read less than the TTL before `now`.
    pub fn get(&self, id: Uuid, now: Instant) -> Option<Arc<webhook_channel::Model>> {
        let inner = self.lock();
        let entry = inner.entries.get(&id)?;
        (now.saturating_duration_since(entry.read_at) < self.ttl).then(|| Arc::clone(&entry.row))
    }

    /// To take at `now`, just before reading a row to [`put`](Self::put).
    pub fn ticket(&self, now: Instant) -> ReadTicket {
        ReadTicket {
            forgotten: self.lock().forgotten,
            at: now,
        }
    }

    /// Keeps `row`, read after `ticket` was taken. The row is not kept if
    /// some row was forgotten since (it may be the one a rotation replaced),
    /// nor when the cache is full of live rows: the next delivery reads it
    /// again.
    pub fn put(&self, row: Arc<webhook_channel::Model>, ticket: ReadTicket) {
        let mut inner = self.lock();
        if inner.forgotten != ticket.forgotten {
            return;
        }
        let entries = &mut inner.entries;
        if entries.len() >= self.capacity && !entries.contains_key(&row.id) {
            let ttl = self.ttl;
            entries.retain(|_, e| ticket.at.saturating_duration_since(e.read_at) < ttl);
            if entries.len() >= self.capacity {
                return;
            }
        }
        let read_at = ticket.at;
        entries.insert(row.id, Entry { row, read_at });
    }

    /// Drops the channel's row, so that the next delivery reads it again.
    pub fn forget(&self, id: Uuid) {
        let mut inner = self.lock();
        inner.entries.remove(&id);
        inner.forgotten = inner.forgotten.wrapping_add(1);
    }

    /// The map is only ever left whole (no step can panic half-way through
    /// an update), so a lock poisoned by a panic elsewhere is still sound.
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn channel() -> Arc<webhook_channel::Model> {
        Arc::new(webhook_channel::Model {
            id: Uuid::now_v7(),
            tenant_id: Uuid::now_v7(),
            name: "shop".into(),
            secret: "whsec_c2VjcmV0".into(),
            previous_secret: None,
            previous_secret_until: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        })
    }

    #[test]
    fn a_row_is_served_until_its_ttl_ends() {
        let cache = ChannelCache::new(Duration::from_secs(5), 10);
        let row = channel();
        let start = Instant::now();

        cache.put(Arc::clone(&row), cache.ticket(start));

        assert!(
            cache
                .get(row.id, start + Duration::from_millis(4_999))
                .is_some()
        );
        assert!(cache.get(row.id, start + Duration::from_secs(5)).is_none());
    }

    #[test]
    fn a_forgotten_row_is_read_again() {
        let cache = ChannelCache::default();
        let row = channel();
        let now = Instant::now();
        cache.put(Arc::clone(&row), cache.ticket(now));

        cache.forget(row.id);

        assert!(cache.get(row.id, now).is_none());
    }

    #[test]
    fn a_row_read_before_a_rotation_is_not_kept_after_it() {
        let cache = ChannelCache::default();
        let row = channel();
        let now = Instant::now();
        let ticket = cache.ticket(now);

        cache.forget(row.id);
        cache.put(Arc::clone(&row), ticket);

        assert!(cache.get(row.id, now).is_none());
    }

    #[test]
    fn a_full_cache_makes_room_from_expired_rows_and_otherwise_keeps_what_it_has() {
        let cache = ChannelCache::new(Duration::from_secs(5), 2);
        let start = Instant::now();
        let (old, live, newer, newest) = (channel(), channel(), channel(), channel());
        cache.put(Arc::clone(&old), cache.ticket(start));
        cache.put(
            Arc::clone(&live),
            cache.ticket(start + Duration::from_secs(3)),
        );

        let later = start + Duration::from_secs(6);
        cache.put(Arc::clone(&newer), cache.ticket(later));
        cache.put(Arc::clone(&newest), cache.ticket(later));

        assert!(cache.get(old.id, later).is_none());
        assert!(cache.get(live.id, later).is_some());
        assert!(cache.get(newer.id, later).is_some());
        assert!(
            cache.get(newest.id, later).is_none(),
            "no room for a third live row"
        );
    }
}
