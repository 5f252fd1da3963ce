//! A cap on concurrent calls into one plugin, per lane, with a bounded wait:
//! a flood queues instead of creating unbounded instances, and past the
//! queue (or after waiting a whole deadline) a call fails fast. Each lane
//! has slots of its own, so plain GETs or timers never hold a slot a join
//! is waiting for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::callback::Lane;
use super::error::PluginError;

/// Slots and queue of one lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneLimit {
    /// Calls running at once.
    pub concurrent: usize,
    /// Calls waiting for a slot; past this a call fails at once.
    pub queued: usize,
}

/// The limits of every lane of one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneLimits {
    /// Each of `get-server-data`, `get-user-data` and `get-client-id`.
    pub join: LaneLimit,
    /// `validate-discord-user`.
    pub logins: LaneLimit,
    pub static_requests: LaneLimit,
    /// One timer call at a time, none waiting: a firing that finds the lane
    /// busy is skipped, so timers cannot pile up.
    pub timers: LaneLimit,
}

impl Default for LaneLimits {
    fn default() -> Self {
        Self {
            // Concurrent joins of one server share one member-list call, so
            // eight slots serve eight servers joined at once.
            join: LaneLimit {
                concurrent: 8,
                queued: 256,
            },
            // Logins are rare and throttled per address and connection.
            logins: LaneLimit {
                concurrent: 4,
                queued: 64,
            },
            // Plain GETs rarely need the plugin; two slots serve a plugin
            // that answers some paths, and a flood falls back to static
            // files instead of queueing behind a slow plugin.
            static_requests: LaneLimit {
                concurrent: 2,
                queued: 32,
            },
            timers: LaneLimit {
                concurrent: 1,
                queued: 0,
            },
        }
    }
}

/// One admission per lane.
#[derive(Debug)]
pub struct Lanes {
    servers: Admission,
    members: Admission,
    client_ids: Admission,
    logins: Admission,
    static_requests: Admission,
    timers: Admission,
}

impl Lanes {
    pub fn new(limits: &LaneLimits) -> Self {
        Self {
            servers: Admission::new(Lane::Servers, limits.join),
            members: Admission::new(Lane::Members, limits.join),
            client_ids: Admission::new(Lane::ClientIds, limits.join),
            logins: Admission::new(Lane::Logins, limits.logins),
            static_requests: Admission::new(Lane::Static, limits.static_requests),
            timers: Admission::new(Lane::Timer, limits.timers),
        }
    }

    pub fn get(&self, lane: Lane) -> &Admission {
        match lane {
            Lane::Servers => &self.servers,
            Lane::Members => &self.members,
            Lane::ClientIds => &self.client_ids,
            Lane::Logins => &self.logins,
            Lane::Static => &self.static_requests,
            Lane::Timer => &self.timers,
        }
    }
}

#[derive(Debug)]
pub struct Admission {
    lane: Lane,
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
    pub fn new(lane: Lane, limit: LaneLimit) -> Self {
        Self {
            lane,
            permits: Semaphore::new(limit.concurrent.max(1)),
            waiting: AtomicUsize::new(0),
            max_waiting: limit.queued,
        }
    }

    /// A permit to call the plugin, held for the call.
    pub async fn enter(&self, patience: Duration) -> Result<SemaphorePermit<'_>, PluginError> {
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(PluginError::Overloaded(self.lane, "its call queue is full"));
        }
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout(patience, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(PluginError::Overloaded(
                self.lane,
                "no call slot freed up in time",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn admits_up_to_the_cap_queues_then_refuses() {
        let admission = Admission::new(
            Lane::Members,
            LaneLimit {
                concurrent: 1,
                queued: 1,
            },
        );
        let held = admission.enter(Duration::from_secs(1)).await.unwrap();
        let queued = admission.enter(Duration::from_millis(50));
        let refused = admission.enter(Duration::from_millis(50));
        let (queued, refused) = tokio::join!(queued, refused);
        assert!(matches!(queued, Err(PluginError::Overloaded(..))));
        assert!(matches!(refused, Err(PluginError::Overloaded(..))));
        drop(held);
        assert!(admission.enter(Duration::from_millis(50)).await.is_ok());
        assert_eq!(admission.waiting.load(Ordering::Acquire), 0);
    }
}

#[cfg(test)]
mod lane_tests {
    use super::*;

    #[tokio::test]
    async fn a_full_lane_leaves_the_others_free() {
        let lanes = Lanes::new(&LaneLimits::default());
        let _timer = lanes.get(Lane::Timer).enter(Duration::ZERO).await.unwrap();
        assert!(
            lanes.get(Lane::Timer).enter(Duration::ZERO).await.is_err(),
            "a second timer call is skipped, not queued"
        );
        let _statics: Vec<_> = futures_util::future::join_all(
            (0..2).map(|_| lanes.get(Lane::Static).enter(Duration::ZERO)),
        )
        .await;
        let _logins: Vec<_> = futures_util::future::join_all(
            (0..4).map(|_| lanes.get(Lane::Logins).enter(Duration::ZERO)),
        )
        .await;
        assert!(lanes.get(Lane::Logins).enter(Duration::ZERO).await.is_err());
        for lane in [Lane::Servers, Lane::Members, Lane::ClientIds] {
            assert!(lanes.get(lane).enter(Duration::ZERO).await.is_ok());
        }
    }
}
