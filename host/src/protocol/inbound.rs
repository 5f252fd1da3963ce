//! What browsers send: only `connect`.

use std::fmt;

use serde_json::{Map, Value};

use super::texts;
use crate::model::DiscordUserClaim;

/// The server id meaning "whichever server is marked default".
pub const DEFAULT_SERVER: &str = "default";

/// A browser asks to join a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The requested short id, trimmed; [`DEFAULT_SERVER`] when the browser
    /// sent none, `null` or only blanks.
    pub server: String,
    pub credentials: Credentials,
}

/// What a browser may send to join a passworded server. Its `Debug` output
/// never shows the token or the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub discord_token: Option<String>,
    pub discord_user: Option<DiscordUserClaim>,
    /// d-back's legacy shared password.
    pub password: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |present: bool| if present { "<redacted>" } else { "<none>" };
        f.debug_struct("Credentials")
            .field("discord_token", &redact(self.discord_token.is_some()))
            .field("discord_user", &self.discord_user)
            .field("password", &redact(self.password.is_some()))
            .finish()
    }
}

/// A frame the server cannot act on. The connection stays open: the browser
/// gets an `error` frame with [`ClientError::message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("frame is not JSON")]
    InvalidJson,
    #[error("binary frame is not UTF-8")]
    InvalidBinaryEncoding,
    #[error("frame type is not \"connect\"")]
    UnknownEventType,
    #[error("connect frame without a data object")]
    MissingData,
    #[error("requested server is not a string")]
    UnusableServerId,
}

impl ClientError {
    /// The text shown to the person in front of the browser.
    pub fn message(self) -> &'static str {
        match self {
            Self::InvalidJson => texts::INVALID_JSON,
            Self::InvalidBinaryEncoding => texts::INVALID_BINARY_ENCODING,
            Self::UnknownEventType => texts::UNKNOWN_EVENT_TYPE,
            Self::MissingData => texts::CONNECT_WITHOUT_DATA,
            Self::UnusableServerId => texts::SERVER_NOT_FOUND,
        }
    }
}

/// Reads one text frame (or a binary frame's bytes, once they are known to be
/// UTF-8).
pub fn parse_client_frame(text: &str) -> Result<ConnectRequest, ClientError> {
    let value: Value = serde_json::from_str(text).map_err(|_| ClientError::InvalidJson)?;
    let frame = value.as_object().ok_or(ClientError::UnknownEventType)?;
    if frame.get("type").and_then(Value::as_str) != Some("connect") {
        return Err(ClientError::UnknownEventType);
    }
    let data = frame
        .get("data")
        .and_then(Value::as_object)
        .ok_or(ClientError::MissingData)?;
    Ok(ConnectRequest {
        server: requested_server(data.get("server"))?,
        credentials: Credentials {
            discord_token: non_empty_string(data.get("discordToken")),
            discord_user: data
                .get("discordUser")
                .and_then(Value::as_object)
                .map(discord_user),
            password: non_empty_string(data.get("password")),
        },
    })
}

/// Decodes a binary frame: d-back accepts UTF-8 JSON in binary frames too.
pub fn parse_binary_frame(bytes: &[u8]) -> Result<ConnectRequest, ClientError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ClientError::InvalidBinaryEncoding)?;
    parse_client_frame(text)
}

fn requested_server(value: Option<&Value>) -> Result<String, ClientError> {
    let id = match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.trim().to_string(),
        // Snowflake-looking ids sometimes arrive as numbers from hand-written clients.
        Some(Value::Number(number)) => number.to_string(),
        Some(_) => return Err(ClientError::UnusableServerId),
    };
    Ok(if id.is_empty() {
        DEFAULT_SERVER.to_string()
    } else {
        id
    })
}

fn non_empty_string(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

fn discord_user(object: &Map<String, Value>) -> DiscordUserClaim {
    let field = |name: &str| match object.get(name) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    };
    DiscordUserClaim {
        id: field("id"),
        username: field("username"),
        raw_json: Value::Object(object.clone()).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_of(frame: &str) -> String {
        parse_client_frame(frame).unwrap().server
    }

    #[test]
    fn missing_null_and_blank_server_mean_default() {
        assert_eq!(server_of(r#"{"type":"connect","data":{}}"#), "default");
        assert_eq!(
            server_of(r#"{"type":"connect","data":{"server":null}}"#),
            "default"
        );
        assert_eq!(
            server_of(r#"{"type":"connect","data":{"server":"  "}}"#),
            "default"
        );
        assert_eq!(
            server_of(r#"{"type":"connect","data":{"server":" docs "}}"#),
            "docs"
        );
        assert_eq!(
            server_of(r#"{"type":"connect","data":{"server":42}}"#),
            "42"
        );
    }

    #[test]
    fn errors_match_the_clients_texts() {
        let cases = [
            ("not json", ClientError::InvalidJson),
            ("[1,2]", ClientError::UnknownEventType),
            (r#"{"type":"hello"}"#, ClientError::UnknownEventType),
            (r#"{"data":{}}"#, ClientError::UnknownEventType),
            (r#"{"type":"connect"}"#, ClientError::MissingData),
            (
                r#"{"type":"connect","data":null}"#,
                ClientError::MissingData,
            ),
            (
                r#"{"type":"connect","data":{"server":[1]}}"#,
                ClientError::UnusableServerId,
            ),
        ];
        for (frame, expected) in cases {
            assert_eq!(parse_client_frame(frame), Err(expected), "{frame}");
        }
        assert_eq!(
            parse_binary_frame(&[0xff, 0xfe]),
            Err(ClientError::InvalidBinaryEncoding)
        );
        assert_eq!(ClientError::InvalidJson.message(), "Invalid JSON");
    }

    #[test]
    fn credentials_are_read_and_never_shown() {
        let request = parse_client_frame(
            r#"{"type":"connect","data":{"server":"oauth","discordToken":"tok-123",
                "discordUser":{"id":"42","username":"ann","avatar":"x"},"password":"pw-456"}}"#,
        )
        .unwrap();
        let user = request.credentials.discord_user.clone().unwrap();
        assert_eq!((user.id.as_str(), user.username.as_str()), ("42", "ann"));
        assert!(user.raw_json.contains("avatar"));
        assert_eq!(
            request.credentials.discord_token.as_deref(),
            Some("tok-123")
        );
        let shown = format!("{request:?}");
        assert!(
            !shown.contains("tok-123") && !shown.contains("pw-456"),
            "{shown}"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_text_parses_or_gets_a_client_text(text in any::<String>()) {
            match parse_client_frame(&text) {
                Ok(request) => prop_assert!(!request.server.is_empty()),
                Err(error) => prop_assert!(!error.message().is_empty()),
            }
        }

        #[test]
        fn any_bytes_parse_or_get_a_client_text(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Err(error) = parse_binary_frame(&bytes) {
                prop_assert!(!error.message().is_empty());
            }
        }

        #[test]
        fn connect_frames_trim_and_default_the_server(
            server in prop::option::of(any::<String>()),
            token in prop::option::of(any::<String>()),
        ) {
            let frame = serde_json::json!({
                "type": "connect",
                "data": {"server": server, "discordToken": token},
            });
            let request = parse_client_frame(&frame.to_string()).unwrap();
            let expected = server
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .unwrap_or(DEFAULT_SERVER);
            prop_assert_eq!(request.server.as_str(), expected);
            prop_assert_eq!(request.credentials.discord_token, token.filter(|t| !t.is_empty()));
        }
    }
}
