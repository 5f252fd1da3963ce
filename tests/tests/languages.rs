//! The config provider, written in Rust, JavaScript, Python and Go, serves
//! the same answers from the same configuration; and each language's own way
//! of failing (a JavaScript throw, a Python exception, a Go panic) is
//! contained by the host.

use d_back_plugin_build::Language;
use d_back_tests::client::Client;
use d_back_tests::server::with_plugin;
use d_back_tests::{TestServer, logs, plugins};
use serde_json::{Value, json};

const SERVERS: &str = r##"[
  {"snowflake": "500000000000000001", "id": "town", "name": "Town Square", "default": true,
   "users": [
     {"uid": "1", "username": "ada", "status": "online", "color": "#e91e63"},
     {"uid": "2", "username": "brian"},
     {"uid": "3", "username": "chloé ✨", "status": "dnd", "color": "#00ff7f"}
   ]},
  {"snowflake": "500000000000000002", "id": "club", "name": "Members Club",
   "password": "hunter2", "allowed_users": ["1"], "client_id": "900000000000000002",
   "users": [{"uid": "1", "username": "ada", "status": "idle"}]},
  {"snowflake": "500000000000000003", "id": "open-door", "passworded": false,
   "password": "ignored", "unknown_field": 42,
   "users": []}
]"##;

fn config() -> Vec<(&'static str, &'static str)> {
    vec![
        ("servers", SERVERS),
        ("client_id", "900000000000000001"),
        ("presence_interval_ms", "150"),
    ]
}

/// Everything a browser can observe of one plugin, in a fixed order.
async fn transcript(language: Language) -> Value {
    let wasm = plugins::config_provider(language);
    let name = format!("config-{}", language.name());
    let server = TestServer::start(with_plugin(&name, &wasm, &config())).await;
    let mut frames = Vec::new();

    // The timed presence first, while this client is the only watcher, so
    // the first firing of the plugin's rotation is the one it sees.
    let (mut client, list) = server.client().await;
    frames.push(list);
    frames.push(client.join(Value::Null).await);
    frames.push(client.recv_type("presence").await);
    client.close().await;

    let attempts = [
        json!({"server": "town"}),
        json!({"server": "  open-door "}),
        json!({"server": "nowhere"}),
        json!({"server": "club"}),
        json!({"server": "club", "password": "wrong"}),
        json!({"server": "club", "password": "hunter2"}),
        json!({"server": "club", "discordToken": "token",
               "discordUser": {"id": "1", "username": "ada"}}),
        json!({"server": "club", "discordToken": "token",
               "discordUser": {"id": "2", "username": "brian"}}),
        json!({"server": "club", "discordToken": "",
               "discordUser": {"id": "1", "username": "ada"}}),
    ];
    for attempt in attempts {
        // A fresh connection each time: a refused login counts against the
        // connection, and a join must not depend on an earlier one.
        let (mut client, _) = server.client().await;
        let answer = client.connect_with(attempt.clone()).await;
        frames.push(json!({"sent": attempt, "got": answer}));
        client.close().await;
    }
    server.stop().await;
    Value::Array(frames)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_config_provider_answers_alike_in_every_language() {
    let rust = transcript(Language::Rust).await;
    assert_rust_reference(&rust);
    for language in [Language::JavaScript, Language::Python, Language::Go] {
        let other = transcript(language).await;
        let frames = rust.as_array().unwrap().iter();
        for (expected, got) in frames.zip(other.as_array().unwrap()) {
            assert_eq!(got, expected, "{language:?} differs from Rust");
        }
        assert_eq!(other, rust, "{language:?} differs from Rust");
    }
}

/// The reference itself is checked against the spec, so four plugins that
/// agree on a wrong answer still fail.
fn assert_rust_reference(transcript: &Value) {
    let frames = transcript.as_array().unwrap();
    assert_eq!(
        frames[0],
        json!({"type": "server-list", "data": {
            "500000000000000001": {"id": "town", "name": "Town Square", "passworded": false, "default": true},
            "500000000000000002": {"id": "club", "name": "Members Club", "passworded": true, "default": false},
            "500000000000000003": {"id": "open-door", "name": "open-door", "passworded": false, "default": false}
        }})
    );
    assert_eq!(
        frames[1],
        json!({"type": "server-join", "data": {
            "users": {
                "1": {"uid": "1", "username": "ada", "status": "online", "roleColor": "#e91e63"},
                "2": {"uid": "2", "username": "brian", "status": "offline", "roleColor": "#99aab5"},
                "3": {"uid": "3", "username": "chloé ✨", "status": "dnd", "roleColor": "#00ff7f"}
            },
            "request": {"server": "default"},
            "serverName": "Town Square",
            "clientId": "900000000000000001"
        }})
    );
    // First firing: the first member, one step on from online.
    assert_eq!(
        frames[2],
        json!({"type": "presence", "server": "500000000000000001", "data": {
            "uid": "1", "status": "idle", "username": "ada", "roleColor": "#e91e63"
        }})
    );
    let got = |i: usize| &frames[i]["got"];
    assert_eq!(got(3)["data"]["serverName"], "Town Square");
    assert_eq!(got(4)["data"]["serverName"], "open-door");
    assert_eq!(got(4)["data"]["users"], json!({}));
    assert!(got(4)["data"].get("clientId").is_some());
    Client::assert_error(got(5), "Sorry, couldn't connect to that Discord server.");
    let needs_login = "This server requires Discord authentication. Please login with Discord.";
    Client::assert_error(got(6), needs_login);
    Client::assert_error(got(7), needs_login);
    assert_eq!(got(8)["type"], "server-join");
    assert_eq!(got(8)["data"]["clientId"], "900000000000000002");
    assert_eq!(
        got(8)["data"]["users"]["1"],
        json!({"uid": "1", "username": "ada", "status": "idle", "roleColor": "#99aab5"})
    );
    assert_eq!(got(9)["type"], "server-join");
    Client::assert_error(
        got(10),
        "Discord authentication failed. Please try logging in again.",
    );
    assert_eq!(got(11)["type"], "error");
}

/// A configuration the provider must refuse, in every language: no servers
/// offered, the reason logged, the server still answering.
#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_configuration_is_refused_alike_in_every_language() {
    for language in Language::ALL {
        let wasm = plugins::config_provider(language);
        let name = format!("bad-config-{}", language.name());
        let servers = r#"[{"snowflake": "1", "id": 7}]"#;
        let server = TestServer::start(with_plugin(&name, &wasm, &[("servers", servers)])).await;
        let (mut client, list) = server.client().await;
        assert_eq!(
            list,
            json!({"type": "server-list", "data": {}}),
            "{language:?}"
        );
        Client::assert_error(
            &client.join(Value::Null).await,
            "Sorry, couldn't connect to that Discord server.",
        );
        logs::wait_for(&[
            &format!("plugin=\"{name}\""),
            "get-server-data",
            "servers",
            "plugin call failed",
        ])
        .await;
        server.stop().await;
    }
}

