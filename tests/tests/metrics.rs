//! `GET /metrics` scraped before and after a scripted sequence against the
//! real binary: each counter moves by exactly what happened.

use std::net::{SocketAddr, TcpListener};

use d_back::protocol::texts;
use d_back_tests::child::ChildServer;
use d_back_tests::http::{admin, broadcast_message};
use d_back_tests::{Client, http, plugins};
use serde_json::{Value, json};

const TOKEN: &str = "metrics-test-token";

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The hostile plugin, whose member lists of `trouble` trap.
fn hostile_config(metrics: SocketAddr) -> String {
    format!(
        r#"admin_token = "{TOKEN}"
metrics_addr = "{metrics}"

[plugin]
path = "{}"
name = "hostile"

[plugin.config]
target = "get-user-data"
mode = "trap"
"#,
        plugins::hostile().display()
    )
}

/// The Discord provider with an API base it may not reach: every member
/// list is one request the allow-list denies.
fn denied_config(metrics: SocketAddr) -> String {
    let guilds = json!([{"snowflake": "300", "id": "g", "name": "G", "default": true}]);
    format!(
        r#"admin_token = "{TOKEN}"
metrics_addr = "{metrics}"

[plugin]
path = "{}"
name = "discord"

[plugin.config]
api_base = "http://127.0.0.1:9/api/v10"
bot_token = "not-used"
guilds = '{guilds}'
"#,
        plugins::discord().display()
    )
}

/// One metric's value: the line of `name` with every label of `labels`
/// (0 when there is none yet).
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<f64> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, number) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            (metric == name
                && labels
                    .iter()
                    .all(|(key, wanted)| rest.contains(&format!("{key}=\"{wanted}\""))))
            .then(|| number.parse().ok())?
        })
        .collect();
    assert!(
        matching.len() <= 1,
        "{name} {labels:?} matches {matching:?}"
    );
    matching.first().copied().unwrap_or(0.0)
}

async fn scrape(metrics: SocketAddr) -> String {
    let reply = http(metrics, "GET", "/metrics", &[], b"").await;
    assert_eq!(reply.status, 200);
    reply.text()
}

