//! SPEC section 3 against the real server with the embedded mock plugin.

use d_back::protocol::texts;
use d_back_tests::server::quiet_mock;
use d_back_tests::{Client, TestServer};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const DWORLD: &str = "232769614004748288";

fn dworld_users() -> Value {
    json!({
        "123456789012345001": {"uid":"123456789012345001","username":"vegeta897","status":"online","roleColor":"#ff6b6b"},
        "123456789012345002": {"uid":"123456789012345002","username":"Cog-Creators","status":"idle","roleColor":"#4ecdc4"},
        "123456789012345003": {"uid":"123456789012345003","username":"d-zone-org","status":"dnd","roleColor":"#45b7d1"},
        "123456789012345004": {"uid":"123456789012345004","username":"NNTin","status":"online","roleColor":"#96ceb4"},
    })
}

fn dworld_join(requested: &str) -> Value {
    json!({"type":"server-join","data":{
        "users": dworld_users(),
        "request": {"server": requested},
        "serverName": "D-World",
    }})
}

#[tokio::test]
async fn server_list_is_the_first_frame_with_public_fields_only() {
    let server = TestServer::start(quiet_mock()).await;
    let (_client, list) = server.client().await;
    assert_eq!(
        list,
        json!({"type":"server-list","data":{
            "232769614004748288":{"id":"dworld","name":"D-World","passworded":false,"default":true},
            "482241773318701056":{"id":"docs","name":"Docs (WIP)","passworded":false,"default":false},
            "123456789012345678":{"id":"oauth","name":"OAuth2 Protected Server","passworded":true,"default":false},
            "987654321098765432":{"id":"repos","name":"My Repos","passworded":false,"default":false},
        }})
    );
    server.stop().await;
}

#[tokio::test]
async fn missing_null_blank_and_default_server_join_the_default() {
    let server = TestServer::start(quiet_mock()).await;
    let (mut client, _) = server.client().await;
    assert_eq!(client.join(Value::Null).await, dworld_join("default"));
    assert_eq!(client.connect_with(json!({})).await, dworld_join("default"));
    assert_eq!(client.join(json!("   ")).await, dworld_join("default"));
    assert_eq!(client.join(json!("default")).await, dworld_join("default"));
    assert_eq!(client.join(json!("  dworld ")).await, dworld_join("dworld"));
    server.stop().await;
}

#[tokio::test]
async fn every_mock_server_serves_its_members() {
    let server = TestServer::start(quiet_mock()).await;
    let (mut client, _) = server.client().await;
    let docs = client.join(json!("docs")).await;
    assert_eq!(
        docs,
        json!({"type":"server-join","data":{
            "users":{"223456789012345001":{"uid":"223456789012345001","username":"nntin.xyz/me","status":"online","roleColor":"#feca57"}},
            "request":{"server":"docs"},"serverName":"Docs (WIP)"}})
    );
    let repos = client.join(json!("repos")).await;
    let users = repos["data"]["users"].as_object().unwrap();
    assert_eq!(users.len(), 21);
    for n in 1..=21 {
        let uid = format!("423456789012345{n:03}");
        let user = &users[&uid];
        assert_eq!(user["uid"], uid.as_str());
        assert!(user["username"].as_str().is_some_and(|u| !u.is_empty()));
        assert!(["online", "idle", "dnd", "offline"].contains(&user["status"].as_str().unwrap()));
        let color = user["roleColor"].as_str().unwrap();
        assert!(color.len() == 7 && color.starts_with('#'), "{color}");
    }
    assert_eq!(repos["data"]["serverName"], "My Repos");
    server.stop().await;
}

