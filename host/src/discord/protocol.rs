//! Discord's gateway protocol (v10, JSON encoding), as data: what a
//! session sends and receives, and what each close code means for it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The gateway version spoken.
pub const VERSION: u8 = 10;

/// A payload's op code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// An event (`t`), with its sequence number (`s`).
    Dispatch,
    Heartbeat,
    Identify,
    Resume,
    /// The gateway asks the client to reconnect and resume.
    Reconnect,
    RequestGuildMembers,
    /// The session is invalid; `d` says whether it may be resumed.
    InvalidSession,
    /// The first payload: the heartbeat interval.
    Hello,
    HeartbeatAck,
    /// One the client does not use (presence and voice updates).
    Other(u8),
}

impl Op {
    pub fn code(self) -> u8 {
        match self {
            Self::Dispatch => 0,
            Self::Heartbeat => 1,
            Self::Identify => 2,
            Self::Resume => 6,
            Self::Reconnect => 7,
            Self::RequestGuildMembers => 8,
            Self::InvalidSession => 9,
            Self::Hello => 10,
            Self::HeartbeatAck => 11,
            Self::Other(code) => code,
        }
    }

    pub fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Dispatch,
            1 => Self::Heartbeat,
            2 => Self::Identify,
            6 => Self::Resume,
            7 => Self::Reconnect,
            8 => Self::RequestGuildMembers,
            9 => Self::InvalidSession,
            10 => Self::Hello,
            11 => Self::HeartbeatAck,
            other => Self::Other(other),
        }
    }
}

/// One gateway payload, either way. Its `Debug` leaves out the data of
/// IDENTIFY and RESUME, which carry the token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub op: u8,
    #[serde(default)]
    pub d: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<String>,
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Payload");
        out.field("op", &self.op);
        match self.op() {
            Op::Identify | Op::Resume => out.field("d", &"<redacted>"),
            _ => out.field("d", &self.d),
        };
        out.field("s", &self.s).field("t", &self.t).finish()
    }
}

/// Largest payload read: a `GUILD_CREATE` of a big guild is a few MiB; the
/// cap keeps a misbehaving gateway from filling memory.
pub const MAX_PAYLOAD_BYTES: usize = 16 << 20;

/// Why a payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("a gateway payload of {0} bytes, more than {MAX_PAYLOAD_BYTES}")]
    TooBig(usize),
    #[error("not a gateway payload: {0}")]
    Malformed(#[from] serde_json::Error),
}

impl Payload {
    pub fn read(text: &str) -> Result<Self, ReadError> {
        if text.len() > MAX_PAYLOAD_BYTES {
            return Err(ReadError::TooBig(text.len()));
        }
        Ok(serde_json::from_str(text)?)
    }

    pub fn op(&self) -> Op {
        Op::from_code(self.op)
    }

    fn new(op: Op, d: Value) -> Self {
        Self {
            op: op.code(),
            d,
            s: None,
            t: None,
        }
    }

    /// A heartbeat carrying the last sequence number seen.
    pub fn heartbeat(last_sequence: Option<u64>) -> Self {
        Self::new(Op::Heartbeat, serde_json::json!(last_sequence))
    }

    /// IDENTIFY for a bot with `token` and `intents`.
    pub fn identify(token: &str, intents: Intents) -> Self {
        Self::new(
            Op::Identify,
            serde_json::json!({
                "token": token,
                "intents": intents.bits(),
                "properties": {"os": std::env::consts::OS, "browser": "d-back", "device": "d-back"},
                "large_threshold": 250,
            }),
        )
    }

    /// RESUME of `session_id` after `sequence`.
    pub fn resume(token: &str, session_id: &str, sequence: u64) -> Self {
        Self::new(
            Op::Resume,
            serde_json::json!({"token": token, "session_id": session_id, "seq": sequence}),
        )
    }

