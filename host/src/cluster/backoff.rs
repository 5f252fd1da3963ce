//! Waiting between attempts to reach Redis.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Waits between attempts to reach Redis: doubling from the first to the
/// last.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_LAST: Duration = Duration::from_secs(5);

/// Doubling waits between attempts, from [`BACKOFF_FIRST`] to
/// [`BACKOFF_LAST`].
#[derive(Default)]
pub struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    /// Whether this is the first failure since the last success (worth a
    /// log line; the ones after are not).
    pub fn first_failure(&self) -> bool {
        self.next.is_none()
    }

    /// Waits the next delay; false when shutdown came first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let delay = self.next.unwrap_or(BACKOFF_FIRST);
        self.next = Some((delay * 2).min(BACKOFF_LAST));
        tokio::select! {
            () = shutdown.cancelled() => false,
            () = tokio::time::sleep(delay) => true,
        }
    }

    pub fn reset(&mut self) {
        self.next = None;
    }
}
