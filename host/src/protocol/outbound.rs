//! What the server sends. Each frame renders to its JSON text once; a
//! broadcast shares that text with every connection it goes to.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::model::{Member, PresenceUpdate, RoleColor, ServerEntry, Status};

/// One server-to-browser frame.
#[derive(Debug, Clone, Copy)]
pub enum ServerFrame<'a> {
    /// First frame on every connection. Shows only public fields.
    ServerList(&'a [ServerEntry]),
    Presence {
        server: &'a str,
        update: &'a PresenceUpdate,
    },
    Message {
        server: &'a str,
        uid: &'a str,
        message: &'a str,
        channel: &'a str,
    },
    ClientId {
        server: &'a str,
        client_id: &'a str,
    },
    Error(&'a str),
}

impl ServerFrame<'_> {
    /// The frame's JSON text, written straight from the borrowed values:
    /// no intermediate tree, no copies of the member list.
    pub fn to_json(self) -> String {
        serde_json::to_string(&self).unwrap_or_else(|_| unreachable!("frames are plain JSON"))
    }

    /// The finished WebSocket frame, JSON written in place after room for
    /// the header: the bytes every browser it goes to gets.
    pub fn to_frame(self) -> bytes::Bytes {
        crate::wire::frame::text_with(|buf| {
            serde_json::to_writer(buf, &self)
                .unwrap_or_else(|_| unreachable!("frames are plain JSON"));
        })
    }
}

/// The answer to a successful `connect`. The member list comes rendered
/// (a [`super::snapshot::MemberList`]'s `users` object); the rest is
/// written around it, in d-back's key order.
#[derive(Debug, Clone, Copy)]
pub struct ServerJoin<'a> {
    pub users_json: &'a [u8],
    pub requested: &'a str,
    pub server_name: &'a str,
    pub client_id: Option<&'a str>,
}

impl ServerJoin<'_> {
    pub fn to_json(self) -> String {
        let mut out = Vec::new();
        self.write(&mut out);
        String::from_utf8(out).expect("rendered JSON is UTF-8")
    }

    pub fn to_frame(self) -> bytes::Bytes {
        crate::wire::frame::text_with(|buf| {
            buf.reserve(self.users_json.len() + 128);
            self.write(buf);
        })
    }

    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"type":"server-join","data":{"users":"#);
        out.extend_from_slice(self.users_json);
        out.extend_from_slice(br#","request":{"server":"#);
        write_str(out, self.requested);
        out.extend_from_slice(br#"},"serverName":"#);
        write_str(out, self.server_name);
        if let Some(client_id) = self.client_id {
            out.extend_from_slice(br#","clientId":"#);
            write_str(out, client_id);
        }
        out.extend_from_slice(b"}}");
    }
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).unwrap_or_else(|_| unreachable!("a string is plain JSON"));
}

/// The `users` object of a `server-join` frame: uid to member.
pub fn users_json(members: &[Member]) -> bytes::Bytes {
    let mut out = Vec::with_capacity(members.len() * 96 + 2);
    serde_json::to_writer(&mut out, &Users(members))
        .unwrap_or_else(|_| unreachable!("members are plain JSON"));
    out.into()
}

/// Every frame's outer object: `type`, then `server` for broadcasts, then
/// `data`, in the order d-back writes them.
#[derive(Serialize)]
struct Envelope<'a, D> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a str>,
    data: D,
}

fn envelope<'a, D: Serialize>(
    kind: &'static str,
    server: Option<&'a str>,
    data: D,
) -> Envelope<'a, D> {
    Envelope { kind, server, data }
}

impl Serialize for ServerFrame<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::ServerList(servers) => {
                envelope("server-list", None, PublicServers(servers)).serialize(serializer)
            }
            Self::Presence { server, update } => envelope(
                "presence",
                Some(server),
                PresenceData {
                    uid: &update.uid,
                    status: update.status,
                    username: update.username.as_deref(),
                    role_color: update.role_color.as_ref(),
                    delete: update.delete,
                },
            )
            .serialize(serializer),
            Self::Message {
                server,
                uid,
                message,
                channel,
            } => envelope(
                "message",
                Some(server),
                MessageData {
                    uid,
                    message,
                    channel,
                },
            )
            .serialize(serializer),
            Self::ClientId { server, client_id } => {
                envelope("update-clientid", Some(server), ClientIdData { client_id })
                    .serialize(serializer)
            }
            Self::Error(message) => {
                envelope("error", None, ErrorData { message }).serialize(serializer)
            }
        }
    }
}

/// Snowflake to public fields; the password never leaves the host.
struct PublicServers<'a>(&'a [ServerEntry]);

impl Serialize for PublicServers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|s| {
            let public = PublicServer {
                id: &s.id,
                name: &s.name,
                passworded: s.passworded,
                default: s.is_default,
            };
            (&s.snowflake, public)
        }))
    }
}

#[derive(Serialize)]
struct PublicServer<'a> {
    id: &'a str,
    name: &'a str,
    passworded: bool,
    default: bool,
}

/// Uid to member; uids are unique (checked at the plugin boundary, and the
/// presence overlay only adds uids not listed).
struct Users<'a>(&'a [Member]);

impl Serialize for Users<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|m| (&m.uid, User(m))))
    }
}