/// Each language's own failure in `get-user-data` and `on-timer`: the join
/// is still answered (no members), the failure is logged with plugin,
/// callback and cause, and the next join is answered too.
async fn failure_is_contained(language: Language, snowflake: &str, what: &str) {
    let wasm = plugins::hostile_in(language);
    let name = format!("hostile-{}", language.name());
    let server = TestServer::start(with_plugin(&name, &wasm, &[])).await;
    let plugin = format!("plugin=\"{name}\"");
    for _ in 0..3 {
        let (mut client, list) = server.client().await;
        assert!(list["data"].get(snowflake).is_some(), "{list}");
        let joined = client.join(Value::Null).await;
        assert_eq!(joined["type"], "server-join", "{language:?}: {joined}");
        assert_eq!(joined["data"]["users"], json!({}), "{language:?}");
        client.close().await;
    }
    let line = logs::wait_for(&[&plugin, "get-user-data", "plugin call failed"]).await;
    assert!(line.contains("cause="), "{line}");
    // The cause a plugin author needs reaches the log at WARN or above: the
    // language's own message, through the plugin's stderr or `host.log`.
    let line = logs::wait_for(&[&name, what]).await;
    assert!(
        line.contains("WARN") || line.contains("ERROR"),
        "{language:?}: {line}"
    );

    // The timer fires only while a browser watches.
    let (mut client, _) = server.client().await;
    client.join(Value::Null).await;
    logs::wait_for(&[&plugin, "on-timer", "plugin call failed"]).await;
    client.close().await;
    server.assert_serves_joins().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_javascript_throw_is_contained() {
    failure_is_contained(
        Language::JavaScript,
        "700000000000000001",
        "uncaught exception in getUserData: TypeError",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_exception_is_contained() {
    failure_is_contained(Language::Python, "700000000000000002", "ZeroDivisionError").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_go_panic_is_contained() {
    failure_is_contained(Language::Go, "700000000000000003", "panic").await;
}
