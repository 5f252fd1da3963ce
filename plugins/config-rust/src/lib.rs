//! The config provider: servers, members and client ids straight from the
//! operator's configuration, and a timed presence rotation. Its behaviour is
//! specified in `plugins/CONFIG-PROVIDER.md`, which the JavaScript, Python
//! and Go versions follow too.

mod config;

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "provider",
    });
}

use std::sync::atomic::{AtomicU64, Ordering};

use bindings::d_back::plugin::types::{
    DiscordUser, Event, PresenceEvent, Server, StaticResponse, User,
};
use bindings::exports::d_back::plugin::activity::{self, Timer};
use bindings::exports::d_back::plugin::callbacks;
use config::{Config, STATUSES};

const PRESENCE_TIMER: &str = "presence";

struct ConfigProvider;

impl callbacks::Guest for ConfigProvider {
    fn get_server_data() -> Result<Vec<Server>, String> {
        Ok(Config::get()?
            .servers
            .iter()
            .map(|s| Server {
                snowflake: s.snowflake.clone(),
                id: s.id.clone(),
                name: s.name().to_string(),
                passworded: s.passworded(),
                is_default: s.default,
                password: s.password.clone(),
            })
            .collect())
    }

    fn get_user_data(server: String) -> Result<Vec<User>, String> {
        let Some(server) = Config::get()?.server(&server) else {
            return Ok(Vec::new());
        };
        Ok(server
            .users
            .iter()
            .map(|u| User {
                uid: u.uid.clone(),
                username: u.username.clone(),
                status: STATUSES[u.status.index()],
                role_color: u.color().to_string(),
            })
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
        let config = Config::get()?;
        Ok(config
            .server(&server)
            .is_some_and(|s| !token.is_empty() && s.allowed_users.contains(&user.id)))
    }

    fn get_client_id(server: String) -> Result<Option<String>, String> {
        let config = Config::get()?;
        Ok(config
            .server(&server)
            .and_then(|s| s.client_id.clone())
            .or_else(|| config.client_id.clone()))
    }
}

impl activity::Guest for ConfigProvider {
    fn timers() -> Vec<Timer> {
        config::presence_interval_ms()
            .map(|interval_ms| Timer {
                name: PRESENCE_TIMER.into(),
                interval_ms,
            })
            .into_iter()
            .collect()
    }

    fn on_timer(name: String, servers: Vec<String>) -> Result<Vec<Event>, String> {
        if name != PRESENCE_TIMER {
            return Ok(Vec::new());
        }
        // Counts firings on this instance; a fresh instance starts the
        // rotation again, which is harmless for a demo presence.
        static FIRINGS: AtomicU64 = AtomicU64::new(0);
        let n = FIRINGS.fetch_add(1, Ordering::Relaxed);
        let config = Config::get()?;
        Ok(servers
            .iter()
            .filter_map(|snowflake| config.server(snowflake))
            .filter(|s| !s.users.is_empty())
            .map(|s| {
                let len = s.users.len() as u64;
                let user = &s.users[(n % len) as usize];
                let step = (user.status.index() as u64 + 1 + n / len) % 4;
                Event::Presence(PresenceEvent {
                    server: s.snowflake.clone(),
                    uid: user.uid.clone(),
                    status: STATUSES[step as usize],
                    username: Some(user.username.clone()),
                    role_color: Some(user.color().to_string()),
                    remove: false,
                })
            })
            .collect())
    }
}

bindings::export!(ConfigProvider with_types_in bindings);
