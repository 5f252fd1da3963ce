//! What the gateway connection is doing, for `GET /api/discord` and the
//! tests: its state, the session's age and last sequence, events per type,
//! the last close, and why the last attempt to reach Discord failed.

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

/// Characters of `last_error` kept: our own words around a library's
/// error, which is short, but bounded all the same.
const MAX_ERROR_CHARS: usize = 300;

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
    /// Why the last attempt to reach Discord failed (the API or the
    /// gateway unreachable, a certificate refused), until a session flows.
    last_error: Option<String>,
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
                last_error: None,
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
        self.with(|inner| {
            inner.state = state;
            if state == ConnectionState::Connected {
                inner.last_error = None;
            }
        });
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

    /// An attempt to reach Discord that failed and will be made again.
    pub fn failed(&self, error: &str) {
        let error = error.chars().take(MAX_ERROR_CHARS).collect();
        self.with(|inner| inner.last_error = Some(error));
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
                "last_error": inner.last_error,
                "stopped": inner.stopped,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_error_is_bounded_and_lasts_until_a_session_flows() {
        let status = GatewayStatus::default();
        assert_eq!(status.snapshot()["last_error"], Value::Null);
        status.failed(&"x".repeat(10_000));
        let shown = status.snapshot()["last_error"].as_str().unwrap().len();
        assert_eq!(shown, MAX_ERROR_CHARS);
        status.failed("cannot open Discord's gateway: refused");
        status.set_state(ConnectionState::Waiting);
        assert_eq!(
            status.snapshot()["last_error"],
            "cannot open Discord's gateway: refused"
        );
        // An IDENTIFY sent is not yet a session.
        status.identified();
        assert!(status.snapshot()["last_error"].is_string());
        status.set_state(ConnectionState::Connected);
        assert_eq!(status.snapshot()["last_error"], Value::Null);
    }
}
