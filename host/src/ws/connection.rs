//! One task per connection: it reads the browser's frames, makes its joins,
//! and writes what the socket could not take when it was sent. Frames are
//! written by whoever sends them ([`Outbox::send`]), so a broadcast reaches
//! a reading browser without waking this task.
//!
//! What an idle connection holds, and why:
//! - this task: the session (id, address, the server it is bound to, its
//!   login failures and frame-rate bucket) and an empty frame reader; it
//!   waits through [`Outbox::wake`], which keeps only a waker, so no timer
//!   and no waiting futures (liveness is one sweeper for all connections,
//!   `live`);
//! - its [`Outbox`]: the socket, its registration with the reactor, an
//!   empty queue, the last-heard time;
//! - one entry in the list of live connections, one in its room, and its
//!   slot under the connection caps.
//!
//! No buffer: the read buffer is released after each message and the
//! queue once the browser has caught up; join and server-list calls are
//! boxed, so their state exists only while they run.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::join::{AuthGate, join};
use crate::broadcast::ConnId;
use crate::limits::{ConnectionGuard, TokenBucket};
use crate::metrics::{CloseLabels, CloseReason, JoinLabels, JoinOutcome, metrics};
use crate::protocol::inbound::parse_binary_frame;
use crate::protocol::{ClientError, ServerFrame, parse_client_frame, texts};
use crate::server::Shared;
use crate::wire::frame::{self, CloseCode, FrameReader, Incoming, Opcode};
use crate::wire::{Flow, Outbox, QueueLimit, StopReason, Wake};

/// How long a closing connection may take to flush its last frames and
/// hear the browser's close.
const CLOSING_TIME: Duration = Duration::from_secs(2);

/// How a connection ends.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// The socket is gone or unusable: nothing more is written.
    Gone,
    /// A close frame goes last; with `keep_queued`, after what is queued.
    Close {
        code: u16,
        reason: &'static str,
        keep_queued: bool,
    },
    /// The browser closed: its code goes back after what is queued, and
    /// the socket is closed at once (the browser waits for that).
    Answer(u16),
}

impl Ending {
    fn close(code: CloseCode, reason: &'static str) -> Self {
        Self::Close {
            code: code as u16,
            reason,
            keep_queued: true,
        }
    }

    /// Closing without what is queued: the browser is not reading it, or
    /// the server is going away.
    fn abrupt(code: CloseCode, reason: &'static str) -> Self {
        Self::Close {
            code: code as u16,
            reason,
            keep_queued: false,
        }
    }
}

/// Serves one upgraded connection until the browser leaves, the server shuts
/// down, the connection's queue overflows, or the browser breaks a limit.
/// `early` is what the browser sent after its HTTP request, before this
/// started; `slot` is its place under the connection caps, held until the
/// socket is closed; `switching` is the `101` answer to its handshake when
/// it is not written yet (it then goes out with the server list, in one
/// write when the list is at hand).
pub async fn serve(
    stream: TcpStream,
    early: Bytes,
    shared: Arc<Shared>,
    slot: ConnectionGuard,
    shutdown: CancellationToken,
    switching: Option<Bytes>,
) {
    let limits = &shared.settings.clients;
    let outbox = Outbox::new(
        stream,
        QueueLimit {
            frames: limits.outgoing_queue,
            bytes: limits.outgoing_queue_bytes,
        },
    );
    let mut frames = FrameReader::new(limits.max_message_bytes, &early);
    drop(early);
    let mut session = Session {
        id: shared.hub.next_id(),
        ip: slot.ip(),
        bucket: TokenBucket::new(limits.frames_per_second, limits.frame_burst, Instant::now()),
        shared,
        outbox: outbox.clone(),
        bound: None,
        auth_failures: 0,
        strikes: 0,
    };
    let id = session.id;
    // Kept past the session, which is dropped (and unbound) first.
    let shared = Arc::clone(&session.shared);
    shared.live.enter(id, &outbox, &shutdown);
    drop(shutdown);
    tracing::debug!(conn = id, ip = %session.ip, "connection opened");
    // Boxed, like each join: the plugin call's state is held only while
    // it runs, not by every idle connection.
    Box::pin(session.greet(switching)).await;
    // Frames that came with the handshake wait in the reader: no readable
    // socket will announce them.
    let ending = match Box::pin(session.read_frames(&mut frames)).await {
        Some(ending) => ending,
        None => session.run(&mut frames).await,
    };

    drop(session);
    shared.live.leave(id);
    if !matches!(ending, Ending::Gone) {
        // Boxed: its timers exist only while a connection closes.
        Box::pin(close(&outbox, &mut frames, ending)).await;
    }
    // The socket is closed before the slot is free, so the connection caps
    // count sockets that really exist.
    drop(outbox);
    drop(slot);
    tracing::debug!(conn = id, "connection closed");
}

