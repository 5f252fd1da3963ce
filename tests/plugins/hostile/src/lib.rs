//! A small provider that misbehaves on purpose.
//!
//! It serves three servers: `calm` (snowflake 100, the default), `trouble`
//! (666) and `locked` (777, passworded, legacy password `letmein`, OAuth2
//! token `good-token`). Config:
//! - `target`: the callback that misbehaves (`get-server-data`,
//!   `get-user-data`, `static-request`, `validate-discord-user`,
//!   `get-client-id`, `on-timer`). Per-server callbacks misbehave only for
//!   `trouble`, `static-request` only under `/trouble`.
//!   `all` makes every callback misbehave, for every server.
//! - `mode`: `loop`, `alloc`, `trap`, `recurse`, `sleep`, `invalid`, `error`,
//!   `huge` (an answer far past the host's output caps), `file` (try to read
//!   a host file), `socket` (try to open a TCP connection), `print` (write to
//!   stdout and stderr, then answer normally), `ok`; and the floods:
//!   `loud` (on-timer: 10,000 events per watched server), `unwatched`
//!   (on-timer: 1,000 new members with 4 KiB names for `trouble`, whoever
//!   watches), `log-flood` (4 MiB of log per call through `host.log`,
//!   stdout and stderr), `forge` (a `host.log` message and a stderr line
//!   with a newline and a line made up to look like the host's), `crowd`
//!   (get-user-data: 25,000 members with 1 KiB uids and 4 KiB names, each
//!   within the per-item caps), `big` (get-user-data: 25,000 members with
//!   200-byte names, within the answer budget), `status` (static-request answers the
//!   status in config `status`), `fields` (creates 100,000 `wasi:http`
//!   header maps per call and keeps them: host memory outside its cap).
//! - `succeed_first`: this many calls of the target callback on one
//!   instance behave before the misbehaviour starts.
//! - `fail_first`: only this many calls on one instance misbehave.
//! - `tick_ms`: asks for a timer `tick` with this interval;
//!   `timer_count`: asks for this many such timers (`tick`, `tick-1`, …).

use std::sync::atomic::{AtomicU32, Ordering};

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

/// Calls of the target callback on this instance.
static CALLS: AtomicU32 = AtomicU32::new(0);

struct Hostile;

/// How the caller should bend its answer.
#[derive(PartialEq)]
enum Twist {
    None,
    /// Break a rule of the WIT contract.
    Invalid,
    /// Answer far more than the host accepts.
    Huge,
    /// Answer as much as every per-item cap allows.
    Crowd,
    /// A big answer, within every cap and the answer budget.
    Big,
    /// Return far more events than anyone should.
    Loud,
    /// Return events for servers nobody watches.
    Unwatched,
    /// Answer with the configured HTTP status.
    Status,
}

/// A line the host could be fooled into logging as its own.
const FORGED: &str = "2026-01-01T00:00:00.000000Z  INFO d_back::ws::join: authentication attempt server=777 outcome=accepted";

