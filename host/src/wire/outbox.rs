//! A connection's outgoing side. Whoever sends a frame writes it straight
//! to the socket (a broadcast writes to each browser from the thread that
//! broadcasts, with no task hop per browser); only what the socket cannot
//! take now is queued, and the connection's task writes that when the
//! socket is writable again.
//!
//! The queue is bounded: a browser whose queue is full has stopped reading,
//! so it is told to close instead of holding up everybody else.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use futures_util::task::AtomicWaker;
use tokio::net::TcpStream;

/// How much one connection's outgoing queue may hold before the browser
/// counts as not reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimit {
    pub frames: usize,
    /// Bytes of the queued frames together (the unwritten rest of one
    /// being written included): a browser that keeps asking for big
    /// `server-join` frames without reading them is closed long before its
    /// frame count would say so.
    pub bytes: usize,
}

/// Where a connection's outgoing side stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flow {
    /// Taking frames.
    #[default]
    Open,
    /// A frame found the queue full: the browser is not reading.
    Overflowed,
    /// The socket failed; nothing more can be written.
    Broken,
    /// A close frame is queued; nothing else is taken.
    Closing,
}

/// Why a connection was asked to stop from outside its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StopReason {
    /// The server is shutting down.
    Shutdown = 1,
    /// The browser has been silent past its pong deadline.
    Unresponsive = 2,
}

/// What the connection's task should act on next.
#[derive(Debug)]
pub enum Wake {
    Stop(StopReason),
    /// The outgoing side is overflowed or broken.
    Flow(Flow),
    /// The socket can take queued bytes (or failed).
    Writable(io::Result<()>),
    /// The socket has bytes to read (or failed).
    Readable(io::Result<()>),
}

/// The sending side of one connection, shared by its task and by every
/// room it is bound to. Cheap to clone.
///
/// The task waits on it with [`Outbox::wake`], which stores nothing but
/// its waker: an idle connection's task holds no timer and no waiting
/// futures of its own.
#[derive(Debug, Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    stream: TcpStream,
    pending: Mutex<Pending>,
    /// Wakes the connection's task: there is something to write, the
    /// flow changed, or it was asked to stop.
    task: AtomicWaker,
    stop: AtomicU8,
    /// When the browser last sent anything, in milliseconds since
    /// [`epoch`].
    heard: AtomicU64,
    limit: QueueLimit,
}

/// Frames the socket could not take yet. Empty (and unallocated) while the
/// browser keeps up.
#[derive(Debug, Default)]
struct Pending {
    frames: VecDeque<Bytes>,
    bytes: usize,
    /// The front frame is partly written: it must be finished before any
    /// other byte goes out.
    front_started: bool,
    flow: Flow,
}

impl Outbox {
    pub fn new(stream: TcpStream, limit: QueueLimit) -> Self {
        Self {
            inner: Arc::new(Inner {
                stream,
                pending: Mutex::new(Pending::default()),
                task: AtomicWaker::new(),
                stop: AtomicU8::new(0),
                heard: AtomicU64::new(millis_since_epoch(Instant::now())),
                limit: QueueLimit {
                    frames: limit.frames.max(1),
                    bytes: limit.bytes,
                },
            }),
        }
    }

    /// The socket, for the connection's task to read from.
    pub fn stream(&self) -> &TcpStream {
        &self.inner.stream
    }

    /// Sends an encoded frame without waiting: written now as far as the
    /// socket takes it, the rest queued. False when the connection is not
    /// taking frames (closing, broken, or just overflowed).
    pub fn send(&self, frame: &Bytes) -> bool {
        let mut pending = self.lock();
        if pending.flow != Flow::Open {
            return false;
        }
        if pending.frames.is_empty() {
            match write_some(&self.inner.stream, frame) {
                Ok(n) if n == frame.len() => return true,
                Ok(n) => {
                    pending.bytes = frame.len() - n;
                    pending.front_started = n > 0;
                    pending.frames.push_back(frame.slice(n..));
                }
                Err(_) => pending.flow = Flow::Broken,
            }
            drop(pending);
            self.inner.task.wake();
            return self.flow() == Flow::Open;
        }
        let limit = self.inner.limit;
        if pending.frames.len() >= limit.frames || pending.bytes + frame.len() > limit.bytes {
            pending.flow = Flow::Overflowed;
            drop(pending);
            self.inner.task.wake();
            return false;
        }
        pending.bytes += frame.len();
        pending.frames.push_back(frame.clone());
        true
    }

