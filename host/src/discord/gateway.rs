//! The gateway connection driver: opens connection after connection and
//! carries out what the [`Session`] decides, until the session must stop or
//! the server shuts down. Its I/O and waits only: every rule of the
//! session is in `session.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::config::DiscordConfig;
use super::protocol::{Intents, MAX_PAYLOAD_BYTES, Op, Payload, first_heartbeat};
use super::rest::{self, RestError};
use super::session::{Action, Session};
use super::status::{ConnectionState, GatewayStatus};
use crate::backoff::{self, Backoff};

/// Discord allows one IDENTIFY per 5 seconds per concurrency bucket; one
/// bucket is all a bot in a few guilds has.
pub const IDENTIFY_INTERVAL: Duration = Duration::from_secs(5);
/// Waits between failed attempts: doubling, capped.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_LAST: Duration = Duration::from_secs(60);
/// Opening a connection, TLS and the WebSocket handshake included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// HELLO comes at once on a healthy gateway.
const HELLO_TIMEOUT: Duration = Duration::from_secs(20);
/// A send the gateway does not take within this is a dead connection.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Closing codes the driver sends: 1000 ends the session on Discord's
/// side; any 4xxx other than Discord's own keeps it resumable.
const CLOSE_ENDING: u16 = 1000;
const CLOSE_KEEPING: u16 = 4900;

/// Where the gateway's events go: the bridge to the broadcasts.
pub trait EventHandler: Send + Sync {
    /// One event, in order and once; returns payloads to send (member
    /// requests for large guilds).
    fn on_event(&self, name: &str, data: Value) -> Vec<Payload>;
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How one connection ended.
enum Ended {
    Shutdown,
    /// The session asked for another connection.
    Reconnect,
    /// The gateway closed it (with a code) or it dropped (none).
    Closed(Option<u16>, String),
}

/// Follows the gateway for `config` until `stop` is cancelled or the
/// session must stop (a refused token, privileged intents off): then the
/// reason is in `status`, and the server goes on serving.
pub async fn follow(
    config: Arc<DiscordConfig>,
    handler: Arc<dyn EventHandler>,
    status: Arc<GatewayStatus>,
    stop: CancellationToken,
) {
    let mut session = Session::new(
        config.token().to_string(),
        Intents::needed(config.shows_messages()),
    );
    let mut driver = Driver {
        config,
        handler,
        status,
        stop,
        last_identify: None,
    };
    let mut backoff = Backoff::new(BACKOFF_FIRST, BACKOFF_LAST);
    loop {
        if driver.stop.is_cancelled() {
            return;
        }
        driver.status.set_state(ConnectionState::Connecting);
        let url = match driver.where_to(&session).await {
            Ok(url) => url,
            Err(RestError::Refused(code)) => {
                let reason = RestError::Refused(code).to_string();
                return driver.fatal(&reason);
            }
            Err(error) => {
                if !driver
                    .retry(&mut backoff, "cannot reach Discord's API", &error)
                    .await
                {
                    return;
                }
                continue;
            }
        };
        if !session.can_resume() && !driver.identify_slot().await {
            return;
        }
        let socket = match connect(&url).await {
            Ok(socket) => socket,
            Err(reason) => {
                if !driver
                    .retry(&mut backoff, "cannot open Discord's gateway", &reason)
                    .await
                {
                    return;
                }
                continue;
            }
        };
        let (ended, flowed) = driver.run(socket, &mut session).await;
        if flowed {
            backoff.reset();
        }
        match ended {
            Ended::Shutdown => return,
            Ended::Reconnect => {}
            Ended::Closed(code, reason) => {
                driver.status.closed(code, &reason);
                match session.on_close(code) {
                    Ok(resume) => {
                        tracing::info!(
                            code,
                            reason = %crate::model::clip(&reason),
                            resume,
                            "Discord's gateway connection closed; connecting again"
                        );
                    }
                    Err(fatal) => return driver.fatal(&fatal.0),
                }
            }
        }
        // A connection that never got going waits before the next; one
        // that did reconnects at once (resuming loses nothing then).
        if !flowed && !driver.wait(&mut backoff).await {
            return;
        }
    }
}

struct Driver {
    config: Arc<DiscordConfig>,
    handler: Arc<dyn EventHandler>,
    status: Arc<GatewayStatus>,
    stop: CancellationToken,
    last_identify: Option<Instant>,
}

impl Driver {
    fn fatal(&self, reason: &str) {
        tracing::error!("the Discord gateway stopped: {reason}; d-back goes on serving without it");
        self.status.stopped(reason);
    }

    /// A failed attempt: logged, shown as `last_error`, then the backoff;
    /// false when shutting down.
    async fn retry(
        &self,
        backoff: &mut Backoff,
        what: &str,
        error: &(dyn std::fmt::Display + Sync),
    ) -> bool {
        tracing::warn!(%error, "{what}; trying again");
        self.status.failed(&format!("{what}: {error}"));
        self.wait(backoff).await
    }

    async fn wait(&self, backoff: &mut Backoff) -> bool {
        self.status.set_state(ConnectionState::Waiting);
        backoff.wait(&self.stop).await
    }

    async fn sleep(&self, delay: Duration) -> bool {
        if delay.is_zero() {
            return true;
        }
        self.status.set_state(ConnectionState::Waiting);
        backoff::pause(delay, &self.stop).await
    }

