//! One loaded provider: typed calls into the component, each sandboxed, each
//! checked at the boundary.
//!
//! Instances are reused. A fresh instance per call is the simplest isolation,
//! but instantiating a JavaScript or Python component costs over a
//! millisecond against a few microseconds for a call on a live instance, and
//! every join makes several calls. Reuse is safe because nothing is shared
//! between calls but the plugin's own globals (which the WIT contract tells
//! authors about), and an instance that trapped, ran out of fuel or time, or
//! was refused memory is dropped instead of being put back: its memory may
//! be half-updated. Each call gets its own full fuel budget and deadline.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::time::error::Elapsed;
use wasmtime::component::InstancePre;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use super::admission::Lanes;
use super::bindings::exports::d_back::plugin::activity::Timer;
use super::bindings::{Provider, ProviderPre};
use super::breaker::Breakers;
use super::cache::CallCache;
use super::callback::Callback;
use super::convert;
use super::convert::OutputCaps;
use super::epoch::{EpochTicker, Ticking};
use super::error::PluginError;
use super::last_good::LastGood;
use super::limits::{Limits, MemoryCap};
use super::low_priority::LowPriority;
use super::one_line::one_line;
use super::sharing::AnswerSharing;
use super::state::{PluginIdentity, PluginState};
use super::{PluginSpec, RuntimeParts};
use crate::limits::LogBudget;
use crate::metrics::CallOutcome;
use crate::model::{DiscordUserClaim, Event, Member, ServerEntry, StaticReply};
use crate::protocol::{Members, Servers};

/// Slack between the epoch-enforced deadline and the tokio timeout that
/// backs it up, so the precise path normally wins.
const DEADLINE_GRACE: Duration = Duration::from_millis(250);

/// Budget of the host's own warnings about one plugin's failed calls.
const REPORT_BYTES_PER_SECOND: u32 = 8 * 1024;

/// A live instance with its store.
struct Instance {
    store: Store<PluginState>,
    bindings: Provider,
}

/// A compiled provider component, ready to be called.
pub struct Plugin {
    identity: Arc<PluginIdentity>,
    engine: Engine,
    pre: ProviderPre<PluginState>,
    limits: Limits,
    pub(super) caps: OutputCaps,
    idle: Mutex<Vec<Instance>>,
    max_idle: usize,
    /// Instances in a call now.
    live: std::sync::atomic::AtomicUsize,
    lanes: Lanes,
    pub(super) breakers: Breakers,
    pub(super) last_good: LastGood,
    pub(super) cached_servers: CallCache<Servers, PluginError>,
    pub(super) cached_users: CallCache<Members, PluginError>,
    pub(super) cache_ttl: Duration,
    /// Where member lists are shared with other nodes, in a cluster.
    pub(super) sharing: OnceLock<Arc<dyn AnswerSharing>>,
    /// Names this plugin's shared answers: its name and version.
    pub(super) scope: String,
    /// A hash of the component and its config.
    version: String,
    /// The host's own reports of this plugin's failures, rate-limited like
    /// the plugin's log so a failing flood cannot flood the log either.
    pub(super) reports: LogBudget,
    /// Where timer and `static-request` calls run.
    pub(super) background: Arc<LowPriority>,
    /// Advances the epoch (so deadlines hold) while a call runs.
    ticker: Arc<EpochTicker>,
}

/// Runs `$body` with `$inst` checked out, under the call's limits, and
/// settles the outcome (instance back to the pool, or dropped).
macro_rules! sandboxed {
    ($plugin:ident, $callback:expr, |$inst:ident| $body:expr) => {{
        let _permit = $plugin
            .lanes
            .get($callback.lane())
            .enter($plugin.limits.deadline)
            .await?;
        let _ticking = $plugin.ticking();
        let mut $inst = $plugin.checkout($callback).await?;
        let outcome =
            tokio::time::timeout($plugin.limits.deadline + DEADLINE_GRACE, async { $body }).await;
        $plugin.settle($callback, $inst, outcome)
    }};
}

impl Plugin {
    pub(super) fn new(
        spec: &PluginSpec,
        version: String,
        engine: Engine,
        pre: ProviderPre<PluginState>,
        parts: RuntimeParts,
    ) -> Self {
        Self {
            identity: Arc::new(PluginIdentity {
                name: spec.name.as_str().into(),
                config: spec.config.clone(),
                egress: Arc::new(spec.egress.clone()),
                log: Arc::new(LogBudget::new(spec.log_bytes_per_second)),
            }),
            engine,
            pre,
            limits: spec.limits,
            caps: spec.output,
            idle: Mutex::new(Vec::new()),
            max_idle: spec.idle_instances,
            live: std::sync::atomic::AtomicUsize::new(0),
            lanes: Lanes::new(&spec.lanes),
            breakers: Breakers::new(spec.breaker),
            last_good: LastGood::default(),
            cached_servers: CallCache::new(spec.cache_ttl),
            cached_users: CallCache::new(spec.cache_ttl),
            cache_ttl: spec.cache_ttl,
            sharing: OnceLock::new(),
            scope: format!("{}-{version}", spec.name),
            version,
            reports: LogBudget::new(REPORT_BYTES_PER_SECOND),
            background: parts.background,
            ticker: parts.ticker,
        }
    }

