//! The host following Discord's gateway: a fake gateway (a real WebSocket
//! server speaking the real protocol) and the fake REST API, the host set
//! up from a config file's `[discord]` table with the built-in Discord
//! provider, and real browsers' sockets checking what reaches them.

use std::path::PathBuf;
use std::time::Duration;

use d_back::cli::Cli;
use d_back::config::AdminToken;
use d_back::{Settings, discord::gateway::IDENTIFY_INTERVAL};
use d_back_tests::fake_discord::{BIG_GUILD, BOT_TOKEN, FakeDiscord, SMALL_GUILD};
use d_back_tests::fake_gateway::FakeGateway;
use d_back_tests::untrusted_tls::{Seen, UntrustedTls};
use d_back_tests::{Client, TestServer, http, logs};
use serde_json::{Value, json};

const ADMIN: &str = "gateway-admin-token";
/// The channel whose messages are shown.
const SHOWN: &str = "555000000000000001";
const HIDDEN: &str = "555000000000000002";
const WAIT: Duration = Duration::from_secs(15);

struct Discord {
    rest: FakeDiscord,
    gateway: FakeGateway,
}

impl Discord {
    async fn start() -> Self {
        let rest = FakeDiscord::start().await;
        let gateway = FakeGateway::start().await;
        rest.set_gateway(gateway.url());
        gateway.set_guilds(vec![small_guild_create(&[("7001", "dnd")])]);
        Self { rest, gateway }
    }
}

/// The small guild as GUILD_CREATE brings it: its roles (as the REST API
/// has them), alpha (green role) and beta, and `presences`.
fn small_guild_create(presences: &[(&str, &str)]) -> Value {
    json!({
        "id": SMALL_GUILD,
        "name": "Small Talk",
        "large": false,
        "roles": [
            {"id": SMALL_GUILD, "name": "@everyone", "color": 0, "position": 0},
            {"id": "10", "name": "red", "color": 0xff0000, "position": 1},
            {"id": "20", "name": "green", "color": 0x00ff00, "position": 5},
            {"id": "30", "name": "mods", "color": 0, "position": 10},
        ],
        "members": [
            {"user": {"id": "7001", "username": "alpha"}, "roles": ["20"]},
            {"user": {"id": "7002", "username": "beta"}, "roles": []},
        ],
        "channels": [{"id": SHOWN, "name": "general"}, {"id": HIDDEN, "name": "staff"}],
        "presences": presences.iter().map(|(uid, status)| json!({"user": {"id": uid}, "status": status})).collect::<Vec<_>>(),
    })
}

/// Settings read from a config file with a `[discord]` table, as an
/// operator writes it.
fn settings(name: &str, discord: &Discord) -> Settings {
    settings_with_token(name, discord, BOT_TOKEN)
}

fn settings_with_token(name: &str, discord: &Discord, token: &str) -> Settings {
    let api = format!("api_base = \"{}\"", discord.rest.base());
    settings_with(name, token, &api)
}

/// Settings with `endpoints` (`api_base`, and `gateway_url` if wanted) as
/// the `[discord]` table's last lines.
fn settings_with(name: &str, token: &str, endpoints: &str) -> Settings {
    let path: PathBuf = d_back_tests::scratch::path(&format!("gateway-{name}.toml"));
    let text = format!(
        r#"
[discord]
bot_token = "{token}"
guilds = [
  {{ snowflake = "{BIG_GUILD}", id = "big", name = "The Big Guild" }},
  {{ snowflake = "{SMALL_GUILD}", id = "small", name = "Small Talk", default = true }},
]
channels = ["{SHOWN}"]
{endpoints}
"#,
    );
    std::fs::write(&path, text).unwrap();
    let cli = Cli {
        config: Some(path),
        ..Cli::default()
    };
    let mut settings = Settings::from_cli(&cli).expect("the config is valid");
    settings.admin_token = AdminToken::new(ADMIN);
    settings
}

