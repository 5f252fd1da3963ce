//! A circuit breaker per callback of a plugin: after a run of failures the
//! host stops making that call for a while (serving fallbacks), doubling the
//! pause each time a trial call fails again, until one succeeds. One breaker
//! per callback, so a failing `static-request` or `on-timer` never pauses
//! the calls a join needs. Only failures count (traps, limits, deadlines,
//! errors); a refusal, such as `false` for a token, is an answer.

use std::sync::Mutex;
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

/// One breaker per callback.
#[derive(Debug)]
pub struct Breakers([Breaker; Callback::ALL.len()]);

impl Breakers {
    pub fn new(config: BreakerConfig) -> Self {
        Self(std::array::from_fn(|_| Breaker::new(config)))
    }

    pub fn of(&self, callback: Callback) -> &Breaker {
        &self.0[callback.index()]
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
    fn each_callback_has_its_own_breaker() {
        let breakers = Breakers::new(BreakerConfig {
            failures: 1,
            ..BreakerConfig::default()
        });
        let now = Instant::now();
        breakers.of(Callback::StaticRequest).record_failure(now);
        assert!(breakers.of(Callback::StaticRequest).open_for(now).is_some());
        assert!(breakers.of(Callback::GetUserData).open_for(now).is_none());
    }
}
