//! Failed logins counted per address in Redis, for every node: one key per
//! address that expires a window after its first failure. The keys live at
//! most a window each, so Redis holds at most one per address that failed
//! within the last window.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::link::Link;
use super::membership::Membership;
use crate::limits::SharedFailures;

const RECORD_SCRIPT: &str = r"
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return failures
";

pub struct LoginFailures {
    link: Link,
    /// When Redis did not answer the last heartbeat, the local count
    /// decides alone at once instead of each login waiting for a timeout.
    membership: Arc<Membership>,
    prefix: String,
    record: redis::Script,
}

impl LoginFailures {
    pub fn new(link: Link, membership: Arc<Membership>, prefix: &str) -> Self {
        Self {
            link,
            membership,
            prefix: prefix.to_string(),
            record: redis::Script::new(RECORD_SCRIPT),
        }
    }

    fn key(&self, ip: IpAddr) -> String {
        format!("{}:login-failures:{ip}", self.prefix)
    }
}

impl SharedFailures for LoginFailures {
    fn count(&self, ip: IpAddr) -> BoxFuture<'_, Option<u32>> {
        Box::pin(async move {
            if !self.membership.reachable() {
                return None;
            }
            let counted = self
                .link
                .query::<Option<u32>>(redis::cmd("GET").arg(self.key(ip)))
                .await;
            match counted {
                Ok(failures) => Some(failures.unwrap_or(0)),
                Err(error) => {
                    tracing::debug!(%error, "cluster: login failures not read; counting here only");
                    None
                }
            }
        })
    }

    fn record(&self, ip: IpAddr, window: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if !self.membership.reachable() {
                return;
            }
            let mut call = self.record.prepare_invoke();
            call.key(self.key(ip))
                .arg((window.as_millis() as u64).max(1));
            if let Err(error) = self.link.run::<i64>(&call).await {
                tracing::debug!(%error, "cluster: a login failure not shared");
            }
        })
    }
}
