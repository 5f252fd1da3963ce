//! Several real `d-back` processes sharing a real `redis-server`: a
//! broadcast posted to one node reaches the browsers of every node exactly
//! once and in order, and Redis going away costs only the crossing.

use std::time::Duration;

use d_back::protocol::texts;
use d_back_tests::child::ChildServer;
use d_back_tests::client::Next;
use d_back_tests::fake_discord::{BOT_TOKEN, FakeDiscord, SMALL_GUILD};
use d_back_tests::http::{admin, broadcast_message};
use d_back_tests::redis::RedisServer;
use d_back_tests::{Client, http, plugins};
use serde_json::{Value, json};

const TOKEN: &str = "cluster-test-token";
const DWORLD: &str = "232769614004748288";

fn node_config(redis: &RedisServer, node: &str) -> String {
    node_config_with(redis, node, QUIET_TIMERS)
}

/// Timers too slow to fire during a test.
const QUIET_TIMERS: &str = r#"presence_interval_ms = "3600000"
message_interval_ms = "3600000""#;

/// A node's config with `plugin_config` as its `[plugin.config]` lines.
fn node_config_with(redis: &RedisServer, node: &str, plugin_config: &str) -> String {
    format!(
        r#"admin_token = "{TOKEN}"

[plugin.config]
{plugin_config}

[cluster]
redis_url = "{}"
node_id = "{node}"
"#,
        redis.url()
    )
}

async fn start_nodes(redis: &RedisServer, count: usize) -> Vec<ChildServer> {
    start_nodes_with(redis, count, QUIET_TIMERS).await
}