struct User<'a>(&'a Member);

impl Serialize for User<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("uid", &self.0.uid)?;
        map.serialize_entry("username", &self.0.username)?;
        map.serialize_entry("status", &self.0.status)?;
        map.serialize_entry("roleColor", &self.0.role_color)?;
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PresenceData<'a> {
    uid: &'a str,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_color: Option<&'a RoleColor>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    delete: bool,
}

#[derive(Serialize)]
struct MessageData<'a> {
    uid: &'a str,
    message: &'a str,
    channel: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientIdData<'a> {
    client_id: &'a str,
}

#[derive(Serialize)]
struct ErrorData<'a> {
    message: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(frame: ServerFrame<'_>) -> Value {
        serde_json::from_str(&frame.to_json()).unwrap()
    }

    #[test]
    fn server_list_has_only_public_fields() {
        let servers = [ServerEntry {
            snowflake: "99".into(),
            id: "x".into(),
            name: "X".into(),
            passworded: true,
            is_default: false,
            password: Some("secret".into()),
        }];
        assert_eq!(
            parse(ServerFrame::ServerList(&servers)),
            json!({"type":"server-list","data":{"99":{"id":"x","name":"X","passworded":true,"default":false}}})
        );
    }

    #[test]
    fn server_join_omits_unknown_client_id() {
        let users = [Member {
            uid: "1".into(),
            username: "a".into(),
            status: Status::Dnd,
            role_color: RoleColor::parse("#000000").unwrap(),
        }];
        let frame = ServerJoin {
            users_json: &users_json(&users),
            requested: "default",
            server_name: "S",
            client_id: None,
        };
        assert_eq!(
            serde_json::from_str::<Value>(&frame.to_json()).unwrap(),
            json!({"type":"server-join","data":{
                "users":{"1":{"uid":"1","username":"a","status":"dnd","roleColor":"#000000"}},
                "request":{"server":"default"},"serverName":"S"}})
        );
    }

    #[test]
    fn presence_includes_optional_fields_only_when_set() {
        let mut update = PresenceUpdate {
            uid: "7".into(),
            status: Status::Idle,
            username: None,
            role_color: None,
            delete: false,
        };
        assert_eq!(
            parse(ServerFrame::Presence {
                server: "5",
                update: &update
            }),
            json!({"type":"presence","server":"5","data":{"uid":"7","status":"idle"}})
        );
        update.delete = true;
        update.username = Some("u".into());
        assert_eq!(
            parse(ServerFrame::Presence {
                server: "5",
                update: &update
            })["data"],
            json!({"uid":"7","status":"idle","username":"u","delete":true})
        );
    }

    /// The exact text, keys in d-back's order, for every kind of frame.
    #[test]
    fn frames_are_written_in_d_backs_key_order() {
        let servers = [ServerEntry {
            snowflake: "9".into(),
            id: "x".into(),
            name: "X \"quoted\"".into(),
            passworded: false,
            is_default: true,
            password: None,
        }];
        assert_eq!(
            ServerFrame::ServerList(&servers).to_json(),
            r##"{"type":"server-list","data":{"9":{"id":"x","name":"X \"quoted\"","passworded":false,"default":true}}}"##
        );
        let users = [
            Member {
                uid: "2".into(),
                username: "b".into(),
                status: Status::Online,
                role_color: RoleColor::parse("#112233").unwrap(),
            },
            Member {
                uid: "1".into(),
                username: "a\n".into(),
                status: Status::Offline,
                role_color: RoleColor::parse("#000000").unwrap(),
            },
        ];
        let join = ServerJoin {
            users_json: &users_json(&users),
            requested: "x \"quoted\"",
            server_name: "X",
            client_id: Some("42"),
        };
        assert_eq!(
            join.to_json(),
            r##"{"type":"server-join","data":{"users":{"2":{"uid":"2","username":"b","status":"online","roleColor":"#112233"},"1":{"uid":"1","username":"a\n","status":"offline","roleColor":"#000000"}},"request":{"server":"x \"quoted\""},"serverName":"X","clientId":"42"}}"##
        );
        let update = PresenceUpdate {
            uid: "7".into(),
            status: Status::Dnd,
            username: Some("u".into()),
            role_color: Some(RoleColor::parse("#abcdef").unwrap()),
            delete: true,
        };
        assert_eq!(
            ServerFrame::Presence {
                server: "5",
                update: &update
            }
            .to_json(),
            r##"{"type":"presence","server":"5","data":{"uid":"7","status":"dnd","username":"u","roleColor":"#abcdef","delete":true}}"##
        );
        assert_eq!(
            ServerFrame::Message {
                server: "5",
                uid: "7",
                message: "hi",
                channel: "c"
            }
            .to_json(),
            r##"{"type":"message","server":"5","data":{"uid":"7","message":"hi","channel":"c"}}"##
        );
        assert_eq!(
            ServerFrame::ClientId {
                server: "5",
                client_id: "42"
            }
            .to_json(),
            r##"{"type":"update-clientid","server":"5","data":{"clientId":"42"}}"##
        );
        assert_eq!(
            ServerFrame::Error("no").to_json(),
            r##"{"type":"error","data":{"message":"no"}}"##
        );
    }
}
