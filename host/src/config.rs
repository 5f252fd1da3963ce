//! The operator's settings: built-in defaults, overridden by the config file,
//! overridden by environment variables, overridden by command-line flags.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::cli::Cli;
use crate::cluster::ClusterConfig;
use crate::discord::{DiscordConfig, DiscordTable};
use crate::limits::ClientLimits;
use crate::runtime::{AllowedHost, CompiledCacheConfig, ConfigSource, PluginSource, PluginSpec};

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// `None` serves the built-in page.
    pub static_dir: Option<PathBuf>,
    /// Enables the HTTP broadcast API.
    pub admin_token: Option<AdminToken>,
    pub plugin: PluginSpec,
    /// What browsers may do: connections, sizes, rates, logins.
    pub clients: ClientLimits,
    /// Where compiled components are kept between starts; `None` compiles
    /// at every start.
    pub compiled_cache_dir: Option<PathBuf>,
    /// Bytes of compiled code kept there at most (`compiled_cache_max_mib`).
    pub compiled_cache_max_bytes: u64,
    /// A listener of its own for `GET /metrics`, without the admin token
    /// (`metrics_addr`); `None` serves them on the main port only, behind
    /// the token.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// The other nodes this one serves with (`[cluster]`,
    /// `D_BACK_REDIS_URL`); `None` runs alone.
    pub cluster: Option<ClusterConfig>,
    /// Discord's gateway, followed natively (`[discord]`,
    /// `--discord-guild`); `None` follows nothing.
    pub discord: Option<DiscordConfig>,
}

impl Settings {
    /// Where and how much compiled code is kept, if at all.
    pub fn compiled_cache(&self) -> Option<CompiledCacheConfig> {
        self.compiled_cache_dir
            .clone()
            .map(|dir| CompiledCacheConfig {
                dir,
                max_bytes: self.compiled_cache_max_bytes,
            })
    }

    pub const DEFAULT_HOST: &str = "localhost";
    pub const DEFAULT_PORT: u16 = 3000;

    /// Defaults, serving the embedded mock plugin.
    pub fn new() -> Self {
        Self {
            host: Self::DEFAULT_HOST.to_string(),
            port: Self::DEFAULT_PORT,
            static_dir: None,
            admin_token: None,
            plugin: PluginSpec::mock(),
            clients: ClientLimits::default(),
            compiled_cache_dir: default_compiled_cache_dir(),
            compiled_cache_max_bytes: CompiledCacheConfig::DEFAULT_MAX_BYTES,
            metrics_addr: None,
            cluster: None,
            discord: None,
        }
    }

    /// Settings from the command line, the environment (`D_BACK_ADMIN_TOKEN`;
    /// the others are read by [`Cli`]) and the config file it names.
    pub fn from_cli(cli: &Cli) -> Result<Self, ConfigError> {
        let mut settings = Self::new();
        let mut discord = None;
        if let Some(path) = &cli.config {
            let mut file = FileConfig::read(path)?;
            let base = path.parent().unwrap_or(Path::new("."));
            discord = file.discord.take().map(|table| (table, base.to_path_buf()));
            // Following Discord without a plugin named serves the
            // built-in Discord provider; the file's `[plugin]` may still
            // tune it.
            if discord.is_some() && file.plugin.as_ref().is_none_or(|p| p.path.is_none()) {
                settings.plugin = PluginSpec::discord();
            }
            settings.apply_file(file, base)?;
        }
        if discord.is_none() && !cli.discord_guilds.is_empty() {
            discord = Some((DiscordTable::default(), PathBuf::from(".")));
            if cli.config.is_none() || settings.plugin.source == PluginSource::Mock {
                settings.plugin = PluginSpec::discord();
            }
        }
        if let Some((table, base)) = discord {
            let config = DiscordConfig::from_table(table, &base, &cli.discord_guilds)
                .map_err(ConfigError::Invalid)?;
            settings.follow_discord(config)?;
        }
        if let Ok(token) = std::env::var("D_BACK_ADMIN_TOKEN") {
            settings.admin_token = AdminToken::new(token);
        }
        if let Ok(url) = std::env::var("D_BACK_REDIS_URL") {
            match &mut settings.cluster {
                Some(cluster) => cluster.redis_url = url,
                None => settings.cluster = Some(ClusterConfig::with_url(url)),
            }
        }
        if let Some(host) = &cli.host {
            settings.host.clone_from(host);
        }
        if let Some(port) = cli.port {
            settings.port = port;
        }
        if let Some(dir) = &cli.static_dir {
            settings.static_dir = Some(dir.clone());
        }
        if let Some(plugin) = &cli.plugin {
            settings.plugin.source = PluginSource::File(plugin.clone());
            settings.plugin.name = name_of(plugin);
        }
        Ok(settings)
    }

