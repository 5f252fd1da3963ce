//! The latest broadcast presence per server and member, laid over the member
//! list a provider returns when a browser joins: providers that cannot know
//! presence (Discord's REST API cannot) still show current statuses to a
//! browser that joins late.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::{Member, PresenceUpdate, RoleColor};

/// The bounds of the memory, and its rule: members per server, servers,
/// and bytes of ids and names in all. Past any of them a new server or
/// member is not remembered (known ones still update, and a delete always
/// frees its entry). 32 MiB holds every member of a few large servers; the
/// plugin's own answers stay the source of who is a member.
pub const MAX_MEMBERS_PER_SERVER: usize = 25_000;
pub const MAX_SERVERS: usize = 1_000;
pub const MAX_BYTES: usize = 32 << 20;

/// What one entry costs beyond its texts (map slots, the record itself).
const ENTRY_OVERHEAD: usize = 96;

/// Discord's color for members without a colored role.
const NEUTRAL_COLOR: &str = "#99aab5";

#[derive(Debug, Default)]
pub struct PresenceMemory {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    servers: HashMap<String, Remembered>,
    /// Bytes held, as [`cost`] counts them.
    bytes: usize,
    /// The last stamp given out.
    last_stamp: u64,
}

/// What is remembered of one server, and the stamp of its last change:
/// stamps only grow, across servers, so an equal stamp means the same
/// presences (a rendering made with them is still right).
#[derive(Debug, Default)]
struct Remembered {
    stamp: u64,
    members: HashMap<String, PresenceUpdate>,
}

fn cost(update: &PresenceUpdate) -> usize {
    ENTRY_OVERHEAD + update.uid.len() + update.username.as_ref().map_or(0, String::len)
}

impl PresenceMemory {
    /// Remembers `update`, or forgets the member when it is a `delete`.
    pub fn remember(&self, server: &str, update: &PresenceUpdate) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let State {
            servers,
            bytes,
            last_stamp,
        } = &mut *state;
        *last_stamp += 1;
        if update.delete {
            if let Some(remembered) = servers.get_mut(server) {
                remembered.stamp = *last_stamp;
                if let Some(gone) = remembered.members.remove(&update.uid) {
                    *bytes -= cost(&gone);
                }
                if remembered.members.is_empty() {
                    servers.remove(server);
                }
            }
            return;
        }
        let full = *bytes + cost(update) > MAX_BYTES;
        if !servers.contains_key(server) && (servers.len() >= MAX_SERVERS || full) {
            return;
        }
        let remembered = servers.entry(server.to_string()).or_default();
        remembered.stamp = *last_stamp;
        let members = &mut remembered.members;
        let room = members.len() < MAX_MEMBERS_PER_SERVER && !full;
        match members.get_mut(&update.uid) {
            Some(known) => {
                let before = cost(known);
                known.status = update.status;
                if update.username.is_some() && (!full || before >= cost(update)) {
                    known.username.clone_from(&update.username);
                }
                if update.role_color.is_some() {
                    known.role_color.clone_from(&update.role_color);
                }
                *bytes = *bytes - before + cost(known);
            }
            None if room => {
                *bytes += cost(update);
                members.insert(update.uid.clone(), update.clone());
            }
            None => {}
        }
    }

    /// What is remembered of member `uid` of `server`.
    pub fn get(&self, server: &str, uid: &str) -> Option<PresenceUpdate> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.servers.get(server)?.members.get(uid).cloned()
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// The stamp of what is remembered for `server` now, or `None` when
    /// nothing is.
    pub fn stamp(&self, server: &str) -> Option<u64> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.servers.get(server).map(|remembered| remembered.stamp)
    }

    /// `members` with what is remembered for `server` laid over them (by
    /// `overlay_onto`), and the stamp of what was laid; `None` when
    /// nothing is remembered (the list is then used as it is, uncopied).
    pub fn overlaid(&self, server: &str, members: &[Member]) -> Option<(u64, Vec<Member>)> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let remembered = state.servers.get(server)?;
        let mut copy = members.to_vec();
        overlay_onto(&remembered.members, &mut copy);
        Some((remembered.stamp, copy))
    }
}

/// Statuses (and names and colors, when broadcast) of `remembered` win;
/// remembered members missing from `members` are added when their name is
/// known.
fn overlay_onto(remembered: &HashMap<String, PresenceUpdate>, members: &mut Vec<Member>) {
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

        let (stamp, members) = memory
            .overlaid("s", &[member("1", Status::Offline)])
            .unwrap();
        assert_eq!(memory.stamp("s"), Some(stamp));
        assert_eq!(members.len(), 2, "nameless newcomers are not drawn");
        assert_eq!(members[0].status, Status::Dnd);
        assert_eq!(members[0].username, "user 1");
        assert_eq!(
            (members[1].uid.as_str(), members[1].username.as_str()),
            ("2", "newcomer")
        );

        memory.remember("s", &update("1", Status::Offline, None, true));
        assert!(memory.stamp("s").unwrap() > stamp, "a delete is a change");
        let (_, members) = memory
            .overlaid("s", &[member("1", Status::Online)])
            .unwrap();
        assert_eq!(members[0].status, Status::Online);
        assert!(
            memory.overlaid("unknown", &members).is_none(),
            "nothing remembered, nothing copied"
        );
    }

    #[test]
    fn bytes_are_counted_and_bounded() {
        let memory = PresenceMemory::default();
        let name = "n".repeat(4000);
        for n in 0..20_000 {
            let server = format!("s{}", n % 500);
            memory.remember(
                &server,
                &update(&n.to_string(), Status::Online, Some(&name), false),
            );
        }
        assert!(memory.bytes() <= MAX_BYTES);
        assert!(memory.bytes() > MAX_BYTES - 5000, "filled up to the bound");
        for n in 0..20_000 {
            let server = format!("s{}", n % 500);
            memory.remember(&server, &update(&n.to_string(), Status::Online, None, true));
        }
        assert_eq!(memory.bytes(), 0, "deletes free what they held");
    }
}