    /// Writes what is queued as far as the socket takes it. True when
    /// nothing is left.
    pub fn flush(&self) -> io::Result<bool> {
        let mut pending = self.lock();
        while let Some(front) = pending.frames.front_mut() {
            let written = match write_some(&self.inner.stream, front) {
                Ok(written) => written,
                Err(error) => {
                    pending.flow = Flow::Broken;
                    return Err(error);
                }
            };
            let whole = written == front.len();
            front.advance(written);
            pending.bytes -= written;
            if !whole {
                pending.front_started |= written > 0;
                return Ok(false);
            }
            pending.frames.pop_front();
            pending.front_started = false;
        }
        // Gives back the queue's memory once the browser has caught up.
        pending.frames = VecDeque::new();
        Ok(true)
    }

    /// Queues `close` as the last frame. With `keep_queued` what is queued
    /// goes first; without, only the rest of a frame already started (so
    /// the stream stays well-formed). A connection already closing or
    /// broken keeps its state.
    pub fn close_with(&self, close: Bytes, keep_queued: bool) {
        let mut pending = self.lock();
        if matches!(pending.flow, Flow::Closing | Flow::Broken) {
            return;
        }
        if !keep_queued {
            let started = pending.front_started;
            let kept = if started {
                pending.frames.pop_front()
            } else {
                None
            };
            pending.frames.clear();
            pending.bytes = kept.as_ref().map_or(0, Bytes::len);
            pending.frames.extend(kept);
        }
        pending.bytes += close.len();
        pending.frames.push_back(close);
        pending.flow = Flow::Closing;
    }

    /// Writes what is queued, waiting for the socket, for at most `within`.
    /// True when everything went out.
    pub async fn drain(&self, within: Duration) -> bool {
        let draining = async {
            loop {
                match self.flush() {
                    Ok(true) => return true,
                    Ok(false) => {
                        if poll_fn(|cx| self.inner.stream.poll_write_ready(cx))
                            .await
                            .is_err()
                        {
                            return false;
                        }
                    }
                    Err(_) => return false,
                }
            }
        };
        tokio::time::timeout(within, draining)
            .await
            .unwrap_or(false)
    }

    /// Waits until the connection's task has something to do. Only that
    /// task may call it: the socket keeps one reader's and one writer's
    /// waker.
    pub async fn wake(&self) -> Wake {
        poll_fn(|cx| self.poll_wake(cx)).await
    }

    fn poll_wake(&self, cx: &mut Context<'_>) -> Poll<Wake> {
        // Registered first, checked after: a change made in between wakes
        // the task again instead of being missed.
        self.inner.task.register(cx.waker());
        if let Some(reason) = self.stop_requested() {
            return Poll::Ready(Wake::Stop(reason));
        }
        let flow = self.flow();
        if matches!(flow, Flow::Overflowed | Flow::Broken) {
            return Poll::Ready(Wake::Flow(flow));
        }
        if self.has_pending()
            && let Poll::Ready(ready) = self.inner.stream.poll_write_ready(cx)
        {
            return Poll::Ready(Wake::Writable(ready));
        }
        if let Poll::Ready(ready) = self.inner.stream.poll_read_ready(cx) {
            return Poll::Ready(Wake::Readable(ready));
        }
        Poll::Pending
    }

    /// Waits until the socket has bytes to read; for the connection's task.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.inner.stream.poll_read_ready(cx)).await
    }

    /// Asks the connection's task to end.
    pub fn stop(&self, reason: StopReason) {
        let _ =
            self.inner
                .stop
                .compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire);
        self.inner.task.wake();
    }

    pub fn stop_requested(&self) -> Option<StopReason> {
        match self.inner.stop.load(Ordering::Acquire) {
            1 => Some(StopReason::Shutdown),
            2 => Some(StopReason::Unresponsive),
            _ => None,
        }
    }

    /// The browser sent something `now`.
    pub fn heard(&self, now: Instant) {
        self.inner
            .heard
            .store(millis_since_epoch(now), Ordering::Relaxed);
    }

    /// How long the browser has been silent at `now`.
    pub fn silent_for(&self, now: Instant) -> Duration {
        let heard = self.inner.heard.load(Ordering::Relaxed);
        Duration::from_millis(millis_since_epoch(now).saturating_sub(heard))
    }

    pub fn flow(&self) -> Flow {
        self.lock().flow
    }

    /// Frames wait for the socket.
    pub fn has_pending(&self) -> bool {
        !self.lock().frames.is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.inner.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A fixed instant, so a time fits in an atomic as milliseconds since it.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn millis_since_epoch(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_millis()).unwrap_or(u64::MAX)
}

