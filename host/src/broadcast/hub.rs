//! Which connection is bound to which server, and delivery to them.
//!
//! Delivery never waits: each connection has a bounded queue, and a
//! connection whose queue is full has stopped reading, so it is told to
//! close instead of holding up everybody else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

/// Identifies one WebSocket connection for the life of the process.
pub type ConnId = u64;

/// How much one connection's outgoing queue may hold before the browser
/// counts as not reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimit {
    pub frames: usize,
    /// Bytes of the queued frames together: a browser that keeps asking
    /// for big `server-join` frames without reading them is closed long
    /// before its frame count would say so.
    pub bytes: usize,
}

/// The sending side of one connection's outgoing queue.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Message>,
    overflow: CancellationToken,
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// The receiving side, for the connection's writer.
#[derive(Debug)]
pub struct OutQueue {
    rx: mpsc::Receiver<Message>,
    queued_bytes: Arc<AtomicUsize>,
}

impl OutQueue {
    /// The next frame to write; `None` once every [`Outbox`] is gone. Its
    /// bytes count as unread until [`OutQueue::written`] says otherwise.
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.recv().await
    }

    /// A frame of `len` bytes left for the socket.
    pub fn written(&self, len: usize) {
        self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
    }
}

impl Outbox {
    /// A queue within `limit`. `overflow` is cancelled when a push finds it
    /// full.
    pub fn new(limit: QueueLimit, overflow: CancellationToken) -> (Self, OutQueue) {
        let (tx, rx) = mpsc::channel(limit.frames.max(1));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        (
            Self {
                tx,
                overflow,
                queued_bytes: Arc::clone(&queued_bytes),
                max_bytes: limit.bytes,
            },
            OutQueue { rx, queued_bytes },
        )
    }

    /// Queues a text frame without waiting. False when the connection is
    /// gone or overflowed (and is now being closed).
    pub fn push(&self, text: Utf8Bytes) -> bool {
        self.push_message(Message::Text(text))
    }

    /// Queues any frame (a ping, a close) without waiting.
    pub fn push_message(&self, message: Message) -> bool {
        let len = message.len();
        let before = self.queued_bytes.fetch_add(len, Ordering::AcqRel);
        if before + len > self.max_bytes && before > 0 {
            self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            self.overflow.cancel();
            return false;
        }
        match self.tx.try_send(message) {
            Ok(()) => true,
            Err(error) => {
                self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                if matches!(error, TrySendError::Full(_)) {
                    self.overflow.cancel();
                }
                false
            }
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

    fn frames(frames: usize) -> QueueLimit {
        QueueLimit {
            frames,
            bytes: usize::MAX / 2,
        }
    }

    #[tokio::test]
    async fn unread_bytes_overflow_before_the_frame_count_does() {
        let overflow = CancellationToken::new();
        let limit = QueueLimit {
            frames: 100,
            bytes: 1000,
        };
        let (outbox, mut queue) = Outbox::new(limit, overflow.clone());
        let big = Utf8Bytes::from("x".repeat(400));
        assert!(outbox.push(big.clone()) && outbox.push(big.clone()));
        assert!(!outbox.push(big.clone()), "1,200 bytes would be queued");
        assert!(overflow.is_cancelled());
        let read = queue.recv().await.unwrap();
        assert!(
            !outbox.push(big.clone()),
            "a frame being written still counts"
        );
        queue.written(read.len());
        assert!(outbox.push(big), "writing frees room");
        let (alone, _queue) = Outbox::new(limit, CancellationToken::new());
        assert!(
            alone.push(Utf8Bytes::from("y".repeat(5000))),
            "one frame past the cap still goes to an empty queue"
        );
    }

    #[test]
    fn delivers_only_to_the_bound_server_and_drops_a_full_queue() {
        let hub = Hub::new();
        let slow_overflow = CancellationToken::new();
        let (slow, _slow_rx) = Outbox::new(frames(1), slow_overflow.clone());
        let (fast, mut fast_rx) = Outbox::new(frames(8), CancellationToken::new());
        let (other, mut other_rx) = Outbox::new(frames(8), CancellationToken::new());
        hub.bind(1, None, "a", slow);
        hub.bind(2, None, "a", fast);
        hub.bind(3, None, "b", other);

        assert_eq!(hub.deliver("a", "one".into()), 2);
        assert_eq!(hub.deliver("a", "two".into()), 1, "the full queue refuses");
        assert!(slow_overflow.is_cancelled());
        assert_eq!(fast_rx.rx.try_recv().unwrap(), Message::text("one"));
        assert_eq!(fast_rx.rx.try_recv().unwrap(), Message::text("two"));
        assert!(other_rx.rx.try_recv().is_err());

        let (moved, _rx) = Outbox::new(frames(8), CancellationToken::new());
        hub.bind(3, Some("b"), "a", moved);
        assert_eq!(hub.active_servers(), vec!["a".to_string()]);
        assert_eq!(hub.bound("a"), 3);
    }
}
