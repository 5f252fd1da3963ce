//! The mock plugin's activity (SPEC section 7), produced through the plugin's
//! timers and broadcast by the host to the connections bound to a server.

use d_back_tests::TestServer;
use d_back_tests::server::config;
use serde_json::json;

const MESSAGES: [&str; 5] = [
    "hello",
    "how are you?",
    "this is a test message",
    "D-Zone rocks!",
    "what's up?",
];

#[tokio::test]
async fn mock_presence_and_messages_arrive_for_joined_servers_only() {
    let mut settings = d_back::Settings::new();
    settings.plugin.config = config(&[
        ("presence_interval_ms", "200"),
        ("message_interval_ms", "250"),
    ]);
    let server = TestServer::start(settings).await;
    let (mut dworld, _) = server.client().await;
    let (mut docs, _) = server.client().await;
    let (mut idle, _) = server.client().await;
    dworld.join(json!("dworld")).await;
    docs.join(json!("docs")).await;

    let dworld_uids: Vec<String> = (1..=4).map(|n| format!("12345678901234500{n}")).collect();
    let mut presences = 0;
    let mut messages = 0;
    while presences < 3 || messages < 3 {
        let frame = dworld.recv().await;
        assert_eq!(frame["server"], "232769614004748288", "{frame}");
        let uid = frame["data"]["uid"].as_str().unwrap().to_string();
        assert!(dworld_uids.contains(&uid), "{frame}");
        match frame["type"].as_str().unwrap() {
            "presence" => {
                presences += 1;
                let status = frame["data"]["status"].as_str().unwrap();
                assert!(["online", "idle", "dnd", "offline"].contains(&status));
                assert!(frame["data"]["username"].is_string());
                assert!(frame["data"]["roleColor"].is_string());
            }
            "message" => {
                messages += 1;
                assert!(MESSAGES.contains(&frame["data"]["message"].as_str().unwrap()));
                assert_eq!(frame["data"]["channel"], "527964146659229701");
            }
            other => panic!("unexpected frame type {other}"),
        }
    }
    // Docs gets its own server's events, about its one member.
    let frame = docs.recv().await;
    assert_eq!(frame["server"], "482241773318701056");
    assert_eq!(frame["data"]["uid"], "223456789012345001");
    // A connection that never joined gets nothing: its next frame is the
    // answer to its own join.
    assert_eq!(idle.join(json!("oauth")).await["type"], "error");
    server.stop().await;
}
