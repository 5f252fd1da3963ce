//! The presence memory, shared: the node that publishes a presence also
//! writes it to a hash per server in Redis, in the same script, so what is
//! published is what is stored. A node that starts later, or was cut off
//! while others published, reads the hashes back when it (re)subscribes;
//! while subscribed, the broadcasts themselves keep its memory current.
//! Bounded like the local memory: members per server, servers, bytes.

use serde::Serialize;

use super::link::{Link, LinkError};
use crate::broadcast::presence_bounds;
use crate::model::PresenceUpdate;

/// Merges `ARGV[5]` into the member's stored presence (status always,
/// name and color when given), or forgets it on a delete, within the
/// bounds; then publishes the broadcast.
const REMEMBER_AND_PUBLISH: &str = r"
local hash, servers, total_key = KEYS[1], KEYS[2], KEYS[3]
local channel, message, server, uid, entry = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local max_members, max_servers, max_bytes = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local old = redis.call('HGET', hash, uid)
if ARGV[6] == '1' then
  if old then
    redis.call('HDEL', hash, uid)
    redis.call('DECRBY', total_key, #uid + #old)
    if redis.call('HLEN', hash) == 0 then redis.call('SREM', servers, server) end
  end
else
  if old then
    local merged = cjson.decode(old)
    local new = cjson.decode(entry)
    merged.status = new.status
    if new.username ~= cjson.null then merged.username = new.username end
    if new.role_color ~= cjson.null then merged.role_color = new.role_color end
    entry = cjson.encode(merged)
  end
  local total = tonumber(redis.call('GET', total_key) or '0')
  local grow = #entry - (old and #old or -#uid)
  local fits = total + grow <= max_bytes
  if old then
    if fits or grow <= 0 then
      redis.call('HSET', hash, uid, entry)
      redis.call('INCRBY', total_key, grow)
    end
  elseif fits and redis.call('HLEN', hash) < max_members then
    if redis.call('SISMEMBER', servers, server) == 1 or redis.call('SCARD', servers) < max_servers then
      redis.call('HSET', hash, uid, entry)
      redis.call('SADD', servers, server)
      redis.call('INCRBY', total_key, grow)
    end
  end
end
return redis.call('PUBLISH', channel, message)
";

/// How much the shared memory holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceBounds {
    pub members_per_server: usize,
    pub servers: usize,
    /// Bytes of stored entries and their member ids.
    pub bytes: usize,
}

impl Default for PresenceBounds {
    /// The local memory's.
    fn default() -> Self {
        Self {
            members_per_server: presence_bounds::MAX_MEMBERS_PER_SERVER,
            servers: presence_bounds::MAX_SERVERS,
            bytes: presence_bounds::MAX_BYTES,
        }
    }
}

/// A stored entry: the update without its `delete`.
#[derive(Serialize)]
struct Entry<'a> {
    uid: &'a str,
    status: crate::model::Status,
    username: Option<&'a str>,
    role_color: Option<&'a crate::model::RoleColor>,
    delete: bool,
}

pub struct PresenceStore {
    prefix: String,
    servers_key: String,
    bytes_key: String,
    bounds: PresenceBounds,
    script: redis::Script,
}

impl PresenceStore {
    pub fn new(prefix: &str, bounds: PresenceBounds) -> Self {
        Self {
            prefix: prefix.to_string(),
            servers_key: format!("{prefix}:presence-servers"),
            bytes_key: format!("{prefix}:presence-bytes"),
            bounds,
            script: redis::Script::new(REMEMBER_AND_PUBLISH),
        }
    }

    fn server_key(&self, server: &str) -> String {
        format!("{}:presence:{server}", self.prefix)
    }

    /// The script that stores `update` of `server` and publishes
    /// `message` on `channel`: one command for both.
    pub fn remember_and_publish(
        &self,
        channel: &str,
        message: &[u8],
        server: &str,
        update: &PresenceUpdate,
    ) -> redis::ScriptInvocation<'_> {
        let entry = Entry {
            uid: &update.uid,
            status: update.status,
            username: update.username.as_deref(),
            role_color: update.role_color.as_ref(),
            delete: false,
        };
        let mut call = self.script.prepare_invoke();
        call.key(self.server_key(server))
            .key(&self.servers_key)
            .key(&self.bytes_key)
            .arg(channel)
            .arg(message)
            .arg(server)
            .arg(&update.uid)
            .arg(serde_json::to_string(&entry).unwrap_or_default())
            .arg(if update.delete { "1" } else { "0" })
            .arg(self.bounds.members_per_server)
            .arg(self.bounds.servers)
            .arg(self.bounds.bytes);
        call
    }

    /// Stores `update` and publishes `message` through `link`.
    pub async fn remember(
        &self,
        link: &Link,
        channel: &str,
        message: &[u8],
        server: &str,
        update: &PresenceUpdate,
    ) -> Result<(), LinkError> {
        link.run::<i64>(&self.remember_and_publish(channel, message, server, update))
            .await
            .map(drop)
    }

    /// Everything stored, server by server, within the bounds; entries
    /// that do not read as presences are skipped.
    pub async fn load(&self, link: &Link) -> Result<Vec<(String, PresenceUpdate)>, LinkError> {
        let servers: Vec<String> = link
            .query(redis::cmd("SMEMBERS").arg(&self.servers_key))
            .await?;
        let mut all = Vec::new();
        for server in servers.into_iter().take(self.bounds.servers) {
            let entries: Vec<(String, String)> = link
                .query(redis::cmd("HGETALL").arg(self.server_key(&server)))
                .await?;
            all.extend(
                entries
                    .into_iter()
                    .take(self.bounds.members_per_server)
                    .filter_map(|(_, entry)| serde_json::from_str::<PresenceUpdate>(&entry).ok())
                    .filter(|update| !update.delete)
                    .map(|update| (server.clone(), update)),
            );
        }
        Ok(all)
    }
}
