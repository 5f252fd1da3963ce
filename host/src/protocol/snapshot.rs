//! Server and member lists as the host shares them: one read-only copy per
//! plugin answer, held by the cache, the last good answer and every
//! connection that uses it, its JSON rendered once, when the answer comes.
//! A join or a server list then costs a copy of finished bytes, however
//! many browsers ask.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::outbound::{ServerFrame, users_json};
use crate::model::{Member, ServerEntry};
use crate::protocol::inbound::DEFAULT_SERVER;

/// A plugin's server list with its `server-list` frame.
#[derive(Debug)]
pub struct ServerList {
    entries: Box<[ServerEntry]>,
    /// The finished WebSocket frame every browser gets first.
    frame: Bytes,
}

/// How the host passes a server list around.
pub type Servers = Arc<ServerList>;

impl ServerList {
    pub fn new(entries: Vec<ServerEntry>) -> Servers {
        let frame = ServerFrame::ServerList(&entries).to_frame();
        Arc::new(Self {
            entries: entries.into_boxed_slice(),
            frame,
        })
    }

    pub fn empty() -> Servers {
        Self::new(Vec::new())
    }

    pub fn entries(&self) -> &[ServerEntry] {
        &self.entries
    }

    /// The `server-list` frame, shared.
    pub fn frame(&self) -> Bytes {
        self.frame.clone()
    }

    /// The first server whose id is `requested`, or, for `"default"`, the
    /// first marked default.
    pub fn find(&self, requested: &str) -> Option<&ServerEntry> {
        self.entries
            .iter()
            .find(|s| s.id == requested || (requested == DEFAULT_SERVER && s.is_default))
    }
}

/// A plugin's member list of one server with its `users` object rendered,
/// and at most one rendering of it with the server's remembered presences
/// laid over it. So a list holds at most its members and two renderings;
/// [`MemberList::weight`] counts all three.
#[derive(Debug)]
pub struct MemberList {
    members: Box<[Member]>,
    json: Bytes,
    overlaid: Mutex<Option<Overlaid>>,
}

/// A rendering with presences laid over, and the stamp of the presences
/// it was made with (see `PresenceMemory::stamp`).
#[derive(Debug)]
struct Overlaid {
    stamp: u64,
    json: Bytes,
}

/// How the host passes a member list around.
pub type Members = Arc<MemberList>;

/// What one member costs beyond its texts (the record and its slot).
const MEMBER_OVERHEAD: usize = 64;

impl MemberList {
    pub fn new(members: Vec<Member>) -> Members {
        let json = users_json(&members);
        Arc::new(Self {
            members: members.into_boxed_slice(),
            json,
            overlaid: Mutex::default(),
        })
    }

    pub fn empty() -> Members {
        Self::new(Vec::new())
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The `users` object of a `server-join` frame.
    pub fn json(&self) -> Bytes {
        self.json.clone()
    }

    /// The overlaid rendering made with presences stamped `stamp`, if that
    /// is the one kept.
    pub fn overlaid(&self, stamp: u64) -> Option<Bytes> {
        self.lock()
            .as_ref()
            .filter(|kept| kept.stamp == stamp)
            .map(|kept| kept.json.clone())
    }

    /// Renders `members` (this list with the presences stamped `stamp`
    /// laid over it) and keeps it in place of the last such rendering.
    pub fn keep_overlaid(&self, stamp: u64, members: &[Member]) -> Bytes {
        let json = users_json(members);
        *self.lock() = Some(Overlaid {
            stamp,
            json: json.clone(),
        });
        json
    }

    /// Bytes this list may hold: its members, its rendering, and an
    /// overlaid rendering of about the same size.
    pub fn weight(&self) -> usize {
        let members: usize = self
            .members
            .iter()
            .map(|m| m.uid.len() + m.username.len() + MEMBER_OVERHEAD)
            .sum();
        members + 2 * self.json.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Overlaid>> {
        self.overlaid.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl FromIterator<Member> for Members {
    fn from_iter<I: IntoIterator<Item = Member>>(iter: I) -> Self {
        MemberList::new(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RoleColor, Status};

    fn server(id: &str, is_default: bool) -> ServerEntry {
        ServerEntry {
            snowflake: format!("{id}-snowflake"),
            id: id.into(),
            name: id.into(),
            passworded: false,
            is_default,
            password: None,
        }
    }

    #[test]
    fn finds_by_id_in_order_or_the_first_default() {
        let servers = ServerList::new(vec![
            server("a", false),
            server("b", true),
            server("c", true),
        ]);
        assert_eq!(servers.find("c").unwrap().id, "c");
        assert_eq!(servers.find("default").unwrap().id, "b");
        assert!(servers.find("zzz").is_none());
        assert!(
            ServerList::new(vec![server("a", false)])
                .find("default")
                .is_none()
        );
    }

    #[test]
    fn the_server_list_frame_is_rendered_once_and_shared() {
        let servers = ServerList::new(vec![server("a", true)]);
        let (one, two) = (servers.frame(), servers.frame());
        assert_eq!(one.as_ptr(), two.as_ptr(), "the same bytes, not a copy");
        assert!(one.ends_with(br#""default":true}}}"#));
    }

    #[test]
    fn one_overlaid_rendering_is_kept_per_stamp() {
        let member = |status| Member {
            uid: "1".into(),
            username: "one".into(),
            status,
            role_color: RoleColor::parse("#000000").unwrap(),
        };
        let list = MemberList::new(vec![member(Status::Offline)]);
        assert!(list.json().starts_with(br#"{"1":{"uid":"1""#));
        assert!(list.overlaid(1).is_none());
        let kept = list.keep_overlaid(1, &[member(Status::Dnd)]);
        assert_eq!(list.overlaid(1).unwrap().as_ptr(), kept.as_ptr());
        assert!(list.overlaid(2).is_none(), "newer presences, not this one");
        assert!(
            std::str::from_utf8(&list.json())
                .unwrap()
                .contains("offline")
        );
        assert!(list.weight() >= 2 * list.json().len());
    }
}
