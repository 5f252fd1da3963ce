//! A host-side cache of `get-server-data` and `get-user-data` answers, kept
//! for a time-to-live set per plugin, so callbacks stay cheap for every
//! plugin language. Concurrent misses for one key make one plugin call: the
//! first caller fetches while the others wait for its answer, with any
//! time-to-live, zero included (a flood of joins of one server then costs
//! one call at a time, not one each). With a zero time-to-live nothing is
//! kept once nobody waits.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys remembered at most; the keys are snowflakes from the plugin's own
/// server list, so this is only a backstop.
const MAX_KEYS: usize = 10_000;

/// The last answer of one key: when it came, and what it was.
#[derive(Debug)]
struct Answer<T, E> {
    at: Instant,
    outcome: Result<T, E>,
}

type Slot<T, E> = Arc<tokio::sync::Mutex<Option<Answer<T, E>>>>;

#[derive(Debug)]
pub struct CallCache<T, E> {
    ttl: Duration,
    slots: Mutex<HashMap<String, Slot<T, E>>>,
}

impl<T: Clone, E: Clone> CallCache<T, E> {
    /// A zero `ttl` keeps nothing once nobody waits.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slots: Mutex::default(),
        }
    }

    /// The fresh cached answer for `key`, or `fetch`'s. Callers that arrive
    /// while a call is running wait for it and share its outcome, failure
    /// included; only successes are kept for the time-to-live.
    pub async fn get_or_fetch<F>(&self, key: &str, fetch: impl FnOnce() -> F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let arrived = Instant::now();
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            if slots.len() >= MAX_KEYS && !slots.contains_key(key) {
                slots.retain(|_, slot| Arc::strong_count(slot) > 1);
            }
            Arc::clone(slots.entry(key.to_string()).or_default())
        };
        let mut cached = slot.lock().await;
        if let Some(answer) = &*cached {
            // Answered after this caller arrived (it waited for that call):
            // a call of its own would be no newer. Or a success still fresh.
            let fresh = answer.outcome.is_ok() && answer.at.elapsed() < self.ttl;
            if answer.at >= arrived || fresh {
                let outcome = answer.outcome.clone();
                if !self.worth_keeping(&slot, &outcome) {
                    *cached = None;
                }
                return outcome;
            }
        }
        let outcome = fetch().await;
        // Not copied into the slot when nobody will read it there.
        *cached = self.worth_keeping(&slot, &outcome).then(|| Answer {
            at: Instant::now(),
            outcome: outcome.clone(),
        });
        outcome
    }

    /// Drops what is kept for `key`: the next caller fetches. A call
    /// running now still answers those waiting for it.
    pub fn forget(&self, key: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.remove(key);
    }

    /// Whether an answer stays in its slot: another caller waits for it
    /// (the map and this caller hold the slot otherwise), or it is a
    /// success with a time-to-live to be served for.
    fn worth_keeping(&self, slot: &Slot<T, E>, outcome: &Result<T, E>) -> bool {
        Arc::strong_count(slot) > 2 || (outcome.is_ok() && !self.ttl.is_zero())
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
            cache.get_or_fetch("k", || async { Ok::<_, &str>(1) }).await,
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

    #[tokio::test]
    async fn callers_that_waited_share_a_failure_instead_of_retrying_in_turn() {
        let cache = CallCache::new(Duration::from_secs(60));
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err::<u8, _>("down")
        };
        let answers =
            futures_util::future::join_all((0..10).map(|_| cache.get_or_fetch("k", fetch))).await;
        assert!(answers.iter().all(|a| *a == Err("down")));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            cache.get_or_fetch("k", || async { Ok(3) }).await,
            Ok(3),
            "a later caller tries again"
        );
    }

    #[tokio::test]
    async fn zero_ttl_still_makes_one_call_for_concurrent_misses_and_keeps_nothing() {
        let cache = CallCache::new(Duration::ZERO);
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, ()>(calls.load(Ordering::SeqCst))
        };
        let answers =
            futures_util::future::join_all((0..10).map(|_| cache.get_or_fetch("k", fetch))).await;
        assert!(answers.iter().all(|a| *a == Ok(1)), "{answers:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let slots = cache.slots.lock().unwrap();
        assert!(slots["k"].try_lock().unwrap().is_none(), "nothing kept");
    }
}