    /// Asks for every member of `guild` with their presences (large guilds
    /// send no presences in `GUILD_CREATE` for members beyond the threshold).
    pub fn request_members(guild: &str, nonce: &str) -> Self {
        Self::new(
            Op::RequestGuildMembers,
            serde_json::json!({"guild_id": guild, "query": "", "limit": 0, "presences": true, "nonce": nonce}),
        )
    }

    /// HELLO's heartbeat interval.
    pub fn heartbeat_interval(&self) -> Option<Duration> {
        (self.op() == Op::Hello)
            .then(|| self.d.get("heartbeat_interval")?.as_u64())
            .flatten()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    }

    /// INVALID_SESSION's "may resume".
    pub fn resumable(&self) -> bool {
        self.op() == Op::InvalidSession && self.d.as_bool() == Some(true)
    }
}

/// Gateway intents: which events the gateway sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intents(u32);

impl Intents {
    pub const GUILDS: Self = Self(1 << 0);
    pub const GUILD_MEMBERS: Self = Self(1 << 1);
    pub const GUILD_PRESENCES: Self = Self(1 << 8);
    pub const GUILD_MESSAGES: Self = Self(1 << 9);
    pub const MESSAGE_CONTENT: Self = Self(1 << 15);

    pub fn bits(self) -> u32 {
        self.0
    }

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// What d-back needs: guilds, members and presences always; messages
    /// and their content only when the operator listed channels whose
    /// messages are shown (content is private until then).
    pub fn needed(show_messages: bool) -> Self {
        let base = Self::GUILDS.0 | Self::GUILD_MEMBERS.0 | Self::GUILD_PRESENCES.0;
        if show_messages {
            Self(base | Self::GUILD_MESSAGES.0 | Self::MESSAGE_CONTENT.0)
        } else {
            Self(base)
        }
    }
}

/// What a close of the gateway connection asks the session to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterClose {
    /// Connect again and RESUME (a dropped connection, most codes).
    Resume,
    /// Connect again and IDENTIFY anew: the session is gone.
    Identify,
    /// Stop: retrying cannot help. What the operator must do.
    Stop(String),
}

/// What the close `code` (none: the connection just dropped) asks for.
pub fn after_close(code: Option<u16>) -> AfterClose {
    match code {
        Some(4004) => AfterClose::Stop(
            "Discord refused the bot token (4004): set a valid bot_token in [discord]".into(),
        ),
        Some(4010) | Some(4011) => AfterClose::Stop(format!(
            "Discord asks for sharding ({}): the bot is in too many guilds for one session",
            code.unwrap_or_default()
        )),
        Some(4012) => AfterClose::Stop("Discord refused the gateway version (4012)".into()),
        Some(4013) => AfterClose::Stop("Discord refused the intents as invalid (4013)".into()),
        Some(4014) => AfterClose::Stop(
            "Discord refused privileged intents (4014): turn on the Server Members, Presence and (if channels are listed) Message Content intents on the Bot tab of the developer portal".into(),
        ),
        Some(4007) | Some(4009) => AfterClose::Identify,
        _ => AfterClose::Resume,
    }
}