async fn start_nodes_with(
    redis: &RedisServer,
    count: usize,
    plugin_config: &str,
) -> Vec<ChildServer> {
    let mut nodes = Vec::new();
    for n in 1..=count {
        let config = node_config_with(redis, &format!("node-{n}"), plugin_config);
        let node = ChildServer::start_logged(&config, "info").expect("node starts");
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
    broadcast_message(node.addr(), TOKEN, DWORLD, "123456789012345001", text)
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

/// `GET /api/cluster` on `node`, with the admin token.
async fn cluster_status(node: &ChildServer) -> Value {
    let reply = admin(node.addr(), "GET", "/api/cluster", TOKEN, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// Polls `/api/cluster` on `node` until `check` holds (within 15 s).
async fn wait_for_status(node: &ChildServer, check: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..150 {
        last = cluster_status(node).await;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/api/cluster never showed what was expected: {last:#}");
}

const TIMER_EVERY_MS: u64 = 250;

/// How many `message` frames each of `clients` gets within the same
/// `window`.
async fn counts(clients: &mut [Client], window: Duration) -> Vec<usize> {
    let counting = clients
        .iter_mut()
        .map(|client| messages_within_window(client, window));
    futures_util::future::join_all(counting)
        .await
        .iter()
        .map(Vec::len)
        .collect()
}

/// The `message` frames that arrive within `window` (not after a pause).
async fn messages_within_window(client: &mut Client, window: Duration) -> Vec<String> {
    let end = tokio::time::Instant::now() + window;
    let mut texts = Vec::new();
    loop {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return texts;
        }
        match client.next_within(left).await {
            Some(Next::Json(frame)) if frame["type"] == "message" => {
                texts.push(frame["data"]["message"].to_string());
            }
            Some(Next::Json(_)) => {}
            Some(Next::Closed(frame)) => panic!("closed: {frame:?}"),
            None => return texts,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_run_once_per_cluster_and_move_when_the_holder_is_killed() {
    let redis = RedisServer::start().expect("redis-server");
    let timers =
        format!("presence_interval_ms = \"3600000\"\nmessage_interval_ms = \"{TIMER_EVERY_MS}\"");
    let mut nodes = start_nodes_with(&redis, 3, &timers).await;
    let status = wait_for_status(&nodes[0], |status| {
        status["nodes"].as_array().map_or(0, Vec::len) == 3 && status["timer_lease"].is_string()
    })
    .await;
    let holder = status["timer_lease"].as_str().unwrap().to_string();
    let holder_index: usize = holder.trim_start_matches("node-").parse::<usize>().unwrap() - 1;
    let holders = nodes
        .iter()
        .filter(|node| {
            node.log_text()
                .contains("runs the plugin's timers for the cluster")
        })
        .count();
    assert_eq!(holders, 1, "one lease holder");

    // The browsers are on the other two nodes: the holder has none, so
    // the servers it passes to the plugin are the cluster's.
    let watchers: Vec<usize> = (0..3).filter(|n| *n != holder_index).collect();
    let mut browsers = Vec::new();
    for n in &watchers {
        browsers.push(joined_browser(&nodes[*n]).await);
    }
    let seen = wait_for_status(&nodes[0], |status| {
        let counts: Vec<u64> = status["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| node["connections"].as_u64().unwrap())
            .collect();
        counts.iter().sum::<u64>() == 2
    })
    .await;
    assert_eq!(seen["redis"]["reachable"], true, "{seen:#}");

    let window = Duration::from_millis(3_000);
    let expected = (window.as_millis() as u64 / TIMER_EVERY_MS) as usize;
    // Counted at once on every browser: one source gives about
    // `expected` each; three would give three times it.
    for got in counts(&mut browsers, window).await {
        assert!(
            got >= expected / 3 && got <= expected * 3 / 2,
            "{got} messages in {window:?}, one timer gives about {expected}"
        );
    }

    let killed_at = std::time::Instant::now();
    drop(nodes.remove(holder_index));
    let survivor = &nodes[0];
    let moved = wait_for_status(survivor, |status| {
        status["timer_lease"]
            .as_str()
            .is_some_and(|lease| lease != holder)
    })
    .await;
    let took = killed_at.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the lease moved after {took:?}"
    );
    let new_holder = moved["timer_lease"].as_str().unwrap();
    let holding = nodes
        .iter()
        .filter(|node| {
            node.log_text()
                .contains("runs the plugin's timers for the cluster")
        })
        .count();
    assert_eq!(holding, 1, "{new_holder} took over, alone");
    // What was queued before the move, then a steady pace again.
    counts(&mut browsers, Duration::from_millis(500)).await;
    for got in counts(&mut browsers, window).await {
        assert!(
            got >= expected / 3 && got <= expected * 3 / 2,
            "after the move: {got} messages in {window:?}, one timer gives about {expected}"
        );
    }
    let after = wait_for_status(survivor, |status| {
        status["nodes"].as_array().map_or(0, Vec::len) == 2
    })
    .await;
    assert!(
        !after.to_string().contains(&format!("\"{holder}\"")),
        "the killed node is gone: {after:#}"
    );
}

#[tokio::test]
async fn the_cluster_api_needs_the_admin_token() {
    let redis = RedisServer::start().expect("redis-server");
    let node = ChildServer::start_logged(&node_config(&redis, "solo"), "info").unwrap();
    node.wait_until_up().await.unwrap();
    for auth in [None, Some("Bearer wrong"), Some("cluster-test-token")] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", *a)).collect();
        let reply = http(node.addr(), "GET", "/api/cluster", &headers, b"").await;
        assert_eq!(reply.status, 401, "{auth:?}");
        assert!(!reply.text().contains("solo"), "{}", reply.text());
    }
    let status = wait_for_status(&node, |status| status["redis"]["reachable"] == true).await;
    assert_eq!(status["node"], "solo");
    assert_eq!(status["timer_lease"], "solo");
}

/// The Discord provider against the fake Discord API, its member lists
/// cached for a minute and so shared by the nodes.
fn discord_node_config(redis: &RedisServer, node: &str, fake: &FakeDiscord) -> String {
    let guilds = json!([
        {"snowflake": SMALL_GUILD, "id": "small", "name": "Small Talk", "default": true},
    ])
    .to_string();
    format!(
        r#"admin_token = "{TOKEN}"

[plugin]
path = "{plugin}"
deadline_ms = 10000
fuel = 20000000000
cache_ttl_ms = 60000
allow_plain_http = ["{addr}"]

[plugin.config]
api_base = "{base}"
bot_token = "{BOT_TOKEN}"
guilds = '{guilds}'

[cluster]
redis_url = "{redis}"
node_id = "{node}"
"#,
        plugin = plugins::discord().display(),
        addr = fake.addr,
        base = fake.base(),
        redis = redis.url(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_joins_on_each_of_three_nodes_make_one_member_list_call() {
    let redis = RedisServer::start().expect("redis-server");
    let fake = FakeDiscord::start().await;
    let mut nodes = Vec::new();
    for n in 1..=3 {
        let config = discord_node_config(&redis, &format!("node-{n}"), &fake);
        let node = ChildServer::start_logged(&config, "info").expect("node starts");
        node.wait_until_up().await.expect("node answers");
        nodes.push(node);
    }
    for node in &nodes {
        wait_for_status(node, |status| status["redis"]["reachable"] == true).await;
    }
    let joins = nodes.iter().flat_map(|node| {
        (0..20).map(move |_| async move {
            let mut client = Client::connect(node.addr()).await;
            assert_eq!(client.recv().await["type"], "server-list");
            client.join(Value::Null).await
        })
    });
    let joined = futures_util::future::join_all(joins).await;
    for frame in &joined {
        assert_eq!(frame["type"], "server-join", "{frame}");
        assert!(
            frame["data"]["users"]
                .as_object()
                .is_some_and(|users| !users.is_empty()),
            "{frame}"
        );
    }
    assert_eq!(
        joined
            .iter()
            .map(|frame| &frame["data"]["users"])
            .collect::<std::collections::HashSet<_>>()
            .len(),
        1,
        "every node serves the same list"
    );
    assert_eq!(
        fake.hits(&format!("/api/v10/guilds/{SMALL_GUILD}/members")),
        1,
        "one member-list call for the whole cluster"
    );
}

async fn post_presence(node: &ChildServer, uid: &str, status: &str, username: Option<&str>) {
    let body = json!({"server": DWORLD, "uid": uid, "status": status, "username": username});
    let reply = admin(
        node.addr(),
        "POST",
        "/api/broadcast/presence",
        TOKEN,
        Some(&body),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// The `users` a browser joining `node` gets.
async fn joined_users(node: &ChildServer) -> Value {
    let mut client = Client::connect(node.addr()).await;
    assert_eq!(client.recv().await["type"], "server-list");
    let joined = client.join(Value::Null).await;
    assert_eq!(joined["type"], "server-join", "{joined}");
    joined["data"]["users"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presence_posted_on_one_node_is_seen_by_joins_on_the_others_and_on_late_nodes() {
    let redis = RedisServer::start().expect("redis-server");
    let nodes = start_nodes(&redis, 3).await;
    let known = "123456789012345002";
    post_presence(&nodes[1], known, "dnd", None).await;
    post_presence(&nodes[1], "777", "idle", Some("newcomer")).await;
    post_presence(&nodes[1], "777", "online", None).await;
    // Crossing takes a moment: the join on node 3 waits for it.
    let mut users = Value::Null;
    for _ in 0..100 {
        users = joined_users(&nodes[2]).await;
        if users["777"]["status"] == "online" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(users[known]["status"], "dnd", "{users:#}");
    assert_eq!(users["777"]["status"], "online");
    assert_eq!(users["777"]["username"], "newcomer", "the name is kept");

    // A node that was not there when the presences were posted.
    let late = ChildServer::start_logged(&node_config(&redis, "node-late"), "info").unwrap();
    late.wait_until_up().await.unwrap();
    wait_for_log(&late, "presences read from the shared memory").await;
    let users = joined_users(&late).await;
    assert_eq!(users[known]["status"], "dnd", "{users:#}");
    assert_eq!(
        (&users["777"]["status"], &users["777"]["username"]),
        (&json!("online"), &json!("newcomer"))
    );

    // A member who left is forgotten everywhere.
    let body = json!({"server": DWORLD, "uid": "777", "status": "offline", "delete": true});
    let reply = admin(
        nodes[0].addr(),
        "POST",
        "/api/broadcast/presence",
        TOKEN,
        Some(&body),
    )
    .await;
    assert_eq!(reply.status, 200);
    let later = ChildServer::start_logged(&node_config(&redis, "node-later"), "info").unwrap();
    later.wait_until_up().await.unwrap();
    wait_for_log(&later, "presences read from the shared memory").await;
    let users = joined_users(&later).await;
    assert!(users.get("777").is_none(), "{users:#}");
    assert_eq!(users[known]["status"], "dnd");
}

#[tokio::test]
async fn the_shared_presence_memory_keeps_its_bounds() {
    use d_back::cluster::Link;
    use d_back::cluster::presence::{PresenceBounds, PresenceStore};
    use d_back::model::{PresenceUpdate, Status};

    let redis = RedisServer::start().expect("redis-server");
    let link = Link::open(&redis.url()).unwrap();
    let bounds = PresenceBounds {
        members_per_server: 3,
        servers: 2,
        bytes: 1_000,
    };
    let store = PresenceStore::new("bounds", bounds);
    let update = |uid: &str, status, username: Option<&str>, delete| PresenceUpdate {
        uid: uid.into(),
        status,
        username: username.map(str::to_string),
        role_color: None,
        delete,
    };
    let remember = |server: &'static str, update: PresenceUpdate| {
        let (store, link) = (&store, &link);
        async move {
            store
                .remember(link, "bounds:broadcasts", b"{}", server, &update)
                .await
                .unwrap()
        }
    };
    let stored = |server: &str| {
        let (store, link, server) = (&store, &link, server.to_string());
        async move {
            let mut found: Vec<(String, Status, Option<String>)> = store
                .load(link)
                .await
                .unwrap()
                .into_iter()
                .filter(|(s, _)| *s == server)
                .map(|(_, u)| (u.uid, u.status, u.username))
                .collect();
            found.sort_by(|a, b| a.0.cmp(&b.0));
            found
        }
    };
    for uid in ["1", "2", "3", "4"] {
        remember("a", update(uid, Status::Online, Some("name"), false)).await;
    }
    assert_eq!(stored("a").await.len(), 3, "members per server");
    remember("a", update("1", Status::Dnd, None, false)).await;
    assert_eq!(
        stored("a").await[0],
        ("1".into(), Status::Dnd, Some("name".into())),
        "a known member updates, its name kept"
    );
    remember("a", update("2", Status::Offline, None, true)).await;
    remember("a", update("4", Status::Idle, None, false)).await;
    let uids: Vec<String> = stored("a").await.into_iter().map(|e| e.0).collect();
    assert_eq!(uids, ["1", "3", "4"], "a delete frees its place");
    remember("b", update("1", Status::Online, None, false)).await;
    remember("c", update("1", Status::Online, None, false)).await;
    assert_eq!(stored("b").await.len(), 1);
    assert!(stored("c").await.is_empty(), "servers");
    let long = "n".repeat(1_500);
    remember("b", update("2", Status::Online, Some(&long), false)).await;
    assert_eq!(
        stored("b").await.len(),
        1,
        "bytes: a new member that does not fit"
    );
    remember("b", update("1", Status::Online, Some(&long), false)).await;
    assert_eq!(
        stored("b").await[0].2.as_deref(),
        None,
        "bytes: a known member's name that does not fit"
    );
    for uid in ["1", "3", "4"] {
        remember("a", update(uid, Status::Offline, None, true)).await;
    }
    remember("c", update("1", Status::Online, None, false)).await;
    assert_eq!(
        stored("c").await.len(),
        1,
        "an emptied server frees its place"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_failures_are_counted_across_the_nodes() {
    let redis = RedisServer::start().expect("redis-server");
    let mut nodes = Vec::new();
    for n in 1..=3 {
        let config = format!(
            r#"[clients]
auth_failures_per_connection = 10
auth_failures_per_ip = 4

[plugin]
path = "{plugin}"

[cluster]
redis_url = "{redis}"
node_id = "node-{n}"
"#,
            plugin = plugins::hostile().display(),
            redis = redis.url(),
        );
        let node =
            ChildServer::start_logged(&format!("admin_token = \"{TOKEN}\"\n{config}"), "info")
                .expect("node starts");
        node.wait_until_up().await.expect("node answers");
        nodes.push(node);
    }
    for node in &nodes {
        wait_for_status(node, |status| status["redis"]["reachable"] == true).await;
    }
    let bad =
        json!({"server":"locked","discordToken":"wrong","discordUser":{"id":"9","username":"x"}});
    let good = json!({"server":"locked","discordToken":"good-token","discordUser":{"id":"9","username":"x"}});
    // The right token is let in anywhere before any failure.
    let mut first = Client::connect(nodes[2].addr()).await;
    first.recv().await;
    assert_eq!(
        first.connect_with(good.clone()).await["type"],
        "server-join"
    );

    // Two failures on node 1 and two on node 2: the address's four.
    for node in &nodes[..2] {
        let mut client = Client::connect(node.addr()).await;
        client.recv().await;
        for _ in 0..2 {
            Client::assert_error(
                &client.connect_with(bad.clone()).await,
                texts::DISCORD_AUTH_FAILED,
            );
        }
    }
    // Node 3 saw none of them itself, and still refuses the right token.
    let mut third = Client::connect(nodes[2].addr()).await;
    third.recv().await;
    Client::assert_error(
        &third.connect_with(good).await,
        texts::TOO_MANY_AUTH_FAILURES,
    );
    assert!(
        nodes[2].log_text().contains("outcome=\"throttled\""),
        "{}",
        nodes[2].log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_node_slows_nobody_and_catches_up_or_drops() {
    let redis = RedisServer::start().expect("redis-server");
    let nodes = start_nodes(&redis, 3).await;
    let mut on_first = joined_browser(&nodes[0]).await;
    let mut on_frozen = joined_browser(&nodes[1]).await;
    let mut on_third = joined_browser(&nodes[2]).await;
    // Node 2 stops reading anything: its socket to Redis fills up.
    // SAFETY: signalling a child process of this test.
    unsafe { libc::kill(nodes[1].pid() as i32, libc::SIGSTOP) };
    let sent: Vec<String> = (0..200).map(|n| format!("while frozen {n}")).collect();
    let started = std::time::Instant::now();
    for text in &sent {
        assert_eq!(post_message(&nodes[0], text).await, 200);
    }
    let posting = started.elapsed();
    for browser in [&mut on_first, &mut on_third] {
        let got = messages_within(browser, Duration::from_millis(2000)).await;
        assert_eq!(got, sent, "the others are served in full");
    }
    // SAFETY: as above.
    unsafe { libc::kill(nodes[1].pid() as i32, libc::SIGCONT) };
    // What Redis kept for the frozen node arrives late, in order, once.
    let late = messages_within(&mut on_frozen, Duration::from_millis(3000)).await;
    let expected: Vec<&String> = sent.iter().filter(|text| late.contains(text)).collect();
    assert_eq!(
        late.iter().collect::<Vec<_>>(),
        expected,
        "in order, no repeats"
    );
    assert_eq!(post_message(&nodes[2], "after").await, 200);
    for browser in [&mut on_first, &mut on_frozen] {
        let got = messages_within(browser, Duration::from_millis(3000)).await;
        assert_eq!(got, ["after"]);
    }
    assert!(
        posting < Duration::from_secs(20),
        "200 posts took {posting:?} while a node was frozen"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_of_a_killed_node_find_the_same_world_on_another() {
    let redis = RedisServer::start().expect("redis-server");
    let mut nodes = start_nodes(&redis, 3).await;
    let mut doomed = joined_browser(&nodes[2]).await;
    post_presence(&nodes[0], "123456789012345003", "idle", None).await;
    post_presence(&nodes[1], "888", "dnd", Some("visitor")).await;
    let mut seen = 0;
    while seen < 2 {
        match doomed.next_within(Duration::from_secs(3)).await {
            Some(Next::Json(frame)) if frame["type"] == "presence" => seen += 1,
            Some(_) => {}
            None => panic!("the presences did not reach node 3"),
        }
    }
    let before = joined_users(&nodes[2]).await;
    drop(nodes.remove(2));
    assert!(
        matches!(
            doomed.next_within(Duration::from_secs(3)).await,
            Some(Next::Closed(_)) | None
        ),
        "the killed node's browser lost its socket"
    );
    for node in &nodes {
        let after = joined_users(node).await;
        assert_eq!(after, before, "the same world on {}", node.addr());
    }
    assert_eq!(before["888"]["username"], "visitor");
    assert_eq!(before["123456789012345003"]["status"], "idle");
}

/// `GET /api/discord` on `node`.
async fn discord_status(node: &ChildServer) -> Value {
    let reply = admin(node.addr(), "GET", "/api/discord", TOKEN, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    serde_json::from_str(&reply.text()).unwrap()
}

/// The next presence frame `client` receives.
async fn next_presence(client: &mut Client) -> Value {
    loop {
        let frame = client.recv().await;
        if frame["type"] == "presence" {
            return frame;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_follows_discord_and_its_events_reach_every_node() {
    use d_back_tests::fake_gateway::FakeGateway;
    let redis = RedisServer::start().expect("redis-server");
    let rest = FakeDiscord::start().await;
    let gateway = FakeGateway::start().await;
    rest.set_gateway(gateway.url());
    gateway.set_guilds(vec![json!({
        "id": SMALL_GUILD, "roles": [],
        "members": [{"user": {"id": "7001", "username": "alpha"}, "roles": []}],
        "presences": [{"user": {"id": "7001"}, "status": "online"}],
    })]);
    let mut nodes = Vec::new();
    for n in 1..=3 {
        let config = format!(
            r#"admin_token = "{TOKEN}"

[discord]
bot_token = "{BOT_TOKEN}"
guilds = ["{SMALL_GUILD}"]
api_base = "{}"

[cluster]
redis_url = "{}"
node_id = "node-{n}"
"#,
            rest.base(),
            redis.url()
        );
        let node = ChildServer::start_logged(&config, "info").expect("node starts");
        node.wait_until_up().await.expect("node answers");
        nodes.push(node);
    }
    for node in &nodes {
        wait_for_log(node, "receiving the other nodes' broadcasts").await;
    }
    assert!(
        gateway
            .wait_until(Duration::from_secs(20), |g| g.identifies().len() == 1)
            .await,
        "one node identified"
    );
    // Two more lease checks: still one session.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(gateway.identifies().len(), 1, "exactly one node follows");
    let mut states = Vec::new();
    for node in &nodes {
        states.push(discord_status(node).await["state"].clone());
    }
    let following: Vec<usize> = (0..3).filter(|n| states[*n] == "connected").collect();
    assert_eq!(following.len(), 1, "{states:?}");
    assert_eq!(
        states.iter().filter(|s| **s == "follower").count(),
        2,
        "{states:?}"
    );
    // Every node's first join sees the presence GUILD_CREATE brought.
    let mut browsers = Vec::new();
    for node in &nodes {
        let mut client = Client::connect(node.addr()).await;
        assert_eq!(client.recv().await["type"], "server-list");
        let joined = client.join(json!(SMALL_GUILD)).await;
        assert_eq!(
            joined["data"]["users"]["7001"]["status"], "online",
            "{joined}"
        );
        browsers.push(client);
    }
    gateway.dispatch(
        "PRESENCE_UPDATE",
        json!({"guild_id": SMALL_GUILD, "user": {"id": "7001"}, "status": "dnd"}),
    );
    for browser in &mut browsers {
        let frame = next_presence(browser).await;
        assert_eq!(frame["data"]["status"], "dnd", "{frame}");
    }
    // The follower dies: another node takes the lease and identifies.
    let holder = following[0];
    drop(nodes.remove(holder));
    browsers.remove(holder);
    assert!(
        gateway
            .wait_until(Duration::from_secs(20), |g| g.identifies().len() == 2)
            .await,
        "another node took the gateway over"
    );
    gateway.dispatch(
        "PRESENCE_UPDATE",
        json!({"guild_id": SMALL_GUILD, "user": {"id": "7001"}, "status": "idle"}),
    );
    for browser in &mut browsers {
        // The new session's GUILD_CREATE may come first, with its own
        // view ("online"); then the event.
        loop {
            let frame = next_presence(browser).await;
            match frame["data"]["status"].as_str() {
                Some("idle") => break,
                Some("online") => continue,
                _ => panic!("{frame}"),
            }
        }
    }
    for node in &nodes {
        assert!(!node.log_text().contains(BOT_TOKEN), "the token was logged");
    }
}
