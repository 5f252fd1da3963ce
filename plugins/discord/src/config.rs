//! The plugin's configuration, read from the host's config values.

use serde::Deserialize;

use crate::bindings::d_back::plugin::host;
use crate::http::BaseUrl;

pub const DEFAULT_API_BASE: &str = "https://discord.com/api/v10";

/// One guild to show, as the operator describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guild {
    /// The guild's snowflake.
    pub snowflake: String,
    /// The short id browsers ask for; default: the snowflake.
    #[serde(default)]
    pub id: Option<String>,
    /// Default: the guild's name on Discord.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub passworded: bool,
    #[serde(default)]
    pub default: bool,
    /// The Discord OAuth2 client id browsers use for this guild.
    #[serde(default)]
    pub client_id: Option<String>,
}

pub struct Config {
    pub api: BaseUrl,
    pub bot_token: String,
    pub guilds: Vec<Guild>,
    pub skip_bots: bool,
    pub page_size: u32,
    /// Longest `retry_after` of a 429 worth waiting for within one call.
    pub max_retry_wait_ms: u64,
}

impl Config {
    pub fn load() -> Result<Self, String> {
        let api = host::config_get("api_base").unwrap_or_else(|| DEFAULT_API_BASE.to_string());
        let guilds = host::config_get("guilds").ok_or("config value `guilds` is not set")?;
        let guilds: Vec<Guild> = serde_json::from_str(&guilds)
            .map_err(|e| format!("config value `guilds` is not a JSON list of guilds: {e}"))?;
        let number = |key: &str, default: u64| -> Result<u64, String> {
            host::config_get(key).map_or(Ok(default), |text| {
                text.trim()
                    .parse()
                    .map_err(|_| format!("config value `{key}` is not a number"))
            })
        };
        Ok(Self {
            api: BaseUrl::parse(&api)?,
            bot_token: host::config_get("bot_token")
                .ok_or("config value `bot_token` is not set")?,
            guilds,
            skip_bots: host::config_get("skip_bots").is_none_or(|v| v.trim() != "false"),
            page_size: number("page_size", 1000)?.clamp(1, 1000) as u32,
            max_retry_wait_ms: number("max_retry_wait_ms", 1500)?,
        })
    }

    pub fn guild(&self, snowflake: &str) -> Option<&Guild> {
        self.guilds.iter().find(|g| g.snowflake == snowflake)
    }
}
