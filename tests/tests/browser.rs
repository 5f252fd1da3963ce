//! A real browser against the real server: headless Chromium loads the
//! built-in page, which connects over the WebSocket the way d-zone does.
//! Driven through the Chrome DevTools Protocol over a WebSocket.

use std::process::Stdio;
use std::time::{Duration, Instant};

use d_back_tests::server::config;
use d_back_tests::{TestServer, http};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;

/// What the page shows, read from its DOM.
const READ_PAGE: &str = r#"JSON.stringify({
  state: document.getElementById("state").textContent,
  servers: [...document.querySelectorAll("tr.server")].map(r => r.cells[1].textContent),
  users: [...document.querySelectorAll("tr.user")].map(r => ({
    name: r.cells[1].textContent,
    status: r.cells[0].textContent.trim(),
    dot: r.querySelector(".dot").style.backgroundColor,
  })),
  events: [...document.querySelectorAll("li.event")].map(li => li.textContent),
})"#;

fn chromium() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .expect("Chromium is needed for this test; `cargo xtask test` installs Debian's chromium package")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_in_page_shows_servers_users_and_live_events_in_chromium() {
    let mut settings = d_back::Settings::new();
    settings.plugin.config = config(&[
        ("presence_interval_ms", "300"),
        ("message_interval_ms", "300"),
    ]);
    let server = TestServer::start(settings).await;

    let profile = d_back_tests::scratch::dir("chromium");
    let mut browser = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        // Chromium's own temporary files go with the profile.
        .env("TMPDIR", &profile)
        .arg(format!("http://{}/", server.addr))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromium");

    // Chromium says where its DevTools endpoint listens.
    let mut lines = BufReader::new(browser.stderr.take().unwrap()).lines();
    let devtools_port: u16 = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("chromium stderr") {
            if let Some(rest) = line.split("DevTools listening on ws://127.0.0.1:").nth(1) {
                return rest.split('/').next().unwrap().parse().unwrap();
            }
        }
        panic!("chromium exited without a DevTools endpoint");
    })
    .await
    .expect("chromium started in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let devtools = format!("127.0.0.1:{devtools_port}").parse().unwrap();
    let targets = http(devtools, "GET", "/json/list", &[], b"").await.json();
    let page = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .expect("a page target");
    let (mut cdp, _) =
        tokio_tungstenite::connect_async(page["webSocketDebuggerUrl"].as_str().unwrap())
            .await
            .expect("DevTools WebSocket");

    let started = Instant::now();
    let mut id = 0;
    let shown = loop {
        id += 1;
        let request = json!({"id": id, "method": "Runtime.evaluate",
            "params": {"expression": READ_PAGE, "returnByValue": true}});
        cdp.send(Message::text(request.to_string())).await.unwrap();
        let reply = loop {
            let Some(Ok(Message::Text(text))) = cdp.next().await else {
                panic!("DevTools connection ended");
            };
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["id"] == id {
                break value;
            }
        };
        let shown: Value = reply["result"]["result"]["value"]
            .as_str()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        let ready = shown["users"].as_array().is_some_and(|u| u.len() == 4)
            && shown["events"].as_array().is_some_and(|e| !e.is_empty());
        if ready || started.elapsed() > Duration::from_secs(30) {
            break shown;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    assert_eq!(
        shown["servers"],
        json!([
            "D-World",
            "Docs (WIP)",
            "OAuth2 Protected Server",
            "My Repos"
        ]),
        "{shown}"
    );
    let mut names: Vec<&str> = shown["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["Cog-Creators", "NNTin", "d-zone-org", "vegeta897"],
        "{shown}"
    );
    for user in shown["users"].as_array().unwrap() {
        assert!(user["dot"].as_str().unwrap().starts_with("rgb("), "{user}");
    }
    let events = shown["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| {
            let e = e.as_str().unwrap();
            e.contains("presence") || e.contains("message")
        }),
        "{shown}"
    );
    assert_eq!(shown["state"], "joined D-World");

    let _ = browser.kill().await;
    let _ = std::fs::remove_dir_all(profile);
    server.stop().await;
}
