//! A trial instantiation at load: every export the host calls is looked up
//! and type-checked against the world the host was built with, so a plugin
//! built against another WIT stops start-up with a message naming the
//! function and wasmtime's reason, instead of failing every call later.

use std::sync::Arc;

use wasmtime::component::{ComponentNamedList, Instance, InstancePre, Lift, Lower, TypedFunc};
use wasmtime::{Engine, Store};

use super::bindings::exports::d_back::plugin::activity::Timer;
use super::bindings::wit;
use super::limits::{Limits, MemoryCap};
use super::state::{PluginIdentity, PluginState};

/// The package and version of the world this host provides.
pub const WORLD: &str = "d-back:plugin@0.1.0";

/// What did not fit.
#[derive(Debug)]
pub enum Mismatch {
    /// The component's start-up code failed.
    Instantiate(String),
    /// An export is missing or has other types.
    Export { function: String, cause: String },
}

/// Instantiates `pre` once in a throwaway store under `limits` and checks
/// each export. Runs guest start-up code, so call it off the async threads;
/// it runs on a thread of its own with a runtime of its own either way, so
/// it is callable from anywhere.
pub fn check(
    engine: &Engine,
    pre: &InstancePre<PluginState>,
    identity: Arc<PluginIdentity>,
    limits: Limits,
) -> Result<(), Mismatch> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| check_here(engine, pre, identity, limits))
            .join()
            .unwrap_or_else(|_| Err(Mismatch::Instantiate("the check panicked".into())))
    })
}

fn check_here(
    engine: &Engine,
    pre: &InstancePre<PluginState>,
    identity: Arc<PluginIdentity>,
    limits: Limits,
) -> Result<(), Mismatch> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Mismatch::Instantiate(e.to_string()))?;
    runtime.block_on(async {
        let mut store = Store::new(
            engine,
            PluginState::new(identity, MemoryCap::new(limits.memory_bytes)),
        );
        store.limiter(|state| &mut state.memory);
        store
            .set_fuel(limits.fuel)
            .map_err(|e| Mismatch::Instantiate(e.to_string()))?;
        // The epoch ticker runs: a start function gets the deadline and
        // then traps instead of hanging start-up.
        let deadline = std::time::Instant::now() + limits.deadline;
        store.epoch_deadline_callback(move |_| {
            if std::time::Instant::now() >= deadline {
                Ok(wasmtime::UpdateDeadline::Interrupt)
            } else {
                Ok(wasmtime::UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| Mismatch::Instantiate(format!("{e:#}")))?;
        check_exports(&mut store, &instance)
    })
}

fn check_exports(store: &mut Store<PluginState>, instance: &Instance) -> Result<(), Mismatch> {
    let callbacks = format!("d-back:plugin/callbacks@{}", version());
    let activity = format!("d-back:plugin/activity@{}", version());
    let mut check = Checker {
        store,
        instance,
        interface: &callbacks,
    };
    check.func::<(), (Result<Vec<wit::Server>, String>,)>("get-server-data")?;
    check.func::<(String,), (Result<Vec<wit::User>, String>,)>("get-user-data")?;
    check.func::<(String,), (Result<Option<wit::StaticResponse>, String>,)>("static-request")?;
    check.func::<(String, wit::DiscordUser, String), (Result<bool, String>,)>(
        "validate-discord-user",
    )?;
    check.func::<(String,), (Result<Option<String>, String>,)>("get-client-id")?;
    check.interface = &activity;
    check.func::<(), (Vec<Timer>,)>("timers")?;
    check.func::<(String, Vec<String>), (Result<Vec<wit::Event>, String>,)>("on-timer")?;
    Ok(())
}

fn version() -> &'static str {
    WORLD.rsplit_once('@').map_or("", |(_, version)| version)
}

struct Checker<'a> {
    store: &'a mut Store<PluginState>,
    instance: &'a Instance,
    interface: &'a str,
}

impl Checker<'_> {
    fn func<P, R>(&mut self, name: &str) -> Result<TypedFunc<P, R>, Mismatch>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        let function = format!("{}#{name}", self.interface);
        let missing = |what: &str| Mismatch::Export {
            function: function.clone(),
            cause: format!("the component exports no {what}"),
        };
        let interface = self
            .instance
            .get_export_index(&mut *self.store, None, self.interface)
            .ok_or_else(|| missing(&format!("interface `{}`", self.interface)))?;
        let index = self
            .instance
            .get_export_index(&mut *self.store, Some(&interface), name)
            .ok_or_else(|| missing(&format!("function `{name}`")))?;
        let func = self
            .instance
            .get_func(&mut *self.store, index)
            .ok_or_else(|| missing(&format!("function `{name}`")))?;
        func.typed::<P, R>(&*self.store)
            .map_err(|e| Mismatch::Export {
                function: function.clone(),
                cause: format!("{e:#}"),
            })
    }
}
