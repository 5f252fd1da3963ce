//! Which connection is bound to which server, and delivery to them.
//!
//! Delivery never waits: each connection has a bounded queue, and a
//! connection whose queue is full has stopped reading, so it is told to
//! close instead of holding up everybody else.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

/// Identifies one WebSocket connection for the life of the process.
pub type ConnId = u64;

/// The sending side of one connection's outgoing queue.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Message>,
    overflow: CancellationToken,
}

impl Outbox {
    /// A queue of `capacity` frames. `overflow` is cancelled when a push
    /// finds the queue full.
    pub fn new(capacity: usize, overflow: CancellationToken) -> (Self, mpsc::Receiver<Message>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx, overflow }, rx)
    }

    /// Queues a text frame without waiting. False when the connection is
    /// gone or overflowed (and is now being closed).
    pub fn push(&self, text: Utf8Bytes) -> bool {
        self.push_message(Message::Text(text))
    }

    /// Queues any frame (a ping, a close) without waiting.
    pub fn push_message(&self, message: Message) -> bool {
        match self.tx.try_send(message) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.overflow.cancel();
                false
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }
}

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

    /// Queues `text` for every connection bound to `server`; returns how
    /// many took it.
    pub fn deliver(&self, server: &str, text: String) -> usize {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        let Some(room) = rooms.get(server) else {
            return 0;
        };
        let frame = Utf8Bytes::from(text);
        room.values()
            .filter(|outbox| outbox.push(frame.clone()))
            .count()
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

    #[test]
    fn delivers_only_to_the_bound_server_and_drops_a_full_queue() {
        let hub = Hub::new();
        let slow_overflow = CancellationToken::new();
        let (slow, _slow_rx) = Outbox::new(1, slow_overflow.clone());
        let (fast, mut fast_rx) = Outbox::new(8, CancellationToken::new());
        let (other, mut other_rx) = Outbox::new(8, CancellationToken::new());
        hub.bind(1, None, "a", slow);
        hub.bind(2, None, "a", fast);
        hub.bind(3, None, "b", other);

        assert_eq!(hub.deliver("a", "one".into()), 2);
        assert_eq!(hub.deliver("a", "two".into()), 1, "the full queue refuses");
        assert!(slow_overflow.is_cancelled());
        assert_eq!(fast_rx.try_recv().unwrap(), Message::text("one"));
        assert_eq!(fast_rx.try_recv().unwrap(), Message::text("two"));
        assert!(other_rx.try_recv().is_err());

        let (moved, _rx) = Outbox::new(8, CancellationToken::new());
        hub.bind(3, Some("b"), "a", moved);
        assert_eq!(hub.active_servers(), vec!["a".to_string()]);
        assert_eq!(hub.bound("a"), 3);
    }
}
