//! A small provider that misbehaves on purpose.
//!
//! It serves three servers: `calm` (snowflake 100, the default), `trouble`
//! (666) and `locked` (777, passworded, legacy password `letmein`, OAuth2
//! token `good-token`). Config:
//! - `target`: the callback that misbehaves (`get-server-data`,
//!   `get-user-data`, `static-request`, `validate-discord-user`,
//!   `get-client-id`, `on-timer`). Per-server callbacks misbehave only for
//!   `trouble`, `static-request` only under `/trouble`.
//! - `mode`: `loop`, `alloc`, `trap`, `recurse`, `sleep`, `invalid`, `error`,
//!   `print` (write to stdout and stderr, then answer normally), `ok`.
//! - `tick_ms`: asks for a timer `tick` with this interval.

mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "provider",
    });
}

use bindings::d_back::plugin::host;
use bindings::d_back::plugin::types::{
    DiscordUser, Event, MessageEvent, PresenceEvent, Server, StaticResponse, Status, User,
};
use bindings::exports::d_back::plugin::activity::{self, Timer};
use bindings::exports::d_back::plugin::callbacks;

const TROUBLE: &str = "666";

struct Hostile;

/// Misbehaves as configured when `callback` is the target and `applies`.
/// `Err` for mode `error`; `Ok(true)` for mode `invalid`, so the caller
/// answers with its own kind of invalid value.
fn misbehave(callback: &str, applies: bool) -> Result<bool, String> {
    if !applies || host::config_get("target").as_deref() != Some(callback) {
        return Ok(false);
    }
    match host::config_get("mode").as_deref().unwrap_or("ok") {
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 8 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "trap" => panic!("hostile plugin panics in {callback}"),
        "recurse" => {
            std::hint::black_box(recurse(std::hint::black_box(1)));
            Ok(false)
        }
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            Ok(false)
        }
        "invalid" => Ok(true),
        "error" => Err(format!("hostile plugin refuses {callback}")),
        "print" => {
            println!("hostile stdout line from {callback}");
            eprintln!("hostile stderr line from {callback}");
            Ok(false)
        }
        _ => Ok(false),
    }
}

// Meant to overflow the stack.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let padding = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + padding[(depth % 64) as usize]
}

fn server(snowflake: &str, id: &str, passworded: bool, is_default: bool) -> Server {
    Server {
        snowflake: snowflake.into(),
        id: id.into(),
        name: format!("The {id} server"),
        passworded,
        is_default,
        password: passworded.then(|| "letmein".to_string()),
    }
}

fn user(uid: &str, username: &str, status: Status, color: &str) -> User {
    User {
        uid: uid.into(),
        username: username.into(),
        status,
        role_color: color.into(),
    }
}

impl callbacks::Guest for Hostile {
    fn get_server_data() -> Result<Vec<Server>, String> {
        let invalid = misbehave("get-server-data", true)?;
        let mut servers = vec![
            server("100", "calm", false, true),
            server(TROUBLE, "trouble", false, false),
            server("777", "locked", true, false),
        ];
        if invalid {
            servers.push(server("100", "again", false, false));
        }
        Ok(servers)
    }

    fn get_user_data(server: String) -> Result<Vec<User>, String> {
        if misbehave("get-user-data", server == TROUBLE)? {
            return Ok(vec![user("1", "Bad Color", Status::Online, "#zzzzzz")]);
        }
        Ok(match server.as_str() {
            "100" => vec![user("1001", "Calm One", Status::Online, "#112233")],
            TROUBLE => vec![user("6661", "Trouble", Status::Dnd, "#445566")],
            "777" => vec![user("7771", "Keeper", Status::Idle, "#778899")],
            _ => vec![],
        })
    }

    fn static_request(path: String) -> Result<Option<StaticResponse>, String> {
        if misbehave("static-request", path.starts_with("/trouble"))? {
            return Ok(Some(StaticResponse {
                status: Some(999),
                content_type: "text/plain".into(),
                body: b"bad".to_vec(),
            }));
        }
        Ok(match path.as_str() {
            "/hello" => Some(StaticResponse {
                status: None,
                content_type: "text/plain; charset=utf-8".into(),
                body: b"hello from a plugin".to_vec(),
            }),
            "/teapot" => Some(StaticResponse {
                status: Some(418),
                content_type: "text/plain".into(),
                body: b"short and stout".to_vec(),
            }),
            _ => None,
        })
    }

    fn validate_discord_user(
        token: String,
        user: DiscordUser,
        server: String,
    ) -> Result<bool, String> {
        misbehave("validate-discord-user", true)?;
        Ok(server == "777" && token == "good-token" && !user.id.is_empty())
    }

    fn get_client_id(server: String) -> Result<Option<String>, String> {
        if misbehave("get-client-id", server == TROUBLE)? {
            return Ok(Some("   ".into()));
        }
        Ok((server == "100").then(|| "calm-client".to_string()))
    }
}

impl activity::Guest for Hostile {
    fn timers() -> Vec<Timer> {
        host::config_get("tick_ms")
            .and_then(|ms| ms.parse().ok())
            .map(|interval_ms| Timer {
                name: "tick".into(),
                interval_ms,
            })
            .into_iter()
            .collect()
    }

    fn on_timer(_name: String, servers: Vec<String>) -> Result<Vec<Event>, String> {
        let invalid = misbehave("on-timer", true)?;
        Ok(servers
            .into_iter()
            .flat_map(|server| {
                let presence = Event::Presence(PresenceEvent {
                    server: server.clone(),
                    uid: "1001".into(),
                    status: Status::Idle,
                    username: Some("Calm One".into()),
                    role_color: Some(if invalid { "blue" } else { "#112233" }.into()),
                    remove: false,
                });
                let message = Event::Message(MessageEvent {
                    server,
                    uid: "1001".into(),
                    message: "tick".into(),
                    channel: "1".into(),
                });
                [presence, message]
            })
            .collect())
    }
}

bindings::export!(Hostile with_types_in bindings);
