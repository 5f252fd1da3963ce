//! The operator's configuration, parsed once per instance: it cannot change
//! while an instance lives, and parsing it on every call would dominate the
//! cost of answering.

use serde::Deserialize;

use crate::bindings::d_back::plugin::host;
use crate::bindings::d_back::plugin::types::Status;

/// Color of members whose config names none (Discord's neutral grey).
pub const NEUTRAL_COLOR: &str = "#99aab5";

/// Presence order the timed rotation walks through.
pub const STATUSES: [Status; 4] = [Status::Online, Status::Idle, Status::Dnd, Status::Offline];

pub struct Config {
    pub servers: Vec<ServerEntry>,
    pub client_id: Option<String>,
}

#[derive(Deserialize)]
pub struct ServerEntry {
    pub snowflake: String,
    pub id: String,
    pub name: Option<String>,
    #[serde(default)]
    pub default: bool,
    pub password: Option<String>,
    #[serde(default)]
    pub allowed_users: Vec<String>,
    pub passworded: Option<bool>,
    pub client_id: Option<String>,
    #[serde(default)]
    pub users: Vec<UserEntry>,
}

#[derive(Deserialize)]
pub struct UserEntry {
    pub uid: String,
    pub username: String,
    #[serde(default)]
    pub status: StatusName,
    pub color: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum StatusName {
    Online,
    Idle,
    Dnd,
    #[default]
    Offline,
}

impl StatusName {
    pub fn index(self) -> usize {
        match self {
            StatusName::Online => 0,
            StatusName::Idle => 1,
            StatusName::Dnd => 2,
            StatusName::Offline => 3,
        }
    }
}

impl ServerEntry {
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    pub fn passworded(&self) -> bool {
        self.passworded
            .unwrap_or(self.password.is_some() || !self.allowed_users.is_empty())
    }
}

impl UserEntry {
    pub fn color(&self) -> &str {
        self.color.as_deref().unwrap_or(NEUTRAL_COLOR)
    }
}

impl Config {
    /// The configuration of this instance, read from the host on first use.
    pub fn get() -> Result<&'static Config, String> {
        static CONFIG: std::sync::OnceLock<Result<Config, String>> = std::sync::OnceLock::new();
        CONFIG
            .get_or_init(Config::load)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn load() -> Result<Config, String> {
        let text = host::config_get("servers")
            .ok_or_else(|| "config key `servers` is not set".to_string())?;
        let servers = serde_json::from_str(&text)
            .map_err(|e| format!("config key `servers` is not valid: {e}"))?;
        Ok(Config {
            servers,
            client_id: host::config_get("client_id"),
        })
    }

    pub fn server(&self, snowflake: &str) -> Option<&ServerEntry> {
        self.servers.iter().find(|s| s.snowflake == snowflake)
    }
}

/// The presence timer's interval, when the operator asked for one.
pub fn presence_interval_ms() -> Option<u32> {
    let text = host::config_get("presence_interval_ms")?;
    match text.trim().parse::<u32>() {
        Ok(ms) if ms >= 100 => Some(ms),
        _ => {
            host::log(
                host::Level::Warn,
                &format!(
                    "config key `presence_interval_ms` must be an integer of at least 100, \
                     got `{text}`: no presence timer"
                ),
            );
            None
        }
    }
}
