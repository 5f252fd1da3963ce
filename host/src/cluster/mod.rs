//! Several nodes as one service, through Redis: a broadcast made on any
//! node reaches the browsers of every node ([`bus`]), the nodes know of
//! each other and one of them runs the plugin's timers for all
//! ([`membership`]). Without a `[cluster]` table none of this runs and a
//! node needs nothing else.

mod answers;
mod audience;
mod bus;
pub mod config;
pub mod link;
mod login_failures;
pub mod membership;
mod message;
pub mod presence;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use bus::ClusterBus;
pub use config::ClusterConfig;
pub use membership::{ClusterView, NodeReport, Role};

use crate::activity::Audience;
use crate::broadcast::Broadcaster;
use crate::limits::{ConnectionLimiter, SharedFailures};
use crate::runtime::AnswerSharing;
use answers::SharedAnswers;
use audience::ClusterAudience;
pub use link::Link;
use login_failures::LoginFailures;
use membership::Membership;
use presence::{PresenceBounds, PresenceStore};

/// Why a node cannot join its cluster as configured.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Config(String),
    #[error("cluster.redis_url: {0}")]
    Url(#[from] redis::RedisError),
}

/// A node's place in its cluster. Connects to nothing until started, and
/// then lazily: a node starts whether or not Redis is there. Not `Debug`:
/// the client holds the URL, password included.
pub struct Cluster {
    client: redis::Client,
    prefix: String,
    link: Link,
    membership: Arc<Membership>,
    bus: OnceLock<Arc<ClusterBus>>,
}

impl Cluster {
    /// Checks `config` for a node serving on `port`.
    pub fn prepare(config: &ClusterConfig, port: u16) -> Result<Self, ClusterError> {
        config.check().map_err(ClusterError::Config)?;
        let client = redis::Client::open(config.redis_url.as_str())?;
        let node = config.node_id(port);
        Ok(Self {
            link: Link::new(client.clone())?,
            membership: Arc::new(Membership::new(node, &config.key_prefix)),
            client,
            prefix: config.key_prefix.clone(),
            bus: OnceLock::new(),
        })
    }

    pub fn node(&self) -> &str {
        self.membership.node()
    }

    /// Joins: `broadcaster`'s broadcasts go to the other nodes and theirs
    /// come to this node's browsers, and the node reports itself
    /// (`connections` open, servers watched), until `shutdown`.
    pub fn start(
        &self,
        broadcaster: &Broadcaster,
        connections: ConnectionLimiter,
        tasks: &TaskTracker,
        shutdown: &CancellationToken,
    ) {
        let redis = bus::Endpoints {
            client: self.client.clone(),
            link: self.link.clone(),
            store: Arc::new(PresenceStore::new(&self.prefix, PresenceBounds::default())),
            channel: format!("{}:broadcasts", self.prefix),
        };
        let bus = bus::start(redis, self.node().to_string(), broadcaster, tasks, shutdown);
        let _ = self.bus.set(bus);
        let node = self.node().to_string();
        let watched = broadcaster.clone();
        let report = move || NodeReport {
            node: node.clone(),
            connections: connections.open(),
            servers: watched.active_servers(),
        };
        tasks.spawn(Arc::clone(&self.membership).run(self.link.clone(), report, shutdown.clone()));
    }

    /// Where the plugin's member lists are shared with the other nodes.
    pub fn answers(&self) -> Arc<dyn AnswerSharing> {
        Arc::new(SharedAnswers::new(
            self.link.clone(),
            Arc::clone(&self.membership),
            &self.prefix,
        ))
    }

    /// Where failed logins are counted for every node.
    pub fn login_failures(&self) -> Arc<dyn SharedFailures> {
        Arc::new(LoginFailures::new(
            self.link.clone(),
            Arc::clone(&self.membership),
            &self.prefix,
        ))
    }

    /// Who the plugin's timers run for on this node.
    pub fn audience(&self, broadcaster: &Broadcaster) -> Arc<dyn Audience> {
        Arc::new(ClusterAudience {
            membership: Arc::clone(&self.membership),
            broadcaster: broadcaster.clone(),
        })
    }

    /// Whether this node follows Discord's gateway now.
    pub fn gateway_lease(&self) -> Arc<dyn crate::discord::GatewayLease> {
        Arc::new(audience::ClusterGatewayLease {
            membership: Arc::clone(&self.membership),
        })
    }

    /// What `GET /api/cluster` shows.
    pub fn status(&self) -> serde_json::Value {
        let view = self.membership.view();
        let bus = self.bus.get();
        let role = match self.membership.role(Instant::now()) {
            Role::Holder => "timer lease holder",
            Role::Follower => "follower",
            Role::Alone => "alone (Redis out of reach)",
        };
        serde_json::json!({
            "node": self.node(),
            "role": role,
            "redis": {
                "reachable": self.membership.reachable(),
                "broadcasts_crossing": bus.is_some_and(|bus| bus.connected()),
            },
            "timer_lease": view.timer_lease,
            "nodes": view.nodes,
            "broadcasts_not_published": bus.map_or(0, |bus| bus.dropped()),
        })
    }
}
