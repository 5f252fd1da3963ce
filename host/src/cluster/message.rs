//! What one node tells the others through Redis: a broadcast, and which
//! node made it. JSON, checked again on arrival like any other input.

use serde::{Deserialize, Serialize};

use crate::model::{Event, InvalidValue};

/// Bytes of one message at most; a broadcast is far smaller (the HTTP API
/// caps its body), so anything bigger is not from a node of ours.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// One broadcast, and the node that made it. The event is read back with
/// its own checks (a role color must be `#rrggbb`).
#[derive(Debug, Serialize, Deserialize)]
struct Envelope<E> {
    node: String,
    event: E,
}

/// The message for `event` made on `node`.
pub fn encode(node: &str, event: &Event) -> Vec<u8> {
    let envelope = Envelope {
        node: node.to_string(),
        event,
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
    let envelope: Envelope<Event> = serde_json::from_slice(bytes)
        .map_err(|error| InvalidValue(format!("not a cluster message: {error}")))?;
    Ok((envelope.node, envelope.event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PresenceUpdate, RoleColor, Status};

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
            br##"{"node":"n","event":{"kind":"presence","server":"s","update":{"uid":"1","status":"online","username":null,"role_color":"red","delete":false}}}"##,
            br##"{"node":"n","event":{"kind":"shout","server":"s"}}"##,
        ] {
            assert!(decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(decode(&vec![b' '; MAX_MESSAGE_BYTES + 1]).is_err());
    }
}