    fn apply_file(&mut self, file: FileConfig, base: &Path) -> Result<(), ConfigError> {
        if let Some(host) = file.host {
            self.host = host;
        }
        if let Some(port) = file.port {
            self.port = port;
        }
        if let Some(dir) = file.static_dir {
            self.static_dir = Some(base.join(dir));
        }
        if let Some(token) = file.admin_token {
            self.admin_token = AdminToken::new(token);
        }
        match (file.compiled_cache, file.compiled_cache_dir) {
            (Some(false), _) => self.compiled_cache_dir = None,
            (_, Some(dir)) => self.compiled_cache_dir = Some(base.join(dir)),
            _ => {}
        }
        if let Some(clients) = file.clients {
            clients.apply(&mut self.clients)?;
        }
        if let Some(mib) = file.compiled_cache_max_mib {
            self.compiled_cache_max_bytes = positive("compiled_cache_max_mib", mib)? << 20;
        }
        if let Some(addr) = file.metrics_addr {
            self.metrics_addr = Some(addr);
        }
        if let Some(cluster) = file.cluster {
            cluster.check().map_err(ConfigError::Invalid)?;
            self.cluster = Some(cluster);
        }
        if let Some(plugin) = file.plugin {
            let spec = &mut self.plugin;
            if let Some(path) = plugin.path {
                let path = base.join(path);
                spec.name = name_of(&path);
                spec.source = PluginSource::File(path);
            }
            if let Some(name) = plugin.name {
                spec.name = name;
            }
            if let Some(fuel) = plugin.fuel {
                spec.limits.fuel = positive("plugin.fuel", fuel)?;
            }
            if let Some(mib) = plugin.memory_mib {
                spec.limits.memory_bytes = positive("plugin.memory_mib", mib)?
                    .checked_mul(1 << 20)
                    .ok_or(ConfigError::Invalid(
                        "plugin.memory_mib is too large".into(),
                    ))?;
            }
            if let Some(ms) = plugin.deadline_ms {
                spec.limits.deadline = Duration::from_millis(positive("plugin.deadline_ms", ms)?);
            }
            if let Some(idle) = plugin.idle_instances {
                spec.idle_instances = idle;
            }
            let key = |name: &str| format!("plugin.{name}");
            if let Some(v) = plugin.max_concurrent_calls {
                spec.lanes.join.concurrent = positive(&key("max_concurrent_calls"), v)?;
            }
            if let Some(v) = plugin.max_queued_calls {
                spec.lanes.join.queued = v;
            }
            if let Some(v) = plugin.login_concurrent_calls {
                spec.lanes.logins.concurrent = positive(&key("login_concurrent_calls"), v)?;
            }
            if let Some(v) = plugin.login_queued_calls {
                spec.lanes.logins.queued = v;
            }
            if let Some(v) = plugin.static_concurrent_calls {
                spec.lanes.static_requests.concurrent =
                    positive(&key("static_concurrent_calls"), v)?;
            }
            if let Some(v) = plugin.static_queued_calls {
                spec.lanes.static_requests.queued = v;
            }
            if let Some(v) = plugin.log_bytes_per_second {
                spec.log_bytes_per_second = positive(&key("log_bytes_per_second"), v)?;
            }
            let caps = &mut spec.output;
            for (name, value, target) in [
                ("max_servers", plugin.max_servers, &mut caps.max_servers),
                ("max_users", plugin.max_users, &mut caps.max_users),
                ("max_events", plugin.max_events, &mut caps.max_events),
                (
                    "max_string_bytes",
                    plugin.max_string_bytes,
                    &mut caps.max_string_bytes,
                ),
                (
                    "max_body_bytes",
                    plugin.max_body_bytes,
                    &mut caps.max_body_bytes,
                ),
                (
                    "max_answer_bytes",
                    plugin.max_answer_bytes,
                    &mut caps.max_answer_bytes,
                ),
            ] {
                if let Some(v) = value {
                    *target = positive(&key(name), v)?;
                }
            }
            let egress = &mut spec.egress;
            for (entries, plain_http) in [
                (&plugin.allow_hosts, false),
                (&plugin.allow_plain_http, true),
            ] {
                for entry in entries {
                    let allowed = AllowedHost::parse(entry, plain_http).map_err(|reason| {
                        ConfigError::Invalid(format!("plugin allow-list: {reason}"))
                    })?;
                    egress.allowed.push(allowed);
                }
            }
            if let Some(v) = plugin.http_timeout_ms {
                egress.request_timeout =
                    Duration::from_millis(positive(&key("http_timeout_ms"), v)?);
            }
            if let Some(v) = plugin.max_response_bytes {
                egress.max_response_bytes = positive(&key("max_response_bytes"), v)?;
            }
            if let Some(v) = plugin.cache_ttl_ms {
                spec.cache_ttl = Duration::from_millis(v);
            }
            if let Some(v) = plugin.breaker_failures {
                spec.breaker.failures = positive(&key("breaker_failures"), v)?;
            }
            if let Some(v) = plugin.breaker_pause_ms {
                spec.breaker.base_pause =
                    Duration::from_millis(positive(&key("breaker_pause_ms"), v)?);
            }
            if let Some(v) = plugin.breaker_max_pause_ms {
                spec.breaker.max_pause =
                    Duration::from_millis(positive(&key("breaker_max_pause_ms"), v)?);
            }
            spec.config = plugin
                .config
                .into_iter()
                .map(|(name, value)| {
                    let resolved = value
                        .resolve(&format!("plugin.config.{name}"), base)
                        .map_err(ConfigError::Invalid)?;
                    Ok((name, resolved))
                })
                .collect::<Result<_, ConfigError>>()?;
        }
        Ok(())
    }

