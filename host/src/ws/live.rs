//! Every open WebSocket connection, for what is done to all of them from
//! outside their tasks: pings to the silent, dropping the unresponsive,
//! and stopping them all at shutdown. One sweeper does this for every
//! connection, so a connection holds no timer of its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::broadcast::ConnId;
use crate::limits::ClientLimits;
use crate::wire::frame::Opcode;
use crate::wire::{Outbox, StopReason};

/// Our ping: empty, final, unmasked.
const PING: &[u8] = &[0x80 | Opcode::Ping as u8, 0];

#[derive(Debug, Default)]
pub struct LiveConnections {
    conns: Mutex<HashMap<ConnId, Outbox>>,
}

impl LiveConnections {
    /// Counts a new connection in; it is stopped at once if the server is
    /// already shutting down.
    pub fn enter(&self, id: ConnId, outbox: &Outbox, shutdown: &CancellationToken) {
        self.lock().insert(id, outbox.clone());
        // Checked after entering: a shutdown that began before this
        // connection was listed still reaches it.
        if shutdown.is_cancelled() {
            outbox.stop(StopReason::Shutdown);
        }
    }

    pub fn leave(&self, id: ConnId) {
        self.lock().remove(&id);
    }

    /// Pings the silent and stops the unresponsive.
    fn sweep(&self, limits: &ClientLimits, now: Instant) {
        let ping = Bytes::from_static(PING);
        for outbox in self.lock().values() {
            let silent = outbox.silent_for(now);
            if silent >= limits.ping_interval + limits.pong_timeout {
                outbox.stop(StopReason::Unresponsive);
            } else if silent >= limits.ping_interval {
                outbox.send(&ping);
            }
        }
    }

    fn stop_all(&self) {
        for outbox in self.lock().values() {
            outbox.stop(StopReason::Shutdown);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, Outbox>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sweeps `live` until shutdown, then stops every connection.
pub async fn watch(live: &LiveConnections, limits: &ClientLimits, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(sweep_period(limits));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => live.sweep(limits, Instant::now()),
        }
    }
    live.stop_all();
}

/// How often liveness is checked: often enough that a dead connection is
/// noticed soon after its pong is overdue.
fn sweep_period(limits: &ClientLimits) -> Duration {
    (limits.ping_interval.min(limits.pong_timeout) / 2).max(Duration::from_millis(10))
}