#[tokio::test]
async fn unknown_server_gets_the_exact_text_and_the_connection_stays() {
    let server = TestServer::start(quiet_mock()).await;
    let (mut client, _) = server.client().await;
    Client::assert_error(&client.join(json!("nope")).await, texts::SERVER_NOT_FOUND);
    Client::assert_error(&client.join(json!(["x"])).await, texts::SERVER_NOT_FOUND);
    assert_eq!(client.join(json!("dworld")).await, dworld_join("dworld"));
    server.stop().await;
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_keep_the_connection() {
    let server = TestServer::start(quiet_mock()).await;
    let (mut client, _) = server.client().await;

    client.send(Message::text("this is not json")).await;
    Client::assert_error(&client.recv().await, "Invalid JSON");

    client.send(Message::binary(vec![0xff, 0xfe, 0x00])).await;
    Client::assert_error(&client.recv().await, "Invalid binary encoding");

    client.send_json(json!({"type":"hello","data":{}})).await;
    Client::assert_error(&client.recv().await, "Unknown event type");

    client.send_json(json!([1, 2, 3])).await;
    Client::assert_error(&client.recv().await, "Unknown event type");

    client.send_json(json!({"type":"connect"})).await;
    Client::assert_error(&client.recv().await, texts::CONNECT_WITHOUT_DATA);

    client
        .send_json(json!({"type":"connect","data":"dworld"}))
        .await;
    Client::assert_error(&client.recv().await, texts::CONNECT_WITHOUT_DATA);

    // A binary frame holding UTF-8 JSON is a normal frame.
    let connect = json!({"type":"connect","data":{"server":"dworld"}}).to_string();
    client.send(Message::binary(connect.into_bytes())).await;
    assert_eq!(client.recv().await, dworld_join("dworld"));
    server.stop().await;
}

#[tokio::test]
async fn oauth_server_needs_a_validated_discord_user() {
    let server = TestServer::start(quiet_mock()).await;
    let (mut client, _) = server.client().await;

    Client::assert_error(
        &client.join(json!("oauth")).await,
        texts::DISCORD_AUTH_REQUIRED,
    );
    // A token alone, or a legacy password the server does not have, is not enough.
    let token_only = client
        .connect_with(json!({"server":"oauth","discordToken":"tok"}))
        .await;
    Client::assert_error(&token_only, texts::DISCORD_AUTH_REQUIRED);
    let password = client
        .connect_with(json!({"server":"oauth","password":"guess"}))
        .await;
    Client::assert_error(&password, texts::DISCORD_AUTH_REQUIRED);
    // The mock refuses a user object without a username.
    let refused = client
        .connect_with(json!({"server":"oauth","discordToken":"tok","discordUser":{"id":"42"}}))
        .await;
    Client::assert_error(&refused, texts::DISCORD_AUTH_FAILED);

    let joined = client
        .connect_with(json!({
            "server":"oauth",
            "discordToken":"any-token",
            "discordUser":{"id":"42","username":"ann","discriminator":"0"}
        }))
        .await;
    assert_eq!(
        joined,
        json!({"type":"server-join","data":{
            "users":{"323456789012345001":{"uid":"323456789012345001","username":"NNTin","status":"online","roleColor":"#ff9ff3"}},
            "request":{"server":"oauth"},"serverName":"OAuth2 Protected Server"}})
    );
    server.stop().await;
}

#[tokio::test]
async fn client_id_is_sent_only_when_known() {
    let mut settings = quiet_mock();
    settings
        .plugin
        .config
        .insert("client_id".into(), "1234567890".into());
    let server = TestServer::start(settings).await;
    let (mut client, _) = server.client().await;
    let joined = client.join(json!("docs")).await;
    assert_eq!(joined["data"]["clientId"], "1234567890");
    server.stop().await;

    let server = TestServer::start(quiet_mock()).await;
    let (mut client, _) = server.client().await;
    let joined = client.join(json!("docs")).await;
    assert!(joined["data"].get("clientId").is_none(), "{joined}");
    server.stop().await;
}

#[tokio::test]
async fn rejoining_moves_the_connection_to_the_other_server() {
    let server = TestServer::start(quiet_mock()).await;
    let (mut client, _) = server.client().await;
    client.join(json!("dworld")).await;
    client.join(json!("docs")).await;
    let to_dworld = server
        .broadcaster
        .broadcast_message(DWORLD, "123456789012345001", "old room", "1")
        .unwrap();
    assert_eq!(to_dworld, 0, "no longer bound to D-World");
    let to_docs = server
        .broadcaster
        .broadcast_message("482241773318701056", "223456789012345001", "new room", "1")
        .unwrap();
    assert_eq!(to_docs, 1);
    let frame = client.recv().await;
    assert_eq!(frame["data"]["message"], "new room");

    // A failed join keeps the current binding.
    client.join(json!("nope")).await;
    let still = server
        .broadcaster
        .broadcast_message(
            "482241773318701056",
            "223456789012345001",
            "still here",
            "1",
        )
        .unwrap();
    assert_eq!(still, 1);
    assert_eq!(client.recv().await["data"]["message"], "still here");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_sends_a_close_frame() {
    let server = TestServer::start(quiet_mock()).await;
    let (mut client, _) = server.client().await;
    client.join(Value::Null).await;
    server.stop().await;
    match client.next().await {
        d_back_tests::client::Next::Closed(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1001, "{frame:?}");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}
