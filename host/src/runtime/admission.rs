//! A cap on concurrent calls into one plugin, with a bounded wait: a flood
//! of joins queues instead of creating unbounded instances, and past the
//! queue (or after waiting a whole deadline) a call fails fast.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::PluginError;

#[derive(Debug)]
pub struct Admission {
    permits: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Counts a waiting call until it is admitted or gives up (also when its
/// future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    pub fn new(max_concurrent: usize, max_waiting: usize) -> Self {
        Self {
            permits: Semaphore::new(max_concurrent.max(1)),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// A permit to call the plugin, held for the call.
    pub async fn enter(&self, patience: Duration) -> Result<SemaphorePermit<'_>, PluginError> {
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(PluginError::Overloaded("its call queue is full"));
        }
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout(patience, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(PluginError::Overloaded("no call slot freed up in time")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn admits_up_to_the_cap_queues_then_refuses() {
        let admission = Admission::new(1, 1);
        let held = admission.enter(Duration::from_secs(1)).await.unwrap();
        let queued = admission.enter(Duration::from_millis(50));
        let refused = admission.enter(Duration::from_millis(50));
        let (queued, refused) = tokio::join!(queued, refused);
        assert!(matches!(queued, Err(PluginError::Overloaded(_))));
        assert!(matches!(refused, Err(PluginError::Overloaded(_))));
        drop(held);
        assert!(admission.enter(Duration::from_millis(50)).await.is_ok());
        assert_eq!(admission.waiting.load(Ordering::Acquire), 0);
    }
}