    /// Hands the plugin the guilds, token and API of `discord` (the one
    /// place they are written) and lets it reach the API.
    fn follow_discord(&mut self, discord: DiscordConfig) -> Result<(), ConfigError> {
        let spec = &mut self.plugin;
        for (key, value) in discord.plugin_config() {
            if spec.config.contains_key(key) {
                return Err(ConfigError::Invalid(format!(
                    "plugin.config.{key} is set by [discord]; remove it from [plugin.config]"
                )));
            }
            spec.config.insert(key.to_string(), value);
        }
        let api = discord.api_host();
        if !spec.egress.allowed.contains(&api) {
            spec.egress.allowed.push(api);
        }
        self.discord = Some(discord);
        Ok(())
    }

    /// The address to listen on.
    pub fn bind_address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::new()
    }
}

/// The bearer token of the broadcast API. Compared in constant time and
/// never shown in logs or `Debug` output.
#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    /// `None` for an empty token: an empty token must not unlock anything.
    pub fn new(token: impl Into<String>) -> Option<Self> {
        let token = token.into();
        (!token.trim().is_empty()).then_some(Self(token))
    }

    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// The config file's shape. Unknown keys are errors: a typo must not be
/// silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    static_dir: Option<PathBuf>,
    admin_token: Option<String>,
    compiled_cache: Option<bool>,
    compiled_cache_dir: Option<PathBuf>,
    compiled_cache_max_mib: Option<u64>,
    metrics_addr: Option<std::net::SocketAddr>,
    clients: Option<FileClients>,
    plugin: Option<FilePlugin>,
    cluster: Option<ClusterConfig>,
    discord: Option<DiscordTable>,
}

/// The `[clients]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClients {
    max_message_bytes: Option<usize>,
    outgoing_queue: Option<usize>,
    outgoing_queue_bytes: Option<usize>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    max_http_connections: Option<usize>,
    max_http_connections_per_ip: Option<usize>,
    handshake_timeout_ms: Option<u64>,
    max_header_bytes: Option<usize>,
    ping_interval_ms: Option<u64>,
    pong_timeout_ms: Option<u64>,
    frames_per_second: Option<f64>,
    frame_burst: Option<u32>,
    rate_strikes: Option<u32>,
    auth_failures_per_connection: Option<u32>,
    auth_failures_per_ip: Option<u32>,
    auth_window_ms: Option<u64>,
}

