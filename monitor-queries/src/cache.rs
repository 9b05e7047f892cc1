//! A small TTL cache of query results, keyed by query name and parameters.
//!
//! Dashboards refresh every few seconds and many viewers ask the same
//! questions; the cache answers repeats without touching the store. Rules:
//! an entry is served only while `now - fetched_at < ttl`, where `fetched_at`
//! is taken *before* the query ran (so an answer is never older than the TTL,
//! whatever the query's own duration); a clock that went backwards expires
//! everything; every write made through the [`crate::Monitor`] (resolving an
//! error group, marking runs lost) and every call of
//! [`crate::Monitor::invalidate`] empties it. A TTL of zero disables caching.
//!
//! Hand-written rather than a caching crate: the whole policy is the dozen
//! lines above, and it must use the monitor's [`crate::Clock`] so that tests
//! control expiry.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// Cached values are type-erased; each query reads back the type it stored.
type Entry = (DateTime<Utc>, Arc<dyn Any + Send + Sync>);

#[derive(Debug, Default)]
pub(crate) struct Cache {
    entries: Mutex<HashMap<String, Entry>>,
    /// Bumped by every invalidation, so a query that started before a write
    /// does not store its (possibly stale) answer after it.
    generation: Mutex<u64>,
}

impl Cache {
    pub(crate) fn get<T: Clone + Send + Sync + 'static>(
        &self,
        key: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Option<T> {
        if ttl <= Duration::zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (fetched_at, value) = entries.get(key)?;
        let age = now - *fetched_at;
        if age < Duration::zero() || age >= ttl {
            return None;
        }
        value.downcast_ref::<T>().cloned()
    }

    pub(crate) fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `value`, fetched at `fetched_at`, unless the cache was invalidated
    /// since `generation` was read (the query raced a write).
    pub(crate) fn put<T: Send + Sync + 'static>(
        &self,
        key: String,
        fetched_at: DateTime<Utc>,
        generation: u64,
        value: T,
    ) {
        let current = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        if *current != generation {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        // Expired entries are dropped lazily; bound the map so odd parameters cannot grow it forever.
        if entries.len() >= 4_096 {
            entries.clear();
        }
        entries.insert(key, (fetched_at, Arc::new(value)));
    }

    pub(crate) fn invalidate(&self) {
        let mut generation = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        *generation += 1;
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap() + Duration::milliseconds(ms)
    }

    #[test]
    fn entries_are_served_strictly_within_the_ttl() {
        let cache = Cache::default();
        let ttl = Duration::seconds(5);
        cache.put("q".into(), t(0), cache.generation(), 7_i64);
        assert_eq!(cache.get::<i64>("q", t(0), ttl), Some(7));
        assert_eq!(cache.get::<i64>("q", t(4_999), ttl), Some(7));
        assert_eq!(cache.get::<i64>("q", t(5_000), ttl), None, "exactly the TTL old is too old");
        assert_eq!(cache.get::<i64>("q", t(-1), ttl), None, "a clock that went back expires entries");
        assert_eq!(cache.get::<i64>("other", t(1), ttl), None);
        assert_eq!(cache.get::<String>("q", t(1), ttl), None, "wrong type is a miss, not a panic");
        assert_eq!(cache.get::<i64>("q", t(1), Duration::zero()), None, "TTL 0 disables the cache");
    }

    #[test]
    fn invalidation_empties_and_refuses_answers_of_queries_started_before() {
        let cache = Cache::default();
        let ttl = Duration::seconds(5);
        cache.put("q".into(), t(0), cache.generation(), 1_i64);
        let before = cache.generation();
        cache.invalidate();
        assert_eq!(cache.get::<i64>("q", t(1), ttl), None);
        cache.put("q".into(), t(1), before, 2_i64);
        assert_eq!(cache.get::<i64>("q", t(2), ttl), None, "a racing query's answer is not stored");
        cache.put("q".into(), t(1), cache.generation(), 3_i64);
        assert_eq!(cache.get::<i64>("q", t(2), ttl), Some(3));
    }
}
