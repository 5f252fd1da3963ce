//! What the server counts, for `GET /metrics` in Prometheus' text format
//! (`prometheus-client`, the official Rust client). One set per process:
//! like a log, metrics describe the process, and every part of the server
//! reaches them without a handle threaded through (the plugin runtime, the
//! limits, the connections).

mod labels;

use std::sync::OnceLock;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use labels::*;

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    pub plugin_calls: Family<CallLabels, Counter>,
    pub plugin_call_seconds: Family<PluginCallback, Histogram, fn() -> Histogram>,
    pub plugin_fuel: Family<PluginCallback, Histogram, fn() -> Histogram>,
    pub plugin_fallbacks: Family<FallbackLabels, Counter>,
    pub plugin_instances: Family<InstanceLabels, Gauge>,
    pub plugin_breakers_open: Family<PluginCallback, Gauge>,
    pub plugin_cache: Family<CacheLabels, Counter>,
    pub plugin_version: Family<VersionLabels, Gauge>,
    pub plugin_reloads: Family<ReloadLabels, Counter>,
    pub plugin_http_requests: Family<EgressLabels, Counter>,
    pub plugin_log_lines_suppressed: Family<PluginLabels, Counter>,
    pub connections_open: Gauge,
    pub joins: Family<JoinLabels, Counter>,
    pub broadcasts: Family<BroadcastLabels, Counter>,
    pub frames_delivered: Counter,
    pub frames_dropped: Counter,
    pub browsers_closed: Family<CloseLabels, Counter>,
    pub login_attempts: Family<LoginLabels, Counter>,
    pub discord_events: Family<DiscordEventLabels, Counter>,
    pub discord_session_starts: Family<SessionStartLabels, Counter>,
    pub discord_connected: Gauge,
    pub discord_stopped: Gauge,
}

fn call_seconds() -> Histogram {
    // 10 µs to about 10 s.
    Histogram::new(exponential_buckets(1e-5, 4.0, 11))
}

fn fuel_used() -> Histogram {
    // 1,000 units to about 4·10^11.
    Histogram::new(exponential_buckets(1e3, 8.0, 14))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("dback");
        let metrics = Self {
            plugin_calls: Family::default(),
            plugin_call_seconds: Family::new_with_constructor(call_seconds as fn() -> Histogram),
            plugin_fuel: Family::new_with_constructor(fuel_used as fn() -> Histogram),
            plugin_fallbacks: Family::default(),
            plugin_instances: Family::default(),
            plugin_breakers_open: Family::default(),
            plugin_cache: Family::default(),
            plugin_version: Family::default(),
            plugin_reloads: Family::default(),
            plugin_http_requests: Family::default(),
            plugin_log_lines_suppressed: Family::default(),
            connections_open: Gauge::default(),
            joins: Family::default(),
            broadcasts: Family::default(),
            frames_delivered: Counter::default(),
            frames_dropped: Counter::default(),
            browsers_closed: Family::default(),
            login_attempts: Family::default(),
            discord_events: Family::default(),
            discord_session_starts: Family::default(),
            discord_connected: Gauge::default(),
            discord_stopped: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "plugin_calls",
            "Plugin calls by plugin, callback and outcome",
            metrics.plugin_calls.clone(),
        );
        registry.register(
            "plugin_call_seconds",
            "Wall-clock time of plugin calls",
            metrics.plugin_call_seconds.clone(),
        );
        registry.register(
            "plugin_fuel_used",
            "Fuel a plugin call used",
            metrics.plugin_fuel.clone(),
        );
        registry.register(
            "plugin_fallbacks",
            "Failed calls answered with the last good answer or the safe default",
            metrics.plugin_fallbacks.clone(),
        );
        registry.register(
            "plugin_instances",
            "Plugin instances, in a call (live) or kept for the next one (idle)",
            metrics.plugin_instances.clone(),
        );
        registry.register(
            "plugin_breakers_open",
            "Circuit breakers open now (per callback, and per server or address where keyed)",
            metrics.plugin_breakers_open.clone(),
        );
        registry.register(
            "plugin_cache",
            "Server and member list lookups in the host's cache, by result",
            metrics.plugin_cache.clone(),
        );
        registry.register(
            "plugin_version",
            "The plugin version serving (1), by name and hash",
            metrics.plugin_version.clone(),
        );
        registry.register(
            "plugin_reloads",
            "Plugin reloads, by result",
            metrics.plugin_reloads.clone(),
        );
        registry.register(
            "plugin_http_requests",
            "Outgoing HTTP requests of plugins, by verdict of the allow-list",
            metrics.plugin_http_requests.clone(),
        );
        registry.register(
            "plugin_log_lines_suppressed",
            "Plugin log lines dropped over the plugin's log budget",
            metrics.plugin_log_lines_suppressed.clone(),
        );
        registry.register(
            "connections_open",
            "Open WebSocket connections",
            metrics.connections_open.clone(),
        );
        registry.register("joins", "Joins, by outcome", metrics.joins.clone());
        registry.register(
            "broadcasts",
            "Broadcasts delivered to this node's browsers, by kind",
            metrics.broadcasts.clone(),
        );
        registry.register(
            "frames_delivered",
            "Broadcast frames queued for browsers",
            metrics.frames_delivered.clone(),
        );
        registry.register(
            "frames_dropped",
            "Broadcast frames not delivered: the browser's queue was full",
            metrics.frames_dropped.clone(),
        );
        registry.register(
            "browsers_closed",
            "Browsers closed by the server, by reason",
            metrics.browsers_closed.clone(),
        );
        registry.register(
            "login_attempts",
            "Logins to passworded servers, by outcome",
            metrics.login_attempts.clone(),
        );
        registry.register(
            "discord_events",
            "Discord gateway events passed to the bridge, by type",
            metrics.discord_events.clone(),
        );
        registry.register(
            "discord_session_starts",
            "Discord gateway sessions started (identify) or resumed",
            metrics.discord_session_starts.clone(),
        );
        registry.register(
            "discord_connected",
            "1 while events flow from Discord's gateway",
            metrics.discord_connected.clone(),
        );
        registry.register(
            "discord_stopped",
            "1 once the Discord gateway stopped for good (see /api/discord)",
            metrics.discord_stopped.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Everything, in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}
