//! What the gateway connection is doing, for `GET /api/discord` and the
//! tests: its state, the session's age and last sequence, events per type,
//! and the last close.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use crate::metrics::{DiscordEventLabels, SessionStart, SessionStartLabels, metrics};

/// Event types counted by name; past this many names (Discord has a few
/// dozen) the rest are counted together, so a strange gateway cannot grow
/// the map.
const MAX_EVENT_NAMES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Not started yet.
    Starting,
    /// Asking where the gateway is, or opening the connection.
    Connecting,
    /// Identified or resumed: events flow.
    Connected,
    /// Waiting before the next attempt (backoff or the identify limit).
    Waiting,
    /// Another node of the cluster holds the gateway session.
    Follower,
    /// Stopped for good: see the reason.
    Stopped,
}

#[derive(Debug)]
pub struct GatewayStatus {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: ConnectionState,
    /// When the current session was identified.
    session_started: Option<Instant>,
    last_sequence: Option<u64>,
    events: BTreeMap<String, u64>,
    other_events: u64,
    last_close: Option<(Option<u16>, String)>,
    stopped: Option<String>,
    identifies: u64,
    resumes: u64,
}

impl Default for GatewayStatus {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                state: ConnectionState::Starting,
                session_started: None,
                last_sequence: None,
                events: BTreeMap::new(),
                other_events: 0,
                last_close: None,
                stopped: None,
                identifies: 0,
                resumes: 0,
            }),
        }
    }
}

fn started(start: SessionStart) {
    metrics()
        .discord_session_starts
        .get_or_create(&SessionStartLabels { start })
        .inc();
}

impl GatewayStatus {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn state(&self) -> ConnectionState {
        self.with(|inner| inner.state)
    }

    pub fn set_state(&self, state: ConnectionState) {
        metrics()
            .discord_connected
            .set(i64::from(state == ConnectionState::Connected));
        self.with(|inner| inner.state = state);
    }

    pub fn identified(&self) {
        started(SessionStart::identify);
        self.with(|inner| {
            inner.identifies += 1;
            inner.session_started = Some(Instant::now());
        });
    }

    pub fn resumed(&self) {
        started(SessionStart::resume);
        self.with(|inner| inner.resumes += 1);
    }

    /// An event passed on, with the sequence it came with.
    pub fn event(&self, name: &str, sequence: Option<u64>) {
        metrics()
            .discord_events
            .get_or_create(&DiscordEventLabels::of(name))
            .inc();
        self.with(|inner| {
            if sequence.is_some() {
                inner.last_sequence = sequence;
            }
            if let Some(count) = inner.events.get_mut(name) {
                *count += 1;
            } else if inner.events.len() < MAX_EVENT_NAMES {
                inner.events.insert(name.to_string(), 1);
            } else {
                inner.other_events += 1;
            }
        });
    }

    pub fn closed(&self, code: Option<u16>, reason: &str) {
        self.with(|inner| inner.last_close = Some((code, crate::model::clip(reason).to_string())));
    }

    pub fn stopped(&self, reason: &str) {
        metrics().discord_connected.set(0);
        metrics().discord_stopped.set(1);
        self.with(|inner| {
            inner.state = ConnectionState::Stopped;
            inner.stopped = Some(reason.to_string());
            inner.session_started = None;
        });
    }

    /// What `GET /api/discord` shows.
    pub fn snapshot(&self) -> Value {
        self.with(|inner| {
            json!({
                "state": inner.state,
                "session_age_seconds": inner.session_started.map(|at| at.elapsed().as_secs()),
                "last_sequence": inner.last_sequence,
                "identifies": inner.identifies,
                "resumes": inner.resumes,
                "events": inner.events,
                "other_events": inner.other_events,
                "last_close": inner.last_close.as_ref().map(|(code, reason)| json!({
                    "code": code,
                    "reason": reason,
                })),
                "stopped": inner.stopped,
            })
        })
    }
}
