//! Clients that break the rules, against the real server over real sockets:
//! each is refused or dropped, and the server goes on serving the others.

use std::time::Duration;

use d_back::protocol::texts;
use d_back_tests::client::Next;
use d_back_tests::server::{quiet_mock, with_plugin};
use d_back_tests::{Client, TestServer, http, logs, plugins};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

fn close_code(next: Next) -> u16 {
    match next {
        Next::Closed(Some(frame)) => u16::from(frame.code),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// A raw WebSocket handshake; returns the HTTP status.
async fn upgrade_status(server: &TestServer) -> u16 {
    http(
        server.addr,
        "GET",
        "/",
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        b"",
    )
    .await
    .status
}

#[tokio::test]
async fn an_oversized_message_closes_with_1009_and_the_server_lives_on() {
    let mut settings = quiet_mock();
    settings.clients.max_message_bytes = 4096;
    let server = TestServer::start(settings).await;
    let (mut client, _) = server.client().await;
    // A real connect with a large Discord user object still fits.
    let user = json!({"id":"1","username":"u","bio":"x".repeat(2000)});
    let joined = client
        .connect_with(json!({"server":"docs","discordUser":user}))
        .await;
    assert_eq!(joined["type"], "server-join");
    client.send(Message::text("y".repeat(10_000))).await;
    assert_eq!(close_code(client.next().await), 1009);
    server.assert_serves_joins().await;
    server.stop().await;
}

#[tokio::test]
async fn connections_past_the_caps_get_503_without_touching_the_plugin() {
    let mut settings = with_plugin("capped", &plugins::hostile(), &[]);
    settings.clients.max_connections_per_ip = 3;
    let server = TestServer::start(settings).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(server.client().await.0);
    }
    let calls = logs::lines_with(&["plugin=\"capped\"", "plugin call"]).len();
    assert_eq!(upgrade_status(&server).await, 503);
    assert_eq!(
        logs::lines_with(&["plugin=\"capped\"", "plugin call"]).len(),
        calls
    );
    // Plain HTTP is not a WebSocket and is not capped.
    server.assert_answers_http().await;
    // A slot frees when a connection ends.
    drop(clients.pop());
    server.wait_for_open(2).await;
    let (mut again, _) = server.client().await;
    assert_eq!(again.join(Value::Null).await["type"], "server-join");
    server.stop().await;

    let mut settings = quiet_mock();
    settings.clients.max_connections = 2;
    let server = TestServer::start(settings).await;
    let _a = server.client().await;
    let _b = server.client().await;
    assert_eq!(upgrade_status(&server).await, 503);
    server.stop().await;
}

#[tokio::test]
async fn silent_and_slow_handshakes_are_cut_off() {
    let mut settings = quiet_mock();
    settings.clients.handshake_timeout = Duration::from_millis(300);
    let server = TestServer::start(settings).await;

    // Sends nothing at all.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(_))),
        "the silent connection stayed open"
    );

    // Slowloris: a header byte now and then, never finishing.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let dripping = async {
        for _ in 0..100 {
            if slow.write_all(b"X").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the slow connection was never closed");
    };
    tokio::time::timeout(Duration::from_secs(10), dripping)
        .await
        .expect("closed in time");

    // The server still answers.
    server.assert_answers_http().await;
    server.stop().await;
}

