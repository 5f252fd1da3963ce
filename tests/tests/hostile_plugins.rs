//! Hostile plugins while 50 other clients are joining: each is contained,
//! answered with the right fallback, logged with plugin, callback and cause,
//! and every other join completes.

use std::time::Duration;

use d_back::protocol::texts;
use d_back_tests::server::with_plugin;
use d_back_tests::{Client, TestServer, http, logs, plugins};
use futures_util::future::join_all;
use serde_json::{Value, json};

const OTHERS: usize = 50;

fn hostile(name: &str, values: &[(&str, &str)]) -> d_back::Settings {
    with_plugin(name, &plugins::hostile(), values)
}

fn calm_join() -> Value {
    json!({"type":"server-join","data":{
        "users":{"1001":{"uid":"1001","username":"Calm One","status":"online","roleColor":"#112233"}},
        "request":{"server":"calm"},"serverName":"The calm server","clientId":"calm-client"}})
}

/// Runs `attack` while `OTHERS` clients join `calm`; returns the attack's
/// result and every other client's answer.
async fn during_joins<F, T>(server: &TestServer, attack: F) -> (T, Vec<Value>)
where
    F: std::future::Future<Output = T>,
{
    let others = join_all((0..OTHERS).map(|_| async {
        let (mut client, _) = server.client().await;
        client.join(json!("calm")).await
    }));
    tokio::join!(attack, others)
}

/// The trouble server's member list misbehaves as `mode`; everyone else is fine.
async fn users_attack_is_contained(
    name: &str,
    mode: &str,
    cause: &str,
    tweak: fn(&mut d_back::Settings),
) {
    let mut settings = hostile(name, &[("target", "get-user-data"), ("mode", mode)]);
    tweak(&mut settings);
    let server = TestServer::start(settings).await;
    let attack = async {
        let (mut attacker, _) = server.client().await;
        attacker.join(json!("trouble")).await
    };
    let (fallback, others) = during_joins(&server, attack).await;
    assert_eq!(
        fallback,
        json!({"type":"server-join","data":{"users":{},"request":{"server":"trouble"},"serverName":"The trouble server"}})
    );
    assert_eq!(others.len(), OTHERS);
    for answer in others {
        assert_eq!(answer, calm_join());
    }
    logs::wait_for(&[
        &format!("plugin=\"{name}\""),
        "callback=\"get-user-data\"",
        cause,
    ])
    .await;
    let (mut after, _) = server.client().await;
    assert_eq!(after.join(json!("calm")).await, calm_join());
    server.stop().await;
}

