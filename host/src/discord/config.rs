//! The `[discord]` table: the bot, the guilds it follows and what of them
//! is shown. The one place the guild list lives: the Discord provider
//! plugin is handed the same list (see [`DiscordConfig::plugin_config`]).

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::runtime::{AllowedHost, ConfigSource, ConfigValue};

pub const DEFAULT_API_BASE: &str = "https://discord.com/api/v10";

/// The variable the bot token is read from when the table names none.
pub const TOKEN_VARIABLE: &str = "DISCORD_BOT_TOKEN";

/// The table as the config file writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordTable {
    /// Default: the `DISCORD_BOT_TOKEN` environment variable.
    bot_token: Option<ConfigSource>,
    #[serde(default)]
    guilds: Vec<GuildEntry>,
    /// Channels whose messages are shown; none by default.
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    show_bots: bool,
    gateway_url: Option<String>,
    api_base: Option<String>,
}

/// A guild: its id alone, or with how d-zone shows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum GuildEntry {
    Id(String),
    Full(Guild),
}

/// One guild, in the shape the Discord provider plugin reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guild {
    /// The guild's id.
    pub snowflake: String,
    /// The short id browsers ask for; default: the snowflake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Default: the guild's name on Discord.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub passworded: bool,
    #[serde(default)]
    pub default: bool,
    /// The OAuth2 client id browsers log in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// What the host follows on Discord. Its `Debug` hides the token.
#[derive(Clone, PartialEq)]
pub struct DiscordConfig {
    token: ConfigValue,
    pub guilds: Vec<Guild>,
    channels: BTreeSet<String>,
    pub show_bots: bool,
    /// Instead of what `GET /gateway/bot` answers (tests, proxies).
    pub gateway_url: Option<String>,
    /// Checked when built (see [`DiscordConfig::api_host`]).
    api_base: String,
}

impl std::fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("token", &"<redacted>")
            .field("guilds", &self.guilds)
            .field("channels", &self.channels)
            .field("show_bots", &self.show_bots)
            .field("gateway_url", &self.gateway_url)
            .field("api_base", &self.api_base)
            .finish()
    }
}

impl DiscordConfig {
    /// The table's values checked, the token read (relative files from
    /// `base`), and `extra_guilds` (from the command line) added.
    pub fn from_table(
        table: DiscordTable,
        base: &Path,
        extra_guilds: &[String],
    ) -> Result<Self, String> {
        let token = match table.bot_token {
            Some(source) => source.resolve("discord.bot_token", base)?,
            None => std::env::var(TOKEN_VARIABLE)
                .map(ConfigValue::secret)
                .map_err(|_| {
                    format!("discord.bot_token is not set and neither is {TOKEN_VARIABLE}")
                })?,
        };
        // A token is a secret however it was written.
        let token = ConfigValue::secret(token.expose().trim());
        if token.expose().is_empty() {
            return Err("discord.bot_token is empty".into());
        }
        let mut guilds: Vec<Guild> = Vec::new();
        let entries = table
            .guilds
            .into_iter()
            .chain(extra_guilds.iter().cloned().map(GuildEntry::Id));
        for entry in entries {
            let guild = match entry {
                GuildEntry::Id(snowflake) => Guild {
                    snowflake,
                    id: None,
                    name: None,
                    passworded: false,
                    default: false,
                    client_id: None,
                },
                GuildEntry::Full(guild) => guild,
            };
            check_snowflake("discord.guilds", &guild.snowflake)?;
            if !guilds.iter().any(|g| g.snowflake == guild.snowflake) {
                guilds.push(guild);
            }
        }
        if guilds.is_empty() {
            return Err("discord.guilds is empty: name at least one guild id".into());
        }
        // One default, so a browser asking for none lands somewhere.
        if !guilds.iter().any(|g| g.default) {
            guilds[0].default = true;
        }
        for channel in &table.channels {
            check_snowflake("discord.channels", channel)?;
        }
        let api_base = table
            .api_base
            .unwrap_or_else(|| DEFAULT_API_BASE.to_string());
        api_host(&api_base)?;
        if let Some(url) = &table.gateway_url
            && !(url.starts_with("wss://") || url.starts_with("ws://"))
        {
            return Err(format!(
                "discord.gateway_url must start with wss:// or ws://, got {:?}",
                crate::model::clip(url)
            ));
        }
        Ok(Self {
            token,
            guilds,
            channels: table.channels.into_iter().collect(),
            show_bots: table.show_bots,
            gateway_url: table.gateway_url,
            api_base: api_base.trim_end_matches('/').to_string(),
        })
    }

