//! The values d-back deals in, already checked: whatever a plugin or an
//! operator hands the host is turned into these types at the boundary, so
//! the rest of the host never sees a malformed color or an empty uid.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A member's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Idle,
    Dnd,
    Offline,
}

/// A `#rrggbb` role color. Read from JSON through [`RoleColor::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleColor(String);

impl TryFrom<String> for RoleColor {
    type Error = InvalidValue;

    fn try_from(text: String) -> Result<Self, InvalidValue> {
        Self::parse(&text)
    }
}

impl From<RoleColor> for String {
    fn from(color: RoleColor) -> Self {
        color.0
    }
}

impl RoleColor {
    /// Accepts exactly `#` followed by six hex digits.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let bytes = text.as_bytes();
        if bytes.len() == 7 && bytes[0] == b'#' && bytes[1..].iter().all(u8::is_ascii_hexdigit) {
            Ok(Self(text.to_string()))
        } else {
            Err(InvalidValue(format!(
                "role color {:?} is not #rrggbb",
                clip(text)
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value that breaks the rules of its type; the text says which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// A server as a provider describes it.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerEntry {
    /// Discord snowflake; the key of `server-list` and of broadcasts.
    pub snowflake: String,
    /// Short name browsers ask for.
    pub id: String,
    pub name: String,
    pub passworded: bool,
    pub is_default: bool,
    /// Legacy shared password. Never sent to browsers, never logged.
    pub password: Option<String>,
}

impl fmt::Debug for ServerEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerEntry")
            .field("snowflake", &self.snowflake)
            .field("id", &self.id)
            .field("name", &self.name)
            .field("passworded", &self.passworded)
            .field("is_default", &self.is_default)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One member of a server. Serialized only between the nodes of a
/// cluster (read back with the color's check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub uid: String,
    pub username: String,
    pub status: Status,
    pub role_color: RoleColor,
}

/// What a browser claims about itself when it joins with Discord OAuth2.
#[derive(Clone, PartialEq, Eq)]
pub struct DiscordUserClaim {
    pub id: String,
    pub username: String,
    /// The whole object as JSON text.
    pub raw_json: String,
}

impl fmt::Debug for DiscordUserClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordUserClaim")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A response a plugin serves for a plain HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticReply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A presence change to broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceUpdate {
    pub uid: String,
    pub status: Status,
    pub username: Option<String>,
    pub role_color: Option<RoleColor>,
    /// Removes the member's actor.
    pub delete: bool,
}

/// Something to broadcast to every connection bound to `server`. Its JSON
/// is how nodes of a cluster pass broadcasts to each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    Presence {
        server: String,
        update: PresenceUpdate,
    },
    Message {
        server: String,
        uid: String,
        message: String,
        channel: String,
    },
    ClientId {
        server: String,
        client_id: String,
    },
}

/// Fails when a required text is empty.
pub fn require_non_empty(what: &str, value: &str) -> Result<(), InvalidValue> {
    if value.is_empty() {
        Err(InvalidValue(format!("{what} is empty")))
    } else {
        Ok(())
    }
}

/// At most 40 characters of `text`, for error messages about bad values.
pub fn clip(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_color_accepts_only_hash_and_six_hex_digits() {
        assert!(RoleColor::parse("#ff6b6b").is_ok());
        assert!(RoleColor::parse("#ABCDEF").is_ok());
        for bad in ["ff6b6b", "#ff6b6", "#ff6b6bb", "#gg0000", "", "#", "red"] {
            assert!(RoleColor::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn debug_output_hides_password() {
        let entry = ServerEntry {
            snowflake: "1".into(),
            id: "a".into(),
            name: "A".into(),
            passworded: true,
            is_default: false,
            password: Some("hunter2".into()),
        };
        assert!(!format!("{entry:?}").contains("hunter2"));
    }
}
