//! Broadcast routing through the Rust API and the HTTP API.

use d_back::config::AdminToken;
use d_back::model::{PresenceUpdate, RoleColor, Status};
use d_back_tests::server::quiet_mock;
use d_back_tests::{TestServer, http};
use serde_json::{Value, json};

const DWORLD: &str = "232769614004748288";
const DOCS: &str = "482241773318701056";
const TOKEN: &str = "test-admin-token";

fn with_admin_token() -> d_back::Settings {
    let mut settings = quiet_mock();
    settings.admin_token = AdminToken::new(TOKEN);
    settings
}

#[tokio::test]
async fn rust_api_reaches_only_connections_bound_to_the_server() {
    let server = TestServer::start(quiet_mock()).await;
    let (mut in_dworld, _) = server.client().await;
    let (mut in_docs, _) = server.client().await;
    let (mut unjoined, _) = server.client().await;
    in_dworld.join(json!("dworld")).await;
    in_docs.join(json!("docs")).await;

    let b = &server.broadcaster;
    assert_eq!(
        b.broadcast_message(DWORLD, "123456789012345001", "hi", "55")
            .unwrap(),
        1
    );
    let update = PresenceUpdate {
        uid: "999".into(),
        status: Status::Dnd,
        username: Some("newcomer".into()),
        role_color: Some(RoleColor::parse("#abcdef").unwrap()),
        delete: false,
    };
    assert_eq!(b.broadcast_presence(DWORLD, &update).unwrap(), 1);
    let gone = PresenceUpdate {
        uid: "999".into(),
        status: Status::Offline,
        username: None,
        role_color: None,
        delete: true,
    };
    assert_eq!(b.broadcast_presence(DWORLD, &gone).unwrap(), 1);
    assert_eq!(b.broadcast_client_id_update(DWORLD, "cid-1").unwrap(), 1);
    assert_eq!(
        b.broadcast_message(DOCS, "223456789012345001", "marker", "1")
            .unwrap(),
        1
    );

    assert_eq!(
        in_dworld.recv().await,
        json!({"type":"message","server":DWORLD,"data":{"uid":"123456789012345001","message":"hi","channel":"55"}})
    );
    assert_eq!(
        in_dworld.recv().await,
        json!({"type":"presence","server":DWORLD,"data":{"uid":"999","status":"dnd","username":"newcomer","roleColor":"#abcdef"}})
    );
    assert_eq!(
        in_dworld.recv().await,
        json!({"type":"presence","server":DWORLD,"data":{"uid":"999","status":"offline","delete":true}})
    );
    assert_eq!(
        in_dworld.recv().await,
        json!({"type":"update-clientid","server":DWORLD,"data":{"clientId":"cid-1"}})
    );
    // Frames are in order per connection: had a D-World frame reached the
    // docs client, it would come before the marker.
    assert_eq!(in_docs.recv().await["data"]["message"], "marker");
    // Likewise the unjoined client's next frame is its own join answer.
    assert_eq!(unjoined.join(Value::Null).await["type"], "server-join");

    assert!(b.broadcast_message("", "1", "x", "1").is_err());
    assert!(b.broadcast_message(DWORLD, "", "x", "1").is_err());
    server.stop().await;
}

#[tokio::test]
async fn http_api_broadcasts_with_the_bearer_token() {
    let server = TestServer::start(with_admin_token()).await;
    let (mut in_dworld, _) = server.client().await;
    let (mut in_docs, _) = server.client().await;
    in_dworld.join(json!("dworld")).await;
    in_docs.join(json!("docs")).await;
    let auth = format!("Bearer {TOKEN}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];

    let post = |path: &'static str, body: Value| {
        let addr = server.addr;
        async move { http(addr, "POST", path, &headers, body.to_string().as_bytes()).await }
    };

    let reply = post(
        "/api/broadcast/message",
        json!({"server":DWORLD,"uid":"123456789012345002","message":"from http","channel":"7"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"delivered": 1}));

    let reply = post(
        "/api/broadcast/presence",
        json!({"server":DWORLD,"uid":"123456789012345002","status":"online","roleColor":"#010203"}),
    )
    .await;
    assert_eq!(reply.json(), json!({"delivered": 1}));

    let reply = post(
        "/api/broadcast/client-id",
        json!({"server":DWORLD,"clientId":"abc"}),
    )
    .await;
    assert_eq!(reply.json(), json!({"delivered": 1}));

    let reply = post(
        "/api/broadcast/message",
        json!({"server":DOCS,"uid":"223456789012345001","message":"marker","channel":"7"}),
    )
    .await;
    assert_eq!(reply.json(), json!({"delivered": 1}));

    assert_eq!(
        in_dworld.recv().await,
        json!({"type":"message","server":DWORLD,"data":{"uid":"123456789012345002","message":"from http","channel":"7"}})
    );
    assert_eq!(
        in_dworld.recv().await,
        json!({"type":"presence","server":DWORLD,"data":{"uid":"123456789012345002","status":"online","roleColor":"#010203"}})
    );
    assert_eq!(
        in_dworld.recv().await,
        json!({"type":"update-clientid","server":DWORLD,"data":{"clientId":"abc"}})
    );
    assert_eq!(in_docs.recv().await["data"]["message"], "marker");
    server.stop().await;
}

