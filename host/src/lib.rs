//! d-back: the backend of d-zone, with its data providers as sandboxed
//! WebAssembly components.
//!
//! # Layout
//!
//! - [`server`]: the accept loop, shared state, shutdown.
//! - [`http`]: one port for HTTP and WebSocket: the upgrade, `/api/version`,
//!   the broadcast API, static files.
//! - [`ws`]: one WebSocket connection: its task, its frames, its joins.
//! - [`wire`]: WebSocket framing and each connection's outgoing side.
//! - [`protocol`]: the JSON frames d-zone speaks, and its error texts.
//! - [`broadcast`]: who is bound to which server; the three broadcasts.
//! - [`runtime`]: wasmtime, the WIT bindings, sandboxed plugin calls.
//! - [`activity`]: plugin timers whose events get broadcast.
//! - [`cluster`]: several nodes as one service, through Redis.
//! - [`discord`]: Discord's gateway, followed natively.
//! - [`limits`]: caps on what clients may do.
//! - [`backoff`]: waits between attempts to reach a service.
//! - [`live`]: swapping the plugin while the server runs.
//! - [`metrics`]: what the server counts, for `GET /metrics`.
//! - [`config`], [`cli`]: the operator's settings.
//! - [`model`]: checked values shared by all of the above.
//!
//! # Embedding
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use d_back::{Server, Settings};
//! use tokio_util::sync::CancellationToken;
//!
//! let server = Server::bind(Settings::new()).await?;
//! let broadcaster = server.broadcaster();
//! let shutdown = CancellationToken::new();
//! tokio::spawn(server.run(shutdown.clone()));
//! broadcaster.broadcast_message("232769614004748288", "123456789012345001", "hi", "1")?;
//! shutdown.cancel();
//! # Ok(()) }
//! ```

pub mod activity;
pub mod backoff;
pub mod broadcast;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod discord;
pub mod http;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod model;
pub mod protocol;
pub mod runtime;
pub mod server;
pub mod wire;
pub mod ws;

pub use broadcast::Broadcaster;
pub use config::Settings;
pub use server::{Server, StartError};

/// The host's version, as `/api/version` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
