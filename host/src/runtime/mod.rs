//! The plugin runtime: wasmtime with the component model, one engine for the
//! process, each provider compiled once and pre-instantiated at start.
//!
//! - [`bindings`]: the only `bindgen!`, from `wit/`.
//! - [`state`]: store data, WASI context, the host functions plugins import.
//! - [`limits`]: fuel, memory cap, deadline.
//! - [`epoch`]: the thread that advances the epoch while calls run.
//! - [`egress`]: outgoing HTTP, only to allow-listed hosts.
//! - [`plugin`]: typed, sandboxed calls with an instance pool.
//! - [`convert`]: plugin values checked into host values.
//! - [`callback`]: the exports the host calls, and the lane of each.
//! - [`admission`]: a cap on concurrent calls per lane, with a bounded queue.
//! - [`low_priority`]: the thread timer and `static-request` calls run on.
//! - [`breaker`]: a callback that keeps failing is paused.
//! - [`one_line`]: plugin text made safe for the log.
//! - [`last_good`]: the last good answers, served when a call fails.
//! - [`cache`]: server and member lists kept for a time-to-live.
//! - [`compiled_cache`]: compiled components kept on disk between starts.
//! - [`pool`]: the pooling allocator, sized for one plugin's calls.
//! - [`safe`]: failures logged and replaced by fallbacks.
//! - [`hints`]: what a failure means, for the plugin's author.
//! - [`sharing`]: answers shared with the other nodes of a cluster.

mod admission;
mod bindings;
mod breaker;
mod cache;
mod callback;
mod compiled_cache;
mod config_value;
mod convert;
mod egress;
mod epoch;
mod error;
mod hints;
mod last_good;
mod limits;
mod log_stream;
mod low_priority;
mod one_line;
mod plugin;
mod pool;
mod safe;
mod sharing;
mod state;
mod world_check;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

pub use admission::{LaneLimit, LaneLimits};
pub use bindings::exports::d_back::plugin::activity::Timer;
pub use breaker::BreakerConfig;
pub use callback::{Callback, Lane};
pub use config_value::{ConfigSource, ConfigValue};
pub use convert::OutputCaps;
pub use egress::{AllowedHost, EgressRules};
pub use error::PluginError;
pub use limits::Limits;
pub use plugin::Plugin;
pub use pool::InstancePool;
pub use sharing::{AnswerSharing, Shared};

use bindings::{Provider, ProviderPre};
use compiled_cache::CompiledCache;
pub use compiled_cache::CompiledCacheConfig;
use epoch::EpochTicker;
use low_priority::LowPriority;
use state::PluginState;

/// The mock provider, built from `plugins/mock` with the host.
pub static MOCK_PLUGIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/mock.wasm"));

/// The Discord provider, built from `plugins/discord` with the host: what
/// `[discord]` serves when no plugin is named.
pub static DISCORD_PLUGIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/discord.wasm"));

/// Where a plugin's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// The mock provider embedded in the binary.
    Mock,
    /// The Discord provider embedded in the binary.
    Discord,
    /// A `.wasm` component file.
    File(PathBuf),
}

/// Everything needed to load one plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSpec {
    /// Shown in logs; defaults to the file's stem.
    pub name: String,
    pub source: PluginSource,
    pub limits: Limits,
    /// Values the plugin reads through `host.config-get`; they reach no
    /// other plugin.
    pub config: BTreeMap<String, ConfigValue>,
    /// Live instances kept between calls.
    pub idle_instances: usize,
    /// Calls running at once and waiting, per lane.
    pub lanes: LaneLimits,
    /// Log bytes per second the plugin may write, all outputs together.
    pub log_bytes_per_second: u32,
    /// How much one call may return.
    pub output: OutputCaps,
    /// When a failing plugin is paused.
    pub breaker: BreakerConfig,
    /// How long server and member lists are cached; zero caches nothing.
    pub cache_ttl: Duration,
    /// Where the plugin may send HTTP requests: nowhere by default.
    pub egress: EgressRules,
}

