//! A circuit breaker per callback of a plugin: after a run of failures the
//! host stops making that call for a while (serving fallbacks), doubling the
//! pause each time a trial call fails again, until one succeeds. One breaker
//! per callback, so a failing `static-request` or `on-timer` never pauses
//! the calls a join needs. Only failures count (traps, limits, deadlines,
//! errors); a refusal, such as `false` for a token, is an answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::callback::Callback;

/// When to open and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failures: u32,
    /// First pause; doubles on every failed trial.
    pub base_pause: Duration,
    pub max_pause: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: 5,
            base_pause: Duration::from_secs(1),
            max_pause: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    consecutive: u32,
    /// Times opened since the last success.
    trips: u32,
    open_until: Option<Instant>,
}

/// Breakers per callback and, for the callbacks where one caller could
/// make calls fail for everybody, per key: `get-user-data` and
/// `get-client-id` per server (a server whose member list fails pauses only
/// that server), `validate-discord-user` per client address (a browser that
/// makes logins fail pauses only its own). Keys are bounded: past
/// [`MAX_KEYED`] breakers, closed ones are forgotten, and a key that still
/// finds no room is not paused at all.
#[derive(Debug)]
pub struct Breakers {
    config: BreakerConfig,
    by_callback: [Arc<Breaker>; Callback::ALL.len()],
    keyed: Mutex<HashMap<(Callback, String), Arc<Breaker>>>,
}

/// Keyed breakers kept at most.
const MAX_KEYED: usize = 10_000;

impl Breakers {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            by_callback: std::array::from_fn(|_| Arc::new(Breaker::new(config))),
            keyed: Mutex::default(),
        }
    }

    /// The breaker for a call of `callback`: the callback's own when `key`
    /// is `None`, else the one of `key`; `None` when no room is left for a
    /// new key.
    pub fn of(&self, callback: Callback, key: Option<&str>) -> Option<Arc<Breaker>> {
        let Some(key) = key else {
            return Some(Arc::clone(&self.by_callback[callback.index()]));
        };
        let mut keyed = self.keyed.lock().unwrap_or_else(|e| e.into_inner());
        let entry = (callback, key.to_string());
        if let Some(breaker) = keyed.get(&entry) {
            return Some(Arc::clone(breaker));
        }
        if keyed.len() >= MAX_KEYED {
            keyed.retain(|_, breaker| Arc::strong_count(breaker) > 1 || !breaker.is_clear());
            if keyed.len() >= MAX_KEYED {
                return None;
            }
        }
        let breaker = Arc::new(Breaker::new(self.config));
        keyed.insert(entry, Arc::clone(&breaker));
        Some(breaker)
    }

    /// How many breakers of each callback are open at `now`.
    pub fn open_now(&self, now: Instant) -> Vec<(Callback, usize)> {
        let keyed = self.keyed.lock().unwrap_or_else(|e| e.into_inner());
        Callback::ALL
            .iter()
            .map(|callback| {
                let plain = usize::from(self.by_callback[callback.index()].open_for(now).is_some());
                let by_key = keyed
                    .iter()
                    .filter(|((of, _), breaker)| of == callback && breaker.open_for(now).is_some())
                    .count();
                (*callback, plain + by_key)
            })
            .collect()
    }
}

#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

/// What a recorded outcome did to the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    Opened(Duration),
    Recovered,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when it has seen no failure since its last success.
    fn is_clear(&self) -> bool {
        let state = self.state();
        state.consecutive == 0 && state.trips == 0
    }

    /// `None` when calls may go through; otherwise how long it stays open.
    pub fn open_for(&self, now: Instant) -> Option<Duration> {
        self.state()
            .open_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    pub fn record_success(&self) -> Transition {
        let mut state = self.state();
        let recovered = state.trips > 0;
        *state = State::default();
        if recovered {
            Transition::Recovered
        } else {
            Transition::None
        }
    }

    pub fn record_failure(&self, now: Instant) -> Transition {
        let mut state = self.state();
        state.consecutive += 1;
        // After a pause, one failed trial is enough to pause again.
        if state.trips == 0 && state.consecutive < self.config.failures.max(1) {
            return Transition::None;
        }
        let factor = 2u32.saturating_pow(state.trips.min(16));
        let pause = self
            .config
            .base_pause
            .saturating_mul(factor)
            .min(self.config.max_pause);
        state.trips += 1;
        state.consecutive = 0;
        state.open_until = Some(now + pause);
        Transition::Opened(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_a_run_of_failures_backs_off_and_recovers() {
        let breaker = Breaker::new(BreakerConfig {
            failures: 3,
            base_pause: Duration::from_secs(1),
            max_pause: Duration::from_secs(3),
        });
        let t0 = Instant::now();
        assert_eq!(breaker.record_failure(t0), Transition::None);
        assert_eq!(breaker.record_failure(t0), Transition::None);
        assert_eq!(breaker.open_for(t0), None);
        assert_eq!(
            breaker.record_failure(t0),
            Transition::Opened(Duration::from_secs(1))
        );
        assert!(breaker.open_for(t0).is_some());
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(breaker.open_for(t1), None, "a trial call may go through");
        assert_eq!(
            breaker.record_failure(t1),
            Transition::Opened(Duration::from_secs(2))
        );
        let t2 = t1 + Duration::from_secs(2);
        assert_eq!(
            breaker.record_failure(t2),
            Transition::Opened(Duration::from_secs(3))
        );
        assert_eq!(breaker.record_success(), Transition::Recovered);
        assert_eq!(breaker.record_failure(t2), Transition::None);
    }

    #[test]
    fn each_callback_and_key_has_its_own_breaker() {
        let breakers = Breakers::new(BreakerConfig {
            failures: 1,
            ..BreakerConfig::default()
        });
        let now = Instant::now();
        let statics = breakers.of(Callback::StaticRequest, None).unwrap();
        statics.record_failure(now);
        assert!(statics.open_for(now).is_some());
        let servers = breakers.of(Callback::GetServerData, None).unwrap();
        assert!(servers.open_for(now).is_none());
        let attacker = breakers
            .of(Callback::ValidateDiscordUser, Some("10.0.0.1"))
            .unwrap();
        attacker.record_failure(now);
        assert!(attacker.open_for(now).is_some());
        let member = breakers
            .of(Callback::ValidateDiscordUser, Some("10.0.0.2"))
            .unwrap();
        assert!(
            member.open_for(now).is_none(),
            "another address is not paused"
        );
    }
}
