//! The latest broadcast presence per server and member, laid over the member
//! list a provider returns when a browser joins: providers that cannot know
//! presence (Discord's REST API cannot) still show current statuses to a
//! browser that joins late.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::{Member, PresenceUpdate, RoleColor};

/// Members remembered per server, and servers remembered, at most; past
/// either, new entries are not remembered (existing ones still update).
const MAX_MEMBERS_PER_SERVER: usize = 25_000;
const MAX_SERVERS: usize = 10_000;

/// Discord's color for members without a colored role.
const NEUTRAL_COLOR: &str = "#99aab5";

#[derive(Debug, Default)]
pub struct PresenceMemory {
    servers: Mutex<HashMap<String, HashMap<String, PresenceUpdate>>>,
}

impl PresenceMemory {
    /// Remembers `update`, or forgets the member when it is a `delete`.
    pub fn remember(&self, server: &str, update: &PresenceUpdate) {
        let mut servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        if update.delete {
            if let Some(members) = servers.get_mut(server) {
                members.remove(&update.uid);
                if members.is_empty() {
                    servers.remove(server);
                }
            }
            return;
        }
        if !servers.contains_key(server) && servers.len() >= MAX_SERVERS {
            return;
        }
        let members = servers.entry(server.to_string()).or_default();
        let room = members.len() < MAX_MEMBERS_PER_SERVER;
        match members.get_mut(&update.uid) {
            Some(known) => {
                known.status = update.status;
                if update.username.is_some() {
                    known.username.clone_from(&update.username);
                }
                if update.role_color.is_some() {
                    known.role_color.clone_from(&update.role_color);
                }
            }
            None if room => {
                members.insert(update.uid.clone(), update.clone());
            }
            None => {}
        }
    }

    /// Lays what is remembered for `server` over `members`: statuses (and
    /// names and colors, when broadcast) win, and remembered members the
    /// provider did not list are added when their name is known.
    pub fn overlay(&self, server: &str, members: &mut Vec<Member>) {
        let servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(remembered) = servers.get(server) else {
            return;
        };
        let mut seen = std::collections::HashSet::new();
        for member in members.iter_mut() {
            if let Some(update) = remembered.get(&member.uid) {
                member.status = update.status;
                if let Some(username) = &update.username {
                    member.username.clone_from(username);
                }
                if let Some(color) = &update.role_color {
                    member.role_color = color.clone();
                }
            }
            seen.insert(member.uid.clone());
        }
        let mut added: Vec<Member> = remembered
            .values()
            .filter(|update| !seen.contains(&update.uid))
            .filter_map(|update| {
                let username = update.username.clone().filter(|name| !name.is_empty())?;
                Some(Member {
                    uid: update.uid.clone(),
                    username,
                    status: update.status,
                    role_color: update.role_color.clone().unwrap_or_else(neutral_color),
                })
            })
            .collect();
        added.sort_by(|a, b| a.uid.cmp(&b.uid));
        members.extend(added);
    }
}

fn neutral_color() -> RoleColor {
    RoleColor::parse(NEUTRAL_COLOR).expect("a valid color")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn update(uid: &str, status: Status, username: Option<&str>, delete: bool) -> PresenceUpdate {
        PresenceUpdate {
            uid: uid.into(),
            status,
            username: username.map(str::to_string),
            role_color: None,
            delete,
        }
    }

    fn member(uid: &str, status: Status) -> Member {
        Member {
            uid: uid.into(),
            username: format!("user {uid}"),
            status,
            role_color: RoleColor::parse("#123456").unwrap(),
        }
    }

    #[test]
    fn overlays_statuses_adds_named_newcomers_and_forgets_deletes() {
        let memory = PresenceMemory::default();
        memory.remember("s", &update("1", Status::Dnd, None, false));
        memory.remember("s", &update("2", Status::Idle, Some("newcomer"), false));
        memory.remember("s", &update("3", Status::Online, None, false));
        memory.remember("other", &update("1", Status::Offline, None, false));

        let mut members = vec![member("1", Status::Offline)];
        memory.overlay("s", &mut members);
        assert_eq!(members.len(), 2, "nameless newcomers are not drawn");
        assert_eq!(members[0].status, Status::Dnd);
        assert_eq!(members[0].username, "user 1");
        assert_eq!(
            (members[1].uid.as_str(), members[1].username.as_str()),
            ("2", "newcomer")
        );

        memory.remember("s", &update("1", Status::Offline, None, true));
        let mut members = vec![member("1", Status::Online)];
        memory.overlay("s", &mut members);
        assert_eq!(members[0].status, Status::Online);
    }
}
