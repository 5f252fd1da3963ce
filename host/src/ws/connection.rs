//! A writer task and a reader loop per connection; either ending stops the
//! other.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use super::join::{AuthGate, join};
use crate::broadcast::{ConnId, OutQueue, Outbox, QueueLimit};
use crate::limits::{ClientLimits, ConnectionGuard, TokenBucket};
use crate::protocol::inbound::parse_binary_frame;
use crate::protocol::{ClientError, ServerFrame, parse_client_frame, texts};
use crate::server::Shared;

/// How long a closing connection may take to flush its last frames.
const WRITER_DRAIN: Duration = Duration::from_secs(2);

/// Serves one upgraded connection until the browser leaves, the server shuts
/// down, the connection's queue overflows, or the browser breaks a limit.
/// `slot` is its place under the connection caps, held until the end.
pub async fn serve<S>(
    socket: S,
    shared: Arc<Shared>,
    slot: ConnectionGuard,
    shutdown: CancellationToken,
) where
    S: Stream<Item = Result<Message, WsError>>
        + Sink<Message, Error = WsError>
        + Send
        + Unpin
        + 'static,
{
    let (sink, mut stream) = socket.split();
    let limits = shared.settings.clients.clone();
    let overflow = CancellationToken::new();
    let limit = QueueLimit {
        frames: limits.outgoing_queue,
        bytes: limits.outgoing_queue_bytes,
    };
    let (outbox, queue) = Outbox::new(limit, overflow.clone());
    let mut writer = tokio::spawn(write_loop(sink, queue, shutdown.clone(), overflow.clone()));

    let now = Instant::now();
    let mut session = Session {
        id: shared.hub.next_id(),
        ip: slot.ip(),
        shared,
        outbox,
        bound: None,
        auth_failures: 0,
        bucket: TokenBucket::new(limits.frames_per_second, limits.frame_burst, now),
        strikes: 0,
    };
    tracing::debug!(conn = session.id, ip = %session.ip, "connection opened");
    session.send_server_list().await;

    let mut last_heard = Instant::now();
    let mut liveness = tokio::time::interval(liveness_period(&limits));
    liveness.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            () = overflow.cancelled() => {
                tracing::info!(conn = session.id, "closing a connection that stopped reading");
                break;
            }
            _ = liveness.tick() => {
                let silent = last_heard.elapsed();
                if silent >= limits.ping_interval + limits.pong_timeout {
                    tracing::info!(conn = session.id, ?silent, "dropping an unresponsive connection");
                    break;
                }
                if silent >= limits.ping_interval {
                    session.outbox.push_message(Message::Ping(Default::default()));
                }
            }
            next = stream.next() => {
                last_heard = Instant::now();
                match next {
                    Some(Ok(message)) => {
                        if !session.handle(message).await {
                            break;
                        }
                    }
                    Some(Err(WsError::Capacity(error))) => {
                        tracing::info!(conn = session.id, %error, "closing: message too big");
                        session.outbox.push_message(close(CloseCode::Size, "message too big"));
                        break;
                    }
                    Some(Err(error)) => {
                        tracing::debug!(conn = session.id, %error, "connection error");
                        break;
                    }
                    None => break,
                }
            }
        }
    }

    let id = session.id;
    drop(session);
    if tokio::time::timeout(WRITER_DRAIN, &mut writer)
        .await
        .is_err()
    {
        // A browser that reads nothing keeps the last send waiting forever:
        // the writer is stopped and its half of the socket dropped with it.
        tracing::debug!(conn = id, "writer did not finish in time; aborting it");
        writer.abort();
        let _ = writer.await;
    }
    // Both halves gone closes the socket; only then is the slot free, so
    // the connection caps count sockets that really exist.
    drop(stream);
    drop(slot);
    tracing::debug!(conn = id, "connection closed");
}

/// How often liveness is checked: often enough that a dead connection is
/// noticed soon after its pong is overdue.
fn liveness_period(limits: &ClientLimits) -> Duration {
    (limits.ping_interval.min(limits.pong_timeout) / 2).max(Duration::from_millis(10))
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
    async fn send_server_list(&self) {
        let servers = self.shared.plugin.servers().await;
        self.send(ServerFrame::ServerList(&servers).to_json());
    }

    /// Acts on one frame. False when the connection should end.
    async fn handle(&mut self, message: Message) -> bool {
        let request = match message {
            Message::Text(_) | Message::Binary(_) if !self.bucket.try_take(Instant::now()) => {
                return self.strike();
            }
            Message::Text(text) => parse_client_frame(&text),
            Message::Binary(bytes) => parse_binary_frame(&bytes),
            Message::Close(_) => return false,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return true,
        };
        match request {
            Ok(request) => {
                tracing::debug!(conn = self.id, server = %request.server, "connect");
                let mut gate = AuthGate {
                    ip: self.ip,
                    throttle: &self.shared.auth_throttle,
                    failures: self.auth_failures,
                };
                let shared = &self.shared;
                let joined = join(&shared.plugin, &request, &mut gate).await;
                self.auth_failures = gate.failures;
                match joined {
                    Ok(joined) => {
                        let snowflake = joined.server.snowflake.clone();
                        shared
                            .broadcaster
                            .join_room(&snowflake, &joined.users, |users| {
                                // Queued before binding, so no broadcast can
                                // overtake it; bound before any later presence.
                                self.send(joined.frame(users, &request.server));
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
            Err(error) => {
                tracing::debug!(conn = self.id, %error, "unusable frame");
                self.send_error(ClientError::message(error));
            }
        }
        true
    }

    /// A frame over the rate: an error frame, or the end once the browser
    /// has ignored enough of them.
    fn strike(&mut self) -> bool {
        self.strikes += 1;
        if self.strikes > self.shared.settings.clients.rate_strikes {
            tracing::info!(conn = self.id, ip = %self.ip, "closing: too many frames");
            self.outbox
                .push_message(close(CloseCode::Policy, "too many messages"));
            return false;
        }
        self.send_error(texts::TOO_FAST);
        true
    }

    fn send_error(&self, message: &str) {
        self.send(ServerFrame::Error(message).to_json());
    }

    fn send(&self, text: String) {
        self.outbox.push(Utf8Bytes::from(text));
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(server) = &self.bound {
            self.shared.hub.unbind(self.id, server);
        }
    }
}

async fn write_loop<S>(
    mut sink: S,
    mut queue: OutQueue,
    shutdown: CancellationToken,
    overflow: CancellationToken,
) where
    S: Sink<Message, Error = WsError> + Unpin,
{
    loop {
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                let _ = sink.send(close(CloseCode::Away, "server shutting down")).await;
                return;
            }
            () = overflow.cancelled() => {
                let _ = sink.send(close(CloseCode::Policy, "too many unread frames")).await;
                return;
            }
            next = queue.recv() => next,
        };
        let Some(message) = next else {
            // The reader is done: finish the closing handshake.
            let _ = sink.close().await;
            return;
        };
        // A browser that stops reading fills its TCP window and this send
        // waits; overflow or shutdown must still end it.
        let len = message.len();
        tokio::select! {
            sent = sink.send(message) => if sent.is_err() { return },
            () = overflow.cancelled() => return,
            () = shutdown.cancelled() => return,
        }
        queue.written(len);
    }
}

fn close(code: CloseCode, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}
