//! A fake Discord gateway on loopback: a real WebSocket server speaking
//! gateway v10 with JSON payloads (HELLO, IDENTIFY and READY, heartbeats
//! and their ACKs, RESUME with the events missed replayed, member chunks),
//! plus switches a test pulls to misbehave the way Discord does: RECONNECT,
//! INVALID_SESSION, a dropped socket, close codes, a zombie connection and
//! refused privileged intents.
//!
//! One session exists at a time, the latest IDENTIFY's. Every dispatch goes
//! through that session's log, so a RESUME replays exactly what the live
//! connection sent, or would have.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{
    Callback, ErrorResponse, Request, Response,
};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::fake_discord::BOT_TOKEN;

/// GUILD_MEMBERS, GUILD_PRESENCES and MESSAGE_CONTENT: the intents Discord
/// refuses unless switched on in the developer portal.
const PRIVILEGED_INTENTS: u64 = (1 << 1) | (1 << 8) | (1 << 15);

/// How long a connection the fake closed waits for the client's close
/// frame before the socket is dropped anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What a connection's writer task is told to do, in order: a close or a
/// drop queued after events goes out after them, as on a real socket.
enum Command {
    Send(Message),
    Close(u16, String),
    Drop,
}

/// One accepted WebSocket connection, as the control methods reach it.
struct Conn {
    id: u64,
    tx: UnboundedSender<Command>,
    /// Set by `make_zombie`; it belongs to this connection, so the next one
    /// starts healthy.
    zombie: AtomicBool,
    /// Identified or resumed (and not told INVALID_SESSION since).
    authed: AtomicBool,
}

impl Conn {
    fn send(&self, text: impl Into<Utf8Bytes>) {
        // The writer is gone only when the connection is; nothing to tell.
        let _ = self.tx.send(Command::Send(Message::Text(text.into())));
    }
}

struct Session {
    id: String,
    seq: u64,
    /// Every dispatch with its sequence number, as sent: a replay resends
    /// the same text.
    log: Vec<(u64, Utf8Bytes)>,
    /// False once INVALID_SESSION (not resumable) forgot it.
    resumable: bool,
}

struct Inner {
    heartbeat_interval: u64,
    guilds: Vec<Value>,
    member_chunks: HashMap<String, Vec<Value>>,
    member_requests: Vec<Value>,
    refuse_privileged: bool,
    identifies: Vec<(Instant, Value)>,
    resumes: Vec<(Instant, Value)>,
    paths: Vec<String>,
    sessions_started: u64,
    /// Before the first IDENTIFY this is a placeholder nobody can resume,
    /// so events dispatched that early wait in a log no one replays.
    session: Session,
    /// The connection that identified or resumed the current session.
    live: Option<Arc<Conn>>,
}

