//! The last successful answers of `get-server-data` and `get-user-data`,
//! served when a later call fails, before falling back to empty. They are
//! the same shared snapshots the cache and the joins hold, not copies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::protocol::{Members, Servers};

/// Member lists remembered at most; the keys are snowflakes from the
/// plugin's own server list, so this is only a backstop.
const MAX_REMEMBERED_SERVERS: usize = 10_000;

/// Bytes of remembered member lists in all, as [`crate::protocol::MemberList::weight`]
/// counts them (members and renderings): past it a list for a server not
/// yet remembered is not kept, and a longer list for a known one replaces
/// it only if it fits.
const MAX_BYTES: usize = 192 << 20;

#[derive(Debug, Default)]
pub struct LastGood {
    servers: Mutex<Option<Servers>>,
    users: Mutex<Users>,
}

#[derive(Debug, Default)]
struct Users {
    by_server: HashMap<String, (usize, Members)>,
    bytes: usize,
}

impl LastGood {
    pub fn remember_servers(&self, servers: &Servers) {
        *self.servers.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(servers));
    }

    pub fn servers(&self) -> Option<Servers> {
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Keeps `users` (shared, not copied) as the last good list of `server`.
    pub fn remember_users(&self, server: &str, users: &Members) {
        let mut remembered = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let Users { by_server, bytes } = &mut *remembered;
        if by_server
            .get(server)
            .is_some_and(|(_, known)| Arc::ptr_eq(known, users))
        {
            return;
        }
        let known = by_server.get(server).map(|(size, _)| *size);
        if known.is_none() && by_server.len() >= MAX_REMEMBERED_SERVERS {
            return;
        }
        let new = users.weight();
        let total = *bytes - known.unwrap_or(0) + new;
        if total > MAX_BYTES {
            return;
        }
        *bytes = total;
        by_server.insert(server.to_string(), (new, Arc::clone(users)));
    }

    pub fn users(&self, server: &str) -> Option<Members> {
        self.users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_server
            .get(server)
            .map(|(_, users)| Arc::clone(users))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Member, RoleColor, Status};

    fn members(count: usize, name_len: usize) -> Members {
        (0..count)
            .map(|n| Member {
                uid: n.to_string(),
                username: "n".repeat(name_len),
                status: Status::Online,
                role_color: RoleColor::parse("#000000").unwrap(),
            })
            .collect()
    }

    #[test]
    fn remembered_lists_are_bounded_in_bytes() {
        let last = LastGood::default();
        let big = members(10_000, 4_000);
        for n in 0..10 {
            last.remember_users(&n.to_string(), &big);
        }
        let kept = (0..10)
            .filter(|n| last.users(&n.to_string()).is_some())
            .count();
        assert!(kept < 10 && kept > 0, "{kept} lists kept");
        assert!(last.users.lock().unwrap().bytes <= MAX_BYTES);
        last.remember_users("0", &members(1, 1));
        assert_eq!(
            last.users("0").unwrap().members().len(),
            1,
            "a smaller list replaces"
        );
        last.remember_users("1", &big);
        assert!(
            last.users("1").is_some_and(|list| Arc::ptr_eq(&list, &big)),
            "kept once there is room, shared, not copied"
        );
    }
}