async fn status(server: &TestServer) -> Value {
    let reply = http(
        server.addr,
        "GET",
        "/api/discord",
        &[("Authorization", &format!("Bearer {ADMIN}"))],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    serde_json::from_str(&reply.text()).unwrap()
}

/// Waits until `/api/discord` satisfies `check`.
async fn wait_status(server: &TestServer, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = status(server).await;
        if check(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/api/discord never got there: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connected(server: &TestServer) -> Value {
    wait_status(server, |s| {
        s["state"] == "connected" && s["events"]["GUILD_CREATE"].as_u64() >= Some(1)
    })
    .await
}

async fn join(server: &TestServer, id: &str) -> (Client, Value) {
    let (mut client, _) = server.client().await;
    let joined = client.join(json!(id)).await;
    assert_eq!(joined["type"], "server-join", "{joined}");
    (client, joined)
}

/// A host following the fake gateway, connected, and a browser joined
/// to the small guild.
async fn following(name: &str) -> (Discord, TestServer, Client) {
    let discord = Discord::start().await;
    let server = TestServer::start(settings(name, &discord)).await;
    connected(&server).await;
    let (small, _) = join(&server, "small").await;
    (discord, server, small)
}

/// The presences of `member_add(0..count)` reach `client` in order, once
/// each.
async fn members_arrive_in_order(client: &mut Client, count: u64) {
    for n in 0..count {
        let frame = next_event(client).await;
        assert_eq!(
            frame["data"]["username"],
            format!("m{n}"),
            "in order, once: {frame}"
        );
    }
}

/// The next presence or message frame (timers of the provider send none).
async fn next_event(client: &mut Client) -> Value {
    loop {
        let frame = client.recv().await;
        if frame["type"] == "presence" || frame["type"] == "message" {
            return frame;
        }
    }
}

fn assert_token_never_logged() {
    let text = logs::text();
    assert!(!text.contains(BOT_TOKEN), "the bot token was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presences_from_guild_create_show_on_the_first_join() {
    let discord = Discord::start().await;
    // The big guild is large: its presences come in a member chunk the
    // host asks for.
    discord.gateway.set_guilds(vec![
        small_guild_create(&[("7001", "dnd"), ("7002", "invisible")]),
        json!({"id": BIG_GUILD, "name": "The Big Guild", "large": true, "roles": [], "members": [], "presences": []}),
    ]);
    let first_big = "500000000000000010";
    discord.gateway.set_member_chunks(
        BIG_GUILD,
        vec![json!({
            "members": [{"user": {"id": first_big, "username": "user10"}, "nick": "nick10", "roles": []}],
            "presences": [{"user": {"id": first_big}, "status": "idle"}],
        })],
    );
    let server = TestServer::start(settings("first-join", &discord)).await;
    connected(&server).await;
    assert!(
        discord
            .gateway
            .wait_until(WAIT, |g| g.member_requests().len() == 1)
            .await,
        "the large guild's members were asked for"
    );
    let request = &discord.gateway.member_requests()[0];
    assert_eq!(request["guild_id"], BIG_GUILD);
    assert_eq!(request["presences"], true);
    let (_small, joined) = join(&server, "small").await;
    let users = &joined["data"]["users"];
    assert_eq!(users["7001"]["status"], "dnd", "{joined}");
    assert_eq!(users["7001"]["username"], "alpha");
    assert_eq!(users["7001"]["roleColor"], "#00ff00");
    assert_eq!(
        users["7002"]["status"], "offline",
        "invisible shows offline"
    );
    wait_status(&server, |s| s["events"]["GUILD_MEMBERS_CHUNK"] == 1).await;
    let (_big, joined) = join(&server, "big").await;
    let user = &joined["data"]["users"][first_big];
    assert_eq!(user["status"], "idle", "from the member chunk");
    assert_eq!(user["username"], "nick10");
    let intents = discord.gateway.identifies()[0].1["intents"]
        .as_u64()
        .unwrap();
    assert_eq!(
        intents,
        1 | (1 << 1) | (1 << 8) | (1 << 9) | (1 << 15),
        "guilds, members, presences, messages and their content (channels are listed)"
    );
    server.stop().await;
    assert_token_never_logged();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_becomes_the_right_frame_for_the_right_server() {
    let (discord, server, mut small) = following("each-event").await;
    let (mut big, _) = join(&server, "big").await;
    let gw = &discord.gateway;
    let presence = |uid: &str, status: &str| json!({"guild_id": SMALL_GUILD, "user": {"id": uid}, "status": status});

    gw.dispatch("PRESENCE_UPDATE", presence("7002", "idle"));
    let frame = next_event(&mut small).await;
    assert_eq!(
        frame,
        json!({"type": "presence", "server": SMALL_GUILD, "data": {"uid": "7002", "status": "idle", "username": "beta", "roleColor": "#99aab5"}})
    );
    gw.dispatch("PRESENCE_UPDATE", presence("7002", "invisible"));
    assert_eq!(next_event(&mut small).await["data"]["status"], "offline");
    // An activity change keeps the status: nothing to show.
    gw.dispatch("PRESENCE_UPDATE", presence("7002", "offline"));
    gw.dispatch(
        "GUILD_MEMBER_ADD",
        json!({"guild_id": SMALL_GUILD, "user": {"id": "7003", "username": "gamma"}, "roles": ["10"]}),
    );
    assert_eq!(
        next_event(&mut small).await,
        json!({"type": "presence", "server": SMALL_GUILD, "data": {"uid": "7003", "status": "offline", "username": "gamma", "roleColor": "#ff0000"}})
    );
    gw.dispatch(
        "GUILD_MEMBER_UPDATE",
        json!({"guild_id": SMALL_GUILD, "user": {"id": "7003", "username": "gamma"}, "nick": "Gee", "roles": ["10", "20", "30"]}),
    );
    let frame = next_event(&mut small).await;
    assert_eq!(frame["data"]["username"], "Gee");
    assert_eq!(
        frame["data"]["roleColor"], "#00ff00",
        "the highest colored role"
    );
    gw.dispatch(
        "GUILD_ROLE_UPDATE",
        json!({"guild_id": SMALL_GUILD, "role": {"id": "20", "name": "green", "color": 0x0000ff, "position": 5}}),
    );
    let mut recolored = [next_event(&mut small).await, next_event(&mut small).await];
    recolored.sort_by_key(|f| f["data"]["uid"].as_str().unwrap().to_string());
    assert_eq!(recolored[0]["data"]["uid"], "7001");
    assert_eq!(recolored[1]["data"]["uid"], "7003");
    assert!(
        recolored
            .iter()
            .all(|f| f["data"]["roleColor"] == "#0000ff")
    );
    gw.dispatch(
        "GUILD_MEMBER_REMOVE",
        json!({"guild_id": SMALL_GUILD, "user": {"id": "7003", "username": "gamma"}}),
    );
    assert_eq!(
        next_event(&mut small).await,
        json!({"type": "presence", "server": SMALL_GUILD, "data": {"uid": "7003", "status": "offline", "delete": true}})
    );
    // A bot's presence is not shown (show_bots is off).
    gw.dispatch(
        "PRESENCE_UPDATE",
        json!({"guild_id": SMALL_GUILD, "user": {"id": "7999", "bot": true}, "status": "online"}),
    );
    gw.dispatch(
        "MESSAGE_CREATE",
        json!({
            "guild_id": SMALL_GUILD, "channel_id": SHOWN,
            "author": {"id": "7001", "username": "alpha"},
            "content": "hi <@7002>, see <#555000000000000001>",
            "mentions": [{"id": "7002", "username": "beta"}],
        }),
    );
    assert_eq!(
        next_event(&mut small).await,
        json!({"type": "message", "server": SMALL_GUILD, "data": {"uid": "7001", "message": "hi @beta, see #general", "channel": SHOWN}})
    );
    // None of that reached the other server's browser: its first event is
    // its own.
    gw.dispatch(
        "PRESENCE_UPDATE",
        json!({"guild_id": BIG_GUILD, "user": {"id": "500000000000000010"}, "status": "online"}),
    );
    let frame = next_event(&mut big).await;
    assert_eq!(frame["server"], BIG_GUILD, "{frame}");
    assert_eq!(frame["data"]["uid"], "500000000000000010");
    // Nor the bot's presence the small one's.
    gw.dispatch("PRESENCE_UPDATE", presence("7001", "online"));
    assert_eq!(next_event(&mut small).await["data"]["uid"], "7001");
    // A later join sees what the events said.
    let (_late, joined) = join(&server, "small").await;
    assert_eq!(joined["data"]["users"]["7001"]["status"], "online");
    assert!(joined["data"]["users"].get("7003").is_none(), "gamma left");
    server.stop().await;
    assert_token_never_logged();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_in_an_unlisted_channel_reaches_no_frame_and_no_log() {
    let (discord, server, mut small) = following("unlisted").await;
    let secret = "the-staff-channel-secret-41";
    let message = |guild: &str, channel: &str, content: &str| json!({"guild_id": guild, "channel_id": channel, "author": {"id": "7001", "username": "alpha"}, "content": content, "mentions": []});
    let gw = &discord.gateway;
    gw.dispatch("MESSAGE_CREATE", message(SMALL_GUILD, HIDDEN, secret));
    // The listed channel id in a guild not followed.
    gw.dispatch(
        "MESSAGE_CREATE",
        message("999999999999999999", SHOWN, secret),
    );
    // A direct message (no guild).
    gw.dispatch(
        "MESSAGE_CREATE",
        json!({"channel_id": SHOWN, "author": {"id": "7001"}, "content": secret}),
    );
    // A bot in the listed channel (show_bots is off).
    gw.dispatch(
        "MESSAGE_CREATE",
        json!({"guild_id": SMALL_GUILD, "channel_id": SHOWN, "author": {"id": "7999", "bot": true}, "content": secret}),
    );
    gw.dispatch("MESSAGE_CREATE", message(SMALL_GUILD, SHOWN, "visible"));
    let frame = next_event(&mut small).await;
    assert_eq!(frame["data"]["message"], "visible", "{frame}");
    wait_status(&server, |s| s["events"]["MESSAGE_CREATE"] == 5).await;
    server.stop().await;
    assert!(
        !logs::text().contains(secret),
        "an unlisted message was logged"
    );
    assert_token_never_logged();
}

/// Presences of new members 8000.. as events whose frames the browser
/// must see once each, in order.
fn member_add(n: u64) -> Value {
    json!({"guild_id": SMALL_GUILD, "user": {"id": (8000 + n).to_string(), "username": format!("m{n}")}, "roles": []})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_resumes_after_reconnect_a_dropped_connection_and_missed_acks() {
    let discord = Discord::start().await;
    // Missed ACKs are noticed within two beats.
    discord.gateway.set_heartbeat_interval(500);
    let server = TestServer::start(settings("resume", &discord)).await;
    connected(&server).await;
    let (mut small, _) = join(&server, "small").await;
    let gw = &discord.gateway;
    let mut sent = 0;
    let mut burst = |count: u64| {
        for _ in 0..count {
            gw.dispatch("GUILD_MEMBER_ADD", member_add(sent));
            sent += 1;
        }
    };
    // Each way a connection ends, with events before and while it does
    // and after the resume.
    type Break = fn(&FakeGateway);
    let breaks: [(&str, Break); 3] = [
        ("RECONNECT", FakeGateway::send_reconnect),
        ("a dropped connection", FakeGateway::drop_connection),
        ("missed ACKs", FakeGateway::make_zombie),
    ];
    for (resumes, (what, break_it)) in (1..).zip(breaks) {
        burst(5);
        break_it(gw);
        burst(5);
        assert!(
            gw.wait_until(WAIT, |g| g.resumes().len() == resumes).await,
            "resumed after {what}"
        );
    }
    burst(5);
    members_arrive_in_order(&mut small, sent).await;
    // Nothing after the last: no event came twice.
    gw.dispatch(
        "PRESENCE_UPDATE",
        json!({"guild_id": SMALL_GUILD, "user": {"id": "7002"}, "status": "idle"}),
    );
    assert_eq!(next_event(&mut small).await["data"]["uid"], "7002");
    assert_eq!(gw.identifies().len(), 1, "never identified again");
    let paths = gw.connection_paths();
    assert_eq!(paths.len(), 4, "{paths:?}");
    assert!(paths[0].starts_with("/?v=10&encoding=json"), "{paths:?}");
    assert!(
        paths[1..].iter().all(|p| p.starts_with("/resume/?v=10")),
        "resumed at READY's resume_gateway_url: {paths:?}"
    );
    let status = status(&server).await;
    assert_eq!(status["resumes"], 3, "{status}");
    assert_eq!(status["identifies"], 1);
    assert!(status["last_sequence"].as_u64().unwrap() >= sent + 3);
    server.stop().await;
    assert_token_never_logged();
}

/// What a broken or hostile gateway could send instead of a payload:
/// each ends that connection, and the session resumes with nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_the_gateway_ends_only_that_connection() {
    let (discord, server, mut small) = following("garbage").await;
    let gw = &discord.gateway;
    let garbage = [
        "not json at all".to_string(),
        r#"["a", "list"]"#.to_string(),
        r#"{"op": "zero"}"#.to_string(),
        // Past the 16 MiB a payload may have.
        format!(
            r#"{{"op":0,"s":null,"t":"X","d":"{}"}}"#,
            "x".repeat(17 << 20)
        ),
    ];
    let mut sent = 0;
    for (resumes, text) in (1..).zip(garbage) {
        gw.dispatch("GUILD_MEMBER_ADD", member_add(sent));
        sent += 1;
        gw.send_raw(text);
        gw.dispatch("GUILD_MEMBER_ADD", member_add(sent));
        sent += 1;
        assert!(
            gw.wait_until(WAIT, |g| g.resumes().len() == resumes).await,
            "resumed after garbage number {resumes}"
        );
    }
    members_arrive_in_order(&mut small, sent).await;
    assert_eq!(gw.identifies().len(), 1);
    server.assert_serves_joins().await;
    server.stop().await;
    assert_token_never_logged();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_session_identifies_anew_never_faster_than_the_limit() {
    let (discord, server, mut small) = following("invalid-session").await;
    let gw = &discord.gateway;
    // Resumable: a RESUME, not an IDENTIFY.
    gw.send_invalid_session(true);
    assert!(gw.wait_until(WAIT, |g| g.resumes().len() == 1).await);
    // Not resumable, twice: two new sessions, each IDENTIFY at least the
    // limit after the one before.
    for identifies in [2, 3] {
        gw.send_invalid_session(false);
        assert!(
            gw.wait_until(WAIT, |g| g.identifies().len() == identifies)
                .await,
            "identified anew"
        );
    }
    let times: Vec<_> = gw.identifies().iter().map(|(at, _)| *at).collect();
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= IDENTIFY_INTERVAL, "identified again after {gap:?}");
    }
    // The new session's events flow.
    gw.dispatch("GUILD_MEMBER_ADD", member_add(1));
    assert_eq!(next_event(&mut small).await["data"]["username"], "m1");
    server.stop().await;
    assert_token_never_logged();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_the_bridge_with_its_message_while_the_host_serves() {
    // The gateway refuses it (4004)...
    let discord = Discord::start().await;
    let server = TestServer::start(settings("bad-token", &discord)).await;
    connected(&server).await;
    discord.gateway.close_with(4004, "Authentication failed.");
    let status = wait_status(&server, |s| s["state"] == "stopped").await;
    assert_eq!(status["last_close"]["code"], 4004, "{status}");
    let reason = status["stopped"].as_str().unwrap();
    assert!(reason.contains("refused the bot token (4004)"), "{reason}");
    assert!(reason.contains("bot_token"), "says what to do: {reason}");
    logs::wait_for(&["the Discord gateway stopped", "4004"]).await;
    server.assert_serves_joins().await;
    server.assert_answers_http().await;
    let identifies = discord.gateway.identifies().len();
    tokio::time::sleep(IDENTIFY_INTERVAL + Duration::from_secs(1)).await;
    assert_eq!(discord.gateway.identifies().len(), identifies, "no retry");
    server.stop().await;

    // ...and so does the REST API, before any connection.
    let discord = Discord::start().await;
    let server = TestServer::start(settings_with_token(
        "bad-token-rest",
        &discord,
        "not-the-bot-token",
    ))
    .await;
    let status = wait_status(&server, |s| s["state"] == "stopped").await;
    assert!(
        status["stopped"]
            .as_str()
            .unwrap()
            .contains("refused the bot token (401"),
        "{status}"
    );
    assert!(discord.gateway.connection_paths().is_empty());
    server.assert_serves_joins().await;
    server.stop().await;
    assert!(!logs::text().contains("not-the-bot-token"));
    assert_token_never_logged();
}

/// Where a man in the middle would stand: the API, then the gateway, at a
/// TLS server whose certificate no public root signs. Each attempt ends in
/// the handshake, before a request or an IDENTIFY (and the token in it)
/// is sent; the host says why in `last_error`, tries again, and serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_no_public_root_vouches_for_never_gets_the_token() {
    let stranger = UntrustedTls::start().await;
    let endpoint = format!("localhost:{}", stranger.port());

    // The API...
    let server = TestServer::start(settings_with(
        "untrusted-api",
        BOT_TOKEN,
        &format!("api_base = \"https://{endpoint}/api/v10\""),
    ))
    .await;
    let status = wait_status(&server, |s| s["last_error"].is_string()).await;
    let error = status["last_error"].as_str().unwrap();
    assert!(error.starts_with("cannot reach Discord's API"), "{error}");
    assert!(error.contains("invalid peer certificate"), "{error}");
    assert_ne!(status["state"], "stopped", "{status}");
    assert_ne!(status["state"], "connected", "{status}");
    server.assert_answers_http().await;
    server.stop().await;

    // ...and the gateway, with the API itself trusted.
    let discord = Discord::start().await;
    let server = TestServer::start(settings_with(
        "untrusted-gateway",
        BOT_TOKEN,
        &format!(
            "api_base = \"{}\"\ngateway_url = \"wss://{endpoint}\"",
            discord.rest.base()
        ),
    ))
    .await;
    let status = wait_status(&server, |s| {
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("cannot open Discord's gateway"))
    })
    .await;
    let error = status["last_error"].as_str().unwrap();
    assert!(error.contains("invalid peer certificate"), "{error}");
    assert_eq!(status["identifies"], 0, "{status}");
    // It tries again, with backoff.
    let attempts = |seen: &Seen| seen.server_names.len();
    let first = attempts(&stranger.seen());
    let deadline = tokio::time::Instant::now() + WAIT;
    while attempts(&stranger.seen()) == first {
        assert!(tokio::time::Instant::now() < deadline, "no second attempt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.assert_serves_joins().await;
    server.stop().await;

    let seen = stranger.seen();
    assert!(seen.server_names.len() >= 2, "{seen:?}");
    assert!(
        seen.server_names.iter().all(|name| name == "localhost"),
        "each attempt named the host it wanted: {seen:?}"
    );
    assert_eq!(seen.handshakes, 0, "{seen:?}");
    assert_eq!(seen.bytes, 0, "{seen:?}");
    assert_token_never_logged();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_intents_refused_stop_the_bridge_with_what_to_turn_on() {
    let discord = Discord::start().await;
    discord.gateway.set_refuse_privileged_intents(true);
    let server = TestServer::start(settings("intents", &discord)).await;
    let status = wait_status(&server, |s| s["state"] == "stopped").await;
    assert_eq!(status["last_close"]["code"], 4014, "{status}");
    let reason = status["stopped"].as_str().unwrap();
    for words in [
        "4014",
        "Server Members",
        "Presence",
        "Message Content",
        "developer portal",
    ] {
        assert!(reason.contains(words), "{words:?} missing: {reason}");
    }
    logs::wait_for(&["the Discord gateway stopped", "4014", "developer portal"]).await;
    assert_eq!(discord.gateway.identifies().len(), 1, "no retry");
    server.assert_serves_joins().await;
    server.stop().await;
    assert_token_never_logged();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_discord_api_needs_the_admin_token_and_tells_the_session() {
    let discord = Discord::start().await;
    let server = TestServer::start(settings("api", &discord)).await;
    let refused = http(server.addr, "GET", "/api/discord", &[], b"").await;
    assert_eq!(refused.status, 401);
    let wrong = http(
        server.addr,
        "GET",
        "/api/discord",
        &[("Authorization", "Bearer nope")],
        b"",
    )
    .await;
    assert_eq!(wrong.status, 401);
    let status = connected(&server).await;
    assert_eq!(status["identifies"], 1);
    assert_eq!(status["events"]["READY"], 1);
    assert!(status["session_age_seconds"].is_u64(), "{status}");
    assert_eq!(status["last_sequence"], 2, "READY and one GUILD_CREATE");
    assert!(status["last_close"].is_null());
    discord.gateway.close_with(4000, "Unknown error.");
    let status = wait_status(&server, |s| s["resumes"] == 1 && s["state"] == "connected").await;
    assert_eq!(
        status["last_close"],
        json!({"code": 4000, "reason": "Unknown error."})
    );
    assert!(!status.to_string().contains(BOT_TOKEN));
    // The same in /metrics (one set per process: other tests' servers
    // count here too, so at least).
    let metrics = http(
        server.addr,
        "GET",
        "/metrics",
        &[("Authorization", &format!("Bearer {ADMIN}"))],
        b"",
    )
    .await
    .text();
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} missing:\n{metrics}"))
    };
    assert!(value("dback_discord_session_starts_total{start=\"identify\"}") >= 1.0);
    assert!(value("dback_discord_session_starts_total{start=\"resume\"}") >= 1.0);
    assert!(value("dback_discord_events_total{event=\"READY\"}") >= 1.0);
    assert!(value("dback_discord_events_total{event=\"RESUMED\"}") >= 1.0);
    server.stop().await;
    assert_token_never_logged();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_and_a_guild_id_serve_a_live_world() {
    use d_back_tests::child::ChildServer;
    let discord = Discord::start().await;
    discord
        .gateway
        .set_guilds(vec![small_guild_create(&[("7002", "idle")])]);
    // What the README's one command does, with the API pointed at the fake.
    let config = format!(
        "admin_token = \"{ADMIN}\"\n[discord]\napi_base = \"{}\"\n",
        discord.rest.base()
    );
    let node = ChildServer::start_logged_with_env(
        &config,
        "info",
        &["--discord-guild", SMALL_GUILD],
        &[("DISCORD_BOT_TOKEN", BOT_TOKEN)],
    )
    .expect("the binary starts");
    node.wait_until_up().await.expect("it answers");
    assert!(
        discord
            .gateway
            .wait_until(WAIT, |g| g.identifies().len() == 1)
            .await,
        "it follows the gateway:\n{}",
        node.log_text()
    );
    let mut browser = Client::connect(node.addr()).await;
    let list = browser.recv().await;
    assert_eq!(
        list["data"][SMALL_GUILD],
        json!({"id": SMALL_GUILD, "name": "Small Talk", "passworded": false, "default": true}),
        "named as on Discord: {list}"
    );
    // The first join may come before GUILD_CREATE is read: wait for it.
    let mut joined = browser.join(Value::Null).await;
    for _ in 0..100 {
        if joined["data"]["users"]["7002"]["status"] == "idle" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut again = Client::connect(node.addr()).await;
        again.recv().await;
        joined = again.join(Value::Null).await;
    }
    let users = &joined["data"]["users"];
    assert_eq!(users["7002"]["status"], "idle", "{joined}");
    assert_eq!(
        users["7001"]["roleColor"], "#00ff00",
        "members from the provider"
    );
    assert!(!node.log_text().contains(BOT_TOKEN), "the token was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_names_and_colors_members_as_the_provider_does() {
    use d_back_tests::fake_discord::{BIG_BOTS, FIRST_MEMBER, big_member, roles};
    let discord = Discord::start().await;
    let count = 60;
    discord.gateway.set_guilds(vec![json!({
        "id": BIG_GUILD,
        "roles": roles(BIG_GUILD),
        "members": (0..count).map(big_member).collect::<Vec<_>>(),
        "presences": [],
    })]);
    let server = TestServer::start(settings("agreement", &discord)).await;
    connected(&server).await;
    // The provider's view, from the REST API...
    let (mut browser, joined) = join(&server, "big").await;
    let provider = joined["data"]["users"].clone();
    // ...and the bridge's, as presences of the same members going online.
    for n in 0..count {
        discord.gateway.dispatch(
            "PRESENCE_UPDATE",
            json!({"guild_id": BIG_GUILD, "user": {"id": (FIRST_MEMBER + n).to_string()}, "status": "online"}),
        );
    }
    for n in BIG_BOTS..count {
        let frame = next_event(&mut browser).await;
        let uid = (FIRST_MEMBER + n).to_string();
        assert_eq!(
            frame["data"]["uid"],
            uid.as_str(),
            "bots are skipped by both"
        );
        assert_eq!(frame["data"]["username"], provider[&uid]["username"], "{n}");
        assert_eq!(
            frame["data"]["roleColor"], provider[&uid]["roleColor"],
            "{n}"
        );
    }
    server.stop().await;
}
