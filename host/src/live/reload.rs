//! One plugin version serves at a time; a reload builds the next one off
//! the async threads (compile, link, trial instance), and swaps it in
//! atomically. Calls already running finish on the version they started
//! on, which is freed (its instances, its compiled code, its threads)
//! when its last call ends; WebSocket sessions never notice. The new
//! version starts with its own timers, and with no cache or last good
//! answers: its data may differ.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::activity::Audience;
use crate::broadcast::Broadcaster;
use crate::metrics::{ReloadLabels, ReloadResult, metrics};
use crate::protocol::ServerJoin;
use crate::runtime::{
    AnswerSharing, CompiledCacheConfig, InstancePool, LoadError, Plugin, PluginRuntime, PluginSpec,
};

/// Instances a new version makes before it is swapped in.
const PREWARMED: usize = 3;

/// Where a reload reads the plugin's settings: for the binary, the config
/// file again (its whole `[plugin]` table) with the command line on top.
pub type SpecSource = Box<dyn Fn() -> Result<PluginSpec, String> + Send + Sync>;

/// What a plugin version needs besides itself to serve, known once the
/// server runs.
pub struct Serving {
    pub broadcaster: Broadcaster,
    /// Who its timers call the plugin for.
    pub audience: Arc<dyn Audience>,
    /// Where its member lists are shared, in a cluster.
    pub answers: Option<Arc<dyn AnswerSharing>>,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
}

/// Why a reload was refused; the version serving goes on serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("the config cannot be read: {0}")]
    Config(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("the server is not running yet")]
    NotServing,
}

/// A version swapped in.
#[derive(Debug, Clone)]
pub struct Swapped {
    pub name: String,
    pub version: String,
    /// Reading, compiling (or mapping from the cache) and the trial
    /// instance.
    pub prepared_in: Duration,
    /// From the new version ready to it serving.
    pub swapped_in: Duration,
}

pub struct Reloader {
    current: ArcSwap<Plugin>,
    /// The spec of the version serving, for what a watcher watches.
    spec: ArcSwap<PluginSpec>,
    source: SpecSource,
    cache_dir: Option<CompiledCacheConfig>,
    serving: OnceLock<Serving>,
    /// One reload at a time; holds the serving version's timers.
    timers: tokio::sync::Mutex<CancellationToken>,
    reloads: AtomicU64,
    refusals: AtomicU64,
}

impl Reloader {
    /// Serves `first` (loaded from `spec`) until a reload; reloads read
    /// `source`.
    pub fn new(
        first: Arc<Plugin>,
        spec: PluginSpec,
        source: SpecSource,
        cache_dir: Option<CompiledCacheConfig>,
    ) -> Self {
        Self {
            current: ArcSwap::new(first),
            spec: ArcSwap::from_pointee(spec),
            source,
            cache_dir,
            serving: OnceLock::new(),
            timers: tokio::sync::Mutex::new(CancellationToken::new()),
            reloads: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
        }
    }

    /// The version serving now. Callers hold it for one call or one join,
    /// never longer, so a swapped-out version is freed soon.
    pub fn plugin(&self) -> Arc<Plugin> {
        self.current.load_full()
    }

    /// The spec of the version serving now.
    pub fn spec(&self) -> Arc<PluginSpec> {
        self.spec.load_full()
    }