impl FileClients {
    fn apply(self, limits: &mut ClientLimits) -> Result<(), ConfigError> {
        let ms = Duration::from_millis;
        if let Some(v) = self.max_message_bytes {
            limits.max_message_bytes = positive("clients.max_message_bytes", v)?;
        }
        if let Some(v) = self.outgoing_queue {
            limits.outgoing_queue = positive("clients.outgoing_queue", v)?;
        }
        if let Some(v) = self.outgoing_queue_bytes {
            limits.outgoing_queue_bytes = positive("clients.outgoing_queue_bytes", v)?;
        }
        if let Some(v) = self.max_connections {
            limits.max_connections = positive("clients.max_connections", v)?;
        }
        if let Some(v) = self.max_connections_per_ip {
            limits.max_connections_per_ip = positive("clients.max_connections_per_ip", v)?;
        }
        if let Some(v) = self.max_http_connections {
            limits.max_http_connections = positive("clients.max_http_connections", v)?;
        }
        if let Some(v) = self.max_http_connections_per_ip {
            limits.max_http_connections_per_ip =
                positive("clients.max_http_connections_per_ip", v)?;
        }
        if let Some(v) = self.handshake_timeout_ms {
            limits.handshake_timeout = ms(positive("clients.handshake_timeout_ms", v)?);
        }
        if let Some(v) = self.max_header_bytes {
            if v < MIN_HEADER_BYTES {
                return Err(ConfigError::Invalid(format!(
                    "clients.max_header_bytes must be at least {MIN_HEADER_BYTES}"
                )));
            }
            limits.max_header_bytes = v;
        }
        if let Some(v) = self.ping_interval_ms {
            limits.ping_interval = ms(positive("clients.ping_interval_ms", v)?);
        }
        if let Some(v) = self.pong_timeout_ms {
            limits.pong_timeout = ms(positive("clients.pong_timeout_ms", v)?);
        }
        if let Some(v) = self.frames_per_second {
            if !(v.is_finite() && v > 0.0) {
                return Err(ConfigError::Invalid(
                    "clients.frames_per_second must be a number greater than 0".into(),
                ));
            }
            limits.frames_per_second = v;
        }
        if let Some(v) = self.frame_burst {
            limits.frame_burst = positive("clients.frame_burst", v)?;
        }
        if let Some(v) = self.rate_strikes {
            limits.rate_strikes = v;
        }
        if let Some(v) = self.auth_failures_per_connection {
            limits.auth.per_connection = positive("clients.auth_failures_per_connection", v)?;
        }
        if let Some(v) = self.auth_failures_per_ip {
            limits.auth.per_ip = positive("clients.auth_failures_per_ip", v)?;
        }
        if let Some(v) = self.auth_window_ms {
            limits.auth.window = ms(positive("clients.auth_window_ms", v)?);
        }
        Ok(())
    }
}

/// hyper's smallest read buffer; a request head must fit in it.
const MIN_HEADER_BYTES: usize = 8192;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePlugin {
    path: Option<PathBuf>,
    name: Option<String>,
    fuel: Option<u64>,
    memory_mib: Option<usize>,
    deadline_ms: Option<u64>,
    idle_instances: Option<usize>,
    max_concurrent_calls: Option<usize>,
    max_queued_calls: Option<usize>,
    login_concurrent_calls: Option<usize>,
    login_queued_calls: Option<usize>,
    static_concurrent_calls: Option<usize>,
    static_queued_calls: Option<usize>,
    log_bytes_per_second: Option<u32>,
    max_servers: Option<usize>,
    max_users: Option<usize>,
    max_events: Option<usize>,
    max_string_bytes: Option<usize>,
    max_body_bytes: Option<usize>,
    max_answer_bytes: Option<usize>,
    breaker_failures: Option<u32>,
    breaker_pause_ms: Option<u64>,
    cache_ttl_ms: Option<u64>,
    breaker_max_pause_ms: Option<u64>,
    #[serde(default)]
    allow_hosts: Vec<String>,
    #[serde(default)]
    allow_plain_http: Vec<String>,
    http_timeout_ms: Option<u64>,
    max_response_bytes: Option<usize>,
    #[serde(default)]
    config: BTreeMap<String, ConfigSource>,
}

impl FileConfig {
    fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

fn positive<T: PartialOrd + Default>(key: &str, value: T) -> Result<T, ConfigError> {
    if value > T::default() {
        Ok(value)
    } else {
        Err(ConfigError::Invalid(format!(
            "{key} must be greater than 0"
        )))
    }
}

/// `$XDG_CACHE_HOME/d-back/compiled`, else `$HOME/.cache/d-back/compiled`.
fn default_compiled_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|dir| !dir.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })?;
    Some(base.join("d-back").join("compiled"))
}

