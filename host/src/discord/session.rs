//! One gateway session's state, without its I/O: what to send and do for
//! each payload, heartbeat and close. The connection driver feeds it and
//! carries out its [`Action`]s, so every rule of the session (resume or
//! identify, zombie connections, replayed events) is decided here, where
//! tests reach it directly.

use std::time::Duration;

use serde_json::Value;

use super::protocol::{AfterClose, Intents, Op, Payload, VERSION, after_close};

/// What the driver does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Send(Payload),
    /// Beat every `interval` from now on (the first after a jittered part
    /// of it, see `protocol::first_heartbeat`).
    StartHeartbeat {
        interval: Duration,
    },
    /// An event for the bridge, in order, each once.
    Event {
        name: String,
        data: Value,
    },
    /// Close this connection and open another, then RESUME (`true`) or
    /// IDENTIFY anew.
    Reconnect {
        resume: bool,
    },
}

/// Why the session must not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(pub String);

/// What survives a connection: enough to resume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Resumable {
    session_id: String,
    /// Where to resume, as READY said.
    url: Option<String>,
}

pub struct Session {
    token: String,
    intents: Intents,
    resumable: Option<Resumable>,
    /// The last sequence number acted on.
    sequence: Option<u64>,
    /// A heartbeat was sent and its ACK has not come.
    awaiting_ack: bool,
    /// Something came since the last heartbeat was sent.
    heard: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &"<redacted>")
            .field("intents", &self.intents)
            .field("resumable", &self.resumable)
            .field("sequence", &self.sequence)
            .finish()
    }
}

impl Session {
    pub fn new(token: String, intents: Intents) -> Self {
        Self {
            token,
            intents,
            resumable: None,
            sequence: None,
            awaiting_ack: false,
            heard: false,
        }
    }

    /// The last sequence number acted on.
    pub fn sequence(&self) -> Option<u64> {
        self.sequence
    }

    /// Whether the next connection resumes rather than identifies.
    pub fn can_resume(&self) -> bool {
        self.resumable.is_some() && self.sequence.is_some()
    }

    /// Whether the next connection resumes at a URL READY gave.
    pub fn resumes_at_given_url(&self) -> bool {
        self.can_resume() && self.resumable.as_ref().is_some_and(|r| r.url.is_some())
    }

    /// Where the next connection goes: the resume URL READY gave when
    /// resuming, else `gateway` (from `GET /gateway/bot`); with the
    /// version and encoding spoken.
    pub fn url(&self, gateway: &str) -> String {
        let base = match &self.resumable {
            Some(Resumable { url: Some(url), .. }) if self.can_resume() => url.as_str(),
            _ => gateway,
        };
        format!("{}/?v={VERSION}&encoding=json", base.trim_end_matches('/'))
    }

    /// What to do about one payload from the gateway.
    pub fn on_payload(&mut self, payload: Payload) -> Vec<Action> {
        self.heard = true;
        match payload.op() {
            Op::Hello => {
                self.awaiting_ack = false;
                let mut actions = Vec::new();
                if let Some(interval) = payload.heartbeat_interval() {
                    actions.push(Action::StartHeartbeat { interval });
                }
                actions.push(Action::Send(self.hello_answer()));
                actions
            }
            Op::HeartbeatAck => {
                self.awaiting_ack = false;
                Vec::new()
            }
            // The gateway asks for a beat now.
            Op::Heartbeat => vec![Action::Send(Payload::heartbeat(self.sequence))],
            Op::Reconnect => vec![Action::Reconnect { resume: true }],
            Op::InvalidSession => {
                let resume = payload.resumable() && self.can_resume();
                if !resume {
                    self.forget();
                }
                vec![Action::Reconnect { resume }]
            }
            Op::Dispatch => self.on_dispatch(payload),
            _ => Vec::new(),
        }
    }

    fn hello_answer(&self) -> Payload {
        match (&self.resumable, self.sequence) {
            (Some(resumable), Some(sequence)) => {
                Payload::resume(&self.token, &resumable.session_id, sequence)
            }
            _ => Payload::identify(&self.token, self.intents),
        }
    }