/// Writes as much of `buf` as the socket takes without waiting.
fn write_some(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < buf.len() {
        match stream.try_write(&buf[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(written)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::frame::{self, Opcode, decode_server_frame};
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A connected pair of real sockets: the server's end and a browser's.
    pub(crate) async fn socket_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let browser = TcpStream::connect(listener.local_addr().unwrap());
        let (accepted, browser) = tokio::join!(listener.accept(), browser);
        (accepted.unwrap().0, browser.unwrap())
    }

    /// Reads server frames from `browser` until `count` have arrived.
    pub(crate) async fn read_frames(
        browser: &mut TcpStream,
        count: usize,
    ) -> Vec<(Opcode, Vec<u8>)> {
        let mut reader = BrowserReader::default();
        let mut frames = Vec::new();
        while frames.len() < count {
            frames.push(reader.next(browser).await);
        }
        frames
    }

    /// A browser's view of the server's frames, across reads.
    #[derive(Default)]
    pub(crate) struct BrowserReader {
        buf: Vec<u8>,
    }

    impl BrowserReader {
        pub(crate) async fn next(&mut self, browser: &mut TcpStream) -> (Opcode, Vec<u8>) {
            loop {
                if let Some((opcode, payload, used)) = decode_server_frame(&self.buf) {
                    self.buf.drain(..used);
                    return (opcode, payload);
                }
                let mut chunk = vec![0u8; 64 * 1024];
                let n = tokio::time::timeout(Duration::from_secs(10), browser.read(&mut chunk))
                    .await
                    .expect("a frame in time")
                    .unwrap();
                assert!(n > 0, "socket closed in the middle of a frame");
                self.buf.extend_from_slice(&chunk[..n]);
            }
        }
    }

    fn limit(frames: usize, bytes: usize) -> QueueLimit {
        QueueLimit { frames, bytes }
    }

    #[tokio::test]
    async fn writes_straight_through_while_the_browser_reads() {
        let (server, mut browser) = socket_pair().await;
        let outbox = Outbox::new(server, limit(4, 1 << 20));
        for i in 0..100 {
            assert!(outbox.send(&frame::text(&format!("frame {i}"))));
        }
        assert!(
            !outbox.has_pending(),
            "a reading browser's socket took every frame"
        );
        let frames = read_frames(&mut browser, 100).await;
        assert_eq!(frames[99], (Opcode::Text, b"frame 99".to_vec()));
    }

    #[tokio::test]
    async fn a_browser_that_stops_reading_overflows_the_queue_then_gets_the_rest_in_order() {
        let (server, mut browser) = socket_pair().await;
        let outbox = Outbox::new(server, limit(1000, 4 << 20));
        let big = frame::text(&"x".repeat(64 * 1024));
        let mut sent = 0;
        while outbox.send(&big) {
            sent += 1;
            assert!(sent < 10_000, "the queue is bounded");
        }
        assert_eq!(outbox.flow(), Flow::Overflowed);
        assert!(
            sent > 4 << 4,
            "the kernel buffers and the queue took {sent} frames"
        );
        // What was accepted still arrives whole and in order.
        let reader = tokio::spawn(async move { read_frames(&mut browser, sent).await.len() });
        assert!(outbox.drain(Duration::from_secs(10)).await);
        assert_eq!(reader.await.unwrap(), sent);
    }

    #[tokio::test]
    async fn a_close_goes_after_a_started_frame_and_instead_of_unstarted_ones() {
        let (server, mut browser) = socket_pair().await;
        let outbox = Outbox::new(server, limit(1000, 64 << 20));
        let big = frame::text(&"y".repeat(256 * 1024));
        while !outbox.has_pending() {
            assert!(outbox.send(&big));
        }
        assert!(outbox.send(&big), "queued behind the started one");
        outbox.close_with(frame::close(1008, "too many unread frames"), false);
        assert!(
            !outbox.send(&big),
            "a closing connection takes nothing more"
        );
        let drained = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.drain(Duration::from_secs(10)).await }
        });
        let mut received = Vec::new();
        let mut reader = BrowserReader::default();
        loop {
            let (opcode, payload) = reader.next(&mut browser).await;
            received.push(opcode);
            if opcode == Opcode::Close {
                assert_eq!(&payload[..2], &1008u16.to_be_bytes());
                break;
            }
            assert_eq!(payload.len(), 256 * 1024, "every text frame whole");
        }
        assert!(drained.await.unwrap());
        assert!(received.len() >= 2);
    }

    #[tokio::test]
    async fn one_frame_past_the_byte_cap_goes_to_an_empty_queue() {
        let (server, _browser) = socket_pair().await;
        let outbox = Outbox::new(server, limit(100, 1000));
        let huge = frame::text(&"z".repeat(8 << 20));
        assert!(outbox.send(&huge), "taken: nothing else was waiting");
        assert!(outbox.has_pending());
        assert!(!outbox.send(&frame::text("more")), "over the cap behind it");
        assert_eq!(outbox.flow(), Flow::Overflowed);
    }
}
