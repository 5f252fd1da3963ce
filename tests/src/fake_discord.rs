//! A fake Discord REST API on loopback, serving fixtures: two guilds (one
//! with over a thousand members, for paging), roles with colors and
//! positions, OAuth2 tokens, a 429 with `retry_after`, and a switch that
//! makes every answer a 503.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The big guild: paging needs more than one page of 1,000.
pub const BIG_GUILD: &str = "111111111111111111";
pub const BIG_MEMBERS: u64 = 1_234;
/// Members of the big guild that are bots.
pub const BIG_BOTS: u64 = 4;
pub const SMALL_GUILD: &str = "222222222222222222";
pub const BOT_TOKEN: &str = "fake-bot-token";
/// OAuth2 tokens: ann (id 42) is in the big guild, bob (id 43) only in the small one.
pub const ANN_TOKEN: &str = "oauth-ann";
pub const BOB_TOKEN: &str = "oauth-bob";

#[derive(Default)]
struct State {
    hits: Mutex<HashMap<String, usize>>,
    failing: AtomicBool,
    /// Paths that answer 429 once before succeeding.
    rate_limit_once: Mutex<Vec<String>>,
    /// What `/gateway/bot` answers as the gateway URL.
    gateway: Mutex<Option<String>>,
}

/// A running fake API; dropped with the test.
#[derive(Clone)]
pub struct FakeDiscord {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl FakeDiscord {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let served = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(answer(&state, request)) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, state }
    }

    /// The API base URL for the plugin's `api_base`.
    pub fn base(&self) -> String {
        format!("http://{}/api/v10", self.addr)
    }

    /// Requests seen for `path` (without the query).
    pub fn hits(&self, path: &str) -> usize {
        let hits = self.state.hits.lock().unwrap();
        hits.get(path).copied().unwrap_or(0)
    }

    /// Makes every answer a 503 (or stops doing so).
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// The next request for `path` gets a 429 with a short `retry_after`.
    pub fn rate_limit_once(&self, path: &str) {
        self.state
            .rate_limit_once
            .lock()
            .unwrap()
            .push(path.to_string());
    }

    /// The URL `/gateway/bot` hands out, e.g. a `FakeGateway`'s `url()`.
    pub fn set_gateway(&self, url: String) {
        *self.state.gateway.lock().unwrap() = Some(url);
    }
}

