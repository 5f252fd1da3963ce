//! Which nodes are up, what each serves, and who runs the plugin's timers.
//!
//! Every node reports itself once a second in one script: its report
//! (connections, watched servers) under a key that expires, its name in a
//! sorted set of nodes, and a bid for the timer lease, which the holder
//! renews and which expires when the holder stops renewing (it died, or
//! lost Redis). The answer is the whole cluster as Redis sees it, kept
//! here for the timers and for `GET /api/cluster`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::link::Link;

/// How often a node reports.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// A node not heard from for this long is gone.
const NODE_TTL: Duration = Duration::from_secs(5);

/// How long the timer lease lasts unrenewed: a holder that dies is
/// replaced within this and one heartbeat.
const LEASE_TTL: Duration = Duration::from_secs(5);

/// The holder stops running timers this long before its lease could
/// expire in Redis, so two nodes never run them at once even when the
/// holder's renewal was slow to arrive.
const LEASE_MARGIN: Duration = Duration::from_millis(1_500);

/// What is read back of the other nodes at most: a backstop against a
/// Redis holding something else under our keys.
const MAX_NODES: usize = 1_000;
const MAX_SERVERS_PER_NODE: usize = 10_000;

/// One heartbeat: store this node's report, prune the silent, renew or
/// take the lease if free, and read every live node's report.
const HEARTBEAT_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local node_ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[3], ARGV[2], 'PX', node_ttl)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - node_ttl)
local holder = redis.call('GET', KEYS[2])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
elseif not holder then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
  holder = ARGV[1]
end
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[6]) - 1)
local reports = {}
for i, id in ipairs(ids) do
  reports[i] = redis.call('GET', ARGV[5] .. id) or ''
end
return {holder, reports}
";

/// A node leaving: gives the lease up if it holds it, and its place.
const LEAVE_SCRIPT: &str = r"
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
";

/// What a node says of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    pub node: String,
    /// Open WebSocket connections.
    pub connections: usize,
    /// Servers with at least one browser joined on the node.
    pub servers: Vec<String>,
}

/// The cluster as last read from Redis.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterView {
    pub nodes: Vec<NodeReport>,
    pub timer_lease: Option<String>,
}

/// What this node does about the plugin's timers now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It holds the lease: it runs them for every node's servers.
    Holder,
    /// Another node (or nobody yet, within a heartbeat) runs them.
    Follower,
    /// Redis has been out of reach longer than a lease lasts: nobody can
    /// be relying on this node, so it runs them for its own browsers.
    Alone,
}

/// Keys of the membership.
struct Keys {
    nodes: String,
    lease: String,
    node_prefix: String,
}

pub struct Membership {
    node: String,
    keys: Keys,
    heartbeat: redis::Script,
    leave: redis::Script,
    state: Mutex<State>,
}

struct State {
    view: Arc<ClusterView>,
    /// Until when this node may run the timers, when it holds the lease.
    lease_until: Option<Instant>,
    /// Until when this node counts as in touch with the cluster: a
    /// heartbeat answered, plus [`NODE_TTL`].
    contact_until: Instant,
    /// Whether the last heartbeat was answered.
    reachable: bool,
}

impl Membership {
    pub fn new(node: String, prefix: &str) -> Self {
        Self {
            node,
            keys: Keys {
                nodes: format!("{prefix}:nodes"),
                lease: format!("{prefix}:timer-lease"),
                node_prefix: format!("{prefix}:node:"),
            },
            heartbeat: redis::Script::new(HEARTBEAT_SCRIPT),
            leave: redis::Script::new(LEAVE_SCRIPT),
            state: Mutex::new(State {
                view: Arc::default(),
                lease_until: None,
                // A node starting counts as in touch until proven
                // otherwise: it must not run timers alone for the moment
                // its first heartbeat takes.
                contact_until: Instant::now() + NODE_TTL,
                reachable: false,
            }),
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cluster as last seen.
    pub fn view(&self) -> Arc<ClusterView> {
        Arc::clone(&self.state().view)
    }

    /// Whether the last heartbeat reached Redis.
    pub fn reachable(&self) -> bool {
        self.state().reachable
    }

    pub fn role(&self, now: Instant) -> Role {
        let state = self.state();
        if state.lease_until.is_some_and(|until| now < until) {
            Role::Holder
        } else if now < state.contact_until {
            Role::Follower
        } else {
            Role::Alone
        }
    }

    /// Every server watched on any node, as last reported, with `local`
    /// (this node's, current).
    pub fn watched(&self, local: Vec<String>) -> Vec<String> {
        let view = self.view();
        let mut all: BTreeSet<String> = local.into_iter().collect();
        for node in &view.nodes {
            all.extend(node.servers.iter().cloned());
        }
        all.into_iter().collect()
    }

    /// Reports once a second until `shutdown`, then leaves.
    pub async fn run(
        self: Arc<Self>,
        link: Link,
        report: impl Fn() -> NodeReport + Send,
        shutdown: CancellationToken,
    ) {
        let mut ticks = tokio::time::interval(HEARTBEAT);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            self.beat(&link, &report()).await;
        }
        let mut leave = self.leave.prepare_invoke();
        leave
            .key(&self.keys.nodes)
            .key(&self.keys.lease)
            .key(self.node_key(&self.node))
            .arg(&self.node);
        match link.run::<i64>(&leave).await {
            Ok(_) => tracing::info!(node = %self.node, "cluster: left; the timer lease is free"),
            Err(error) => tracing::debug!(%error, "cluster: could not say goodbye"),
        }
    }

    fn node_key(&self, node: &str) -> String {
        format!("{}{node}", self.keys.node_prefix)
    }

    async fn beat(&self, link: &Link, report: &NodeReport) {
        let sent = Instant::now();
        let encoded = serde_json::to_string(report).unwrap_or_default();
        let mut call = self.heartbeat.prepare_invoke();
        call.key(&self.keys.nodes)
            .key(&self.keys.lease)
            .key(self.node_key(&self.node))
            .arg(&self.node)
            .arg(encoded)
            .arg(NODE_TTL.as_millis() as u64)
            .arg(LEASE_TTL.as_millis() as u64)
            .arg(&self.keys.node_prefix)
            .arg(MAX_NODES);
        let answer = link.run::<(String, Vec<String>)>(&call).await;
        let mut state = self.state();
        let (holder, reports) = match answer {
            Ok(answer) => answer,
            Err(error) => {
                if state.reachable {
                    tracing::warn!(%error, "cluster: heartbeat failed; retrying every second");
                }
                state.reachable = false;
                return;
            }
        };
        if !state.reachable {
            tracing::info!(node = %self.node, "cluster: in touch with the other nodes");
        }
        state.reachable = true;
        state.contact_until = sent + NODE_TTL;
        let held = state.lease_until.is_some();
        state.lease_until = (holder == self.node).then(|| sent + LEASE_TTL - LEASE_MARGIN);
        match (held, state.lease_until.is_some()) {
            (false, true) => {
                tracing::info!(node = %self.node, "cluster: this node runs the plugin's timers for the cluster");
            }
            (true, false) => {
                tracing::warn!(node = %self.node, holder = %holder, "cluster: the timer lease moved to another node");
            }
            _ => {}
        }
        let nodes = reports
            .iter()
            .filter_map(|report| serde_json::from_str::<NodeReport>(report).ok())
            .map(|mut report| {
                report.servers.truncate(MAX_SERVERS_PER_NODE);
                report
            })
            .collect();
        state.view = Arc::new(ClusterView {
            nodes,
            timer_lease: Some(holder),
        });
    }
}