/// When the first heartbeat is due: a random fraction (`jitter`, in
/// 0..1) of the interval, as Discord asks, so that clients reconnecting
/// together do not beat together.
pub fn first_heartbeat(interval: Duration, jitter: f64) -> Duration {
    interval.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_bad_ones_are_refused() {
        let hello =
            Payload::read(r#"{"op":10,"d":{"heartbeat_interval":41250},"s":null,"t":null}"#)
                .unwrap();
        assert_eq!(hello.op(), Op::Hello);
        assert_eq!(
            hello.heartbeat_interval(),
            Some(Duration::from_millis(41_250))
        );
        let dispatch = Payload::read(
            r#"{"op":0,"s":42,"t":"PRESENCE_UPDATE","d":{"user":{"id":"1"},"status":"idle"}}"#,
        )
        .unwrap();
        assert_eq!((dispatch.op(), dispatch.s), (Op::Dispatch, Some(42)));
        assert_eq!(dispatch.t.as_deref(), Some("PRESENCE_UPDATE"));
        assert!(Payload::read("not json").is_err());
        assert!(Payload::read(r#"{"d":1}"#).is_err(), "an op is required");
        assert!(
            Payload::read(r#"{"op":10,"d":{"heartbeat_interval":0}}"#)
                .unwrap()
                .heartbeat_interval()
                .is_none()
        );
        let big = format!(r#"{{"op":0,"d":"{}"}}"#, "x".repeat(MAX_PAYLOAD_BYTES));
        assert!(matches!(Payload::read(&big), Err(ReadError::TooBig(_))));
        assert!(Payload::read(r#"{"op":9,"d":true}"#).unwrap().resumable());
        assert!(!Payload::read(r#"{"op":9,"d":false}"#).unwrap().resumable());
        assert_eq!(Op::from_code(3), Op::Other(3));
    }

    #[test]
    fn what_the_client_sends_is_what_discord_expects() {
        let beat = serde_json::to_value(Payload::heartbeat(Some(7))).unwrap();
        assert_eq!(beat, serde_json::json!({"op": 1, "d": 7}));
        let first = serde_json::to_value(Payload::heartbeat(None)).unwrap();
        assert_eq!(first, serde_json::json!({"op": 1, "d": null}));
        let identify = Payload::identify("tok", Intents::needed(false));
        assert_eq!(identify.op(), Op::Identify);
        assert_eq!(identify.d["intents"], 1 | 2 | 256);
        let resume = serde_json::to_value(Payload::resume("tok", "abc", 9)).unwrap();
        assert_eq!(
            resume,
            serde_json::json!({"op": 6, "d": {"token": "tok", "session_id": "abc", "seq": 9}})
        );
        let members = Payload::request_members("5", "n");
        assert_eq!(members.d["presences"], true);
    }

    #[test]
    fn message_intents_only_when_channels_are_listed() {
        let quiet = Intents::needed(false);
        assert!(quiet.contains(Intents::GUILD_PRESENCES) && quiet.contains(Intents::GUILD_MEMBERS));
        assert!(
            !quiet.contains(Intents::MESSAGE_CONTENT) && !quiet.contains(Intents::GUILD_MESSAGES)
        );
        let chatty = Intents::needed(true);
        assert!(
            chatty.contains(Intents::MESSAGE_CONTENT) && chatty.contains(Intents::GUILD_MESSAGES)
        );
    }

    #[test]
    fn close_codes_say_resume_identify_or_stop_with_what_to_do() {
        assert_eq!(after_close(None), AfterClose::Resume);
        assert_eq!(after_close(Some(1001)), AfterClose::Resume);
        assert_eq!(after_close(Some(4000)), AfterClose::Resume);
        assert_eq!(after_close(Some(4009)), AfterClose::Identify);
        assert_eq!(after_close(Some(4007)), AfterClose::Identify);
        let AfterClose::Stop(token) = after_close(Some(4004)) else {
            panic!("4004 stops")
        };
        assert!(token.contains("bot_token"));
        let AfterClose::Stop(intents) = after_close(Some(4014)) else {
            panic!("4014 stops")
        };
        assert!(intents.contains("Server Members") && intents.contains("developer portal"));
        for code in 4010..=4013 {
            let AfterClose::Stop(why) = after_close(Some(code)) else {
                panic!("{code} stops")
            };
            assert!(why.contains(&code.to_string()), "{why}");
        }
    }

    #[test]
    fn the_first_heartbeat_is_a_fraction_of_the_interval() {
        let interval = Duration::from_millis(40_000);
        assert_eq!(
            first_heartbeat(interval, 0.25),
            Duration::from_millis(10_000)
        );
        assert_eq!(first_heartbeat(interval, 7.0), interval);
        assert_eq!(first_heartbeat(interval, -1.0), Duration::ZERO);
    }
}