fn json_reply(status: StatusCode, value: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn answer(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    *state.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    if state.failing.load(Ordering::SeqCst) {
        return json_reply(StatusCode::SERVICE_UNAVAILABLE, json!({"message": "down"}));
    }
    {
        let mut limited = state.rate_limit_once.lock().unwrap();
        if let Some(at) = limited.iter().position(|p| *p == path) {
            limited.remove(at);
            return json_reply(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"message": "You are being rate limited.", "retry_after": 0.2, "global": false}),
            );
        }
    }
    let auth = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let query: HashMap<String, String> = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let unauthorized = || {
        json_reply(
            StatusCode::UNAUTHORIZED,
            json!({"message": "401: Unauthorized"}),
        )
    };
    let Some(rest) = path.strip_prefix("/api/v10") else {
        return json_reply(StatusCode::NOT_FOUND, json!({"message": "404"}));
    };
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["guilds", guild, "roles"] => {
            if auth != format!("Bot {BOT_TOKEN}") {
                return unauthorized();
            }
            json_reply(StatusCode::OK, roles(guild))
        }
        ["guilds", guild] => {
            if auth != format!("Bot {BOT_TOKEN}") {
                return unauthorized();
            }
            match *guild {
                BIG_GUILD => json_reply(StatusCode::OK, json!({"id": BIG_GUILD, "name": "Big"})),
                SMALL_GUILD => json_reply(
                    StatusCode::OK,
                    json!({"id": SMALL_GUILD, "name": "Small Talk"}),
                ),
                _ => json_reply(StatusCode::NOT_FOUND, json!({"message": "Unknown Guild"})),
            }
        }
        ["guilds", guild, "members"] => {
            if auth != format!("Bot {BOT_TOKEN}") {
                return unauthorized();
            }
            let limit: usize = query.get("limit").and_then(|v| v.parse().ok()).unwrap_or(1);
            let after: u64 = query.get("after").and_then(|v| v.parse().ok()).unwrap_or(0);
            let page: Vec<Value> = members(guild)
                .into_iter()
                .filter(|m| m["user"]["id"].as_str().unwrap().parse::<u64>().unwrap() > after)
                .take(limit.min(1000))
                .collect();
            json_reply(StatusCode::OK, Value::Array(page))
        }
        ["gateway", "bot"] => {
            if auth != format!("Bot {BOT_TOKEN}") {
                return unauthorized();
            }
            // Port 9 (discard) when no gateway is set: connecting fails
            // rather than reaching something else.
            let url = state
                .gateway
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| "ws://127.0.0.1:9".to_string());
            json_reply(
                StatusCode::OK,
                json!({
                    "url": url,
                    "shards": 1,
                    "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
                }),
            )
        }
        // A token that makes the API fail, as an attacker who found how to
        // trip Discord (rate limits, outages) would send.
        ["users", "@me", ..] if auth.starts_with("Bearer boom") => {
            json_reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"message": "500"}))
        }
        ["users", "@me"] => match auth.as_str() {
            a if a == format!("Bearer {ANN_TOKEN}") => {
                json_reply(StatusCode::OK, json!({"id": "42", "username": "ann"}))
            }
            a if a == format!("Bearer {BOB_TOKEN}") => {
                json_reply(StatusCode::OK, json!({"id": "43", "username": "bob"}))
            }
            _ => unauthorized(),
        },
        ["users", "@me", "guilds"] => match auth.as_str() {
            a if a == format!("Bearer {ANN_TOKEN}") => {
                json_reply(StatusCode::OK, json!([{"id": BIG_GUILD, "name": "Big"}]))
            }
            a if a == format!("Bearer {BOB_TOKEN}") => json_reply(
                StatusCode::OK,
                json!([{"id": SMALL_GUILD, "name": "Small"}]),
            ),
            _ => unauthorized(),
        },
        _ => json_reply(StatusCode::NOT_FOUND, json!({"message": "404: Not Found"})),
    }
}

/// Roles: the highest colored role wins; a higher colorless one does not count.
pub fn roles(guild: &str) -> Value {
    if guild != BIG_GUILD && guild != SMALL_GUILD {
        return json!([]);
    }
    json!([
        {"id": guild, "name": "@everyone", "color": 0, "position": 0},
        {"id": "10", "name": "red", "color": 0xff0000, "position": 1},
        {"id": "20", "name": "green", "color": 0x00ff00, "position": 5},
        {"id": "30", "name": "mods", "color": 0, "position": 10},
    ])
}

/// The first member id of the big guild; ids are consecutive.
pub const FIRST_MEMBER: u64 = 500_000_000_000_000_000;

/// The color the plugin should give big-guild member number `n`.
pub fn expected_color(n: u64) -> &'static str {
    match n % 3 {
        0 => "#00ff00",
        1 => "#ff0000",
        _ => "#99aab5",
    }
}

/// The name the plugin should show for big-guild member number `n`.
pub fn expected_name(n: u64) -> String {
    match n % 4 {
        0 => format!("nick{n}"),
        1 => format!("Global {n}"),
        _ => format!("user{n}"),
    }
}

/// Big-guild member number `n`, as the API (and the gateway) shows it:
/// roles, nick and global name vary with `n`; the first few are bots.
pub fn big_member(n: u64) -> Value {
    let roles = match n % 3 {
        0 => json!(["10", "20", "30"]),
        1 => json!(["10", "30"]),
        _ => json!([]),
    };
    json!({
        "user": {
            "id": (FIRST_MEMBER + n).to_string(),
            "username": format!("user{n}"),
            "global_name": if n % 4 == 1 { json!(format!("Global {n}")) } else { Value::Null },
            "bot": n < BIG_BOTS,
        },
        "nick": if n.is_multiple_of(4) { json!(format!("nick{n}")) } else { Value::Null },
        "roles": roles,
    })
}

fn members(guild: &str) -> Vec<Value> {
    match guild {
        BIG_GUILD => (0..BIG_MEMBERS).map(big_member).collect(),
        SMALL_GUILD => vec![
            json!({"user": {"id": "7001", "username": "alpha"}, "roles": ["20"]}),
            json!({"user": {"id": "7002", "username": "beta"}, "roles": []}),
        ],
        _ => Vec::new(),
    }
}
