//! Ordinary browsers: many real WebSocket clients that join a server, time
//! their joins, then keep reading until told to stop, noting whether the
//! server closed them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::client::{Client, Next};
use crate::timing::Summary;

/// Browsers that joined and are still reading.
pub struct Crowd {
    browsers: Vec<JoinHandle<Browser>>,
    stop: CancellationToken,
}

/// What one browser saw.
#[derive(Debug)]
struct Browser {
    join_latency: Duration,
    members: usize,
    closed_by_server: bool,
    frames_after_join: usize,
}

/// What a crowd saw, all together.
#[derive(Debug)]
pub struct CrowdReport {
    pub joins: Summary,
    /// Browsers the server closed while they were reading.
    pub disconnected: usize,
    /// Browsers whose join listed no members.
    pub empty_joins: usize,
    pub frames_after_join: usize,
}

impl Crowd {
    /// `n` browsers join `server` (`null` for the default), a few at a time.
    pub async fn join(addr: SocketAddr, n: usize, server: Value) -> Self {
        let stop = CancellationToken::new();
        let mut browsers = Vec::with_capacity(n);
        for _ in 0..n {
            let stop = stop.clone();
            let server = server.clone();
            browsers.push(tokio::spawn(
                async move { browse(addr, server, stop).await },
            ));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Self { browsers, stop }
    }

    /// Stops reading and reports.
    pub async fn finish(self) -> CrowdReport {
        self.stop.cancel();
        let mut latencies = Vec::new();
        let (mut disconnected, mut empty_joins, mut frames_after_join) = (0, 0, 0);
        for browser in self.browsers {
            let browser = browser.await.expect("browser task");
            latencies.push(browser.join_latency);
            disconnected += usize::from(browser.closed_by_server);
            empty_joins += usize::from(browser.members == 0);
            frames_after_join += browser.frames_after_join;
        }
        CrowdReport {
            joins: Summary::of(&mut latencies),
            disconnected,
            empty_joins,
            frames_after_join,
        }
    }
}

async fn browse(addr: SocketAddr, server: Value, stop: CancellationToken) -> Browser {
    let mut client = Client::connect(addr).await;
    let list = client.recv().await;
    assert_eq!(list["type"], "server-list", "{list}");
    let started = Instant::now();
    client
        .send_json(json!({"type": "connect", "data": {"server": server}}))
        .await;
    let joined = client.recv_type("server-join").await;
    let join_latency = started.elapsed();
    let members = joined["data"]["users"]
        .as_object()
        .map_or(0, serde_json::Map::len);
    let mut frames_after_join = 0;
    let closed_by_server = loop {
        tokio::select! {
            () = stop.cancelled() => break false,
            next = client.next_within(Duration::from_secs(3600)) => match next {
                Some(Next::Json(_)) => frames_after_join += 1,
                Some(Next::Closed(_)) => break true,
                None => {}
            },
        }
    };
    if !closed_by_server {
        client.close().await;
    }
    Browser {
        join_latency,
        members,
        closed_by_server,
        frames_after_join,
    }
}