    fn on_dispatch(&mut self, payload: Payload) -> Vec<Action> {
        if let Some(sequence) = payload.s {
            // Replayed after a resume, or sent twice: acted on already.
            if self.sequence.is_some_and(|last| sequence <= last) {
                return Vec::new();
            }
            self.sequence = Some(sequence);
        }
        let Some(name) = payload.t else {
            return Vec::new();
        };
        if name == "READY" {
            let session_id = payload.d["session_id"].as_str().unwrap_or_default();
            if !session_id.is_empty() {
                self.resumable = Some(Resumable {
                    session_id: session_id.to_string(),
                    url: payload.d["resume_gateway_url"]
                        .as_str()
                        .filter(|url| url.starts_with("wss://") || url.starts_with("ws://"))
                        .map(str::to_string),
                });
            }
        }
        vec![Action::Event {
            name,
            data: payload.d,
        }]
    }

    /// A heartbeat is due: send it, unless the last one was never
    /// acknowledged and nothing at all came since, which means a zombie
    /// connection: drop it and resume. (An ACK may wait unread behind a
    /// burst of events the bridge is still working through: a connection
    /// that sends is alive.)
    pub fn on_heartbeat_due(&mut self) -> Action {
        if self.awaiting_ack && !self.heard {
            self.awaiting_ack = false;
            return Action::Reconnect { resume: true };
        }
        self.awaiting_ack = true;
        self.heard = false;
        Action::Send(Payload::heartbeat(self.sequence))
    }

    /// The connection closed with `code` (none: it dropped): whether the
    /// next one resumes, or why the session must stop.
    pub fn on_close(&mut self, code: Option<u16>) -> Result<bool, Fatal> {
        self.awaiting_ack = false;
        match after_close(code) {
            AfterClose::Resume => Ok(self.can_resume()),
            AfterClose::Identify => {
                self.forget();
                Ok(false)
            }
            AfterClose::Stop(why) => Err(Fatal(why)),
        }
    }

