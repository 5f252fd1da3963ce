//! d-back's mock provider as a plugin: the demo servers and members of
//! d-back's mock data, an OAuth2 check that accepts any token whose user
//! object has an id and a username, and random presence and message activity.
//!
//! Config values (all optional):
//! - `presence_interval_ms` (default 4000): time between random presence changes.
//! - `message_interval_ms` (default 5000): time between random messages.
//! - `client_id`: an OAuth2 client id answered for every server.

mod data;
mod random;

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "provider",
    });
}

use bindings::d_back::plugin::host::{self, Level};
use bindings::d_back::plugin::types::{
    DiscordUser, Event, MessageEvent, PresenceEvent, Server, StaticResponse, Status, User,
};
use bindings::exports::d_back::plugin::activity::{self, Timer};
use bindings::exports::d_back::plugin::callbacks;

const PRESENCE_TIMER: &str = "presence";
const MESSAGE_TIMER: &str = "message";

struct Mock;

impl callbacks::Guest for Mock {
    fn get_server_data() -> Result<Vec<Server>, String> {
        Ok(data::servers()
            .iter()
            .map(data::MockServer::to_server)
            .collect())
    }

    fn get_user_data(server: String) -> Result<Vec<User>, String> {
        Ok(data::servers()
            .iter()
            .find(|s| s.snowflake == server)
            .map(|s| s.users.clone())
            .unwrap_or_default())
    }

    fn static_request(_path: String) -> Result<Option<StaticResponse>, String> {
        Ok(None)
    }

    fn validate_discord_user(
        _token: String,
        user: DiscordUser,
        server: String,
    ) -> Result<bool, String> {
        let accepted = !user.id.is_empty() && !user.username.is_empty();
        host::log(
            Level::Debug,
            &format!("mock OAuth2 check for server {server}: accepted={accepted}"),
        );
        Ok(accepted)
    }

    fn get_client_id(_server: String) -> Result<Option<String>, String> {
        Ok(host::config_get("client_id").filter(|id| !id.is_empty()))
    }
}

impl activity::Guest for Mock {
    fn timers() -> Vec<Timer> {
        vec![
            Timer {
                name: PRESENCE_TIMER.to_string(),
                interval_ms: interval("presence_interval_ms", 4000),
            },
            Timer {
                name: MESSAGE_TIMER.to_string(),
                interval_ms: interval("message_interval_ms", 5000),
            },
        ]
    }

    fn on_timer(name: String, servers: Vec<String>) -> Result<Vec<Event>, String> {
        let known = data::servers();
        servers
            .iter()
            .filter_map(|snowflake| known.iter().find(|s| s.snowflake == snowflake.as_str()))
            .filter(|server| !server.users.is_empty())
            .map(|server| {
                let member = random::pick(&server.users);
                match name.as_str() {
                    PRESENCE_TIMER => Ok(Event::Presence(PresenceEvent {
                        server: server.snowflake.to_string(),
                        uid: member.uid.clone(),
                        status: *random::pick(&[
                            Status::Online,
                            Status::Idle,
                            Status::Dnd,
                            Status::Offline,
                        ]),
                        username: Some(member.username.clone()),
                        role_color: Some(member.role_color.clone()),
                        remove: false,
                    })),
                    MESSAGE_TIMER => Ok(Event::Message(MessageEvent {
                        server: server.snowflake.to_string(),
                        uid: member.uid.clone(),
                        message: random::pick(&data::MESSAGES).to_string(),
                        channel: data::CHANNEL.to_string(),
                    })),
                    other => Err(format!("unknown timer {other:?}")),
                }
            })
            .collect()
    }
}

/// A timer interval from config, or its default when unset or unreadable.
fn interval(key: &str, default_ms: u32) -> u32 {
    match host::config_get(key) {
        None => default_ms,
        Some(text) => text.trim().parse().unwrap_or_else(|_| {
            host::log(
                Level::Warn,
                &format!(
                    "config {key}={text:?} is not a number of milliseconds; using {default_ms}"
                ),
            );
            default_ms
        }),
    }
}

bindings::export!(Mock with_types_in bindings);
