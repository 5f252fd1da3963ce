//! Swapping the plugin while browsers are connected: `POST
//! /api/plugin/reload`, `SIGHUP` and `--watch`, against the real binary.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use d_back_plugin_build::Language;
use d_back_tests::child::{ChildServer, rss_kib};
use d_back_tests::client::Next;
use d_back_tests::http::{admin, broadcast_message};
use d_back_tests::{Client, plugins};
use serde_json::{Value, json};

const TOKEN: &str = "live-test-token";
const DWORLD: &str = "232769614004748288";

/// The two versions swapped, and one that cannot load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    /// The embedded mock.
    Mock,
    /// The Rust config provider, its one member named in the config.
    Config,
    /// A file that is not a component.
    Broken,
}

fn config(version: Version) -> String {
    let head = format!(
        "admin_token = \"{TOKEN}\"\n\n[clients]\nmax_connections_per_ip = 2000\nmax_connections = 4000\n\n"
    );
    let plugin = match version {
        Version::Mock => "[plugin.config]\npresence_interval_ms = \"3600000\"\nmessage_interval_ms = \"3600000\"\n".to_string(),
        Version::Config => {
            let servers = json!([{"snowflake": DWORLD, "id": "dworld", "default": true,
                "users": [{"uid": "900", "username": "swapped-in", "status": "online"}]}]);
            format!(
                "[plugin]\npath = \"{}\"\n\n[plugin.config]\nservers = '{servers}'\n",
                plugins::config_provider(Language::Rust).display()
            )
        }
        Version::Broken => {
            let path = d_back_tests::scratch::path("broken.wasm");
            std::fs::write(&path, b"\0asm this is not a component").unwrap();
            format!("[plugin]\npath = \"{}\"\n", path.display())
        }
    };
    head + &plugin
}