impl PluginSpec {
    pub const DEFAULT_IDLE_INSTANCES: usize = 8;
    /// 32 KiB/s is hundreds of useful lines a second; a plugin writing more
    /// is looping, and the host's log stays readable.
    pub const DEFAULT_LOG_BYTES_PER_SECOND: u32 = 32 * 1024;

    /// The embedded mock provider with default limits.
    pub fn mock() -> Self {
        Self::new("mock", PluginSource::Mock)
    }

    /// The embedded Discord provider, with room for the REST API: a big
    /// guild takes several member pages, so a longer deadline and more
    /// fuel, and member lists asked of Discord at most once a minute.
    pub fn discord() -> Self {
        let mut spec = Self::new("discord", PluginSource::Discord);
        spec.limits.deadline = Duration::from_secs(10);
        spec.limits.fuel = 20 * Limits::DEFAULT_FUEL;
        spec.cache_ttl = Duration::from_secs(60);
        spec
    }

    pub fn new(name: impl Into<String>, source: PluginSource) -> Self {
        Self {
            name: name.into(),
            source,
            limits: Limits::default(),
            config: BTreeMap::new(),
            idle_instances: Self::DEFAULT_IDLE_INSTANCES,
            lanes: LaneLimits::default(),
            log_bytes_per_second: Self::DEFAULT_LOG_BYTES_PER_SECOND,
            output: OutputCaps::default(),
            breaker: BreakerConfig::default(),
            cache_ttl: Duration::ZERO,
            egress: EgressRules::default(),
        }
    }
}

/// Why a plugin could not be loaded. Loading happens at start-up, so these
/// stop the server with a message naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot read plugin {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("plugin {name} is not a valid component: {cause}")]
    Compile { name: String, cause: String },
    #[error(
        "plugin {name} is a core WebAssembly module, not a component: the host loads components. Make one: Rust, build for `--target wasm32-wasip2`; Go, run `componentize-go` on the module (tools/componentize-go); any module built with WASI preview 1, `wasm-tools component new module.wasm --adapt wasi_snapshot_preview1.reactor.wasm -o component.wasm`"
    )]
    CoreModule { name: String },
    #[error(
        "plugin {name} does not fit the {world} provider world this host provides (wrong exports, or imports the host does not grant): {cause}; build it against this host's wit/world.wit",
        world = world_check::WORLD
    )]
    Link { name: String, cause: String },
    #[error(
        "plugin {name}: export `{function}` does not match the {world} world this host provides: {cause}; build the plugin against this host's wit/world.wit",
        world = world_check::WORLD
    )]
    Export {
        name: String,
        function: String,
        cause: String,
    },
    #[error("plugin {name} failed while starting (its start-up code, before any call): {cause}")]
    Start { name: String, cause: String },
}

/// The engine, the linker with every host capability, the epoch ticker, and
/// the compiled-code cache.
pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<PluginState>,
    parts: RuntimeParts,
    compiled: Option<CompiledCache>,
}

/// What every plugin of a runtime shares, kept alive by each of them.
#[derive(Clone)]
struct RuntimeParts {
    ticker: Arc<EpochTicker>,
    background: Arc<LowPriority>,
}

impl PluginRuntime {
    /// A runtime that compiles every component at load.
    pub fn new() -> Result<Self, LoadError> {
        Self::with_compiled_cache(None)
    }

    /// A runtime that keeps compiled components in `dir` between starts
    /// (bounded by the default size), with a pool sized for default limits.
    pub fn with_compiled_cache(dir: Option<PathBuf>) -> Result<Self, LoadError> {
        Self::with_options(dir.map(CompiledCacheConfig::new), InstancePool::default())
    }