#[tokio::test]
async fn oversized_request_heads_are_refused() {
    let server = TestServer::start(quiet_mock()).await;
    let big = "a".repeat(64 * 1024);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await;
    let head = String::from_utf8_lossy(&reply);
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    server.assert_answers_http().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresponsive_clients_are_dropped_and_the_count_stays_true() {
    let mut settings = quiet_mock();
    settings.clients.ping_interval = Duration::from_millis(200);
    settings.clients.pong_timeout = Duration::from_millis(300);
    let server = TestServer::start(settings).await;

    // Reads (and so answers pings) the whole time, until the marker arrives.
    let (mut alive, _) = server.client().await;
    alive.join(Value::Null).await;
    let reader = tokio::spawn(async move { alive.recv_type("message").await });
    // Joins, then never reads again: it cannot answer pings.
    let (mut deaf, _) = server.client().await;
    deaf.join(Value::Null).await;
    // Gone without a goodbye: the TCP connection just vanishes.
    let (vanished, _) = server.client().await;
    drop(vanished);

    server.wait_for_open(1).await;
    // Well past the ping and pong time, the reading client is still there.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(server.connections.open(), 1);
    let delivered = server
        .broadcaster
        .broadcast_message(
            "232769614004748288",
            "123456789012345001",
            "still here",
            "1",
        )
        .unwrap();
    assert_eq!(delivered, 1);
    assert_eq!(reader.await.unwrap()["data"]["message"], "still here");
    drop(deaf);
    server.stop().await;
}

#[tokio::test]
async fn a_flooding_client_gets_errors_then_is_closed() {
    let mut settings = quiet_mock();
    settings.clients.frames_per_second = 0.05;
    settings.clients.frame_burst = 2;
    settings.clients.rate_strikes = 3;
    let server = TestServer::start(settings).await;
    let (mut client, _) = server.client().await;
    assert_eq!(client.join(Value::Null).await["type"], "server-join");
    assert_eq!(client.join(Value::Null).await["type"], "server-join");
    for _ in 0..3 {
        Client::assert_error(&client.join(Value::Null).await, texts::TOO_FAST);
    }
    client.send_json(json!({"type":"connect","data":{}})).await;
    assert_eq!(close_code(client.next().await), 1008);
    server.assert_serves_joins().await;
    server.stop().await;
}

#[tokio::test]
async fn failed_logins_are_throttled_per_connection_and_per_ip() {
    let mut settings = with_plugin("throttled", &plugins::hostile(), &[]);
    settings.clients.auth.per_connection = 3;
    settings.clients.auth.per_ip = 5;
    let server = TestServer::start(settings).await;
    let bad =
        json!({"server":"locked","discordToken":"wrong","discordUser":{"id":"9","username":"x"}});
    let good = json!({"server":"locked","discordToken":"good-token","discordUser":{"id":"9","username":"x"}});

    let (mut first, _) = server.client().await;
    for _ in 0..3 {
        Client::assert_error(
            &first.connect_with(bad.clone()).await,
            texts::DISCORD_AUTH_FAILED,
        );
    }
    let validations = logs::lines_with(&["plugin=\"throttled\"", "validate-discord-user"]).len();
    // Past the limit even the right token is refused, and the plugin is not asked.
    Client::assert_error(
        &first.connect_with(good.clone()).await,
        texts::TOO_MANY_AUTH_FAILURES,
    );
    assert_eq!(
        logs::lines_with(&["plugin=\"throttled\"", "validate-discord-user"]).len(),
        validations
    );
    // Joining open servers still works.
    assert_eq!(first.join(json!("calm")).await["type"], "server-join");

    // The same address gets two more failures on a new connection, then no more.
    let (mut second, _) = server.client().await;
    let wrong_password = json!({"server":"locked","password":"guess"});
    Client::assert_error(
        &second.connect_with(wrong_password.clone()).await,
        texts::DISCORD_AUTH_REQUIRED,
    );
    Client::assert_error(
        &second.connect_with(bad.clone()).await,
        texts::DISCORD_AUTH_FAILED,
    );
    Client::assert_error(
        &second.connect_with(good).await,
        texts::TOO_MANY_AUTH_FAILURES,
    );
    logs::wait_for(&[
        "authentication attempt",
        "outcome=\"throttled\"",
        "ip=127.0.0.1",
    ])
    .await;
    server.stop().await;
}

#[tokio::test]
async fn tokens_and_passwords_never_reach_the_log() {
    const TOKEN: &str = "tok-7f3a9c-never-log-me";
    const PASSWORD: &str = "pw-1b2e4d-never-log-me";
    const ADMIN: &str = "admin-5c6d7e-never-log-me";
    let mut settings = with_plugin("secretive", &plugins::hostile(), &[]);
    settings.admin_token = d_back::config::AdminToken::new(ADMIN);
    let server = TestServer::start(settings).await;
    let (mut client, _) = server.client().await;
    let user = json!({"id":"77","username":"someone"});
    for (token, password) in [(TOKEN, PASSWORD), ("good-token", "letmein")] {
        client
            .connect_with(json!({"server":"locked","discordToken":token,"discordUser":user}))
            .await;
        client
            .connect_with(json!({"server":"locked","password":password}))
            .await;
    }
    client
        .connect_with(json!({"server":"locked","discordToken":TOKEN}))
        .await;
    client
        .connect_with(json!({"server":"calm","discordToken":TOKEN,"password":PASSWORD}))
        .await;
    let auth = format!("Bearer {ADMIN}");
    http(
        server.addr,
        "POST",
        "/api/broadcast/message",
        &[("Authorization", &auth)],
        br#"{"server":"100","uid":"1","message":"m","channel":"c"}"#,
    )
    .await;
    http(
        server.addr,
        "POST",
        "/api/broadcast/message",
        &[("Authorization", "Bearer admin-wrong-never-log-me")],
        b"{}",
    )
    .await;
    logs::wait_for(&["authentication attempt", "discord_user=\"77\"", "ip="]).await;
    server.stop().await;
    let text = logs::text();
    for secret in [
        TOKEN,
        PASSWORD,
        ADMIN,
        "letmein",
        "good-token",
        "admin-wrong-never-log-me",
    ] {
        assert!(!text.contains(secret), "{secret} was logged");
    }
}

/// A TCP connection to the server from the loopback address `from`.
async fn tcp_from(server: &TestServer, from: std::net::IpAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    socket.connect(server.addr).await.unwrap()
}

/// The server closes `stream` at once, without a byte of answer: well
/// inside the 5 s an idle connection gets for its request head.
async fn assert_closed_unanswered(mut stream: TcpStream, what: &str) {
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut byte))
        .await
        .unwrap_or_else(|_| panic!("{what}: left hanging, not closed"));
    assert!(matches!(read, Ok(0) | Err(_)), "{what}: answered");
}

#[tokio::test]
async fn plain_http_connections_are_capped_per_address_and_in_all() {
    let mut settings = quiet_mock();
    settings.clients.max_http_connections_per_ip = 4;
    settings.clients.max_http_connections = 6;
    let server = TestServer::start(settings).await;
    let (here, other) = ([127, 0, 0, 1].into(), [127, 0, 0, 2].into());
    // Idle keep-alive connections that send nothing hold their slots.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(tcp_from(&server, here).await);
    }
    assert_closed_unanswered(tcp_from(&server, here).await, "the fifth from one address").await;
    // Another address still gets in, up to the total cap, and is served.
    let mut served = tcp_from(&server, other).await;
    let _second = tcp_from(&server, other).await;
    assert_closed_unanswered(tcp_from(&server, other).await, "the seventh in all").await;
    served
        .write_all(b"GET /api/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    served.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Slots free when connections end.
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.assert_answers_http().await;
    server.stop().await;
}