fn no_tweak(_: &mut d_back::Settings) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop() {
    users_attack_is_contained("h-loop", "loop", "ran out of fuel", no_tweak).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb() {
    users_attack_is_contained("h-alloc", "alloc", "refused memory past its cap", |s| {
        s.plugin.limits.memory_bytes = 64 << 20;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_overflow() {
    // Rust keeps its stack in linear memory: running off it traps as an
    // out-of-bounds access rather than wasm's own stack exhaustion.
    users_attack_is_contained("h-recurse", "recurse", "trapped", no_tweak).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleeping_past_the_deadline() {
    users_attack_is_contained("h-sleep", "sleep", "missed its deadline", |s| {
        s.plugin.limits.deadline = Duration::from_millis(800);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_output() {
    users_attack_is_contained(
        "h-huge",
        "huge",
        "100000 users, more than the cap of 25000",
        no_tweak,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_values() {
    users_attack_is_contained("h-invalid", "invalid", "is not #rrggbb", no_tweak).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_file() {
    users_attack_is_contained("h-file", "file", "cannot open a file", no_tweak).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_socket() {
    users_attack_is_contained("h-socket", "socket", "cannot open a socket", no_tweak).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_in_every_callback() {
    let mut settings = hostile(
        "h-trap-all",
        &[("target", "all"), ("mode", "trap"), ("tick_ms", "100")],
    );
    // Keep calling it, so every callback's trap shows (the breaker has its own test).
    settings.plugin.breaker.failures = 10_000;
    let server = TestServer::start(settings).await;
    let attack = async {
        let static_reply = http(server.addr, "GET", "/hello", &[], b"").await;
        let (mut locked, list) = server.client().await;
        let refused = locked
            .connect_with(json!({"server":"locked","discordToken":"good-token","discordUser":{"id":"1","username":"u"}}))
            .await;
        (static_reply.status, list, refused)
    };
    let ((status, list, refused), others) = during_joins(&server, attack).await;
    // No servers, so no joins; static files (none here) instead of the plugin's page.
    assert_eq!(status, 404);
    assert_eq!(list, json!({"type":"server-list","data":{}}));
    Client::assert_error(&refused, texts::SERVER_NOT_FOUND);
    assert_eq!(others.len(), OTHERS);
    for answer in others {
        Client::assert_error(&answer, texts::SERVER_NOT_FOUND);
    }
    for callback in ["get-server-data", "static-request"] {
        logs::wait_for(&[
            "plugin=\"h-trap-all\"",
            &format!("callback=\"{callback}\""),
            "trapped",
        ])
        .await;
    }
    server.stop().await;
}

#[tokio::test]
async fn the_last_good_answer_is_served_when_a_call_fails() {
    let settings = hostile(
        "h-last-good-users",
        &[
            ("target", "get-user-data"),
            ("mode", "error"),
            ("succeed_first", "1"),
        ],
    );
    let server = TestServer::start(settings).await;
    let (mut client, _) = server.client().await;
    let first = client.join(json!("trouble")).await;
    assert_eq!(first["data"]["users"]["6661"]["username"], "Trouble");
    let second = client.join(json!("trouble")).await;
    assert_eq!(second, first);
    logs::wait_for(&[
        "plugin=\"h-last-good-users\"",
        "callback=\"get-user-data\"",
        "serving the last good answer",
    ])
    .await;
    server.stop().await;

    let settings = hostile(
        "h-last-good-servers",
        &[
            ("target", "get-server-data"),
            ("mode", "error"),
            ("succeed_first", "1"),
        ],
    );
    let server = TestServer::start(settings).await;
    let (mut client, list) = server.client().await;
    assert_eq!(list["data"].as_object().unwrap().len(), 3);
    // The join's own server-data call fails; the remembered list still finds calm.
    assert_eq!(client.join(json!("calm")).await, calm_join());
    logs::wait_for(&[
        "plugin=\"h-last-good-servers\"",
        "callback=\"get-server-data\"",
        "serving the last good answer",
    ])
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_failing_plugin_is_paused_and_recovers_by_itself() {
    // Every call fails until the third, then the plugin behaves.
    let mut settings = hostile(
        "h-breaker",
        &[("target", "all"), ("mode", "error"), ("fail_first", "3")],
    );
    settings.plugin.breaker.failures = 3;
    settings.plugin.breaker.base_pause = Duration::from_secs(3);
    let server = TestServer::start(settings).await;
    let calls = || {
        logs::lines_with(&[
            "plugin=\"h-breaker\"",
            "d_back::runtime::plugin: plugin call",
        ])
        .len()
    };
    let (mut client, list) = server.client().await;
    assert_eq!(list["data"], json!({}));
    for _ in 0..2 {
        Client::assert_error(&client.join(json!("calm")).await, texts::SERVER_NOT_FOUND);
    }
    logs::wait_for(&["plugin=\"h-breaker\"", "pausing calls"]).await;
    let before = calls();
    // Paused: the join is answered from fallbacks without calling the plugin.
    Client::assert_error(&client.join(json!("calm")).await, texts::SERVER_NOT_FOUND);
    assert_eq!(calls(), before);
    logs::wait_for(&["plugin=\"h-breaker\"", "plugin call skipped"]).await;
    // After the pause a trial call goes through, succeeds, and closes the breaker.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let joined = client.join(json!("calm")).await;
    assert_eq!(joined["data"]["users"], calm_join()["data"]["users"]);
    assert!(calls() > before);
    logs::wait_for(&["plugin=\"h-breaker\"", "callback recovered"]).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_slow_calls_queues_then_overflows_to_the_fallback() {
    // Logins are never shared between browsers (member lists are: joins of
    // one server wait for one call), so each one is a call of its own.
    let mut settings = hostile(
        "h-flood",
        &[("target", "validate-discord-user"), ("mode", "sleep")],
    );
    settings.plugin.limits.deadline = Duration::from_millis(1500);
    settings.plugin.lanes.logins.concurrent = 2;
    settings.plugin.lanes.logins.queued = 2;
    settings.plugin.breaker.failures = 100;
    let server = TestServer::start(settings).await;
    let answers = join_all((0..8).map(|_| async {
        let (mut client, _) = server.client().await;
        client
            .connect_with(
                json!({"server":"locked","discordToken":"good-token","discordUser":{"id":"1"}}),
            )
            .await
    }))
    .await;
    for answer in answers {
        Client::assert_error(&answer, texts::DISCORD_AUTH_FAILED);
    }
    logs::wait_for(&[
        "plugin=\"h-flood\"",
        "callback=\"validate-discord-user\"",
        "call queue is full",
    ])
    .await;
    logs::wait_for(&[
        "plugin=\"h-flood\"",
        "callback=\"validate-discord-user\"",
        "missed its deadline",
    ])
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_joins_of_one_server_share_one_slow_call() {
    let mut settings = hostile(
        "h-shared",
        &[("target", "get-user-data"), ("mode", "sleep")],
    );
    settings.plugin.limits.deadline = Duration::from_millis(1500);
    settings.plugin.breaker.failures = 100;
    let server = TestServer::start(settings).await;
    let answers = join_all((0..8).map(|_| async {
        let (mut client, _) = server.client().await;
        client.join(json!("trouble")).await
    }))
    .await;
    for answer in answers {
        assert_eq!(answer["type"], "server-join");
        assert_eq!(answer["data"]["users"], json!({}));
    }
    let calls = logs::lines_with(&[
        "plugin=\"h-shared\"",
        "callback=\"get-user-data\"",
        "d_back::runtime::plugin: plugin call",
    ]);
    assert_eq!(calls.len(), 1, "one call for all eight: {calls:?}");
    server.stop().await;
}
