//! Failed logins to passworded servers, counted per client IP over a
//! window: past the limit, further attempts are refused without asking the
//! plugin, which stops token and password guessing. In a cluster the
//! counts are shared ([`SharedFailures`]), so spreading guesses over the
//! nodes gains an attacker nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

/// Failure counts kept beyond this process (the cluster's Redis).
pub trait SharedFailures: Send + Sync {
    /// Failures of `ip` in the current window, or `None` when the store
    /// cannot say (the local count decides alone then).
    fn count(&self, ip: IpAddr) -> BoxFuture<'_, Option<u32>>;
    /// Counts one failure of `ip`, forgotten `window` after its first.
    fn record(&self, ip: IpAddr, window: Duration) -> BoxFuture<'_, ()>;
}

/// Limits on failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthThrottleConfig {
    /// Failures one connection may have before it is refused.
    pub per_connection: u32,
    /// Failures one IP address may have within `window`.
    pub per_ip: u32,
    pub window: Duration,
}

impl Default for AuthThrottleConfig {
    fn default() -> Self {
        Self {
            per_connection: 5,
            per_ip: 20,
            window: Duration::from_secs(60),
        }
    }
}

/// Failures per IP address, forgotten after the window.
pub struct AuthThrottle {
    config: AuthThrottleConfig,
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    shared: OnceLock<Arc<dyn SharedFailures>>,
}

impl AuthThrottle {
    pub fn new(config: AuthThrottleConfig) -> Self {
        Self {
            config,
            failures: Mutex::default(),
            shared: OnceLock::new(),
        }
    }

    /// Counts failures in `shared` too from now on. Set once; a second
    /// store is refused (returned).
    pub fn share_through(
        &self,
        shared: Arc<dyn SharedFailures>,
    ) -> Result<(), Arc<dyn SharedFailures>> {
        self.shared.set(shared)
    }

    /// True when `ip` may try again now, by this node's count and the
    /// shared one.
    pub async fn admits(&self, ip: IpAddr) -> bool {
        if !self.allows(ip, Instant::now()) {
            return false;
        }
        match self.shared.get() {
            Some(shared) => shared
                .count(ip)
                .await
                .is_none_or(|failures| failures < self.config.per_ip),
            None => true,
        }
    }

    /// Records a failed attempt from `ip` here and in the shared count.
    pub async fn count_failure(&self, ip: IpAddr) {
        self.record_failure(ip, Instant::now());
        if let Some(shared) = self.shared.get() {
            shared.record(ip, self.config.window).await;
        }
    }

    pub fn config(&self) -> AuthThrottleConfig {
        self.config
    }

    /// True when `ip` may try again now.
    pub fn allows(&self, ip: IpAddr, now: Instant) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get_mut(&ip) {
            None => true,
            Some(times) => {
                times.retain(|t| now.saturating_duration_since(*t) < self.config.window);
                let allowed = times.len() < self.config.per_ip as usize;
                if times.is_empty() {
                    failures.remove(&ip);
                }
                allowed
            }
        }
    }

    /// Records a failed attempt from `ip`.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded memory: an address keeps at most `per_ip` timestamps, and
        // stale addresses are swept when the map grows.
        if failures.len() > 100_000 {
            let window = self.config.window;
            failures.retain(|_, times| {
                times.retain(|t| now.saturating_duration_since(*t) < window);
                !times.is_empty()
            });
        }
        let times = failures.entry(ip).or_default();
        times.push(now);
        let cap = self.config.per_ip.max(1) as usize;
        if times.len() > cap {
            let excess = times.len() - cap;
            times.drain(..excess);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_an_ip_past_its_failures_until_the_window_passes() {
        let throttle = AuthThrottle::new(AuthThrottleConfig {
            per_connection: 10,
            per_ip: 2,
            window: Duration::from_secs(60),
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let now = Instant::now();
        throttle.record_failure(ip, now);
        assert!(throttle.allows(ip, now));
        throttle.record_failure(ip, now);
        assert!(!throttle.allows(ip, now));
        assert!(throttle.allows(other, now));
        assert!(throttle.allows(ip, now + Duration::from_secs(61)));
    }
}