    /// Forgets the cached member list of `server` (a member left): the
    /// next join asks the plugin.
    pub fn forget_members(&self, server: &str) {
        self.cached_users.forget(server);
    }

    pub fn name(&self) -> &str {
        &self.identity.name
    }

    /// The name as metrics label it, shared.
    pub fn label(&self) -> Arc<str> {
        Arc::clone(&self.identity.name)
    }

    /// Makes up to `count` instances (no more than are kept idle) before
    /// any call needs them: a version swapped in then serves its first
    /// joins as fast as the one it replaces.
    pub async fn prewarm(&self, count: usize) {
        let _ticking = self.ticking();
        for _ in 0..count.min(self.max_idle) {
            let Ok(instance) = self.checkout(Callback::GetServerData).await else {
                return;
            };
            self.live.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(instance);
        }
    }

    /// Instances in a call now, and kept idle for the next.
    pub fn instances(&self) -> (usize, usize) {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).len();
        (self.live.load(std::sync::atomic::Ordering::Relaxed), idle)
    }

    /// Circuit breakers open now, per callback.
    pub fn breakers_open(&self) -> Vec<(Callback, usize)> {
        self.breakers.open_now(Instant::now())
    }

    /// A hash of the component and its config, which tells versions apart.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Shares member lists through `sharing` from now on, when they are
    /// cached at all (`cache_ttl_ms` above zero). Set once; a second is
    /// refused (returned).
    pub fn share_answers_through(
        &self,
        sharing: Arc<dyn AnswerSharing>,
    ) -> Result<(), Arc<dyn AnswerSharing>> {
        self.sharing.set(sharing)
    }

    /// Where work for this plugin that nobody waits on runs: timers.
    pub fn low_priority(&self) -> &tokio::runtime::Handle {
        self.background.handle()
    }

    pub async fn get_server_data(&self) -> Result<Vec<ServerEntry>, PluginError> {
        let answer = sandboxed!(self, Callback::GetServerData, |inst| {
            inst.bindings
                .d_back_plugin_callbacks()
                .call_get_server_data(&mut inst.store)
                .await
        })?;
        convert::servers(returned(answer)?, &self.caps).map_err(invalid)
    }

    pub async fn get_user_data(&self, server: &str) -> Result<Vec<Member>, PluginError> {
        let answer = sandboxed!(self, Callback::GetUserData, |inst| {
            inst.bindings
                .d_back_plugin_callbacks()
                .call_get_user_data(&mut inst.store, server)
                .await
        })?;
        convert::users(returned(answer)?, &self.caps).map_err(invalid)
    }

    pub async fn static_request(&self, path: &str) -> Result<Option<StaticReply>, PluginError> {
        let answer = sandboxed!(self, Callback::StaticRequest, |inst| {
            inst.bindings
                .d_back_plugin_callbacks()
                .call_static_request(&mut inst.store, path)
                .await
        })?;
        returned(answer)?
            .map(|reply| convert::static_reply(reply, &self.caps))
            .transpose()
            .map_err(invalid)
    }

    pub async fn validate_discord_user(
        &self,
        token: &str,
        user: &DiscordUserClaim,
        server: &str,
    ) -> Result<bool, PluginError> {
        let user = convert::discord_user(user);
        let answer = sandboxed!(self, Callback::ValidateDiscordUser, |inst| {
            inst.bindings
                .d_back_plugin_callbacks()
                .call_validate_discord_user(&mut inst.store, token, &user, server)
                .await
        })?;
        returned(answer)
    }

    pub async fn get_client_id(&self, server: &str) -> Result<Option<String>, PluginError> {
        let answer = sandboxed!(self, Callback::GetClientId, |inst| {
            inst.bindings
                .d_back_plugin_callbacks()
                .call_get_client_id(&mut inst.store, server)
                .await
        })?;
        convert::client_id(returned(answer)?, &self.caps).map_err(invalid)
    }

    pub async fn timers(&self) -> Result<Vec<Timer>, PluginError> {
        let started = Instant::now();
        let outcome = async {
            let answer = sandboxed!(self, Callback::Timers, |inst| {
                inst.bindings
                    .d_back_plugin_activity()
                    .call_timers(&mut inst.store)
                    .await
            })?;
            convert::timers(answer).map_err(invalid)
        }
        .await;
        self.count_call(Callback::Timers, started, &outcome, |_| CallOutcome::ok);
        outcome
    }

    pub async fn on_timer(
        &self,
        name: &str,
        servers: &[String],
    ) -> Result<Vec<Event>, PluginError> {
        let answer = sandboxed!(self, Callback::OnTimer, |inst| {
            inst.bindings
                .d_back_plugin_activity()
                .call_on_timer(&mut inst.store, name, servers)
                .await
        })?;
        convert::events(returned(answer)?, &self.caps).map_err(invalid)
    }

    /// An idle instance, or a new one; armed with a fresh budget either way.
    async fn checkout(&self, callback: Callback) -> Result<Instance, PluginError> {
        tracing::debug!(
            plugin = self.name(),
            callback = callback.as_str(),
            "plugin call"
        );
        let reused = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(mut instance) = reused {
            self.arm(&mut instance.store)?;
            self.live.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(instance);
        }
        let mut store = self.new_store()?;
        let instantiated = tokio::time::timeout(
            self.limits.deadline + DEADLINE_GRACE,
            self.pre.instantiate_async(&mut store),
        )
        .await;
        match instantiated {
            Ok(Ok(bindings)) => {
                self.arm(&mut store)?;
                self.live.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(Instance { store, bindings })
            }
            Ok(Err(error)) => Err(match self.classify(&store, error) {
                PluginError::Trap(cause) => PluginError::Instantiate(cause),
                other => other,
            }),
            Err(_) => Err(PluginError::Deadline(self.limits.deadline)),
        }
    }

    /// A store for a new instance: the memory cap, the epoch callback that
    /// enforces each call's deadline, and armed, since instantiation runs
    /// guest code too (initialisers).
    pub(super) fn new_store(&self) -> Result<Store<PluginState>, PluginError> {
        let mut store = Store::new(
            &self.engine,
            PluginState::new(
                Arc::clone(&self.identity),
                MemoryCap::new(self.limits.memory_bytes),
            ),
        );
        store.limiter(|state| &mut state.memory);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        self.arm(&mut store)?;
        Ok(store)
    }

    /// Keeps deadlines enforced while guest code runs: hold it for the
    /// whole call, instantiation included.
    pub(super) fn ticking(&self) -> Ticking<'_> {
        self.ticker.hold()
    }

    /// The linked component, for instantiating it outside the pool.
    pub(super) fn instance_pre(&self) -> &InstancePre<PluginState> {
        self.pre.instance_pre()
    }

    fn arm(&self, store: &mut Store<PluginState>) -> Result<(), PluginError> {
        store
            .set_fuel(self.limits.fuel)
            .map_err(|e| PluginError::Instantiate(e.to_string()))?;
        store.data_mut().deadline = Instant::now() + self.limits.deadline;
        store.data_mut().memory.forget_refusal();
        store.set_epoch_deadline(1);
        Ok(())
    }

    /// Puts a healthy instance back, or turns a failure into its cause and
    /// drops the instance.
    fn settle<R>(
        &self,
        callback: Callback,
        instance: Instance,
        outcome: Result<wasmtime::Result<R>, Elapsed>,
    ) -> Result<R, PluginError> {
        self.live.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let used = self
            .limits
            .fuel
            .saturating_sub(instance.store.get_fuel().unwrap_or(0));
        crate::metrics::metrics()
            .plugin_fuel
            .get_or_create(&crate::metrics::PluginCallback {
                plugin: self.label(),
                callback: callback.as_str(),
            })
            .observe(used as f64);
        match outcome {
            Ok(Ok(value)) => {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < self.max_idle {
                    idle.push(instance);
                }
                Ok(value)
            }
            Ok(Err(error)) => Err(self.classify(&instance.store, error)),
            Err(_) => Err(PluginError::Deadline(self.limits.deadline)),
        }
    }

    fn classify(&self, store: &Store<PluginState>, error: wasmtime::Error) -> PluginError {
        if store.data().memory.refused() {
            return PluginError::MemoryCap(store.data().memory.limit());
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => PluginError::OutOfFuel(self.limits.fuel),
            Some(Trap::Interrupt) => PluginError::Deadline(self.limits.deadline),
            Some(trap) => PluginError::Trap(trap.to_string()),
            None => PluginError::Trap(one_line(&format!("{error:#}")).into_owned()),
        }
    }
}

fn returned<T>(answer: Result<T, String>) -> Result<T, PluginError> {
    answer.map_err(|reason| {
        PluginError::Returned(one_line(super::state::clip_line(&reason)).into_owned())
    })
}

fn invalid(error: crate::model::InvalidValue) -> PluginError {
    PluginError::InvalidOutput(error.0)
}