impl Inner {
    /// Logs an event in the current session and sends it on the live
    /// connection unless that is a zombie. Called with the lock held, so
    /// sequence numbers reach the writer in order.
    fn dispatch(&mut self, event: &str, d: &str) -> u64 {
        self.session.seq += 1;
        let seq = self.session.seq;
        let event = Value::from(event);
        let text = Utf8Bytes::from(format!(r#"{{"op":0,"d":{d},"s":{seq},"t":{event}}}"#));
        self.session.log.push((seq, text.clone()));
        if let Some(live) = &self.live
            && !live.zombie.load(Ordering::SeqCst)
        {
            live.send(text);
        }
        seq
    }

    /// Makes `conn` the live connection; the one it replaces is dropped,
    /// as its client has moved on.
    fn make_live(&mut self, conn: &Arc<Conn>) {
        conn.authed.store(true, Ordering::SeqCst);
        if let Some(old) = self.live.replace(Arc::clone(conn))
            && old.id != conn.id
        {
            let _ = old.tx.send(Command::Drop);
        }
    }

    /// Closes `conn` as Discord does an IDENTIFY or RESUME it refuses: a
    /// second one on a connection (4005), or a wrong token (4004).
    /// Returns whether it did.
    fn refuse_authentication(&mut self, conn: &Conn, authed: bool, token_ok: bool) -> bool {
        if authed {
            self.close(conn, 4005, "Already authenticated.");
        } else if !token_ok {
            self.close(conn, 4004, "Authentication failed.");
        }
        authed || !token_ok
    }

    /// Closes `conn` with `code`; it stops being live.
    fn close(&mut self, conn: &Conn, code: u16, reason: &str) {
        if self.live.as_ref().is_some_and(|live| live.id == conn.id) {
            self.live = None;
        }
        let _ = conn.tx.send(Command::Close(code, reason.to_string()));
    }
}

struct State {
    url: String,
    heartbeats: AtomicUsize,
    next_conn: AtomicU64,
    inner: Mutex<Inner>,
}

/// A running fake gateway; dropped with the test.
#[derive(Clone)]
pub struct FakeGateway {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl FakeGateway {
    /// Starts listening; the expected bot token is
    /// [`fake_discord::BOT_TOKEN`](crate::fake_discord::BOT_TOKEN).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            url: format!("ws://{addr}"),
            heartbeats: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            inner: Mutex::new(Inner {
                heartbeat_interval: 1000,
                guilds: Vec::new(),
                member_chunks: HashMap::new(),
                member_requests: Vec::new(),
                refuse_privileged: false,
                identifies: Vec::new(),
                resumes: Vec::new(),
                paths: Vec::new(),
                sessions_started: 0,
                session: Session {
                    id: String::new(),
                    seq: 0,
                    log: Vec::new(),
                    resumable: false,
                },
                live: None,
            }),
        });
        let served = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(Arc::clone(&served), stream));
            }
        });
        Self { addr, state }
    }

    /// `ws://127.0.0.1:PORT`: what `/gateway/bot` returns.
    pub fn url(&self) -> String {
        self.state.url.clone()
    }

    /// HELLO's `heartbeat_interval` for connections opened from now on
    /// (default 1000 ms).
    pub fn set_heartbeat_interval(&self, ms: u64) {
        self.inner().heartbeat_interval = ms;
    }

    /// GUILD_CREATE payloads (the `d` objects) sent, in order, right after
    /// READY on each new session (IDENTIFY), not on RESUME.
    pub fn set_guilds(&self, guilds: Vec<Value>) {
        self.inner().guilds = guilds;
    }

    /// For REQUEST_GUILD_MEMBERS (op 8) with `d.guild_id == guild`: the
    /// GUILD_MEMBERS_CHUNK `d` objects to dispatch in answer. The fake sets
    /// `guild_id`, `chunk_index` and `chunk_count`, and copies `nonce` from
    /// the request, into each. A guild with no chunks set is answered with
    /// one empty chunk, as Discord always answers.
    pub fn set_member_chunks(&self, guild: &str, chunks: Vec<Value>) {
        self.inner().member_chunks.insert(guild.to_string(), chunks);
    }

    /// Every op-8 request's `d`, in order.
    pub fn member_requests(&self) -> Vec<Value> {
        self.inner().member_requests.clone()
    }

    /// Appends a dispatch event to the current session's log with the next
    /// sequence number and sends it now if a connection is live on that
    /// session (identified or resumed and not a zombie); otherwise it waits
    /// in the log and is replayed on RESUME. Returns its sequence number.
    ///
    /// Cheap enough for tight loops: `d` is serialized once, outside the
    /// lock, and the same text is logged and sent.
    pub fn dispatch(&self, event: &str, d: Value) -> u64 {
        let d = d.to_string();
        self.inner().dispatch(event, &d)
    }

    /// Sends op 7 RECONNECT on the live connection.
    pub fn send_reconnect(&self) {
        if let Some(live) = &self.inner().live {
            live.send(r#"{"op":7,"d":null,"s":null,"t":null}"#);
        }
    }

    /// Sends `text` as is on the live connection: what a broken or hostile
    /// gateway might (not JSON, not a payload, too big).
    pub fn send_raw(&self, text: String) {
        if let Some(live) = &self.inner().live {
            live.send(text);
        }
    }

    /// Sends op 9 with `d = resumable` on the live connection, which then
    /// is no longer live: events wait in the log until the client resumes.
    /// When not resumable, the session is forgotten (a RESUME for it gets
    /// op 9 false), whether or not a connection was live.
    pub fn send_invalid_session(&self, resumable: bool) {
        let mut inner = self.inner();
        if let Some(live) = inner.live.take() {
            live.authed.store(false, Ordering::SeqCst);
            live.send(format!(r#"{{"op":9,"d":{resumable},"s":null,"t":null}}"#));
        }
        if !resumable {
            inner.session.resumable = false;
        }
    }

    /// Drops the live TCP connection with no close frame (the socket is
    /// just dropped, after what was already queued on it).
    pub fn drop_connection(&self) {
        if let Some(live) = self.inner().live.take() {
            let _ = live.tx.send(Command::Drop);
        }
    }

    /// Closes the live connection with a close frame `code` and `reason`.
    pub fn close_with(&self, code: u16, reason: &str) {
        let mut inner = self.inner();
        if let Some(live) = inner.live.clone() {
            inner.close(&live, code, reason);
        }
    }

    /// Makes the live connection a zombie: from now on it answers no
    /// heartbeat with an ACK and sends no dispatch (they stay in the log
    /// for a later RESUME). Cleared for the next connection.
    pub fn make_zombie(&self) {
        if let Some(live) = &self.inner().live {
            live.zombie.store(true, Ordering::SeqCst);
        }
    }

    /// When on, an IDENTIFY whose intents include a privileged one
    /// (GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT) is closed with 4014
    /// "Disallowed intent(s).", as Discord does when the portal switches
    /// are off.
    pub fn set_refuse_privileged_intents(&self, on: bool) {
        self.inner().refuse_privileged = on;
    }

    /// Every IDENTIFY's `d` with the instant it arrived, in order.
    pub fn identifies(&self) -> Vec<(Instant, Value)> {
        self.inner().identifies.clone()
    }

    /// Every RESUME's `d` with the instant it arrived, in order.
    pub fn resumes(&self) -> Vec<(Instant, Value)> {
        self.inner().resumes.clone()
    }

    /// Request paths (with query) of every WebSocket connection accepted,
    /// in order. The host must resume at READY's `resume_gateway_url`,
    /// which is `url() + "/resume"`.
    pub fn connection_paths(&self) -> Vec<String> {
        self.inner().paths.clone()
    }

    /// Heartbeats (op 1) received, on all connections.
    pub fn heartbeats(&self) -> usize {
        self.state.heartbeats.load(Ordering::SeqCst)
    }

    /// Waits (polling every 10 ms) until `check(self)` is true or `timeout`
    /// passes; returns whether it became true.
    pub async fn wait_until(&self, timeout: Duration, check: impl Fn(&Self) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if check(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.inner.lock().unwrap()
    }
}

/// Why a connection's writer stopped.
enum Ended {
    /// Told to drop the socket, or the socket failed.
    Dropped,
    /// A close frame went out; the client may still answer it.
    Closed,
}

/// Writes what the connection is told, batching what is queued before a
/// flush: a benchmark firing events in a loop must not cost a syscall each.
async fn write(
    mut sink: SplitSink<WebSocketStream<TcpStream>, Message>,
    mut rx: UnboundedReceiver<Command>,
) -> Ended {
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Send(message) => {
                    if sink.feed(message).await.is_err() {
                        return Ended::Dropped;
                    }
                }
                Command::Close(code, reason) => {
                    let frame = CloseFrame {
                        code: code.into(),
                        reason: reason.into(),
                    };
                    return match sink.send(Message::Close(Some(frame))).await {
                        Ok(()) => Ended::Closed,
                        Err(_) => Ended::Dropped,
                    };
                }
                Command::Drop => return Ended::Dropped,
            }
            next = rx.try_recv().ok();
        }
        if sink.flush().await.is_err() {
            return Ended::Dropped;
        }
    }
    Ended::Dropped
}

