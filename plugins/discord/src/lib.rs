//! A d-back provider for a real Discord community, through Discord's REST
//! API from inside the sandbox (the host must allow-list the API's host).
//!
//! Config values:
//! - `bot_token` (secret): the bot's token; the bot must be in each guild
//!   with the Server Members intent.
//! - `guilds`: JSON list of `{"snowflake", "id", "name", "passworded",
//!   "default", "client_id"}`; only `snowflake` is needed: `id` defaults to
//!   it and `name` to the guild's name on Discord.
//! - `api_base` (default `https://discord.com/api/v10`), `skip_bots`
//!   (default true), `page_size` (default 1000), `max_retry_wait_ms`
//!   (default 1500): how long a 429 may be waited out within one call.
//!
//! Members come as `offline`: the REST API does not know presence; the host
//! lays the presences a bot broadcasts over them.

mod config;
mod discord;
mod http;

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "provider",
    });
}

use bindings::d_back::plugin::types::{DiscordUser, Event, Server, StaticResponse, Status, User};
use bindings::exports::d_back::plugin::activity::{self, Timer};
use bindings::exports::d_back::plugin::callbacks;
use config::Config;

/// Discord's color for members without a colored role.
const NEUTRAL_COLOR: &str = "#99aab5";

struct DiscordProvider;

impl callbacks::Guest for DiscordProvider {
    fn get_server_data() -> Result<Vec<Server>, String> {
        let config = Config::load()?;
        Ok(config
            .guilds
            .iter()
            .map(|guild| Server {
                snowflake: guild.snowflake.clone(),
                id: guild.id.clone().unwrap_or_else(|| guild.snowflake.clone()),
                name: guild.name.clone().unwrap_or_else(|| {
                    // A name Discord cannot tell now is shown as the id,
                    // not a failed server list.
                    discord::guild_name(&config, &guild.snowflake)
                        .unwrap_or_else(|_| guild.snowflake.clone())
                }),
                passworded: guild.passworded,
                is_default: guild.default,
                password: None,
            })
            .collect())
    }

    fn get_user_data(server: String) -> Result<Vec<User>, String> {
        let config = Config::load()?;
        if config.guild(&server).is_none() {
            return Ok(Vec::new());
        }
        let roles = discord::roles(&config, &server)?;
        let members = discord::members(&config, &server)?;
        Ok(members
            .iter()
            .filter(|member| !(config.skip_bots && member.user.bot))
            .map(|member| User {
                uid: member.user.id.clone(),
                username: display_name(member),
                status: Status::Offline,
                role_color: discord::role_color(member, &roles)
                    .unwrap_or_else(|| NEUTRAL_COLOR.to_string()),
            })
            .filter(|user| !user.username.is_empty())
            .collect())
    }

    fn static_request(_path: String) -> Result<Option<StaticResponse>, String> {
        Ok(None)
    }

    fn validate_discord_user(
        token: String,
        user: DiscordUser,
        server: String,
    ) -> Result<bool, String> {
        let config = Config::load()?;
        if config.guild(&server).is_none() || user.id.is_empty() {
            return Ok(false);
        }
        // A token Discord refuses is a "no", not a failure: refusals must
        // never count against the plugin, or bogus tokens could pause it.
        let Some((owner, guilds)) = discord::token_owner(&config, &token)? else {
            return Ok(false);
        };
        Ok(owner.id == user.id && guilds.iter().any(|guild| guild.id == server))
    }

    fn get_client_id(server: String) -> Result<Option<String>, String> {
        let config = Config::load()?;
        Ok(config
            .guild(&server)
            .and_then(|guild| guild.client_id.clone()))
    }
}

impl activity::Guest for DiscordProvider {
    fn timers() -> Vec<Timer> {
        Vec::new()
    }

    fn on_timer(_name: String, _servers: Vec<String>) -> Result<Vec<Event>, String> {
        Ok(Vec::new())
    }
}

/// What Discord shows: the server nickname, else the global display name,
/// else the username.
fn display_name(member: &discord::Member) -> String {
    member
        .nick
        .clone()
        .or_else(|| member.user.global_name.clone())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| member.user.username.clone())
}

bindings::export!(DiscordProvider with_types_in bindings);
