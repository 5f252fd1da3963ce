//! Several real `d-back` processes sharing a real `redis-server`: a
//! broadcast posted to one node reaches the browsers of every node exactly
//! once and in order, and Redis going away costs only the crossing.

use std::time::Duration;

use d_back_tests::child::ChildServer;
use d_back_tests::client::Next;
use d_back_tests::redis::RedisServer;
use d_back_tests::{Client, http};
use serde_json::{Value, json};

const TOKEN: &str = "cluster-test-token";
const DWORLD: &str = "232769614004748288";

fn node_config(redis: &RedisServer, node: &str) -> String {
    format!(
        r#"admin_token = "{TOKEN}"

[plugin.config]
presence_interval_ms = "3600000"
message_interval_ms = "3600000"

[cluster]
redis_url = "{}"
node_id = "{node}"
"#,
        redis.url()
    )
}

async fn start_nodes(redis: &RedisServer, count: usize) -> Vec<ChildServer> {
    let mut nodes = Vec::new();
    for n in 1..=count {
        let node = ChildServer::start_logged(&node_config(redis, &format!("node-{n}")), "info")
            .expect("node starts");
        node.wait_until_up().await.expect("node answers");
        nodes.push(node);
    }
    for node in &nodes {
        wait_for_log(node, "receiving the other nodes' broadcasts").await;
        wait_for_log(node, "publishing broadcasts to Redis").await;
    }
    nodes
}

async fn wait_for_log(node: &ChildServer, text: &str) {
    wait_for_count(node, text, 1).await;
}

/// Waits until the node has logged `text` at least `times` times.
async fn wait_for_count(node: &ChildServer, text: &str, times: usize) {
    for _ in 0..800 {
        if node.log_text().matches(text).count() >= times {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{text:?} not logged {times} times:\n{}", node.log_text());
}

async fn joined_browser(node: &ChildServer) -> Client {
    let mut client = Client::connect(node.addr()).await;
    assert_eq!(client.recv().await["type"], "server-list");
    assert_eq!(client.join(Value::Null).await["type"], "server-join");
    client
}

async fn post_message(node: &ChildServer, text: &str) -> u16 {
    let body =
        json!({"server": DWORLD, "uid": "123456789012345001", "message": text, "channel": "1"});
    http(
        node.addr(),
        "POST",
        "/api/broadcast/message",
        &[
            ("Authorization", &format!("Bearer {TOKEN}")),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .await
    .status
}

/// The texts of the `message` frames `client` receives within `wait`.
async fn messages_within(client: &mut Client, wait: Duration) -> Vec<String> {
    let mut texts = Vec::new();
    while let Some(next) = client.next_within(wait).await {
        match next {
            Next::Json(frame) if frame["type"] == "message" => {
                texts.push(
                    frame["data"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
            Next::Json(_) => {}
            Next::Closed(frame) => panic!("closed: {frame:?}"),
        }
    }
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_on_one_node_reaches_every_nodes_browsers_once_in_order() {
    let redis = RedisServer::start().expect("redis-server");
    let nodes = start_nodes(&redis, 3).await;
    let mut browsers = Vec::new();
    for node in &nodes {
        browsers.push(joined_browser(node).await);
    }
    let sent: Vec<String> = (0..50).map(|n| format!("hello {n}")).collect();
    for text in &sent {
        assert_eq!(post_message(&nodes[0], text).await, 200);
    }
    for (n, browser) in browsers.iter_mut().enumerate() {
        let got = messages_within(browser, Duration::from_millis(3000)).await;
        assert_eq!(got, sent, "browser on node {}", n + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_each_node_serves_its_own_and_the_crossing_comes_back() {
    let mut redis = RedisServer::start().expect("redis-server");
    let nodes = start_nodes(&redis, 2).await;
    let mut on_first = joined_browser(&nodes[0]).await;
    let mut on_second = joined_browser(&nodes[1]).await;

    assert_eq!(post_message(&nodes[0], "before").await, 200);
    let crossed = messages_within(&mut on_second, Duration::from_millis(3000)).await;
    assert_eq!(crossed, ["before"], "crossed while Redis was up");
    redis.stop();
    wait_for_log(&nodes[0], "lost Redis").await;
    assert_eq!(post_message(&nodes[0], "during").await, 200);
    let first = messages_within(&mut on_first, Duration::from_millis(1000)).await;
    assert_eq!(first, ["before", "during"], "local delivery goes on");
    let second = messages_within(&mut on_second, Duration::from_millis(1000)).await;
    assert!(
        second.is_empty(),
        "nothing crosses while Redis is away: {second:?}"
    );

    // A node that starts while Redis is away serves its browsers.
    let lonely = ChildServer::start_logged(&node_config(&redis, "node-late"), "info").unwrap();
    lonely.wait_until_up().await.unwrap();
    wait_for_log(&lonely, "Redis unreachable").await;
    let mut on_lonely = joined_browser(&lonely).await;

    redis.restart().expect("redis-server again");
    // Every node subscribed again (a first time for the late one). Node 2
    // published nothing while Redis was away: its first broadcast after is
    // what finds its link dropped, and must still cross.
    for (node, times) in [(&nodes[0], 2), (&nodes[1], 2), (&lonely, 1)] {
        wait_for_count(node, "receiving the other nodes' broadcasts", times).await;
    }
    assert_eq!(post_message(&nodes[1], "after").await, 200);
    for browser in [&mut on_first, &mut on_second, &mut on_lonely] {
        let got = messages_within(browser, Duration::from_millis(3000)).await;
        assert_eq!(got, ["after"], "once, after recovery, and nothing replayed");
    }
    for node in nodes.iter() {
        assert!(!node.log_text().contains("panicked"), "{}", node.log_text());
    }
}