/// Sends the close frame `ending` calls for and waits (bounded) for it to
/// go out and, when the server closed first, for the browser's answer.
async fn close(outbox: &Outbox, frames: &mut FrameReader, ending: Ending) {
    match ending {
        Ending::Gone => {}
        Ending::Answer(code) => {
            outbox.close_with(frame::close(code, ""), true);
            outbox.drain(CLOSING_TIME).await;
        }
        Ending::Close {
            code,
            reason,
            keep_queued,
        } => {
            outbox.close_with(frame::close(code, reason), keep_queued);
            let closing = async {
                if outbox.drain(CLOSING_TIME).await {
                    hear_close(outbox, frames).await;
                }
            };
            // A browser that reads nothing gets no more of our time than this.
            let _ = tokio::time::timeout(CLOSING_TIME, closing).await;
        }
    }
}

/// Reads until the browser's close frame or the end of the stream, so the
/// socket is not closed with unread bytes (which would turn our close
/// frame into a reset the browser may never read).
async fn hear_close(outbox: &Outbox, frames: &mut FrameReader) {
    loop {
        if outbox.readable().await.is_err() {
            return;
        }
        match read_socket(outbox, frames) {
            Read::Bytes => {}
            Read::Nothing => continue,
            Read::End => return,
        }
        loop {
            match frames.next_message() {
                Ok(Some(Incoming::Close(_))) | Err(_) => return,
                Ok(Some(_)) => {}
                Ok(None) => break,
            }
        }
    }
}

/// What one read from the socket gave.
enum Read {
    /// Bytes, now in the frame reader.
    Bytes,
    /// Nothing yet.
    Nothing,
    /// The stream ended or failed.
    End,
}

fn read_socket(outbox: &Outbox, frames: &mut FrameReader) -> Read {
    match frames.read_from(|chunk| outbox.stream().try_read(chunk)) {
        Ok(0) => Read::End,
        Ok(_) => Read::Bytes,
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => Read::Nothing,
        Err(error) => {
            tracing::debug!(%error, "connection error");
            Read::End
        }
    }
}

/// What one connection knows about itself.
struct Session {
    id: ConnId,
    ip: IpAddr,
    shared: Arc<Shared>,
    outbox: Outbox,
    /// The snowflake this connection gets broadcasts for.
    bound: Option<String>,
    /// Failed logins on this connection.
    auth_failures: u32,
    /// Inbound frame rate.
    bucket: TokenBucket,
    /// Frames refused for rate so far.
    strikes: u32,
}

impl Session {
    /// Acts on what the browser sends and on what its outgoing side needs
    /// until the connection ends; how it ends.
    async fn run(&mut self, frames: &mut FrameReader) -> Ending {
        loop {
            match self.outbox.wake().await {
                Wake::Stop(StopReason::Shutdown) => {
                    return Ending::abrupt(CloseCode::Away, "server shutting down");
                }
                Wake::Stop(StopReason::Unresponsive) => {
                    let silent = self.outbox.silent_for(Instant::now());
                    tracing::info!(
                        conn = self.id,
                        ?silent,
                        "dropping an unresponsive connection"
                    );
                    count_close(CloseReason::unresponsive);
                    return Ending::Gone;
                }
                Wake::Flow(Flow::Overflowed) => {
                    tracing::info!(conn = self.id, "closing a connection that stopped reading");
                    count_close(CloseReason::not_reading);
                    return Ending::abrupt(CloseCode::Policy, "too many unread frames");
                }
                Wake::Flow(_) | Wake::Writable(Err(_)) | Wake::Readable(Err(_)) => {
                    return Ending::Gone;
                }
                Wake::Writable(Ok(())) => {
                    if self.outbox.flush().is_err() {
                        return Ending::Gone;
                    }
                }
                Wake::Readable(Ok(())) => {
                    match read_socket(&self.outbox, frames) {
                        Read::Bytes => self.outbox.heard(Instant::now()),
                        Read::Nothing => continue,
                        Read::End => return Ending::Gone,
                    }
                    // Boxed: what a frame needs (a parsed request, a join)
                    // is held only while it is handled.
                    if let Some(ending) = Box::pin(self.read_frames(frames)).await {
                        return ending;
                    }
                }
            }
        }
    }