/// Connects (the greeting asks for the servers) and joins with `data`.
async fn join(node: &ChildServer, data: Value) -> Value {
    let mut client = Client::connect(node.addr()).await;
    assert_eq!(client.recv().await["type"], "server-list");
    client.connect_with(data).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_counter_moves_by_exactly_what_happened() {
    let metrics = free_addr();
    let node = ChildServer::start_logged(&hostile_config(metrics), "info").unwrap();
    node.wait_until_up().await.unwrap();
    // On the main port the token is needed; on metrics_addr it is not.
    let anonymous = http(node.addr(), "GET", "/metrics", &[], b"").await;
    assert_eq!(anonymous.status, 401);
    let main = admin(node.addr(), "GET", "/metrics", TOKEN, None).await;
    assert_eq!(main.status, 200);
    assert!(main.text().contains("dback_plugin_calls_total"));

    let before = scrape(metrics).await;
    // Three joins of `calm`.
    for _ in 0..3 {
        assert_eq!(join(&node, json!({})).await["type"], "server-join");
    }
    // A trap: `trouble`'s member list; the join goes on with none.
    let trapped = join(&node, json!({"server": "trouble"})).await;
    assert_eq!(trapped["type"], "server-join");
    // A refusal: a wrong token for `locked`.
    let refused = join(
        &node,
        json!({"server":"locked","discordToken":"wrong","discordUser":{"id":"9","username":"x"}}),
    )
    .await;
    Client::assert_error(&refused, texts::DISCORD_AUTH_FAILED);
    let after = scrape(metrics).await;

    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let call = |callback: &'static str, outcome: &'static str| {
        moved(
            "dback_plugin_calls_total",
            &[
                ("plugin", "hostile"),
                ("callback", callback),
                ("outcome", outcome),
            ],
        )
    };
    // Five connections each ask for the servers at greeting and again at
    // their join.
    assert_eq!(call("get-server-data", "ok"), 10.0);
    assert_eq!(call("get-user-data", "ok"), 3.0);
    assert_eq!(call("get-user-data", "trap"), 1.0);
    assert_eq!(call("get-client-id", "ok"), 4.0);
    assert_eq!(call("validate-discord-user", "refused"), 1.0);
    assert_eq!(call("validate-discord-user", "ok"), 0.0);
    assert_eq!(
        moved(
            "dback_plugin_call_seconds_count",
            &[("plugin", "hostile"), ("callback", "get-user-data")]
        ),
        4.0
    );
    assert_eq!(
        moved(
            "dback_plugin_fuel_used_count",
            &[("plugin", "hostile"), ("callback", "get-user-data")]
        ),
        4.0
    );
    assert_eq!(
        moved(
            "dback_plugin_fallbacks_total",
            &[("callback", "get-user-data"), ("served", "default")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            "dback_plugin_cache_total",
            &[("callback", "get-user-data"), ("result", "miss")]
        ),
        4.0
    );
    assert_eq!(moved("dback_joins_total", &[("outcome", "joined")]), 4.0);
    assert_eq!(
        moved("dback_joins_total", &[("outcome", "auth_failed")]),
        1.0
    );
    assert_eq!(
        moved("dback_login_attempts_total", &[("outcome", "refused")]),
        1.0
    );
    assert_eq!(
        moved("dback_login_attempts_total", &[("outcome", "accepted")]),
        0.0
    );
    // The browsers above are gone; the server notices a closed socket a
    // moment after the client drops it.
    let mut open = value(&after, "dback_connections_open", &[]);
    for _ in 0..200 {
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        open = value(&scrape(metrics).await, "dback_connections_open", &[]);
    }
    assert_eq!(open, 0.0);
    assert_eq!(
        value(&after, "dback_plugin_version", &[("plugin", "hostile")]),
        1.0
    );

    // A broadcast reaches the three browsers still... none are open now:
    // open one, broadcast, count one delivery.
    let mut open = Client::connect(node.addr()).await;
    open.recv().await;
    assert_eq!(open.join(Value::Null).await["type"], "server-join");
    let sent = broadcast_message(node.addr(), TOKEN, "100", "1", "hi").await;
    assert_eq!(sent.status, 200);
    let broadcast = scrape(metrics).await;
    assert_eq!(
        value(&broadcast, "dback_broadcasts_total", &[("kind", "message")])
            - value(&after, "dback_broadcasts_total", &[("kind", "message")]),
        1.0
    );
    assert_eq!(
        value(&broadcast, "dback_frames_delivered_total", &[])
            - value(&after, "dback_frames_delivered_total", &[]),
        1.0
    );
    assert_eq!(value(&broadcast, "dback_connections_open", &[]), 1.0);

    // A reload to a version whose member lists need a request the
    // allow-list denies.
    node.rewrite_config(&denied_config(metrics)).unwrap();
    let reloaded = admin(node.addr(), "POST", "/api/plugin/reload", TOKEN, None).await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    let joined = join(&node, json!({})).await;
    assert_eq!(joined["type"], "server-join", "{joined}");
    let last = scrape(metrics).await;
    let since = |name: &str, labels: &[(&str, &str)]| {
        value(&last, name, labels) - value(&broadcast, name, labels)
    };
    assert_eq!(
        since("dback_plugin_reloads_total", &[("result", "swapped")]),
        1.0
    );
    assert_eq!(
        since(
            "dback_plugin_http_requests_total",
            &[("plugin", "discord"), ("verdict", "denied")]
        ),
        1.0
    );
    assert_eq!(
        since(
            "dback_plugin_http_requests_total",
            &[("plugin", "discord"), ("verdict", "allowed")]
        ),
        0.0
    );
    assert_eq!(
        since(
            "dback_plugin_calls_total",
            &[
                ("plugin", "discord"),
                ("callback", "get-user-data"),
                ("outcome", "err")
            ]
        ),
        1.0
    );
    assert_eq!(
        value(&last, "dback_plugin_version", &[("plugin", "discord")]),
        1.0
    );
    assert_eq!(
        value(&last, "dback_plugin_version", &[("plugin", "hostile")]),
        0.0,
        "the old version is gone from the gauge"
    );
}
