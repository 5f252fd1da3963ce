//! Three real `d-back` nodes (`D_BACK_BIN`, default the release build)
//! sharing a real `redis-server`, 1,000 joined browsers on each, 10
//! broadcasts a second posted to node 1. Prints the fraction delivered,
//! the last browser's latency per broadcast on the posting node and on the
//! others (p50, p99), and what each broadcast costs Redis: commands and
//! bytes in and out, with the cost of an idle cluster over the same time
//! (heartbeats) measured first and taken off.
//!
//! `D_BACK_BENCH_QUICK=1` sends fewer broadcasts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use d_back_tests::Client;
use d_back_tests::child::ChildServer;
use d_back_tests::client::Next;
use d_back_tests::http::admin;
use d_back_tests::redis::{RedisCounters, RedisServer};
use serde_json::{Value, json};

const NODES: usize = 3;
const BROWSERS_PER_NODE: usize = 1_000;
const PER_SECOND: u64 = 10;
const TOKEN: &str = "cluster-bench-token";
const DWORLD: &str = "232769614004748288";

/// When the last browser of one node got each broadcast, and how many
/// frames its browsers got in all.
struct Tally {
    last: Mutex<Vec<Option<Instant>>>,
    received: AtomicU64,
}

impl Tally {
    fn new(broadcasts: usize) -> Arc<Self> {
        Arc::new(Self {
            last: Mutex::new(vec![None; broadcasts]),
            received: AtomicU64::new(0),
        })
    }

    fn record(&self, index: usize, at: Instant) {
        self.received.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last.lock().unwrap();
        if let Some(slot) = last.get_mut(index) {
            *slot = Some(slot.map_or(at, |seen| seen.max(at)));
        }
    }
}

fn node_config(redis: &RedisServer, node: usize) -> String {
    format!(
        r#"admin_token = "{TOKEN}"

[clients]
max_connections_per_ip = {max}

[plugin.config]
presence_interval_ms = "3600000"
message_interval_ms = "3600000"

[cluster]
redis_url = "{url}"
node_id = "bench-{node}"
"#,
        max = BROWSERS_PER_NODE * 2,
        url = redis.url(),
    )
}

async fn cluster_status(node: &ChildServer) -> Value {
    admin(node.addr(), "GET", "/api/cluster", TOKEN, None)
        .await
        .json()
}