    /// Sends the `101` (unless already sent) and the server list.
    async fn greet(&self, switching: Option<Bytes>) {
        let plugin = self.shared.plugins.plugin();
        let servers = plugin.servers();
        let Some(switching) = switching else {
            self.outbox.send(&servers.await.frame());
            return;
        };
        let mut servers = std::pin::pin!(servers);
        match futures_util::poll!(servers.as_mut()) {
            std::task::Poll::Ready(servers) => {
                let list = servers.frame();
                let mut greeting = Vec::with_capacity(switching.len() + list.len());
                greeting.extend_from_slice(&switching);
                greeting.extend_from_slice(&list);
                self.outbox.send(&greeting.into());
            }
            // The plugin takes its time: the browser learns the socket is
            // open meanwhile.
            std::task::Poll::Pending => {
                self.outbox.send(&switching);
                self.outbox.send(&servers.await.frame());
            }
        }
    }

    /// Acts on every whole frame read so far; how the connection ends, if
    /// one of them ends it.
    async fn read_frames(&mut self, frames: &mut FrameReader) -> Option<Ending> {
        loop {
            let incoming = match frames.next_message() {
                Ok(Some(incoming)) => incoming,
                Ok(None) => return None,
                Err(error) => {
                    tracing::info!(conn = self.id, %error, "closing: unreadable frame");
                    count_close(if error.code() == CloseCode::Size {
                        CloseReason::too_big
                    } else {
                        CloseReason::protocol
                    });
                    return Some(Ending::close(error.code(), error.reason()));
                }
            };
            let request = match incoming {
                Incoming::Text(_) | Incoming::Binary(_)
                    if !self.bucket.try_take(Instant::now()) =>
                {
                    if let Some(ending) = self.strike() {
                        return Some(ending);
                    }
                    continue;
                }
                Incoming::Text(text) => parse_client_frame(&text),
                Incoming::Binary(bytes) => parse_binary_frame(&bytes),
                Incoming::Ping(payload) => {
                    self.outbox.send(&frame::encode(Opcode::Pong, &payload));
                    continue;
                }
                Incoming::Pong => continue,
                Incoming::Close(code) => {
                    // Answered with the browser's own code, after what is
                    // already on its way.
                    return Some(Ending::Answer(code.unwrap_or(CloseCode::Normal as u16)));
                }
            };
            match request {
                Ok(request) => self.join(request).await,
                Err(error) => {
                    tracing::debug!(conn = self.id, %error, "unusable frame");
                    self.send_error(ClientError::message(error));
                }
            }
        }
    }

    async fn join(&mut self, request: crate::protocol::ConnectRequest) {
        tracing::debug!(conn = self.id, server = %request.server, "connect");
        let mut gate = AuthGate {
            ip: self.ip,
            throttle: &self.shared.auth_throttle,
            failures: self.auth_failures,
        };
        let shared = &self.shared;
        // One version for the whole join, even if a reload comes meanwhile.
        let plugin = shared.plugins.plugin();
        let joined = join(&plugin, &request, &mut gate).await;
        self.auth_failures = gate.failures;
        let outcome = match &joined {
            Ok(_) => JoinOutcome::joined,
            Err(refusal) => refusal.outcome(),
        };
        metrics().joins.get_or_create(&JoinLabels { outcome }).inc();
        match joined {
            Ok(joined) => {
                let snowflake = joined.server.snowflake.clone();
                shared
                    .broadcaster
                    .join_room(&snowflake, &joined.users, |users_json| {
                        // Sent before binding, so no broadcast can overtake
                        // it; bound before any later presence.
                        self.outbox.send(&joined.frame(users_json, &request.server));
                        shared.hub.bind(
                            self.id,
                            self.bound.as_deref(),
                            &snowflake,
                            self.outbox.clone(),
                        );
                    });
                tracing::debug!(conn = self.id, server = %snowflake, "joined");
                self.bound = Some(snowflake);
            }
            Err(refusal) => self.send_error(refusal.message()),
        }
    }

    /// A frame over the rate: an error frame, or the end once the browser
    /// has ignored enough of them.
    fn strike(&mut self) -> Option<Ending> {
        self.strikes += 1;
        if self.strikes > self.shared.settings.clients.rate_strikes {
            tracing::info!(conn = self.id, ip = %self.ip, "closing: too many frames");
            count_close(CloseReason::rate);
            return Some(Ending::close(CloseCode::Policy, "too many messages"));
        }
        self.send_error(texts::TOO_FAST);
        None
    }

    fn send_error(&self, message: &str) {
        self.outbox.send(&ServerFrame::Error(message).to_frame());
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(server) = &self.bound {
            self.shared.hub.unbind(self.id, server);
        }
    }
}

/// Counts a browser closed by the server, for the metrics.
fn count_close(reason: CloseReason) {
    metrics()
        .browsers_closed
        .get_or_create(&CloseLabels { reason })
        .inc();
}
