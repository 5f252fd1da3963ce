//! Following Discord's gateway natively, so a community is live from the
//! first join with no separate bot process.
//!
//! - [`config`]: the `[discord]` table, the one place the guilds are named.
//! - [`protocol`]: the gateway's payloads, op codes, intents, close codes.
//! - [`session`]: a session's rules without its I/O (identify or resume,
//!   zombie connections, replayed events).
//! - [`gateway`]: the connection driver carrying the session out.
//! - [`rest`]: `GET /gateway/bot`.
//! - [`bridge`]: events to broadcasts.
//! - [`status`]: what `GET /api/discord` shows.
//!
//! The session is our own code on tokio-tungstenite, the WebSocket crate
//! the host already speaks, with rustls from the tree wasmtime-wasi-http
//! already brings. A gateway crate (twilight-gateway) would add its own
//! model of every event, compression and sharding machinery for the five
//! events d-back reads, and hide the rules the tests must reach: when to
//! resume, what a replayed event is, when a close is final. Here they are
//! plain functions of [`session`], tested without sockets, and the driver
//! only carries them out.

pub mod bridge;
pub mod config;
pub mod gateway;
pub mod protocol;
pub mod rest;
pub mod session;
pub mod status;

use std::sync::Arc;

pub use bridge::Bridge;
pub use config::{DiscordConfig, DiscordTable};
pub use status::{ConnectionState, GatewayStatus};

/// Whether this node may hold the gateway session now. In a cluster one
/// node at a time does (the lease); alone, always.
pub trait GatewayLease: Send + Sync {
    fn held(&self) -> bool;
}

/// How often a node in a cluster looks whether it holds the lease.
const LEASE_CHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// Follows the gateway for `config` until `shutdown` (while `lease` is
/// held, when given), its events broadcast through `broadcaster`; a
/// member leaving makes the serving plugin version forget that server's
/// cached member list.
pub fn start(
    config: Arc<DiscordConfig>,
    broadcaster: crate::Broadcaster,
    plugins: Arc<crate::live::Reloader>,
    status: Arc<GatewayStatus>,
    lease: Option<Arc<dyn GatewayLease>>,
    tasks: &tokio_util::task::TaskTracker,
    shutdown: &tokio_util::sync::CancellationToken,
) {
    let forget: bridge::MembersChanged =
        Box::new(move |server| plugins.plugin().forget_members(server));
    let bridge = Arc::new(Bridge::new(Arc::clone(&config), broadcaster, Some(forget)));
    let Some(lease) = lease else {
        tasks.spawn(gateway::follow(config, bridge, status, shutdown.clone()));
        return;
    };
    let shutdown = shutdown.clone();
    let inner = tasks.clone();
    tasks.spawn(async move {
        // The session of this node's current turn, when it holds the lease.
        let mut turn: Option<tokio_util::sync::CancellationToken> = None;
        let mut checks = tokio::time::interval(LEASE_CHECK);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = checks.tick() => {}
            }
            let stopped = status.state() == ConnectionState::Stopped;
            match (lease.held(), &turn) {
                (true, None) if !stopped => {
                    tracing::info!("this node holds the lease: it follows Discord's gateway");
                    let token = shutdown.child_token();
                    inner.spawn(gateway::follow(
                        Arc::clone(&config),
                        Arc::clone(&bridge) as Arc<dyn gateway::EventHandler>,
                        Arc::clone(&status),
                        token.clone(),
                    ));
                    turn = Some(token);
                }
                (false, Some(token)) => {
                    tracing::info!(
                        "another node holds the lease: it follows Discord's gateway now"
                    );
                    token.cancel();
                    turn = None;
                }
                (false, None) if !stopped => status.set_state(ConnectionState::Follower),
                _ => {}
            }
        }
    });
}
