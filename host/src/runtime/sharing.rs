//! Answers shared beyond this process: with several nodes, one plugin call
//! per member list and time-to-live for all of them, not one per node.
//! The host's cluster implements [`AnswerSharing`]; the runtime only asks.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::error::PluginError;

/// An encoded answer, or why the plugin gave none.
pub type Shared = Result<Vec<u8>, PluginError>;

/// A store of answers that other processes share.
pub trait AnswerSharing: Send + Sync {
    /// The answer kept for `key` if another process made one within `ttl`;
    /// else waits (up to `patience`) for the process already calling the
    /// plugin for it; else runs `fetch` and shares its success for `ttl`.
    /// When the store is out of reach, runs `fetch` alone.
    fn get_or_fetch<'a>(
        &'a self,
        key: String,
        ttl: Duration,
        patience: Duration,
        fetch: BoxFuture<'a, Shared>,
    ) -> BoxFuture<'a, Shared>;
}
