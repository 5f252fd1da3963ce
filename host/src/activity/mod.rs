//! Plugin-driven activity: the timers a plugin asks for, fired while
//! somebody is watching, their events filtered by [`budget`] and broadcast.
//!
//! Timers run on the plugin runtime's low-priority thread and call the
//! plugin in a lane of their own, so they never take a slot or a core a
//! join is waiting for.

pub mod budget;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broadcast::Broadcaster;
use crate::runtime::{Callback, Plugin, Timer};
use budget::{Admitted, EventBudget};

/// Who is watching: the servers passed to `on-timer` at each tick. None
/// means nobody here needs the timers now (another node of a cluster runs
/// them) and the tick calls nothing.
pub trait Audience: Send + Sync {
    fn watched(&self) -> Vec<String>;
}

/// A node alone: the servers its own browsers joined.
impl Audience for Broadcaster {
    fn watched(&self) -> Vec<String> {
        self.active_servers()
    }
}

/// How often a timer may log that it dropped events.
const DROP_REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// Asks the plugin for its timers and runs each until `shutdown`, for the
/// servers `audience` names at each tick.
pub async fn start(
    plugin: Arc<Plugin>,
    broadcaster: Broadcaster,
    audience: Arc<dyn Audience>,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) {
    let timers = match plugin.timers().await {
        Ok(timers) => timers,
        Err(cause) => {
            tracing::warn!(
                plugin = plugin.name(),
                callback = Callback::Timers.as_str(),
                %cause,
                "plugin call failed; the plugin gets no timers"
            );
            return;
        }
    };
    let budget = Arc::new(std::sync::Mutex::new(EventBudget::default()));
    for timer in timers {
        tracing::debug!(plugin = plugin.name(), timer = %timer.name, every_ms = timer.interval_ms, "timer");
        let runner = TimerRunner {
            plugin: Arc::clone(&plugin),
            broadcaster: broadcaster.clone(),
            audience: Arc::clone(&audience),
            budget: Arc::clone(&budget),
            timer,
        };
        tasks.spawn_on(runner.run(shutdown.clone()), plugin.low_priority());
    }
}

struct TimerRunner {
    plugin: Arc<Plugin>,
    broadcaster: Broadcaster,
    audience: Arc<dyn Audience>,
    /// Shared by all timers of the plugin: the budget is per server.
    budget: Arc<std::sync::Mutex<EventBudget>>,
    timer: Timer,
}

impl TimerRunner {
    async fn run(self, shutdown: CancellationToken) {
        let period = Duration::from_millis(u64::from(self.timer.interval_ms));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        // A slow plugin call must not cause a burst of catch-up calls.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut dropped = Admitted::default();
        let mut last_report = Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let servers = self.audience.watched();
            if servers.is_empty() {
                continue;
            }
            let events = self.plugin.events(&self.timer.name, &servers).await;
            let admitted = self.budget.lock().unwrap_or_else(|e| e.into_inner()).admit(
                events,
                &servers,
                Instant::now(),
            );
            for event in &admitted.events {
                if let Err(invalid) = self.broadcaster.broadcast_event(event) {
                    tracing::warn!(plugin = self.plugin.name(), timer = %self.timer.name, %invalid, "dropped an invalid event");
                }
            }
            dropped.unwatched += admitted.unwatched;
            dropped.coalesced += admitted.coalesced;
            dropped.over_budget += admitted.over_budget;
            if last_report.elapsed() >= DROP_REPORT_INTERVAL {
                self.report(&dropped);
                dropped = Admitted::default();
                last_report = Instant::now();
            }
        }
    }

    fn report(&self, dropped: &Admitted) {
        let plugin = self.plugin.name();
        let timer = self.timer.name.as_str();
        if dropped.over_budget > 0 {
            tracing::warn!(
                plugin,
                timer,
                over_budget = dropped.over_budget,
                coalesced = dropped.coalesced,
                unwatched = dropped.unwatched,
                "dropped events over the per-server budget"
            );
        } else if dropped.unwatched + dropped.coalesced > 0 {
            tracing::debug!(
                plugin,
                timer,
                coalesced = dropped.coalesced,
                unwatched = dropped.unwatched,
                "dropped events for servers nobody watches or superseded"
            );
        }
    }
}