    fn forget(&mut self) {
        self.resumable = None;
        self.sequence = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(value: Value) -> Payload {
        serde_json::from_value(value).unwrap()
    }

    fn hello() -> Payload {
        payload(json!({"op": 10, "d": {"heartbeat_interval": 45000}}))
    }

    fn dispatch(s: u64, t: &str, d: Value) -> Payload {
        payload(json!({"op": 0, "s": s, "t": t, "d": d}))
    }

    fn ready() -> Payload {
        dispatch(
            1,
            "READY",
            json!({"session_id": "sess", "resume_gateway_url": "wss://resume.example"}),
        )
    }

    fn sent(actions: &[Action]) -> Vec<u8> {
        actions
            .iter()
            .filter_map(|action| match action {
                Action::Send(payload) => Some(payload.op),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn hello_identifies_first_and_resumes_after_ready() {
        let mut session = Session::new("tok".into(), Intents::needed(false));
        let first = session.on_payload(hello());
        assert_eq!(
            first[0],
            Action::StartHeartbeat {
                interval: Duration::from_millis(45_000)
            }
        );
        assert_eq!(sent(&first), [2], "IDENTIFY");
        assert_eq!(
            session.url("wss://gateway.example"),
            "wss://gateway.example/?v=10&encoding=json"
        );
        session.on_payload(ready());
        session.on_payload(dispatch(2, "PRESENCE_UPDATE", json!({})));
        assert!(session.can_resume());
        assert_eq!(
            session.url("wss://gateway.example"),
            "wss://resume.example/?v=10&encoding=json"
        );
        let again = session.on_payload(hello());
        assert_eq!(sent(&again), [6], "RESUME");
        let Action::Send(resume) = &again[1] else {
            panic!()
        };
        assert_eq!(resume.d["seq"], 2);
        assert_eq!(resume.d["session_id"], "sess");
    }

    #[test]
    fn events_are_passed_on_in_order_once_even_when_replayed() {
        let mut session = Session::new("tok".into(), Intents::needed(false));
        session.on_payload(ready());
        let names = |actions: Vec<Action>| -> Vec<String> {
            actions
                .into_iter()
                .filter_map(|a| match a {
                    Action::Event { name, .. } => Some(name),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            names(session.on_payload(dispatch(2, "A", json!({})))),
            ["A"]
        );
        assert_eq!(
            names(session.on_payload(dispatch(3, "B", json!({})))),
            ["B"]
        );
        // After a resume the gateway replays from the last one it thinks
        // was seen: those already acted on are not passed on again.
        assert!(names(session.on_payload(dispatch(3, "B", json!({})))).is_empty());
        assert!(names(session.on_payload(dispatch(2, "A", json!({})))).is_empty());
        assert_eq!(
            names(session.on_payload(dispatch(4, "C", json!({})))),
            ["C"]
        );
        assert_eq!(session.sequence(), Some(4));
    }

    #[test]
    fn a_heartbeat_without_its_ack_means_a_zombie_to_resume() {
        let mut session = Session::new("tok".into(), Intents::needed(false));
        session.on_payload(ready());
        let Action::Send(beat) = session.on_heartbeat_due() else {
            panic!()
        };
        assert_eq!((beat.op, beat.d.clone()), (1, json!(1)));
        session.on_payload(payload(json!({"op": 11})));
        assert!(
            matches!(session.on_heartbeat_due(), Action::Send(_)),
            "acked: beat again"
        );
        session.on_payload(dispatch(2, "PRESENCE_UPDATE", json!({})));
        assert!(
            matches!(session.on_heartbeat_due(), Action::Send(_)),
            "no ACK yet, but events came: alive, beat again"
        );
        assert_eq!(
            session.on_heartbeat_due(),
            Action::Reconnect { resume: true },
            "no ack since the last beat"
        );
        // The gateway may ask for a beat at any time.
        assert_eq!(sent(&session.on_payload(payload(json!({"op": 1})))), [1]);
    }

    #[test]
    fn reconnect_resumes_and_an_invalid_session_says_which() {
        let mut session = Session::new("tok".into(), Intents::needed(false));
        session.on_payload(ready());
        assert_eq!(
            session.on_payload(payload(json!({"op": 7}))),
            [Action::Reconnect { resume: true }]
        );
        assert_eq!(
            session.on_payload(payload(json!({"op": 9, "d": true}))),
            [Action::Reconnect { resume: true }]
        );
        assert!(session.can_resume());
        assert_eq!(
            session.on_payload(payload(json!({"op": 9, "d": false}))),
            [Action::Reconnect { resume: false }]
        );
        assert!(!session.can_resume(), "a new session is needed");
        assert_eq!(sent(&session.on_payload(hello())), [2], "IDENTIFY again");
    }

    #[test]
    fn closes_resume_identify_or_stop() {
        let mut session = Session::new("tok".into(), Intents::needed(true));
        assert_eq!(session.on_close(None), Ok(false), "nothing to resume yet");
        session.on_payload(ready());
        assert_eq!(
            session.on_close(None),
            Ok(true),
            "a dropped connection resumes"
        );
        assert_eq!(session.on_close(Some(4000)), Ok(true));
        assert_eq!(
            session.on_close(Some(4009)),
            Ok(false),
            "timed out: identify anew"
        );
        assert!(!session.can_resume());
        let fatal = session.on_close(Some(4014)).unwrap_err();
        assert!(fatal.0.contains("developer portal"), "{fatal}");
        assert!(session.on_close(Some(4004)).is_err());
        assert!(
            !format!("{session:?}").contains("tok\""),
            "the token stays out of Debug"
        );
    }

    #[test]
    fn a_ready_without_a_resume_url_resumes_at_the_gateway() {
        let mut session = Session::new("tok".into(), Intents::needed(false));
        session.on_payload(hello());
        session.on_payload(dispatch(1, "READY", json!({"session_id": "sess"})));
        assert!(session.can_resume());
        assert!(!session.resumes_at_given_url(), "ask where the gateway is");
        assert_eq!(
            session.url("wss://gateway.example"),
            "wss://gateway.example/?v=10&encoding=json"
        );
        session.on_payload(dispatch(
            2,
            "READY",
            json!({"session_id": "sess2", "resume_gateway_url": "wss://resume.example"}),
        ));
        assert!(session.resumes_at_given_url());
    }
}
