//! Several nodes as one service, through Redis: a broadcast made on any
//! node reaches the browsers of every node ([`bus`]). Without a
//! `[cluster]` table none of this runs and a node needs nothing else.

mod bus;
pub mod config;
mod message;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use bus::ClusterBus;
pub use config::ClusterConfig;

use crate::broadcast::Broadcaster;

/// Why a node cannot join its cluster as configured.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Config(String),
    #[error("cluster.redis_url: {0}")]
    Url(#[from] redis::RedisError),
}

/// A node's place in its cluster, checked, not connected yet. Not `Debug`:
/// the client holds the URL, password included.
#[derive(Clone)]
pub struct Cluster {
    client: redis::Client,
    node: String,
    prefix: String,
}

impl Cluster {
    /// Checks `config` for a node serving on `port`. Connects to nothing:
    /// a node starts whether or not Redis is there.
    pub fn prepare(config: &ClusterConfig, port: u16) -> Result<Self, ClusterError> {
        config.check().map_err(ClusterError::Config)?;
        Ok(Self {
            client: redis::Client::open(config.redis_url.as_str())?,
            node: config.node_id(port),
            prefix: config.key_prefix.clone(),
        })
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Joins: `broadcaster`'s broadcasts go to the other nodes and theirs
    /// come to this node's browsers, until `shutdown`.
    pub fn start(
        &self,
        broadcaster: &Broadcaster,
        tasks: &TaskTracker,
        shutdown: &CancellationToken,
    ) -> Arc<ClusterBus> {
        bus::start(
            self.client.clone(),
            format!("{}:broadcasts", self.prefix),
            self.node.clone(),
            broadcaster,
            tasks,
            shutdown,
        )
    }
}
