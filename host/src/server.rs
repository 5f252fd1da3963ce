//! The accept loop, the state every connection shares, and shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::activity::Audience;
use crate::broadcast::{Broadcaster, Hub};
use crate::cluster::{Cluster, ClusterError};
use crate::config::Settings;
use crate::discord::{self, GatewayStatus};
use crate::http::{self, static_files::StaticRoot};
use crate::limits::{AuthThrottle, ConnectionLimiter, LogBudget};
use crate::live::{self, Reloader, Serving, SpecSource};
use crate::runtime::{LoadError, Plugin};
use crate::ws::LiveConnections;

/// Log budget for lines about refused connections.
const REFUSAL_LOG_BYTES_PER_SECOND: u32 = 4 * 1024;

/// How long shutdown waits for connections to say goodbye.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// State shared by every connection. Owned by the server behind an `Arc`.
pub struct Shared {
    pub settings: Settings,
    /// The plugin version serving, and how the next one is swapped in.
    pub plugins: Arc<Reloader>,
    pub hub: Arc<Hub>,
    pub broadcaster: Broadcaster,
    pub static_root: StaticRoot,
    /// Open WebSocket connections, capped in all and per IP.
    pub connections: ConnectionLimiter,
    /// TCP connections in their plain-HTTP phase, capped in all and per IP.
    pub http_connections: ConnectionLimiter,
    /// Failed logins per IP.
    pub auth_throttle: AuthThrottle,
    /// Log lines about refused connections: a flood of refusals must not
    /// become a flood of log.
    pub refusal_log: LogBudget,
    /// Every open WebSocket, for liveness and shutdown.
    pub live: LiveConnections,
    /// This node's place among others, when it runs in a cluster.
    pub cluster: Option<Cluster>,
    /// The Discord gateway's state, when `[discord]` is set.
    pub discord: Option<Arc<GatewayStatus>>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Plugin(#[from] LoadError),
    #[error("static directory {path}: {error}")]
    StaticDir {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error("cannot listen on {address}: {error}")]
    Bind {
        address: String,
        error: std::io::Error,
    },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// A bound, loaded server that has not started accepting yet.
pub struct Server {
    listener: TcpListener,
    /// `metrics_addr`'s listener, when set.
    metrics: Option<TcpListener>,
    shared: Arc<Shared>,
}

impl Server {
    /// Loads the plugin, checks the static directory and binds the port.
    pub async fn bind(settings: Settings) -> Result<Self, StartError> {
        let address = settings.bind_address();
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|error| StartError::Bind { address, error })?;
        Self::with_listener(listener, settings).await
    }

    /// Like [`Server::bind`] on a listener the caller already has (tests use
    /// port 0).
    pub async fn with_listener(
        listener: TcpListener,
        settings: Settings,
    ) -> Result<Self, StartError> {
        let port = listener.local_addr().map_or(settings.port, |a| a.port());
        let metrics = match settings.metrics_addr {
            None => None,
            Some(address) => {
                Some(
                    TcpListener::bind(address)
                        .await
                        .map_err(|error| StartError::Bind {
                            address: format!("{address} (metrics_addr)"),
                            error,
                        })?,
                )
            }
        };
        let cluster = settings
            .cluster
            .as_ref()
            .map(|config| Cluster::prepare(config, port))
            .transpose()?;
        let static_root = match &settings.static_dir {
            None => StaticRoot::BuiltIn,
            Some(path) => StaticRoot::dir(path).map_err(|error| StartError::StaticDir {
                path: path.clone(),
                error,
            })?,
        };
        let cache_dir = settings.compiled_cache();
        let plugin = live::reload::load(settings.plugin.clone(), cache_dir.clone()).await?;
        tracing::info!(
            plugin = plugin.name(),
            fuel = settings.plugin.limits.fuel,
            memory_bytes = settings.plugin.limits.memory_bytes,
            deadline_ms = settings.plugin.limits.deadline.as_millis() as u64,
            "plugin loaded"
        );
        let hub = Arc::new(Hub::new());
        let broadcaster = Broadcaster::new(Arc::clone(&hub));
        let clients = &settings.clients;
        let connections =
            ConnectionLimiter::new(clients.max_connections, clients.max_connections_per_ip);
        let http_connections = ConnectionLimiter::new(
            clients.max_http_connections,
            clients.max_http_connections_per_ip,
        );
        let auth_throttle = AuthThrottle::new(clients.auth);
        let discord = settings.discord.as_ref().map(|_| Arc::default());
        // Without a config file to read again, a reload loads the same
        // spec: the same file, rebuilt.
        let same = settings.plugin.clone();
        let plugins = Arc::new(Reloader::new(
            plugin,
            settings.plugin.clone(),
            Box::new(move || Ok(same.clone())),
            cache_dir,
        ));
        Ok(Self {
            listener,
            metrics,
            shared: Arc::new(Shared {
                settings,
                plugins,
                hub,
                broadcaster,
                static_root,
                connections,
                http_connections,
                auth_throttle,
                refusal_log: LogBudget::new(REFUSAL_LOG_BYTES_PER_SECOND),
                live: LiveConnections::default(),
                discord,
                cluster,
            }),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The broadcast API of this server.
    pub fn broadcaster(&self) -> Broadcaster {
        self.shared.broadcaster.clone()
    }

    /// A handle that reports how many WebSocket connections are open.
    pub fn connections(&self) -> ConnectionLimiter {
        self.shared.connections.clone()
    }

    /// The plugin version serving now, for embedding code that wants to
    /// call it directly.
    pub fn plugin(&self) -> Arc<Plugin> {
        self.shared.plugins.plugin()
    }

    /// Swaps plugin versions in while the server runs.
    pub fn reloader(&self) -> Arc<Reloader> {
        Arc::clone(&self.shared.plugins)
    }

    /// Reloads read the plugin's settings from `source` (the binary: the
    /// config file again). Before [`Server::run`] only.
    pub fn reload_from(&mut self, source: SpecSource) {
        match Arc::get_mut(&mut self.shared).and_then(|shared| Arc::get_mut(&mut shared.plugins)) {
            Some(plugins) => plugins.set_source(source),
            None => tracing::warn!("the reload source is set before the server runs"),
        }
    }

    /// Serves until `shutdown` is cancelled, then closes every WebSocket
    /// with a close frame and waits (bounded) for connections to finish.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let tasks = TaskTracker::new();
        let broadcaster = &self.shared.broadcaster;
        let (audience, answers) = match &self.shared.cluster {
            Some(cluster) => {
                tracing::info!(node = cluster.node(), "joining the cluster");
                cluster.start(
                    broadcaster,
                    self.shared.connections.clone(),
                    &tasks,
                    &shutdown,
                );
                if self
                    .shared
                    .auth_throttle
                    .share_through(cluster.login_failures())
                    .is_err()
                {
                    tracing::warn!("login failures are already counted elsewhere");
                }
                (cluster.audience(broadcaster), Some(cluster.answers()))
            }
            None => (Arc::new(broadcaster.clone()) as Arc<dyn Audience>, None),
        };
        self.shared
            .plugins
            .start(Serving {
                broadcaster: broadcaster.clone(),
                audience,
                answers,
                tasks: tasks.clone(),
                shutdown: shutdown.clone(),
            })
            .await;
        if let (Some(config), Some(status)) = (&self.shared.settings.discord, &self.shared.discord)
        {
            discord::start(
                Arc::new(config.clone()),
                broadcaster.clone(),
                Arc::clone(&self.shared.plugins),
                Arc::clone(status),
                self.shared.cluster.as_ref().map(Cluster::gateway_lease),
                &tasks,
                &shutdown,
            );
        }
        {
            let shared = Arc::clone(&self.shared);
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                let limits = &shared.settings.clients;
                crate::ws::watch_liveness(&shared.live, limits, shutdown).await;
            });
        }
        if let Some(listener) = self.metrics.take() {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "serving /metrics");
            }
            tasks.spawn(crate::http::metrics_api::serve_alone(
                listener,
                Arc::clone(&self.shared),
                shutdown.clone(),
            ));
        }
        if let Ok(address) = self.local_addr() {
            tracing::info!(%address, "listening for HTTP and WebSocket");
        }
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let slot = match self.shared.http_connections.acquire(peer.ip()) {
                        Ok(slot) => slot,
                        Err(refusal) => {
                            // Closed unanswered: an answer would cost more
                            // than the flood it refuses.
                            tracing::debug!(%peer, %refusal, "HTTP connection refused");
                            drop(stream);
                            continue;
                        }
                    };
                    let cx = http::Context {
                        shared: Arc::clone(&self.shared),
                        shutdown: shutdown.clone(),
                        tasks: tasks.clone(),
                        peer,
                    };
                    tasks.spawn(http::serve(stream, cx, slot));
                }
                Err(error) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        tracing::info!("shutting down");
        drop(self.listener);
        tasks.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close in time");
        }
    }
}
