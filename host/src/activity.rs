//! Plugin-driven activity: the timers a plugin asks for, fired while
//! somebody is watching, their events broadcast.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broadcast::Broadcaster;
use crate::runtime::{Callback, Plugin};

/// Asks the plugin for its timers and runs each until `shutdown`.
pub async fn start(
    plugin: Arc<Plugin>,
    broadcaster: Broadcaster,
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
    for timer in timers {
        tracing::debug!(plugin = plugin.name(), timer = %timer.name, every_ms = timer.interval_ms, "timer");
        let plugin = Arc::clone(&plugin);
        let broadcaster = broadcaster.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let period = Duration::from_millis(u64::from(timer.interval_ms));
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            // A slow plugin call must not cause a burst of catch-up calls.
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                let servers = broadcaster.active_servers();
                if servers.is_empty() {
                    continue;
                }
                for event in plugin.events(&timer.name, &servers).await {
                    if let Err(invalid) = broadcaster.broadcast_event(&event) {
                        tracing::warn!(plugin = plugin.name(), timer = %timer.name, %invalid, "dropped an invalid event");
                    }
                }
            }
        });
    }
}