    /// A runtime with compiled components kept as `cache` says (if at all)
    /// and instances allocated from `pool`. A cache directory that other
    /// users could write to is refused with a warning: every load compiles.
    pub fn with_options(
        cache: Option<CompiledCacheConfig>,
        pool: InstancePool,
    ) -> Result<Self, LoadError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true);
        pool.configure(&mut config);
        #[cfg(feature = "profiling")]
        profiler_from_env(&mut config);
        let engine = Engine::new(&config).map_err(|e| LoadError::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        Provider::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |state| state)
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        let ticker =
            EpochTicker::start(engine.clone()).map_err(|e| LoadError::Engine(e.to_string()))?;
        let background = LowPriority::start().map_err(|e| LoadError::Engine(e.to_string()))?;
        Ok(Self {
            engine,
            linker,
            parts: RuntimeParts {
                ticker: Arc::new(ticker),
                background: Arc::new(background),
            },
            compiled: cache.and_then(|config| match CompiledCache::open(&config) {
                Ok(cache) => Some(cache),
                Err(reason) => {
                    tracing::warn!(%reason, "not using the compiled-code cache; every start compiles");
                    None
                }
            }),
        })
    }

    /// Compiles and links a plugin, and instantiates it once to check it
    /// against the world; calls none of its exports. Compiling and reading
    /// or writing the compiled cache block: call it off the async threads.
    pub fn load(&self, spec: &PluginSpec) -> Result<Plugin, LoadError> {
        let bytes = match &spec.source {
            PluginSource::Mock => std::borrow::Cow::Borrowed(MOCK_PLUGIN),
            PluginSource::Discord => std::borrow::Cow::Borrowed(DISCORD_PLUGIN),
            PluginSource::File(path) => {
                std::borrow::Cow::Owned(std::fs::read(path).map_err(|error| LoadError::Read {
                    path: path.clone(),
                    error,
                })?)
            }
        };
        if is_core_module(&bytes) {
            return Err(LoadError::CoreModule {
                name: spec.name.clone(),
            });
        }
        let started = std::time::Instant::now();
        let compiled = match &self.compiled {
            Some(cache) => cache.load(&self.engine, &spec.name, &bytes),
            None => compiled_cache::compile(&self.engine, &spec.name, &bytes)
                // SAFETY: compiled just now by this engine.
                .and_then(|compiled| unsafe { Component::deserialize(&self.engine, &compiled) }),
        };
        tracing::debug!(plugin = %spec.name, elapsed = ?started.elapsed(), "component ready");
        let component = compiled.map_err(|e| LoadError::Compile {
            name: spec.name.clone(),
            cause: format!("{e:?}"),
        })?;
        if let Some(cause) = world_check::imports_problem(&self.engine, &component) {
            return Err(LoadError::Link {
                name: spec.name.clone(),
                cause,
            });
        }
        let link_error = |e: wasmtime::Error| LoadError::Link {
            name: spec.name.clone(),
            cause: format!("{e:?}"),
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(link_error)?;
        let pre = ProviderPre::new(instance_pre).map_err(link_error)?;
        let plugin = Plugin::new(
            spec,
            version_of(&bytes, spec),
            self.engine.clone(),
            pre,
            self.parts.clone(),
        );
        world_check::check(&plugin)?;
        Ok(plugin)
    }
}

/// A core module starts with the magic and version 1; a component has the
/// same magic and a version with its layer byte set.
fn is_core_module(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\0asm\x01\0\0\0")
}

/// A plugin version's name: a hash of its component and its config. It
/// tells versions apart in the log and the metrics, and nodes share
/// answers only within one version, so a node running another component
/// or config never serves or takes the others'.
fn version_of(bytes: &[u8], spec: &PluginSpec) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(bytes);
    // Secrets count by name only (their `Debug` hides them).
    hasher.update(format!("{:?}", spec.config).as_bytes());
    hasher.finalize().to_hex()[..16].to_string()
}

/// With the `profiling` feature, `D_BACK_PLUGIN_PROFILER=perfmap` (or
/// `jitdump`) makes plugin code visible to `perf`: `perf record` then
/// names the guest's functions, so an author sees where a call's time goes.
#[cfg(feature = "profiling")]
fn profiler_from_env(config: &mut Config) {
    let strategy = match std::env::var("D_BACK_PLUGIN_PROFILER").as_deref() {
        Ok("perfmap") => wasmtime::ProfilingStrategy::PerfMap,
        Ok("jitdump") => wasmtime::ProfilingStrategy::JitDump,
        Ok(other) => {
            tracing::warn!(
                profiler = other,
                "unknown D_BACK_PLUGIN_PROFILER; use perfmap or jitdump"
            );
            return;
        }
        Err(_) => return,
    };
    config.profiler(strategy);
}
