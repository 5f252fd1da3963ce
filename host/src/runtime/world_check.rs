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

/// The functions of `wit/world.wit`'s `host` interface (a test keeps this
/// in step with the WIT).
pub const HOST_FUNCTIONS: &[&str] = &["log", "config-get", "config-all"];

/// The interfaces of the package a plugin may import.
const IMPORTABLE: &[&str] = &["host", "types"];

/// What is wrong with `component`'s imports of this host's package, said
/// the way its author can act on: the version it was built against, or
/// the host function it wants that this host does not have. `None` when
/// they fit (or concern other packages, which the linker judges).
pub fn imports_problem(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> Option<String> {
    use wasmtime::component::types::ComponentItem;
    let (package, provided) = WORLD.split_once('@')?;
    for (name, item) in component.component_type().imports(engine) {
        let Some(rest) = name.strip_prefix(package).and_then(|r| r.strip_prefix('/')) else {
            continue;
        };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, "(none)"));
        if version != provided {
            return Some(format!(
                "it was built against {package}@{version} (it imports `{name}`); this host provides {WORLD}: rebuild it against this host's wit/world.wit"
            ));
        }
        if !IMPORTABLE.contains(&interface) {
            return Some(format!(
                "it imports the interface `{name}`, which this host does not provide (it provides {package}/host@{provided})"
            ));
        }
        if interface != "host" {
            continue;
        }
        if let ComponentItem::ComponentInstance(instance) = item.ty {
            for (function, item) in instance.exports(engine) {
                let is_function = matches!(item.ty, ComponentItem::ComponentFunc(_));
                if is_function && !HOST_FUNCTIONS.contains(&function) {
                    return Some(format!(
                        "it imports the host function `{function}` from `{name}`, which this host does not provide (it provides {})",
                        HOST_FUNCTIONS.join(", ")
                    ));
                }
            }
        }
    }
    None
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_functions_listed_are_the_wits() {
        let wit = include_str!("../../../wit/world.wit");
        let host = wit
            .split("interface host {")
            .nth(1)
            .and_then(|rest| rest.split("\n}").next())
            .expect("the WIT has a host interface");
        let declared: Vec<&str> = host
            .lines()
            .filter_map(|line| line.trim().split_once(": func"))
            .map(|(name, _)| name)
            .collect();
        assert_eq!(declared, HOST_FUNCTIONS);
        assert!(wit.contains(&format!("package {WORLD};")));
    }
}