    /// Versions swapped in since start, and reloads refused.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.reloads.load(Ordering::Relaxed),
            self.refusals.load(Ordering::Relaxed),
        )
    }

    /// Replaces where reloads read the spec (the binary: the config file).
    pub fn set_source(&mut self, source: SpecSource) {
        self.source = source;
    }

    /// Starts serving the first version: its timers, its sharing.
    pub async fn start(&self, serving: Serving) {
        let first = self.plugin();
        let mut timers = self.timers.lock().await;
        *timers = serving.shutdown.child_token();
        if let Some(answers) = &serving.answers {
            let _ = first.share_answers_through(Arc::clone(answers));
        }
        if self.serving.set(serving).is_err() {
            return;
        }
        self.begin(&first, timers.clone()).await;
    }

    /// Reads the spec again, builds its version and swaps it in; `cause`
    /// is for the log. The version serving goes on serving when the new
    /// one is refused.
    pub async fn reload(&self, cause: &str) -> Result<Swapped, ReloadError> {
        let outcome = self.try_reload().await;
        match &outcome {
            Ok(swapped) => {
                self.reloads.fetch_add(1, Ordering::Relaxed);
                count_reload(ReloadResult::swapped);
                tracing::info!(
                    cause,
                    plugin = %swapped.name,
                    version = %swapped.version,
                    prepared_ms = swapped.prepared_in.as_millis() as u64,
                    swapped_us = swapped.swapped_in.as_micros() as u64,
                    "plugin reloaded; new calls use the new version"
                );
            }
            Err(error) => {
                self.refusals.fetch_add(1, Ordering::Relaxed);
                count_reload(ReloadResult::refused);
                tracing::warn!(cause, %error, "plugin reload refused; the serving version goes on");
            }
        }
        outcome
    }

    async fn try_reload(&self) -> Result<Swapped, ReloadError> {
        let serving = self.serving.get().ok_or(ReloadError::NotServing)?;
        let mut timers = self.timers.lock().await;
        let spec = (self.source)().map_err(ReloadError::Config)?;
        let started = Instant::now();
        let plugin = load(spec.clone(), self.cache_dir.clone()).await?;
        // A join calls three callbacks at once: three warm instances.
        plugin.prewarm(PREWARMED).await;
        let prepared_in = started.elapsed();
        let swapping = Instant::now();
        if let Some(answers) = &serving.answers {
            let _ = plugin.share_answers_through(Arc::clone(answers));
        }
        let old = self.current.swap(Arc::clone(&plugin));
        self.spec.store(Arc::new(spec));
        timers.cancel();
        *timers = serving.shutdown.child_token();
        let swapped_in = swapping.elapsed();
        drop(old);
        self.begin(&plugin, timers.clone()).await;
        Ok(Swapped {
            name: plugin.name().to_string(),
            version: plugin.version().to_string(),
            prepared_in,
            swapped_in,
        })
    }

    /// Sends every joined browser its server again as the serving version
    /// answers it (a `server-join`, which d-zone draws anew), so an open
    /// browser shows a new version's members without being reloaded.
    /// Returns how many browsers it reached. `--watch` does this after
    /// each reload: it is the authors' loop.
    pub async fn refresh_browsers(&self) -> usize {
        let Some(serving) = self.serving.get() else {
            return 0;
        };
        let plugin = self.plugin();
        let servers = plugin.servers().await;
        let mut refreshed = 0;
        for snowflake in serving.broadcaster.active_servers() {
            let Some(entry) = servers.entries().iter().find(|s| s.snowflake == snowflake) else {
                continue;
            };
            let (users, client_id) =
                tokio::join!(plugin.users(&snowflake), plugin.client_id(&snowflake));
            refreshed += serving
                .broadcaster
                .rejoin_room(&snowflake, &users, |users_json| {
                    ServerJoin {
                        users_json,
                        requested: &entry.id,
                        server_name: &entry.name,
                        client_id: client_id.as_deref(),
                    }
                    .to_frame()
                });
        }
        refreshed
    }

    /// Starts `plugin`'s timers, until `timers` is cancelled.
    async fn begin(&self, plugin: &Arc<Plugin>, timers: CancellationToken) {
        let Some(serving) = self.serving.get() else {
            return;
        };
        crate::activity::start(
            Arc::clone(plugin),
            serving.broadcaster.clone(),
            Arc::clone(&serving.audience),
            &serving.tasks,
            timers,
        )
        .await;
    }
}

/// Loads the plugin of `spec` on a blocking thread: compiling, the
/// compiled cache's disk I/O and the trial instance block.
pub async fn load(
    spec: PluginSpec,
    cache_dir: Option<CompiledCacheConfig>,
) -> Result<Arc<Plugin>, LoadError> {
    tokio::task::spawn_blocking(move || {
        let runtime = PluginRuntime::with_options(cache_dir, InstancePool::for_plugin(&spec))?;
        runtime.load(&spec).map(Arc::new)
    })
    .await
    .map_err(|e| LoadError::Engine(format!("the loading thread failed: {e}")))?
}

fn count_reload(result: ReloadResult) {
    metrics()
        .plugin_reloads
        .get_or_create(&ReloadLabels { result })
        .inc();
}
