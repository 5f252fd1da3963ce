//! Hostile plugins, built from source: every failure is contained, logged
//! with plugin, callback and cause, and answered with the safe default.

use std::time::Duration;

use d_back::protocol::texts;
use d_back_tests::server::with_plugin;
use d_back_tests::{Client, TestServer, http, logs, plugins};
use serde_json::{Value, json};

fn hostile(name: &str, target: &str, mode: &str) -> d_back::Settings {
    with_plugin(
        name,
        &plugins::hostile(),
        &[("target", target), ("mode", mode)],
    )
}

fn calm_join() -> Value {
    json!({"type":"server-join","data":{
        "users":{"1001":{"uid":"1001","username":"Calm One","status":"online","roleColor":"#112233"}},
        "request":{"server":"calm"},"serverName":"The calm server","clientId":"calm-client"}})
}

fn empty_trouble_join() -> Value {
    json!({"type":"server-join","data":{"users":{},"request":{"server":"trouble"},"serverName":"The trouble server"}})
}

/// Joins `trouble` (whose member list misbehaves) and checks the safe answer,
/// the log line, and that the host still serves a normal join afterwards.
async fn users_call_fails_safely(settings: d_back::Settings, name: &str, cause: &str) {
    let server = TestServer::start(settings).await;
    let (mut client, _) = server.client().await;
    assert_eq!(client.join(json!("trouble")).await, empty_trouble_join());
    logs::wait_for(&[
        &format!("plugin=\"{name}\""),
        "callback=\"get-user-data\"",
        cause,
    ])
    .await;
    // The failed instance is gone; a fresh one answers.
    assert_eq!(client.join(json!("calm")).await, calm_join());
    assert_eq!(client.join(json!("trouble")).await, empty_trouble_join());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_is_stopped_by_the_deadline_while_others_join() {
    let mut settings = hostile("loop-deadline", "get-user-data", "loop");
    settings.plugin.limits.fuel = u64::MAX / 2;
    settings.plugin.limits.deadline = Duration::from_secs(6);
    let server = TestServer::start(settings).await;
    let (mut stuck, _) = server.client().await;
    let (mut other, _) = server.client().await;

    stuck
        .send_json(json!({"type":"connect","data":{"server":"trouble"}}))
        .await;
    // Give the looping call time to start before the other client joins.
    logs::wait_for(&[
        "plugin=\"loop-deadline\"",
        "callback=\"get-user-data\"",
        "plugin call",
    ])
    .await;
    let mut others = Vec::new();
    for _ in 0..5 {
        let (mut client, _) = server.client().await;
        client
            .send_json(json!({"type":"connect","data":{"server":"calm"}}))
            .await;
        others.push(client);
    }
    // Every calm join completes while the loop is still running: the stuck
    // client's answer comes only when the deadline ends the loop.
    for client in &mut others {
        assert_eq!(client.recv().await, calm_join());
    }
    assert_eq!(other.join(json!("calm")).await, calm_join());
    let still_running = tokio::time::timeout(Duration::from_millis(10), stuck.recv()).await;
    assert!(
        still_running.is_err(),
        "the loop ended before the other joins"
    );
    assert_eq!(stuck.recv().await, empty_trouble_join());
    logs::wait_for(&[
        "plugin=\"loop-deadline\"",
        "callback=\"get-user-data\"",
        "missed its deadline of 6s",
    ])
    .await;
    server.stop().await;
}

#[tokio::test]
async fn endless_loop_runs_out_of_fuel() {
    let settings = hostile("loop-fuel", "get-user-data", "loop");
    users_call_fails_safely(settings, "loop-fuel", "ran out of fuel").await;
}

#[tokio::test]
async fn allocation_past_the_memory_cap_is_refused() {
    let mut settings = hostile("memory-bomb", "get-user-data", "alloc");
    settings.plugin.limits.memory_bytes = 32 << 20;
    users_call_fails_safely(
        settings,
        "memory-bomb",
        "refused memory past its cap of 33554432 bytes",
    )
    .await;
}

#[tokio::test]
async fn a_trap_is_contained_and_the_panic_message_is_logged() {
    let settings = hostile("trapper", "get-user-data", "trap");
    users_call_fails_safely(settings, "trapper", "trapped").await;
    let line = logs::wait_for(&[
        "plugin=trapper",
        "stderr",
        "hostile plugin panics in get-user-data",
    ])
    .await;
    assert!(line.contains("WARN"), "a panic is a warning: {line}");
}

#[tokio::test]
async fn deep_recursion_overflows_the_stack_safely() {
    let settings = hostile("recursor", "get-user-data", "recurse");
    users_call_fails_safely(settings, "recursor", "trapped").await;
}

#[tokio::test]
async fn a_sleeping_call_misses_its_deadline() {
    let mut settings = hostile("sleeper", "get-user-data", "sleep");
    settings.plugin.limits.deadline = Duration::from_millis(500);
    users_call_fails_safely(settings, "sleeper", "missed its deadline").await;
}

#[tokio::test]
async fn an_error_result_is_logged_with_its_reason() {
    let settings = hostile("refuser", "get-user-data", "error");
    users_call_fails_safely(settings, "refuser", "hostile plugin refuses get-user-data").await;
}

#[tokio::test]
async fn invalid_users_are_rejected_at_the_boundary() {
    let settings = hostile("bad-users", "get-user-data", "invalid");
    users_call_fails_safely(settings, "bad-users", "is not #rrggbb").await;
}

#[tokio::test]
async fn invalid_server_list_means_no_servers() {
    let server = TestServer::start(hostile("bad-servers", "get-server-data", "invalid")).await;
    let (mut client, list) = server.client().await;
    assert_eq!(list, json!({"type":"server-list","data":{}}));
    Client::assert_error(&client.join(Value::Null).await, texts::SERVER_NOT_FOUND);
    logs::wait_for(&[
        "plugin=\"bad-servers\"",
        "callback=\"get-server-data\"",
        "appears twice",
    ])
    .await;
    server.stop().await;
}

#[tokio::test]
async fn failing_server_list_means_no_servers() {
    let server = TestServer::start(hostile("trap-servers", "get-server-data", "trap")).await;
    let (mut client, list) = server.client().await;
    assert_eq!(list, json!({"type":"server-list","data":{}}));
    Client::assert_error(&client.join(json!("calm")).await, texts::SERVER_NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn invalid_static_response_falls_through_to_static_files() {
    let server = TestServer::start(hostile("bad-static", "static-request", "invalid")).await;
    let reply = http(server.addr, "GET", "/trouble", &[], b"").await;
    assert_eq!(reply.status, 404);
    logs::wait_for(&[
        "plugin=\"bad-static\"",
        "callback=\"static-request\"",
        "HTTP status 999",
    ])
    .await;
    let trap = TestServer::start(hostile("trap-static", "static-request", "trap")).await;
    assert_eq!(
        http(trap.addr, "GET", "/trouble/x", &[], b"").await.status,
        404
    );
    assert_eq!(
        http(trap.addr, "GET", "/hello", &[], b"").await.text(),
        "hello from a plugin"
    );
    server.stop().await;
    trap.stop().await;
}

#[tokio::test]
async fn blank_client_id_is_omitted() {
    let server = TestServer::start(hostile("blank-client", "get-client-id", "invalid")).await;
    let (mut client, _) = server.client().await;
    let joined = client.join(json!("trouble")).await;
    assert!(joined["data"].get("clientId").is_none(), "{joined}");
    assert_eq!(joined["data"]["users"]["6661"]["username"], "Trouble");
    server.stop().await;
}

#[tokio::test]
async fn failing_validator_refuses_the_join() {
    let server = TestServer::start(hostile("trap-validate", "validate-discord-user", "trap")).await;
    let (mut client, _) = server.client().await;
    let refused = client
        .connect_with(json!({"server":"locked","discordToken":"good-token","discordUser":{"id":"1","username":"u"}}))
        .await;
    Client::assert_error(&refused, texts::DISCORD_AUTH_FAILED);
    logs::wait_for(&[
        "plugin=\"trap-validate\"",
        "callback=\"validate-discord-user\"",
        "trapped",
    ])
    .await;
    server.stop().await;

    let server = TestServer::start(hostile("loop-validate", "validate-discord-user", "loop")).await;
    let (mut client, _) = server.client().await;
    let refused = client
        .connect_with(json!({"server":"locked","discordToken":"good-token","discordUser":{"id":"1","username":"u"}}))
        .await;
    Client::assert_error(&refused, texts::DISCORD_AUTH_FAILED);
    server.stop().await;
}

#[tokio::test]
async fn passworded_server_accepts_a_validated_token_or_the_legacy_password() {
    let server = TestServer::start(hostile("gatekeeper", "none", "ok")).await;
    let (mut client, _) = server.client().await;
    let user = json!({"id":"1","username":"u"});
    let ok = client
        .connect_with(json!({"server":"locked","discordToken":"good-token","discordUser":user}))
        .await;
    assert_eq!(ok["data"]["serverName"], "The locked server");
    let bad = client
        .connect_with(json!({"server":"locked","discordToken":"bad-token","discordUser":user}))
        .await;
    Client::assert_error(&bad, texts::DISCORD_AUTH_FAILED);
    let wrong = client
        .connect_with(json!({"server":"locked","password":"guess"}))
        .await;
    Client::assert_error(&wrong, texts::DISCORD_AUTH_REQUIRED);
    let right = client
        .connect_with(json!({"server":"locked","password":"letmein"}))
        .await;
    assert_eq!(right["data"]["users"]["7771"]["username"], "Keeper");
    server.stop().await;
}

#[tokio::test]
async fn plugin_output_goes_to_the_log_tagged_with_its_name() {
    let server = TestServer::start(hostile("printer", "get-user-data", "print")).await;
    let (mut client, _) = server.client().await;
    assert_eq!(
        client.join(json!("trouble")).await["data"]["users"]["6661"]["uid"],
        "6661"
    );
    logs::wait_for(&[
        "plugin=printer",
        "stdout",
        "hostile stdout line from get-user-data",
    ])
    .await;
    logs::wait_for(&[
        "plugin=printer",
        "stderr",
        "hostile stderr line from get-user-data",
    ])
    .await;
    server.stop().await;
}

#[tokio::test]
async fn invalid_timer_events_are_dropped_and_valid_ones_arrive() {
    let good = with_plugin("ticker", &plugins::hostile(), &[("tick_ms", "150")]);
    let server = TestServer::start(good).await;
    let (mut client, _) = server.client().await;
    client.join(json!("calm")).await;
    let presence = client.recv_type("presence").await;
    assert_eq!(
        presence,
        json!({"type":"presence","server":"100","data":{"uid":"1001","status":"idle","username":"Calm One","roleColor":"#112233"}})
    );
    assert_eq!(client.recv_type("message").await["data"]["message"], "tick");
    server.stop().await;

    let bad = with_plugin(
        "bad-ticker",
        &plugins::hostile(),
        &[
            ("tick_ms", "150"),
            ("target", "on-timer"),
            ("mode", "invalid"),
        ],
    );
    let server = TestServer::start(bad).await;
    let (mut client, _) = server.client().await;
    client.join(json!("calm")).await;
    logs::wait_for(&[
        "plugin=\"bad-ticker\"",
        "callback=\"on-timer\"",
        "is not #rrggbb",
    ])
    .await;
    // The whole answer is refused: the valid message in it is not sent either.
    let broadcast = server
        .broadcaster
        .broadcast_message("100", "1001", "marker", "1")
        .unwrap();
    assert_eq!(broadcast, 1);
    assert_eq!(client.recv().await["data"]["message"], "marker");
    server.stop().await;
}
