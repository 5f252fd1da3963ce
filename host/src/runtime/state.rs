//! What each plugin store holds, and the host functions plugins import.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::{Level, d_back};
use super::config_value::ConfigValue;
use super::egress::{EgressPolicy, EgressRules};
use super::limits::MemoryCap;
use super::log_stream::LogStream;
use super::one_line::one_line;
use crate::limits::{LogBudget, Verdict};

/// Longest log line a plugin may write; the rest is cut so a plugin cannot
/// flood the host's log with one call.
const MAX_LOG_LINE: usize = 4096;

/// Host-side resources (streams, `wasi:http` header maps, requests, bodies,
/// futures, pollables) one instance may hold at once. An HTTP request
/// needs about ten, an interpreter's start-up a few dozen; past the bound
/// the call that asks for one more traps and the instance is dropped, so a
/// plugin that keeps them cannot grow the host outside its memory cap.
pub const MAX_RESOURCES: usize = 1024;

/// Bytes of names and values one `wasi:http` header map may hold (wasmtime
/// allows 128 KiB): with [`MAX_RESOURCES`] it bounds header maps at 16 MiB
/// per instance.
pub const MAX_FIELD_BYTES: usize = 16 * 1024;

/// Who a plugin is, shared by all of its stores.
#[derive(Debug)]
pub struct PluginIdentity {
    pub name: Arc<str>,
    pub config: BTreeMap<String, ConfigValue>,
    /// Where the plugin may send HTTP requests.
    pub egress: Arc<EgressRules>,
    /// What it may still write to the log, shared with its HTTP policy's
    /// warnings.
    pub log: Arc<LogBudget>,
}

impl PluginIdentity {
    /// Writes one line of the plugin's to the host's log, within its budget
    /// and on one line, tagged with its name.
    pub fn log_line(&self, level: Level, source: &'static str, message: &str) {
        let message = clip_line(message);
        let suppressed = match self.log.admit(message.len(), Instant::now()) {
            Verdict::Drop => {
                crate::metrics::metrics()
                    .plugin_log_lines_suppressed
                    .get_or_create(&crate::metrics::PluginLabels {
                        plugin: self.name.clone(),
                    })
                    .inc();
                return;
            }
            Verdict::Write { suppressed } => suppressed,
        };
        let plugin: &str = &self.name;
        if suppressed > 0 {
            tracing::warn!(
                plugin = %plugin,
                suppressed,
                "plugin log lines suppressed (over its log budget)"
            );
        }
        let message = one_line(message);
        match level {
            Level::Trace => tracing::trace!(plugin = %plugin, source, "{message}"),
            Level::Debug => tracing::debug!(plugin = %plugin, source, "{message}"),
            Level::Info => tracing::info!(plugin = %plugin, source, "{message}"),
            Level::Warn => tracing::warn!(plugin = %plugin, source, "{message}"),
            Level::Error => tracing::error!(plugin = %plugin, source, "{message}"),
        }
    }
}

/// The data of one plugin store.
pub struct PluginState {
    pub identity: Arc<PluginIdentity>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    egress: EgressPolicy,
    table: ResourceTable,
    pub memory: MemoryCap,
    /// When the running call must stop; checked on every epoch tick.
    pub deadline: Instant,
}

impl PluginState {
    pub fn new(identity: Arc<PluginIdentity>, memory: MemoryCap) -> Self {
        // Deny by default: no preopened directories, no environment, no
        // arguments, no socket addresses; stdio goes to the host log. HTTP
        // goes only where the operator's allow-list says (none by default).
        let wasi = WasiCtx::builder()
            .stdout(LogStream::new(Arc::clone(&identity), "stdout", Level::Info))
            .stderr(LogStream::new(Arc::clone(&identity), "stderr", Level::Warn))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let egress = EgressPolicy::new(
            Arc::clone(&identity.name),
            Arc::clone(&identity.egress),
            Arc::clone(&identity.log),
        );
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(MAX_FIELD_BYTES);
        Self {
            identity,
            wasi,
            http,
            egress,
            table,
            memory,
            deadline: Instant::now(),
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

impl d_back::plugin::types::Host for PluginState {}

impl d_back::plugin::host::Host for PluginState {
    fn log(&mut self, level: Level, message: String) {
        self.identity.log_line(level, "host.log", &message);
    }

    fn config_get(&mut self, key: String) -> Option<String> {
        self.identity
            .config
            .get(&key)
            .map(|value| value.expose().to_string())
    }

    fn config_all(&mut self) -> Vec<(String, String)> {
        self.identity
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_string()))
            .collect()
    }
}

/// `line` cut at [`MAX_LOG_LINE`] bytes, on a character boundary.
pub fn clip_line(line: &str) -> &str {
    if line.len() <= MAX_LOG_LINE {
        return line;
    }
    let mut end = MAX_LOG_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}
