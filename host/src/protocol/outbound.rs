//! What the server sends. Each frame renders to its JSON text once; a
//! broadcast shares that text with every connection it goes to.

use serde_json::{Map, Value, json};

use crate::model::{Member, PresenceUpdate, ServerEntry};

/// One server-to-browser frame.
#[derive(Debug, Clone, Copy)]
pub enum ServerFrame<'a> {
    /// First frame on every connection. Shows only public fields.
    ServerList(&'a [ServerEntry]),
    /// Answer to a successful `connect`.
    ServerJoin {
        users: &'a [Member],
        requested: &'a str,
        server_name: &'a str,
        client_id: Option<&'a str>,
    },
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
    pub fn to_json(self) -> String {
        self.to_value().to_string()
    }

    fn to_value(self) -> Value {
        match self {
            Self::ServerList(servers) => {
                let data: Map<String, Value> = servers
                    .iter()
                    .map(|s| {
                        let public = json!({
                            "id": s.id,
                            "name": s.name,
                            "passworded": s.passworded,
                            "default": s.is_default,
                        });
                        (s.snowflake.clone(), public)
                    })
                    .collect();
                json!({ "type": "server-list", "data": data })
            }
            Self::ServerJoin {
                users,
                requested,
                server_name,
                client_id,
            } => {
                let users: Map<String, Value> = users
                    .iter()
                    .map(|m| {
                        let user = json!({
                            "uid": m.uid,
                            "username": m.username,
                            "status": m.status,
                            "roleColor": m.role_color,
                        });
                        (m.uid.clone(), user)
                    })
                    .collect();
                let mut data = json!({
                    "users": users,
                    "request": { "server": requested },
                    "serverName": server_name,
                });
                if let Some(client_id) = client_id {
                    data["clientId"] = json!(client_id);
                }
                json!({ "type": "server-join", "data": data })
            }
            Self::Presence { server, update } => {
                let mut data = json!({ "uid": update.uid, "status": update.status });
                if let Some(username) = &update.username {
                    data["username"] = json!(username);
                }
                if let Some(color) = &update.role_color {
                    data["roleColor"] = json!(color);
                }
                if update.delete {
                    data["delete"] = json!(true);
                }
                json!({ "type": "presence", "server": server, "data": data })
            }
            Self::Message {
                server,
                uid,
                message,
                channel,
            } => json!({
                "type": "message",
                "server": server,
                "data": { "uid": uid, "message": message, "channel": channel },
            }),
            Self::ClientId { server, client_id } => json!({
                "type": "update-clientid",
                "server": server,
                "data": { "clientId": client_id },
            }),
            Self::Error(message) => json!({ "type": "error", "data": { "message": message } }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RoleColor, Status};

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
        let frame = ServerFrame::ServerJoin {
            users: &users,
            requested: "default",
            server_name: "S",
            client_id: None,
        };
        assert_eq!(
            parse(frame),
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
}