    /// The URL of the next connection: READY's resume URL to resume;
    /// else the gateway `GET /gateway/bot` names (or `gateway_url`), after
    /// waiting out a spent session-start limit before a new session.
    async fn where_to(&self, session: &Session) -> Result<String, RestError> {
        if session.resumes_at_given_url() {
            return Ok(session.url(""));
        }
        let bot = rest::gateway_bot(self.config.api_base(), self.config.token()).await?;
        let limit = &bot.session_start_limit;
        // Only a new session counts against the limit.
        if limit.remaining == 0 && !session.can_resume() {
            let wait = Duration::from_millis(limit.reset_after);
            tracing::warn!(
                wait_s = wait.as_secs(),
                "Discord's daily session starts are used up; waiting for them to reset"
            );
            if !self.sleep(wait).await {
                return Err(RestError::Failed("shutting down".into()));
            }
        }
        let gateway = self.config.gateway_url.as_deref().unwrap_or(&bot.url);
        Ok(session.url(gateway))
    }

    /// Waits until an IDENTIFY is allowed; false when shutting down.
    async fn identify_slot(&self) -> bool {
        let wait = self.last_identify.map_or(Duration::ZERO, |at| {
            IDENTIFY_INTERVAL.saturating_sub(at.elapsed())
        });
        self.sleep(wait).await
    }

    /// Runs one connection; returns how it ended and whether events
    /// flowed on it (READY or RESUMED came).
    async fn run(&mut self, socket: Socket, session: &mut Session) -> (Ended, bool) {
        let (mut sink, mut stream) = socket.split();
        let mut flowed = false;
        let mut heartbeat: Option<Duration> = None;
        let mut next_beat = tokio::time::Instant::now() + HELLO_TIMEOUT;
        let ended = 'connection: loop {
            let message = tokio::select! {
                () = self.stop.cancelled() => {
                    close(&mut sink, CLOSE_ENDING).await;
                    break 'connection Ended::Shutdown;
                }
                () = tokio::time::sleep_until(next_beat) => {
                    let Some(interval) = heartbeat else {
                        tracing::warn!("Discord's gateway sent no HELLO; connecting again");
                        close(&mut sink, CLOSE_KEEPING).await;
                        break 'connection Ended::Reconnect;
                    };
                    next_beat += interval;
                    vec![session.on_heartbeat_due()]
                }
                message = stream.next() => match message {
                    None => break 'connection Ended::Closed(None, "connection dropped".into()),
                    Some(Err(error)) => break 'connection Ended::Closed(None, error.to_string()),
                    Some(Ok(Message::Close(frame))) => {
                        let (code, reason) = frame.map_or((None, String::new()), |f| {
                            (Some(u16::from(f.code)), f.reason.to_string())
                        });
                        break 'connection Ended::Closed(code, reason);
                    }
                    Some(Ok(Message::Text(text))) => match Payload::read(&text) {
                        Ok(payload) => session.on_payload(payload),
                        Err(error) => {
                            tracing::warn!(%error, "unreadable payload from Discord's gateway; connecting again");
                            close(&mut sink, CLOSE_KEEPING).await;
                            break 'connection Ended::Reconnect;
                        }
                    },
                    // JSON is asked for; pings are answered by the library.
                    Some(Ok(_)) => continue,
                },
            };
            for action in message {
                match action {
                    Action::Send(payload) => {
                        match payload.op() {
                            Op::Identify => {
                                self.last_identify = Some(Instant::now());
                                self.status.identified();
                            }
                            Op::Resume => self.status.resumed(),
                            _ => {}
                        }
                        if let Err(reason) = send(&mut sink, &payload).await {
                            break 'connection Ended::Closed(None, reason);
                        }
                    }
                    Action::StartHeartbeat { interval } => {
                        heartbeat = Some(interval);
                        next_beat =
                            tokio::time::Instant::now() + first_heartbeat(interval, jitter());
                    }
                    Action::Event { name, data } => {
                        if name == "READY" || name == "RESUMED" {
                            flowed = true;
                            self.status.set_state(ConnectionState::Connected);
                            tracing::info!(event = %name, "following Discord's gateway");
                        }
                        self.status.event(&name, session.sequence());
                        for payload in self.handler.on_event(&name, data) {
                            if let Err(reason) = send(&mut sink, &payload).await {
                                break 'connection Ended::Closed(None, reason);
                            }
                        }
                    }
                    Action::Reconnect { resume } => {
                        tracing::info!(resume, "Discord's gateway asks for a new connection");
                        let code = if resume { CLOSE_KEEPING } else { CLOSE_ENDING };
                        close(&mut sink, code).await;
                        break 'connection Ended::Reconnect;
                    }
                }
            }
        };
        (ended, flowed)
    }
}

async fn connect(url: &str) -> Result<Socket, String> {
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_PAYLOAD_BYTES);
    config.max_frame_size = Some(MAX_PAYLOAD_BYTES);
    let connecting = tokio_tungstenite::connect_async_tls_with_config(
        url,
        Some(config),
        false,
        Some(Connector::Rustls(rest::tls_config())),
    );
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

type Sink = futures_util::stream::SplitSink<Socket, Message>;

async fn send(sink: &mut Sink, payload: &Payload) -> Result<(), String> {
    let text = serde_json::to_string(payload).map_err(|e| e.to_string())?;
    match tokio::time::timeout(
        SEND_TIMEOUT,
        sink.send(Message::Text(Utf8Bytes::from(text))),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("the gateway took no payload for 10 s".into()),
    }
}

/// Closes with `code`, not waiting long: the next connection matters more.
async fn close(sink: &mut Sink, code: u16) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(""),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        sink.send(Message::Close(Some(frame))),
    )
    .await;
}

/// A fraction in 0..1 for the first heartbeat, different per connection.
fn jitter() -> f64 {
    use std::hash::BuildHasher;
    let noise = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    (noise >> 11) as f64 / (1u64 << 53) as f64
}
