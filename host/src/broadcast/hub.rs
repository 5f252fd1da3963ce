//! Which connection is bound to which server, and delivery to them.
//!
//! Delivery never waits: each connection has a bounded queue, and a
//! connection whose queue is full has stopped reading, so it is told to
//! close instead of holding up everybody else.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

pub use crate::wire::{Outbox, QueueLimit};

/// Identifies one WebSocket connection for the life of the process.
pub type ConnId = u64;

/// The registry of bound connections, per server snowflake.
#[derive(Debug, Default)]
pub struct Hub {
    rooms: RwLock<HashMap<String, HashMap<ConnId, Outbox>>>,
    next_id: AtomicU64,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh connection id.
    pub fn next_id(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Binds `id` to `server`, moving it from `previous` if it was bound.
    pub fn bind(&self, id: ConnId, previous: Option<&str>, server: &str, outbox: Outbox) {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        if let Some(previous) = previous {
            remove(&mut rooms, id, previous);
        }
        rooms
            .entry(server.to_string())
            .or_default()
            .insert(id, outbox);
    }

    pub fn unbind(&self, id: ConnId, server: &str) {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        remove(&mut rooms, id, server);
    }

    /// Sends the encoded `frame` to every connection bound to `server`;
    /// returns how many took it.
    pub fn deliver(&self, server: &str, frame: &Bytes) -> usize {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        let Some(room) = rooms.get(server) else {
            return 0;
        };
        let delivered = room.values().filter(|outbox| outbox.send(frame)).count();
        let metrics = crate::metrics::metrics();
        metrics.frames_delivered.inc_by(delivered as u64);
        metrics
            .frames_dropped
            .inc_by((room.len() - delivered) as u64);
        delivered
    }

    /// Snowflakes with at least one bound connection.
    pub fn active_servers(&self) -> Vec<String> {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        let mut servers: Vec<String> = rooms.keys().cloned().collect();
        servers.sort();
        servers
    }

    /// Number of connections bound to `server`.
    pub fn bound(&self, server: &str) -> usize {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        rooms.get(server).map_or(0, HashMap::len)
    }
}

fn remove(rooms: &mut HashMap<String, HashMap<ConnId, Outbox>>, id: ConnId, server: &str) {
    if let Some(room) = rooms.get_mut(server) {
        room.remove(&id);
        if room.is_empty() {
            rooms.remove(server);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::frame::{self, Opcode};
    use crate::wire::{Flow, read_frames, socket_pair};

    fn frames(frames: usize) -> QueueLimit {
        QueueLimit {
            frames,
            bytes: usize::MAX / 2,
        }
    }

    #[tokio::test]
    async fn delivers_only_to_the_bound_server_and_drops_a_full_queue() {
        let hub = Hub::new();
        let (slow_socket, _slow_browser) = socket_pair().await;
        let (fast_socket, mut fast_browser) = socket_pair().await;
        let (other_socket, _other_browser) = socket_pair().await;
        let slow = Outbox::new(slow_socket, frames(1));
        hub.bind(1, None, "a", slow.clone());
        let fast = Outbox::new(fast_socket, frames(10_000));
        hub.bind(2, None, "a", fast.clone());
        let other = Outbox::new(other_socket, frames(8));
        hub.bind(3, None, "b", other.clone());

        // The slow browser never reads: its socket fills, then its queue.
        let big = frame::text(&"x".repeat(1 << 20));
        let mut rounds = 0;
        while slow.flow() == Flow::Open {
            hub.deliver("a", &big);
            rounds += 1;
            assert!(rounds < 1000, "a full queue is refused");
        }
        assert_eq!(
            hub.deliver("a", &frame::text("last")),
            1,
            "the fast one still takes it"
        );
        let reader = tokio::spawn(async move { read_frames(&mut fast_browser, rounds + 1).await });
        assert!(fast.drain(std::time::Duration::from_secs(10)).await);
        let received = reader.await.unwrap();
        assert_eq!(received.last().unwrap(), &(Opcode::Text, b"last".to_vec()));
        assert!(!other.has_pending());

        let (moved_socket, _moved_browser) = socket_pair().await;
        hub.bind(3, Some("b"), "a", Outbox::new(moved_socket, frames(8)));
        assert_eq!(hub.active_servers(), vec!["a".to_string()]);
        assert_eq!(hub.bound("a"), 3);
    }
}
