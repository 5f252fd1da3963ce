//! The smallest useful d-back provider: one server whose members come from
//! the plugin's config (`members = "alice,bob"`), and a greeting every
//! `greet_ms` milliseconds when set.

wit_bindgen::generate!({
    // The d-back:plugin WIT package; point this at your copy of d-back's `wit/`.
    path: "../../wit",
    world: "provider",
});

use d_back::plugin::host;
use d_back::plugin::types::{
    DiscordUser, Event, MessageEvent, Server, StaticResponse, Status, User,
};
use exports::d_back::plugin::activity::{self, Timer};
use exports::d_back::plugin::callbacks;

const SNOWFLAKE: &str = "100000000000000001";

struct Hello;

impl callbacks::Guest for Hello {
    fn get_server_data() -> Result<Vec<Server>, String> {
        Ok(vec![Server {
            snowflake: SNOWFLAKE.into(),
            id: "hello".into(),
            name: "Hello World".into(),
            passworded: false,
            is_default: true,
            password: None,
        }])
    }

    fn get_user_data(server: String) -> Result<Vec<User>, String> {
        if server != SNOWFLAKE {
            return Ok(Vec::new());
        }
        let members = host::config_get("members").unwrap_or_else(|| "alice,bob".into());
        Ok(members
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .enumerate()
            .map(|(i, name)| User {
                uid: format!("{}", 1000 + i),
                username: name.to_string(),
                status: Status::Online,
                role_color: "#7289da".into(),
            })
            .collect())
    }

    fn static_request(_path: String) -> Result<Option<StaticResponse>, String> {
        Ok(None)
    }

    fn validate_discord_user(_: String, _: DiscordUser, _: String) -> Result<bool, String> {
        Ok(false)
    }

    fn get_client_id(_server: String) -> Result<Option<String>, String> {
        Ok(None)
    }
}

impl activity::Guest for Hello {
    fn timers() -> Vec<Timer> {
        let every = host::config_get("greet_ms").and_then(|ms| ms.parse().ok());
        every
            .map(|interval_ms| Timer {
                name: "greet".into(),
                interval_ms,
            })
            .into_iter()
            .collect()
    }

    fn on_timer(_name: String, servers: Vec<String>) -> Result<Vec<Event>, String> {
        host::log(host::Level::Debug, "greeting");
        Ok(servers
            .into_iter()
            .map(|server| {
                Event::Message(MessageEvent {
                    server,
                    uid: "1000".into(),
                    message: "hello!".into(),
                    channel: "1".into(),
                })
            })
            .collect())
    }
}

export!(Hello);