/// Misbehaves as configured when `callback` is the target and `applies`.
/// `Err` for the modes that fail; otherwise how to bend the answer.
fn misbehave(callback: &str, applies: bool) -> Result<Twist, String> {
    let target = host::config_get("target");
    let everything = target.as_deref() == Some("all");
    if !(everything || applies && target.as_deref() == Some(callback)) {
        return Ok(Twist::None);
    }
    let calls = CALLS.fetch_add(1, Ordering::Relaxed);
    let grace: u32 = host::config_get("succeed_first")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let limit: Option<u32> = host::config_get("fail_first").and_then(|n| n.parse().ok());
    if calls < grace || limit.is_some_and(|limit| calls >= limit) {
        return Ok(Twist::None);
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
            Ok(Twist::None)
        }
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            Ok(Twist::None)
        }
        "invalid" => Ok(Twist::Invalid),
        "huge" => Ok(Twist::Huge),
        "crowd" => Ok(Twist::Crowd),
        "big" => Ok(Twist::Big),
        "loud" => Ok(Twist::Loud),
        "unwatched" => Ok(Twist::Unwatched),
        "status" => Ok(Twist::Status),
        "log-flood" => {
            let line = "flood ".repeat(170);
            for n in 0..4_000 {
                host::log(host::Level::Warn, &line);
                if n % 1_000 == 0 {
                    println!("{line}");
                    eprintln!("{line}");
                }
            }
            Ok(Twist::None)
        }
        "fields" => {
            for _ in 0..100_000 {
                std::mem::forget(wasip2::http::types::Fields::new());
            }
            Ok(Twist::None)
        }
        "forge" => {
            host::log(host::Level::Info, &format!("innocent\n{FORGED}"));
            eprintln!("also innocent\r{FORGED}\x1b[2K");
            Ok(Twist::None)
        }
        "file" => match std::fs::read_to_string("/etc/passwd") {
            Ok(text) => Err(format!("read a host file: {} bytes", text.len())),
            Err(error) => Err(format!("cannot open a file: {error}")),
        },
        "socket" => match std::net::TcpStream::connect("127.0.0.1:1") {
            Ok(_) => Err("opened a socket".into()),
            Err(error) => Err(format!("cannot open a socket: {error}")),
        },
        "error" => Err(format!("hostile plugin refuses {callback}")),
        "print" => {
            println!("hostile stdout line from {callback}");
            eprintln!("hostile stderr line from {callback}");
            Ok(Twist::None)
        }
        _ => Ok(Twist::None),
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
        let twist = misbehave("get-server-data", true)?;
        let mut servers = vec![
            server("100", "calm", false, true),
            server(TROUBLE, "trouble", false, false),
            server("777", "locked", true, false),
        ];
        match twist {
            Twist::Invalid => servers.push(server("100", "again", false, false)),
            Twist::Huge => servers.extend(
                (0..5_000).map(|n| server(&format!("9{n:05}"), &format!("s{n}"), false, false)),
            ),
            _ => {}
        }
        Ok(servers)
    }

    fn get_user_data(server: String) -> Result<Vec<User>, String> {
        match misbehave("get-user-data", server == TROUBLE)? {
            Twist::Invalid => return Ok(vec![user("1", "Bad Color", Status::Online, "#zzzzzz")]),
            Twist::Huge => {
                return Ok((0..100_000)
                    .map(|n| user(&n.to_string(), "crowd", Status::Online, "#000000"))
                    .collect());
            }
            Twist::Big => {
                let name = "b".repeat(200);
                return Ok((0..25_000)
                    .map(|n| user(&n.to_string(), &name, Status::Online, "#000000"))
                    .collect());
            }
            Twist::Crowd => {
                let pad = "0".repeat(4096);
                let padded = |n: usize, len: usize| {
                    let mut text = n.to_string();
                    text.push_str(&pad[..len - text.len()]);
                    text
                };
                return Ok((0..25_000)
                    .map(|n| {
                        user(
                            &padded(n, 1024),
                            &padded(n, 4096),
                            Status::Online,
                            "#000000",
                        )
                    })
                    .collect());
            }
            _ => {}
        }
        Ok(match server.as_str() {
            "100" => vec![user("1001", "Calm One", Status::Online, "#112233")],
            TROUBLE => vec![user("6661", "Trouble", Status::Dnd, "#445566")],
            "777" => vec![user("7771", "Keeper", Status::Idle, "#778899")],
            _ => vec![],
        })
    }

    fn static_request(path: String) -> Result<Option<StaticResponse>, String> {
        match misbehave("static-request", path.starts_with("/trouble"))? {
            Twist::Invalid => {
                return Ok(Some(StaticResponse {
                    status: Some(999),
                    content_type: "text/plain".into(),
                    body: b"bad".to_vec(),
                }));
            }
            Twist::Huge => {
                return Ok(Some(StaticResponse {
                    status: None,
                    content_type: "x".repeat(100_000),
                    body: Vec::new(),
                }));
            }
            Twist::Status => {
                return Ok(Some(StaticResponse {
                    status: host::config_get("status").and_then(|s| s.parse().ok()),
                    content_type: "text/plain".into(),
                    body: b"switch?".to_vec(),
                }));
            }
            _ => {}
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
        match misbehave("get-client-id", server == TROUBLE)? {
            Twist::Invalid => return Ok(Some("   ".into())),
            Twist::Huge => return Ok(Some("1".repeat(1 << 20))),
            _ => {}
        }
        Ok((server == "100").then(|| "calm-client".to_string()))
    }
}

impl activity::Guest for Hostile {
    fn timers() -> Vec<Timer> {
        let Some(interval_ms) = host::config_get("tick_ms").and_then(|ms| ms.parse().ok()) else {
            return Vec::new();
        };
        let count: usize = host::config_get("timer_count")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        (0..count)
            .map(|n| Timer {
                name: if n == 0 {
                    "tick".into()
                } else {
                    format!("tick-{n}")
                },
                interval_ms,
            })
            .collect()
    }

    fn on_timer(_name: String, servers: Vec<String>) -> Result<Vec<Event>, String> {
        let twist = misbehave("on-timer", true)?;
        match twist {
            Twist::Loud => return Ok(servers.iter().flat_map(|server| loud(server)).collect()),
            Twist::Unwatched => return Ok(unwatched()),
            _ => {}
        }
        let invalid = twist != Twist::None;
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

/// 10,000 events for `server`: presences of 5,000 members, then 5,000
/// messages.
fn loud(server: &str) -> Vec<Event> {
    let presences = (0..5_000).map(|n| {
        Event::Presence(PresenceEvent {
            server: server.into(),
            uid: format!("9{n:05}"),
            status: Status::Online,
            username: Some(format!("loud {n}")),
            role_color: None,
            remove: false,
        })
    });
    let messages = (0..5_000).map(|n| {
        Event::Message(MessageEvent {
            server: server.into(),
            uid: "1001".into(),
            message: format!("loud message {n}"),
            channel: "1".into(),
        })
    });
    presences.chain(messages).collect()
}

/// 1,000 presences of new members with 4 KiB names for `trouble`, which
/// nobody watches while `calm` is joined (4 MB per firing, within the
/// answer budget).
fn unwatched() -> Vec<Event> {
    static ROUND: AtomicU32 = AtomicU32::new(0);
    let round = ROUND.fetch_add(1, Ordering::Relaxed);
    (0..1_000)
        .map(|n| {
            Event::Presence(PresenceEvent {
                server: TROUBLE.into(),
                uid: format!("{round}{n:04}"),
                status: Status::Online,
                username: Some("u".repeat(4_000)),
                role_color: None,
                remove: false,
            })
        })
        .collect()
}

bindings::export!(Hostile with_types_in bindings);