/// Waits until every node sees all of them and its broadcasts cross.
async fn wait_for_cluster(nodes: &[ChildServer]) -> anyhow::Result<()> {
    for _ in 0..200 {
        let mut ready = true;
        for node in nodes {
            let status = cluster_status(node).await;
            ready &= status["redis"]["broadcasts_crossing"] == true
                && status["nodes"].as_array().map_or(0, Vec::len) == nodes.len();
        }
        if ready {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the nodes did not form a cluster")
}

async fn join_browsers(node: &ChildServer, tally: &Arc<Tally>) -> anyhow::Result<()> {
    for _ in 0..BROWSERS_PER_NODE {
        let mut client = Client::connect(node.addr()).await;
        client.recv().await;
        let joined = client.join(Value::Null).await;
        anyhow::ensure!(joined["type"] == "server-join", "join failed: {joined}");
        let tally = Arc::clone(tally);
        tokio::spawn(async move {
            loop {
                match client.next().await {
                    Next::Json(frame) if frame["type"] == "message" => {
                        let index = frame["data"]["message"]
                            .as_str()
                            .and_then(|text| text.strip_prefix("bench "))
                            .and_then(|n| n.parse::<usize>().ok());
                        if let Some(index) = index {
                            tally.record(index, Instant::now());
                        }
                    }
                    Next::Json(_) => {}
                    Next::Closed(_) => return,
                }
            }
        });
    }
    Ok(())
}

/// The `q` quantile of `samples` (sorted here).
fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    let at = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[at]
}

/// Per broadcast, the latest of `tallies`' last browsers, minus when it
/// was sent; broadcasts some browser group never got are left out.
fn latencies(sent: &[Instant], tallies: &[&Tally]) -> Vec<Duration> {
    let lasts: Vec<Vec<Option<Instant>>> = tallies
        .iter()
        .map(|tally| tally.last.lock().unwrap().clone())
        .collect();
    sent.iter()
        .enumerate()
        .filter_map(|(index, sent)| {
            let mut latest: Option<Instant> = None;
            for last in &lasts {
                let at = last[index]?;
                latest = Some(latest.map_or(at, |l| l.max(at)));
            }
            latest.map(|at| at.saturating_duration_since(*sent))
        })
        .collect()
}

fn difference(after: &RedisCounters, before: &RedisCounters) -> (u64, u64, u64, u64) {
    (
        after.total_calls() - before.total_calls(),
        after.calls_of("publish") - before.calls_of("publish"),
        after.bytes_in - before.bytes_in,
        after.bytes_out - before.bytes_out,
    )
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::var("D_BACK_BENCH_QUICK").is_ok_and(|v| v == "1");
    let broadcasts: usize = if quick { 50 } else { 200 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let redis = RedisServer::start()?;
        let mut nodes = Vec::new();
        for n in 1..=NODES {
            let node = ChildServer::start(&node_config(&redis, n))?;
            node.wait_until_up().await?;
            nodes.push(node);
        }
        wait_for_cluster(&nodes).await?;
        let tallies: Vec<Arc<Tally>> = (0..NODES).map(|_| Tally::new(broadcasts)).collect();
        for (node, tally) in nodes.iter().zip(&tallies) {
            join_browsers(node, tally).await?;
        }

        // An idle cluster's cost (heartbeats), taken off the run's pro rata.
        let period = Duration::from_millis(1_000 / PER_SECOND);
        let idle_window = Duration::from_secs(5);
        let idle_start = redis.counters()?;
        tokio::time::sleep(idle_window).await;
        let idle = difference(&redis.counters()?, &idle_start);
        let before = redis.counters()?;
        let busy_start = Instant::now();
        let mut sent = Vec::with_capacity(broadcasts);
        let mut ticks = tokio::time::interval(period);
        for index in 0..broadcasts {
            ticks.tick().await;
            sent.push(Instant::now());
            let body = json!({"server": DWORLD, "uid": "123456789012345001", "message": format!("bench {index}"), "channel": "1"});
            let reply = admin(nodes[0].addr(), "POST", "/api/broadcast/message", TOKEN, Some(&body)).await;
            anyhow::ensure!(reply.status == 200, "post answered {}", reply.status);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let busy = difference(&redis.counters()?, &before);
        let idle_share = busy_start.elapsed().as_secs_f64() / idle_window.as_secs_f64();

        let browsers = (NODES * BROWSERS_PER_NODE) as f64;
        let received: u64 = tallies
            .iter()
            .map(|tally| tally.received.load(Ordering::Relaxed))
            .sum();
        let delivered = received as f64 / (browsers * broadcasts as f64);
        let mut posting = latencies(&sent, &[&tallies[0]]);
        let others: Vec<&Tally> = tallies[1..].iter().map(Arc::as_ref).collect();
        let mut remote = latencies(&sent, &others);
        let per_broadcast = |busy: u64, idle: u64| {
            (busy as f64 - idle as f64 * idle_share).max(0.0) / broadcasts as f64
        };
        println!(
            "cluster: {NODES} nodes x {BROWSERS_PER_NODE} browsers, {broadcasts} broadcasts at {PER_SECOND}/s posted to node 1 (real redis-server, release binaries)"
        );
        println!(
            "  delivered:                          {:>9.4} of {} frames",
            delivered,
            browsers as u64 * broadcasts as u64
        );
        println!(
            "  last browser, posting node:  p50 {:>7.2} ms   p99 {:>7.2} ms",
            quantile(&mut posting, 0.5).as_secs_f64() * 1e3,
            quantile(&mut posting, 0.99).as_secs_f64() * 1e3
        );
        println!(
            "  last browser, other nodes:   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} of {broadcasts} reached both)",
            quantile(&mut remote, 0.5).as_secs_f64() * 1e3,
            quantile(&mut remote, 0.99).as_secs_f64() * 1e3,
            remote.len()
        );
        println!(
            "  Redis per broadcast:         {:.2} PUBLISH, {:.2} commands in all, {:.0} bytes in, {:.0} bytes out",
            (busy.1 - idle.1) as f64 / broadcasts as f64,
            per_broadcast(busy.0, idle.0),
            per_broadcast(busy.2, idle.2),
            per_broadcast(busy.3, idle.3),
        );
        println!(
            "  Redis idle (heartbeats):     {:.1} commands/s, {:.0} bytes/s in, {:.0} bytes/s out, for {NODES} nodes",
            idle.0 as f64 / idle_window.as_secs_f64(),
            idle.2 as f64 / idle_window.as_secs_f64(),
            idle.3 as f64 / idle_window.as_secs_f64(),
        );
        Ok(())
    })
}