/// The member ids of the default server a new browser joining `node` gets.
async fn members(node: &ChildServer) -> BTreeSet<String> {
    let mut client = Client::connect(node.addr()).await;
    assert_eq!(client.recv().await["type"], "server-list");
    let joined = client.join(Value::Null).await;
    assert_eq!(joined["type"], "server-join", "{joined}");
    joined["data"]["users"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn is_config_version(members: &BTreeSet<String>) -> bool {
    members.len() == 1 && members.contains("900")
}

async fn reload(node: &ChildServer) -> d_back_tests::HttpReply {
    admin(node.addr(), "POST", "/api/plugin/reload", TOKEN, None).await
}

async fn swap_to(node: &ChildServer, version: Version) -> d_back_tests::HttpReply {
    node.rewrite_config(&config(version)).unwrap();
    reload(node).await
}

/// A browser held open, counting the messages it gets and whether it was
/// closed.
struct Held {
    messages: Arc<AtomicUsize>,
    closed: Arc<AtomicBool>,
}

async fn hold(node: &ChildServer) -> Held {
    let mut client = Client::connect(node.addr()).await;
    client.recv().await;
    assert_eq!(client.join(Value::Null).await["type"], "server-join");
    let held = Held {
        messages: Arc::default(),
        closed: Arc::default(),
    };
    let (messages, closed) = (Arc::clone(&held.messages), Arc::clone(&held.closed));
    tokio::spawn(async move {
        loop {
            match client.next().await {
                Next::Json(frame) if frame["type"] == "message" => {
                    messages.fetch_add(1, Ordering::SeqCst);
                }
                Next::Json(_) => {}
                Next::Closed(_) => {
                    closed.store(true, Ordering::SeqCst);
                    return;
                }
            }
        }
    });
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_ten_times_under_joins_drops_nobody_and_frees_old_versions() {
    let node = ChildServer::start_logged(&config(Version::Mock), "info").unwrap();
    node.wait_until_up().await.unwrap();
    assert!(!is_config_version(&members(&node).await));
    let mut held = Vec::new();
    for _ in 0..200 {
        held.push(hold(&node).await);
    }

    // Joins keep coming while the versions are swapped.
    let stop = Arc::new(AtomicBool::new(false));
    let joiner = {
        let (stop, addr) = (Arc::clone(&stop), node.addr());
        tokio::spawn(async move {
            let mut joins = 0;
            while !stop.load(Ordering::SeqCst) {
                let mut client = Client::connect(addr).await;
                client.recv().await;
                let joined = client.join(Value::Null).await;
                assert_eq!(
                    joined["type"], "server-join",
                    "a join during swaps: {joined}"
                );
                joins += 1;
            }
            joins
        })
    };
    let mut version = Version::Mock;
    for swap in 1..=10 {
        version = if version == Version::Mock {
            Version::Config
        } else {
            Version::Mock
        };
        let reply = swap_to(&node, version).await;
        assert_eq!(reply.status, 200, "swap {swap}: {}", reply.text());
        // Answered once the new version serves: every join from now on.
        for _ in 0..3 {
            assert_eq!(
                is_config_version(&members(&node).await),
                version == Version::Config,
                "swap {swap} to {version:?}"
            );
        }
        let text = format!("after swap {swap}");
        let sent = broadcast_message(node.addr(), TOKEN, DWORLD, "900", &text).await;
        assert_eq!(sent.status, 200);
    }

    // A version that cannot load is refused with its reason; the old serves.
    let refused = swap_to(&node, Version::Broken).await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    let reason = refused.json()["error"].as_str().unwrap().to_string();
    assert!(reason.contains("not a valid component"), "{reason}");
    assert!(node.log_text().contains("plugin reload refused"));
    assert_eq!(
        is_config_version(&members(&node).await),
        version == Version::Config,
        "the old version still serves"
    );

    stop.store(true, Ordering::SeqCst);
    let joins = joiner.await.unwrap();
    assert!(joins > 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (n, browser) in held.iter().enumerate() {
        assert!(
            !browser.closed.load(Ordering::SeqCst),
            "browser {n} was disconnected"
        );
        assert_eq!(browser.messages.load(Ordering::SeqCst), 10, "browser {n}");
    }

    // Old versions are freed: 100 more swaps cost no memory that stays.
    node.rewrite_config(&config(Version::Mock)).unwrap();
    let after_first = swap_and_measure(&node, 1).await;
    let after_hundred = swap_and_measure(&node, 100).await;
    println!("RSS after 1 swap: {after_first} KiB; after 100 more: {after_hundred} KiB");
    assert!(
        after_hundred as f64 <= after_first as f64 * 1.10,
        "RSS grew from {after_first} KiB to {after_hundred} KiB over 100 swaps"
    );
}

/// Swaps `times` times between the two versions, then the server's RSS.
async fn swap_and_measure(node: &ChildServer, times: usize) -> u64 {
    for n in 0..times {
        let version = if n % 2 == 0 {
            Version::Config
        } else {
            Version::Mock
        };
        let reply = swap_to(node, version).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        members(node).await;
    }
    // Back to the mock, settled, then measured.
    assert_eq!(swap_to(node, Version::Mock).await.status, 200);
    members(node).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    rss_kib(node.pid()).unwrap()
}

#[tokio::test]
async fn the_reload_api_needs_the_admin_token_and_post() {
    let node = ChildServer::start_logged(&config(Version::Mock), "info").unwrap();
    node.wait_until_up().await.unwrap();
    let anonymous = d_back_tests::http(node.addr(), "POST", "/api/plugin/reload", &[], b"").await;
    assert_eq!(anonymous.status, 401);
    let wrong = admin(node.addr(), "POST", "/api/plugin/reload", "guess", None).await;
    assert_eq!(wrong.status, 401);
    let get = admin(node.addr(), "GET", "/api/plugin/reload", TOKEN, None).await;
    assert_eq!(get.status, 405);
    assert!(!node.log_text().contains("plugin reloaded"));
}

/// Polls joins on `node` until they show the config version.
async fn until_config_version(node: &ChildServer, within: Duration) {
    let until = std::time::Instant::now() + within;
    while !is_config_version(&members(node).await) {
        assert!(
            std::time::Instant::now() < until,
            "not reloaded within {within:?}:\n{}",
            node.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sighup_reloads_the_config_file() {
    let node = ChildServer::start_logged(&config(Version::Mock), "info").unwrap();
    node.wait_until_up().await.unwrap();
    let open = hold(&node).await;
    node.rewrite_config(&config(Version::Config)).unwrap();
    // SAFETY: signalling a child process of this test.
    unsafe { libc::kill(node.pid() as i32, libc::SIGHUP) };
    until_config_version(&node, Duration::from_secs(30)).await;
    assert!(
        node.log_text().contains("cause=\"SIGHUP\""),
        "{}",
        node.log_text()
    );
    assert!(
        !open.closed.load(Ordering::SeqCst),
        "the open browser stays"
    );
}

#[tokio::test]
async fn watch_reloads_when_the_config_file_changes_and_refreshes_open_browsers() {
    let node =
        ChildServer::start_logged_with(&config(Version::Mock), "info", &["--watch"]).unwrap();
    node.wait_until_up().await.unwrap();
    assert!(node.log_text().contains("watching for changes"));
    let mut open = Client::connect(node.addr()).await;
    open.recv().await;
    let before = open.join(Value::Null).await;
    assert!(
        !before["data"]["users"]
            .as_object()
            .unwrap()
            .contains_key("900")
    );
    node.rewrite_config(&config(Version::Config)).unwrap();
    // The open browser, without reconnecting, is sent its server again.
    let refreshed = tokio::time::timeout(Duration::from_secs(30), open.recv_type("server-join"))
        .await
        .expect("the open browser gets the new members");
    let users = refreshed["data"]["users"].as_object().unwrap();
    assert_eq!(users.keys().collect::<Vec<_>>(), ["900"], "{refreshed}");
    assert_eq!(refreshed["data"]["request"]["server"], "dworld");
    assert!(
        node.log_text().contains("cause=\"watch\""),
        "{}",
        node.log_text()
    );
    until_config_version(&node, Duration::from_secs(5)).await;
}
