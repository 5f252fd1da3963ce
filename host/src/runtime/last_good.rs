//! The last successful answers of `get-server-data` and `get-user-data`,
//! served when a later call fails, before falling back to empty.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::{Member, ServerEntry};

/// Member lists remembered at most; the keys are snowflakes from the
/// plugin's own server list, so this is only a backstop.
const MAX_REMEMBERED_SERVERS: usize = 10_000;

#[derive(Debug, Default)]
pub struct LastGood {
    servers: Mutex<Option<Vec<ServerEntry>>>,
    users: Mutex<HashMap<String, Vec<Member>>>,
}

impl LastGood {
    pub fn remember_servers(&self, servers: &[ServerEntry]) {
        *self.servers.lock().unwrap_or_else(|e| e.into_inner()) = Some(servers.to_vec());
    }

    pub fn servers(&self) -> Option<Vec<ServerEntry>> {
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn remember_users(&self, server: &str, users: &[Member]) {
        let mut remembered = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if remembered.len() >= MAX_REMEMBERED_SERVERS && !remembered.contains_key(server) {
            return;
        }
        remembered.insert(server.to_string(), users.to_vec());
    }

    pub fn users(&self, server: &str) -> Option<Vec<Member>> {
        self.users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(server)
            .cloned()
    }
}
