//! A host-side cache of `get-server-data` and `get-user-data` answers, kept
//! for a time-to-live set per plugin, so callbacks stay cheap for every
//! plugin language. Concurrent misses for one key make one plugin call: the
//! first caller fetches while the others wait for its answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys remembered at most; the keys are snowflakes from the plugin's own
/// server list, so this is only a backstop.
const MAX_KEYS: usize = 10_000;

type Slot<T> = Arc<tokio::sync::Mutex<Option<(Instant, T)>>>;

#[derive(Debug)]
pub struct CallCache<T> {
    ttl: Duration,
    slots: Mutex<HashMap<String, Slot<T>>>,
}

impl<T: Clone> CallCache<T> {
    /// A zero `ttl` caches nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slots: Mutex::default(),
        }
    }

    /// The fresh cached answer for `key`, or `fetch`'s, which is cached when
    /// it succeeds.
    pub async fn get_or_fetch<E, F>(&self, key: &str, fetch: impl FnOnce() -> F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        if self.ttl.is_zero() {
            return fetch().await;
        }
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            if slots.len() >= MAX_KEYS && !slots.contains_key(key) {
                slots.retain(|_, slot| Arc::strong_count(slot) > 1);
            }
            Arc::clone(slots.entry(key.to_string()).or_default())
        };
        let mut cached = slot.lock().await;
        if let Some((at, value)) = &*cached
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let value = fetch().await?;
        *cached = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_misses_make_one_call_and_hits_make_none() {
        let cache = CallCache::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, ()>(7)
        };
        let answers =
            futures_util::future::join_all((0..10).map(|_| cache.get_or_fetch("k", fetch))).await;
        assert!(answers.iter().all(|a| *a == Ok(7)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.get_or_fetch("other", fetch).await, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failures_are_not_cached_and_zero_ttl_caches_nothing() {
        let cache = CallCache::new(Duration::from_secs(60));
        assert_eq!(
            cache
                .get_or_fetch("k", || async { Err::<u8, _>("no") })
                .await,
            Err("no")
        );
        assert_eq!(
            cache.get_or_fetch("k", || async { Ok::<_, ()>(1) }).await,
            Ok(1)
        );
        let off = CallCache::new(Duration::ZERO);
        assert_eq!(
            off.get_or_fetch("k", || async { Ok::<_, ()>(1) }).await,
            Ok(1)
        );
        assert_eq!(
            off.get_or_fetch("k", || async { Ok::<_, ()>(2) }).await,
            Ok(2)
        );
    }
}