/// The handshake callback: records the request path (with query), which
/// tells a resume at READY's `resume_gateway_url` from a fresh connection.
struct RecordPath(Arc<State>);

impl Callback for RecordPath {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        self.0.inner.lock().unwrap().paths.push(path);
        Ok(response)
    }
}

async fn serve(state: Arc<State>, stream: TcpStream) {
    // Heartbeat ACKs are small writes; Nagle would delay them.
    let _ = stream.set_nodelay(true);
    let recorder = RecordPath(Arc::clone(&state));
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, recorder).await else {
        return;
    };
    let (sink, mut stream) = ws.split();
    let (tx, rx) = unbounded_channel();
    let conn = Arc::new(Conn {
        id: state.next_conn.fetch_add(1, Ordering::SeqCst),
        tx,
        zombie: AtomicBool::new(false),
        authed: AtomicBool::new(false),
    });
    let mut writer = tokio::spawn(write(sink, rx));
    let interval = state.inner.lock().unwrap().heartbeat_interval;
    conn.send(format!(
        r#"{{"op":10,"d":{{"heartbeat_interval":{interval}}},"s":null,"t":null}}"#
    ));

    // Once the fake has closed the connection, what the client still sends
    // is ignored while it answers the close.
    let mut closing = false;
    let mut grace = None;
    loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) if !closing => {
                    closing = receive(&state, &conn, &text);
                }
                Some(Ok(Message::Binary(_))) if !closing => {
                    state.inner.lock().unwrap().close(&conn, 4002, "Error while decoding payload.");
                    closing = true;
                }
                // Keep reading after the client's close frame: the next read
                // sends tungstenite's answer to it, then ends the stream.
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break,
            },
            ended = &mut writer, if grace.is_none() => match ended {
                Ok(Ended::Closed) => {
                    closing = true;
                    grace = Some(Box::pin(tokio::time::sleep(CLOSE_GRACE)));
                }
                _ => break,
            },
            () = async { grace.as_mut().unwrap().await }, if grace.is_some() => break,
        }
    }
    {
        let mut inner = state.inner.lock().unwrap();
        if inner.live.as_ref().is_some_and(|live| live.id == conn.id) {
            inner.live = None;
        }
    }
    writer.abort();
}