/// A plugin's name from its file: `providers/discord.wasm` is `discord`.
fn name_of(path: &Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_resolves_relative_paths() {
        let file = FileConfig::parse(
            r#"
            port = 4000
            static_dir = "public"
            admin_token = "t"
            [clients]
            max_connections_per_ip = 3
            ping_interval_ms = 1500
            [plugin]
            path = "p/provider.wasm"
            fuel = 5
            memory_mib = 2
            deadline_ms = 300
            max_users = 10
            breaker_pause_ms = 250
            [plugin.config]
            client_id = "123"
            "#,
        )
        .unwrap();
        let mut settings = Settings::new();
        settings.apply_file(file, Path::new("/etc/d-back")).unwrap();
        assert_eq!(settings.port, 4000);
        assert_eq!(
            settings.static_dir,
            Some(PathBuf::from("/etc/d-back/public"))
        );
        assert_eq!(
            settings.plugin.source,
            PluginSource::File("/etc/d-back/p/provider.wasm".into())
        );
        assert_eq!(settings.plugin.name, "provider");
        assert_eq!(settings.plugin.limits.fuel, 5);
        assert_eq!(settings.plugin.limits.memory_bytes, 2 << 20);
        assert_eq!(settings.plugin.limits.deadline, Duration::from_millis(300));
        assert_eq!(settings.plugin.config["client_id"].expose(), "123");
        assert_eq!(settings.plugin.output.max_users, 10);
        assert_eq!(
            settings.plugin.breaker.base_pause,
            Duration::from_millis(250)
        );
        assert!(settings.admin_token.unwrap().matches("t"));
        assert_eq!(settings.clients.max_connections_per_ip, 3);
        assert_eq!(settings.clients.ping_interval, Duration::from_millis(1500));
    }

    #[test]
    fn secrets_come_from_files_and_the_environment_and_stay_hidden() {
        let dir = std::env::temp_dir().join(format!("d-back-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token"), "file-secret-9\n").unwrap();
        let file = FileConfig::parse(
            r#"
            [plugin.config]
            token = { file = "token" }
            home = { env = "HOME" }
            interval = 200
            verbose = true
            "#,
        )
        .unwrap();
        let mut settings = Settings::new();
        settings.apply_file(file, &dir).unwrap();
        let config = &settings.plugin.config;
        assert_eq!(config["token"].expose(), "file-secret-9");
        assert!(config["token"].is_secret() && config["home"].is_secret());
        assert_eq!(config["interval"].expose(), "200");
        assert_eq!(config["verbose"].expose(), "true");
        assert!(!format!("{settings:?}").contains("file-secret-9"));

        let missing =
            FileConfig::parse("[plugin.config]\nt = { env = \"D_BACK_SURELY_UNSET_VARIABLE\" }")
                .unwrap();
        let error = Settings::new().apply_file(missing, &dir).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("D_BACK_SURELY_UNSET_VARIABLE is not set")
        );
        assert!(FileConfig::parse("[plugin.config]\nt = { vault = \"x\" }").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unknown_keys_and_zero_limits_are_errors() {
        assert!(FileConfig::parse("prot = 1").is_err());
        assert!(FileConfig::parse("[plugin]\nfule = 1").is_err());
        assert!(FileConfig::parse("[clients]\nmax_conections = 1").is_err());
        let small = FileConfig::parse("[clients]\nmax_header_bytes = 100").unwrap();
        assert!(Settings::new().apply_file(small, Path::new(".")).is_err());
        let file = FileConfig::parse("[plugin]\nfuel = 0").unwrap();
        assert!(Settings::new().apply_file(file, Path::new(".")).is_err());
    }

    #[test]
    fn admin_token_is_never_shown_and_never_empty() {
        assert!(AdminToken::new("  ").is_none());
        let token = AdminToken::new("s3cret").unwrap();
        assert!(!format!("{token:?}").contains("s3cret"));
        assert!(token.matches("s3cret") && !token.matches("s3cre"));
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        let mut settings = Settings::new();
        settings.host = "::1".into();
        assert_eq!(settings.bind_address(), "[::1]:3000");
    }
}
