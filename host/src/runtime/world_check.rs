//! A trial instantiation at load: every export the host calls is looked up
//! and type-checked against the world the host was built with, so a plugin
//! built against another WIT stops start-up with a message naming the
//! function and wasmtime's reason, instead of failing every call later.

use wasmtime::Store;
use wasmtime::component::{ComponentNamedList, Instance, Lift, Lower};

use super::LoadError;
use super::bindings::exports::d_back::plugin::activity::Timer;
use super::bindings::wit;
use super::plugin::Plugin;
use super::state::PluginState;

/// The package and version of the world this host provides.
pub const WORLD: &str = "d-back:plugin@0.1.0";

/// Instantiates `plugin` once in a throwaway store, under its own limits,
/// and checks each export. Runs guest start-up code, so call it off the
/// async threads; it runs on a thread of its own with a runtime of its own
/// either way, so it is callable from anywhere.
pub fn check(plugin: &Plugin) -> Result<(), LoadError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| check_here(plugin))
            .join()
            .unwrap_or_else(|_| Err(start_failed(plugin, "the check panicked".into())))
    })
}

fn check_here(plugin: &Plugin) -> Result<(), LoadError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| start_failed(plugin, e.to_string()))?;
    runtime.block_on(async {
        // Armed like a call: a start function that hangs meets the deadline
        // and traps instead of hanging start-up.
        let _ticking = plugin.ticking();
        let mut store = plugin
            .new_store()
            .map_err(|e| start_failed(plugin, e.to_string()))?;
        let instance = plugin
            .instance_pre()
            .instantiate_async(&mut store)
            .await
            .map_err(|e| start_failed(plugin, format!("{e:#}")))?;
        let mut check = Checker {
            plugin,
            store: &mut store,
            instance: &instance,
            interface: format!("d-back:plugin/callbacks@{}", version()),
        };
        check.func::<(), (Result<Vec<wit::Server>, String>,)>("get-server-data")?;
        check.func::<(String,), (Result<Vec<wit::User>, String>,)>("get-user-data")?;
        check
            .func::<(String,), (Result<Option<wit::StaticResponse>, String>,)>("static-request")?;
        check.func::<(String, wit::DiscordUser, String), (Result<bool, String>,)>(
            "validate-discord-user",
        )?;
        check.func::<(String,), (Result<Option<String>, String>,)>("get-client-id")?;
        check.interface = format!("d-back:plugin/activity@{}", version());
        check.func::<(), (Vec<Timer>,)>("timers")?;
        check.func::<(String, Vec<String>), (Result<Vec<wit::Event>, String>,)>("on-timer")
    })
}

fn start_failed(plugin: &Plugin, cause: String) -> LoadError {
    LoadError::Start {
        name: plugin.name().to_string(),
        cause,
    }
}

fn version() -> &'static str {
    WORLD.rsplit_once('@').map_or("", |(_, version)| version)
}

struct Checker<'a> {
    plugin: &'a Plugin,
    store: &'a mut Store<PluginState>,
    instance: &'a Instance,
    interface: String,
}

impl Checker<'_> {
    /// Looks up `name` in the current interface and checks its types.
    fn func<P, R>(&mut self, name: &str) -> Result<(), LoadError>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        let mismatch = |cause: String| LoadError::Export {
            name: self.plugin.name().to_string(),
            function: format!("{}#{name}", self.interface),
            cause,
        };
        let interface = self
            .instance
            .get_export_index(&mut *self.store, None, &self.interface)
            .ok_or_else(|| {
                mismatch(format!(
                    "the component exports no interface `{}`",
                    self.interface
                ))
            })?;
        let func = self
            .instance
            .get_export_index(&mut *self.store, Some(&interface), name)
            .and_then(|index| self.instance.get_func(&mut *self.store, index))
            .ok_or_else(|| mismatch(format!("the component exports no function `{name}`")))?;
        func.typed::<P, R>(&*self.store)
            .map(drop)
            .map_err(|e| mismatch(format!("{e:#}")))
    }
}