/// Handles one text payload from the client; returns whether the fake
/// closed the connection over it.
fn receive(state: &State, conn: &Arc<Conn>, text: &str) -> bool {
    let mut inner = state.inner.lock().unwrap();
    let Ok(mut payload) = serde_json::from_str::<Value>(text) else {
        inner.close(conn, 4002, "Error while decoding payload.");
        return true;
    };
    let Some(op) = payload.get("op").and_then(Value::as_u64) else {
        inner.close(conn, 4002, "Error while decoding payload.");
        return true;
    };
    let d = payload["d"].take();
    let authed = conn.authed.load(Ordering::SeqCst);
    let token_ok = d.get("token").and_then(Value::as_str) == Some(BOT_TOKEN);
    match op {
        1 => {
            state.heartbeats.fetch_add(1, Ordering::SeqCst);
            if !conn.zombie.load(Ordering::SeqCst) {
                conn.send(r#"{"op":11,"d":null,"s":null,"t":null}"#);
            }
        }
        2 => {
            let intents = d.get("intents").and_then(Value::as_u64).unwrap_or(0);
            inner.identifies.push((Instant::now(), d));
            if inner.refuse_authentication(conn, authed, token_ok) {
                return true;
            }
            if inner.refuse_privileged && intents & PRIVILEGED_INTENTS != 0 {
                inner.close(conn, 4014, "Disallowed intent(s).");
                return true;
            }
            inner.sessions_started += 1;
            inner.session = Session {
                id: format!("session-{}", inner.sessions_started),
                seq: 0,
                log: Vec::new(),
                resumable: true,
            };
            inner.make_live(conn);
            let guilds = inner.guilds.clone();
            let ready = json!({
                "v": 10,
                "session_id": inner.session.id,
                "resume_gateway_url": format!("{}/resume", state.url),
                "user": {"id": "900", "username": "d-back-bot", "bot": true},
                "guilds": guilds
                    .iter()
                    .map(|g| json!({"id": g["id"], "unavailable": true}))
                    .collect::<Vec<_>>(),
            });
            inner.dispatch("READY", &ready.to_string());
            for guild in guilds {
                inner.dispatch("GUILD_CREATE", &guild.to_string());
            }
        }
        6 => {
            let session_id = d
                .get("session_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let after = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
            inner.resumes.push((Instant::now(), d));
            if inner.refuse_authentication(conn, authed, token_ok) {
                return true;
            }
            if inner.session.resumable && session_id.as_deref() == Some(inner.session.id.as_str()) {
                inner.make_live(conn);
                for (_, text) in inner.session.log.iter().filter(|(s, _)| *s > after) {
                    conn.send(text.clone());
                }
                inner.dispatch("RESUMED", "{}");
            } else {
                conn.send(r#"{"op":9,"d":false,"s":null,"t":null}"#);
            }
        }
        8 => {
            inner.member_requests.push(d.clone());
            if !authed {
                inner.close(conn, 4003, "Not authenticated.");
                return true;
            }
            let guild = d.get("guild_id").and_then(Value::as_str).unwrap_or("");
            let chunks = inner
                .member_chunks
                .get(guild)
                .cloned()
                .unwrap_or_else(|| vec![json!({"members": []})]);
            let count = chunks.len();
            for (index, mut chunk) in chunks.into_iter().enumerate() {
                chunk["guild_id"] = json!(guild);
                chunk["chunk_index"] = json!(index);
                chunk["chunk_count"] = json!(count);
                if let Some(nonce) = d.get("nonce") {
                    chunk["nonce"] = nonce.clone();
                }
                inner.dispatch("GUILD_MEMBERS_CHUNK", &chunk.to_string());
            }
        }
        _ => {
            inner.close(conn, 4001, "Unknown opcode.");
            return true;
        }
    }
    false
}
