//! What one node tells the others through Redis: a broadcast, and which
//! node made it. JSON, checked again on arrival like any other input.

use serde::{Deserialize, Serialize};

use crate::model::{Event, InvalidValue, PresenceUpdate, RoleColor, Status};

/// Bytes of one message at most; a broadcast is far smaller (the HTTP API
/// caps its body), so anything bigger is not from a node of ours.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// The node that made the broadcast.
    pub node: String,
    pub event: Wire,
}

/// [`Event`] as it travels.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Wire {
    Presence {
        server: String,
        uid: String,
        status: Status,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role_color: Option<String>,
        #[serde(default)]
        delete: bool,
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

impl From<&Event> for Wire {
    fn from(event: &Event) -> Self {
        match event.clone() {
            Event::Presence { server, update } => Self::Presence {
                server,
                uid: update.uid,
                status: update.status,
                username: update.username,
                role_color: update.role_color.map(|color| color.as_str().to_string()),
                delete: update.delete,
            },
            Event::Message {
                server,
                uid,
                message,
                channel,
            } => Self::Message {
                server,
                uid,
                message,
                channel,
            },
            Event::ClientId { server, client_id } => Self::ClientId { server, client_id },
        }
    }
}

impl TryFrom<Wire> for Event {
    type Error = InvalidValue;

    fn try_from(wire: Wire) -> Result<Self, InvalidValue> {
        Ok(match wire {
            Wire::Presence {
                server,
                uid,
                status,
                username,
                role_color,
                delete,
            } => Event::Presence {
                server,
                update: PresenceUpdate {
                    uid,
                    status,
                    username,
                    role_color: role_color.as_deref().map(RoleColor::parse).transpose()?,
                    delete,
                },
            },
            Wire::Message {
                server,
                uid,
                message,
                channel,
            } => Event::Message {
                server,
                uid,
                message,
                channel,
            },
            Wire::ClientId { server, client_id } => Event::ClientId { server, client_id },
        })
    }
}

/// The message for `event` made on `node`.
pub fn encode(node: &str, event: &Event) -> Vec<u8> {
    let envelope = Envelope {
        node: node.to_string(),
        event: Wire::from(event),
    };
    serde_json::to_vec(&envelope).unwrap_or_else(|_| unreachable!("events are plain JSON"))
}

/// The node and event of a message, or why it is not one.
pub fn decode(bytes: &[u8]) -> Result<(String, Event), InvalidValue> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(InvalidValue(format!(
            "a cluster message of {} bytes, more than {MAX_MESSAGE_BYTES}",
            bytes.len()
        )));
    }
    let envelope: Envelope = serde_json::from_slice(bytes)
        .map_err(|error| InvalidValue(format!("not a cluster message: {error}")))?;
    Ok((envelope.node, Event::try_from(envelope.event)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_travels_and_bad_ones_are_refused() {
        let events = [
            Event::Presence {
                server: "s".into(),
                update: PresenceUpdate {
                    uid: "1".into(),
                    status: Status::Dnd,
                    username: Some("n".into()),
                    role_color: Some(RoleColor::parse("#123456").unwrap()),
                    delete: true,
                },
            },
            Event::Message {
                server: "s".into(),
                uid: "1".into(),
                message: "hi \"there\"".into(),
                channel: "c".into(),
            },
            Event::ClientId {
                server: "s".into(),
                client_id: "42".into(),
            },
        ];
        for event in events {
            let (node, back) = decode(&encode("n1", &event)).unwrap();
            assert_eq!((node.as_str(), back), ("n1", event));
        }
        for bad in [
            &b"{}"[..],
            b"not json",
            br##"{"node":"n","event":{"kind":"presence","server":"s","uid":"1","status":"online","role_color":"red"}}"##,
            br##"{"node":"n","event":{"kind":"shout","server":"s"}}"##,
        ] {
            assert!(decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(decode(&vec![b' '; MAX_MESSAGE_BYTES + 1]).is_err());
    }
}