#[tokio::test]
async fn http_api_refuses_without_token_and_explains_bad_input() {
    let server = TestServer::start(with_admin_token()).await;
    let body = json!({"server":DWORLD,"uid":"1","message":"m","channel":"c"}).to_string();

    let none = http(
        server.addr,
        "POST",
        "/api/broadcast/message",
        &[],
        body.as_bytes(),
    )
    .await;
    assert_eq!(none.status, 401);
    let wrong = http(
        server.addr,
        "POST",
        "/api/broadcast/message",
        &[("Authorization", "Bearer not-the-token")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let basic = http(
        server.addr,
        "POST",
        "/api/broadcast/message",
        &[("Authorization", &format!("Basic {TOKEN}"))],
        body.as_bytes(),
    )
    .await;
    assert_eq!(basic.status, 401);

    let auth = format!("Bearer {TOKEN}");
    let bad = |path: &'static str, body: &'static str| {
        let addr = server.addr;
        let auth = auth.clone();
        async move {
            http(
                addr,
                "POST",
                path,
                &[("Authorization", &auth)],
                body.as_bytes(),
            )
            .await
        }
    };
    for (path, body, reason) in [
        ("/api/broadcast/message", "not json", "invalid JSON"),
        (
            "/api/broadcast/message",
            r#"{"server":"1","uid":"2","message":"m"}"#,
            "channel",
        ),
        (
            "/api/broadcast/message",
            r#"{"server":"","uid":"2","message":"m","channel":"c"}"#,
            "server is empty",
        ),
        (
            "/api/broadcast/presence",
            r#"{"server":"1","uid":"2","status":"away"}"#,
            "unknown variant",
        ),
        (
            "/api/broadcast/presence",
            r#"{"server":"1","uid":"2","status":"idle","roleColor":"red"}"#,
            "#rrggbb",
        ),
        (
            "/api/broadcast/presence",
            r##"{"server":"1","uid":"2","status":"idle","colour":"#000000"}"##,
            "unknown field",
        ),
        ("/api/broadcast/client-id", r#"{"server":"1"}"#, "clientId"),
    ] {
        let reply = bad(path, body).await;
        assert_eq!(reply.status, 400, "{path} {body}: {}", reply.text());
        let error = reply.json()["error"].as_str().unwrap().to_string();
        assert!(error.contains(reason), "{body}: {error}");
    }

    let get = http(
        server.addr,
        "GET",
        "/api/broadcast/message",
        &[("Authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(get.status, 405);
    let unknown = http(
        server.addr,
        "POST",
        "/api/broadcast/nothing",
        &[("Authorization", &auth)],
        b"{}",
    )
    .await;
    assert_eq!(unknown.status, 404);
    server.stop().await;
}

#[tokio::test]
async fn http_api_is_off_without_a_token() {
    let server = TestServer::start(quiet_mock()).await;
    let body = json!({"server":DWORLD,"uid":"1","message":"m","channel":"c"}).to_string();
    let reply = http(
        server.addr,
        "POST",
        "/api/broadcast/message",
        &[("Authorization", "Bearer anything")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert!(reply.text().contains("D_BACK_ADMIN_TOKEN"));
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_without_holding_up_others() {
    let mut settings = quiet_mock();
    settings.clients.outgoing_queue = 8;
    let server = TestServer::start(settings).await;
    let (mut reader, _) = server.client().await;
    let (mut stalled, _) = server.client().await;
    reader.join(json!("dworld")).await;
    stalled.join(json!("dworld")).await;

    // Big frames fill the stalled client's socket buffers, then its queue.
    let text = "x".repeat(64 * 1024);
    let mut delivered_to_both = 0;
    let mut dropped = false;
    for round in 0..2000 {
        let delivered = server
            .broadcaster
            .broadcast_message(DWORLD, "123456789012345001", &text, "1")
            .unwrap();
        let frame = reader.recv().await;
        assert_eq!(frame["type"], "message", "round {round}");
        if delivered == 1 {
            dropped = true;
            break;
        }
        delivered_to_both += 1;
    }
    assert!(dropped, "the stalled client was never dropped");
    assert!(
        delivered_to_both >= 8,
        "dropped before its queue could fill"
    );
    // The reader goes on receiving.
    assert_eq!(
        server
            .broadcaster
            .broadcast_message(DWORLD, "123456789012345001", "after", "1")
            .unwrap(),
        1
    );
    assert_eq!(reader.recv().await["data"]["message"], "after");
    server.stop().await;
}

#[tokio::test]
async fn a_late_joiner_sees_the_latest_broadcast_presence() {
    let server = TestServer::start(quiet_mock()).await;
    let b = &server.broadcaster;
    let busy = PresenceUpdate {
        uid: "123456789012345001".into(),
        status: Status::Dnd,
        username: None,
        role_color: None,
        delete: false,
    };
    b.broadcast_presence(DWORLD, &busy).unwrap();
    let newcomer = PresenceUpdate {
        uid: "555".into(),
        status: Status::Idle,
        username: Some("newcomer".into()),
        role_color: Some(RoleColor::parse("#0000ff").unwrap()),
        delete: false,
    };
    b.broadcast_presence(DWORLD, &newcomer).unwrap();

    let (mut late, _) = server.client().await;
    let users = late.join(json!("dworld")).await["data"]["users"].clone();
    assert_eq!(users["123456789012345001"]["status"], "dnd");
    assert_eq!(users["123456789012345001"]["username"], "vegeta897");
    assert_eq!(
        users["555"],
        json!({"uid":"555","username":"newcomer","status":"idle","roleColor":"#0000ff"})
    );
    assert_eq!(users.as_object().unwrap().len(), 5);

    let gone = PresenceUpdate {
        delete: true,
        ..newcomer
    };
    b.broadcast_presence(DWORLD, &gone).unwrap();
    let (mut later, _) = server.client().await;
    let users = later.join(json!("dworld")).await["data"]["users"].clone();
    assert!(users.get("555").is_none());
    assert_eq!(users.as_object().unwrap().len(), 4);
    server.stop().await;
}