    /// Discord's REST API, without a trailing `/`.
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// The bot token, for Discord only.
    pub fn token(&self) -> &str {
        self.token.expose()
    }

    pub fn follows(&self, guild: &str) -> bool {
        self.guilds.iter().any(|g| g.snowflake == guild)
    }

    /// Whether messages of `channel` are shown.
    pub fn shows_channel(&self, channel: &str) -> bool {
        self.channels.contains(channel)
    }

    pub fn shows_messages(&self) -> bool {
        !self.channels.is_empty()
    }

    /// What the Discord provider plugin reads, so the bridge and the
    /// provider follow the same guilds with the same token.
    pub fn plugin_config(&self) -> Vec<(&'static str, ConfigValue)> {
        let guilds = serde_json::to_string(&self.guilds).unwrap_or_default();
        vec![
            ("bot_token", self.token.clone()),
            ("guilds", ConfigValue::plain(guilds)),
            ("api_base", ConfigValue::plain(self.api_base.clone())),
            (
                "skip_bots",
                ConfigValue::plain((!self.show_bots).to_string()),
            ),
        ]
    }

    /// The API's host, which the provider plugin must be allowed to reach.
    pub fn api_host(&self) -> AllowedHost {
        api_host(&self.api_base).expect("checked when built")
    }
}

fn check_snowflake(field: &str, value: &str) -> Result<(), String> {
    if (1..=20).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!(
            "{field}: {:?} is not a Discord id (digits, as \"Copy ID\" gives them)",
            crate::model::clip(value)
        ))
    }
}

fn api_host(api_base: &str) -> Result<AllowedHost, String> {
    let (plain_http, rest) = if let Some(rest) = api_base.strip_prefix("https://") {
        (false, rest)
    } else if let Some(rest) = api_base.strip_prefix("http://") {
        (true, rest)
    } else {
        return Err(format!(
            "discord.api_base must start with https:// or http://, got {:?}",
            crate::model::clip(api_base)
        ));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    AllowedHost::parse(authority, plain_http)
        .map_err(|reason| format!("discord.api_base: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> DiscordTable {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn guilds_by_id_or_in_full_and_the_token_stays_hidden() {
        let config = DiscordConfig::from_table(
            table(
                r#"
                bot_token = "abc.def"
                guilds = ["123", { snowflake = "456", id = "home", name = "Home", default = true }]
                channels = ["789"]
                "#,
            ),
            Path::new("."),
            &["123".into(), "999".into()],
        )
        .unwrap();
        let ids: Vec<_> = config.guilds.iter().map(|g| g.snowflake.as_str()).collect();
        assert_eq!(ids, ["123", "456", "999"], "no guild twice");
        assert!(!config.guilds[0].default && config.guilds[1].default);
        assert!(config.shows_channel("789") && !config.shows_channel("123"));
        assert!(!format!("{config:?}").contains("abc.def"));
        let plugin = config.plugin_config();
        assert!(plugin[0].1.is_secret());
        assert_eq!(
            plugin[1].1.expose(),
            r#"[{"snowflake":"123","passworded":false,"default":false},{"snowflake":"456","id":"home","name":"Home","passworded":false,"default":true},{"snowflake":"999","passworded":false,"default":false}]"#
        );
        assert_eq!(config.api_host().host, "discord.com");
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for (text, says) in [
            (r#"bot_token = "t""#, "guilds is empty"),
            (
                "bot_token = \"t\"\nguilds = [\"my server\"]",
                "not a Discord id",
            ),
            ("bot_token = \" \"\nguilds = [\"1\"]", "empty"),
            (
                "bot_token = \"t\"\nguilds = [\"1\"]\napi_base = \"discord.com\"",
                "api_base",
            ),
            (
                "bot_token = \"t\"\nguilds = [\"1\"]\ngateway_url = \"http://x\"",
                "gateway_url",
            ),
        ] {
            let refused = DiscordConfig::from_table(table(text), Path::new("."), &[]).unwrap_err();
            assert!(refused.contains(says), "{text}: {refused}");
        }
        assert!(
            toml::from_str::<DiscordTable>("bot_tokn = \"t\"").is_err(),
            "typos are errors"
        );
    }
}
