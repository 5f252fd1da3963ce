//! Waiting: between attempts to reach a service (Redis, Discord), doubling
//! waits with a cap, started again after a success; and any pause that
//! shutdown cuts short.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Doubling waits between attempts, from `first` to `last`.
pub struct Backoff {
    first: Duration,
    last: Duration,
    next: Option<Duration>,
}

impl Backoff {
    pub fn new(first: Duration, last: Duration) -> Self {
        Self {
            first,
            last,
            next: None,
        }
    }

    /// Whether this is the first failure since the last success (worth a
    /// log line; the ones after are not).
    pub fn first_failure(&self) -> bool {
        self.next.is_none()
    }

    /// Waits the next delay; false when shutdown came first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let delay = self.next.unwrap_or(self.first);
        self.next = Some((delay * 2).min(self.last));
        pause(delay, shutdown).await
    }

    pub fn reset(&mut self) {
        self.next = None;
    }
}

/// Sleeps for `delay`; false when `shutdown` came first.
pub async fn pause(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(delay) => true,
    }
}
