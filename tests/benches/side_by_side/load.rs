//! The load: browsers that join and leave, browsers that stay and count
//! broadcasts, browsers that stay silent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::servers::Contender;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The server every browser joins (d-back's default, D-World).
const SERVER: &str = "232769614004748288";
const CONNECT: &str = r#"{"type":"connect","data":{"server":"default"}}"#;
/// How many browsers join or connect at once.
const AT_ONCE: usize = 50;
const FRAME_WAIT: Duration = Duration::from_secs(30);

/// Opens a browser and joins the default server.
async fn join(server: &Contender) -> anyhow::Result<Ws> {
    let (mut ws, _) = tokio::time::timeout(
        FRAME_WAIT,
        tokio_tungstenite::connect_async(format!("ws://{}/", server.ws())),
    )
    .await
    .context("connect timed out")??;
    expect(&mut ws, "server-list").await?;
    ws.send(Message::text(CONNECT)).await?;
    expect(&mut ws, "server-join").await?;
    Ok(ws)
}

/// Reads until a frame of type `kind`.
async fn expect(ws: &mut Ws, kind: &str) -> anyhow::Result<()> {
    loop {
        let next = tokio::time::timeout(FRAME_WAIT, ws.next())
            .await
            .with_context(|| format!("no {kind} in time"))?;
        match next {
            Some(Ok(Message::Text(text))) => {
                let value: serde_json::Value = serde_json::from_str(&text)?;
                if value["type"] == kind {
                    return Ok(());
                }
            }
            Some(Ok(Message::Close(_))) | None => bail!("closed before {kind}"),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
        }
    }
}

/// Closes with a close frame and waits for the server to end the stream.
async fn leave(mut ws: Ws) {
    let _ = ws.close(None).await;
    let _ = tokio::time::timeout(FRAME_WAIT, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// Server CPU per join (connect, server list, connect frame, server join,
/// close), in microseconds, over `n` joins made `AT_ONCE` at a time.
pub async fn joins(server: &Contender, n: usize) -> anyhow::Result<f64> {
    run_joins(server, n / 10).await?;
    let before = server.cpu();
    run_joins(server, n).await?;
    let used = server.cpu() - before;
    Ok(used.as_secs_f64() * 1e6 / n as f64)
}

async fn run_joins(server: &Contender, n: usize) -> anyhow::Result<()> {
    let next = AtomicU64::new(0);
    let worker = || async {
        while next.fetch_add(1, Ordering::Relaxed) < n as u64 {
            leave(join(server).await?).await;
        }
        anyhow::Ok(())
    };
    let workers: Vec<_> = (0..AT_ONCE).map(|_| worker()).collect();
    for outcome in futures_util::future::join_all(workers).await {
        outcome?;
    }
    Ok(())
}

/// `n` joined browsers, opened `AT_ONCE` at a time.
async fn crowd(server: &Contender, n: usize) -> anyhow::Result<Vec<Ws>> {
    let mut browsers = Vec::with_capacity(n);
    while browsers.len() < n {
        let batch = AT_ONCE.min(n - browsers.len());
        let joined = futures_util::future::join_all((0..batch).map(|_| join(server))).await;
        for ws in joined {
            browsers.push(ws?);
        }
    }
    Ok(browsers)
}

/// Resident memory per idle joined browser, in KiB.
pub async fn idle(server: &Contender, n: usize) -> anyhow::Result<f64> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss_kib();
    let browsers = crowd(server, n).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib();
    drop(browsers);
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok((after - before) / n as f64)
}

pub struct FanOut {
    pub cpu_per_delivery_us: f64,
    pub last_browser_p99_ms: f64,
}

/// `browsers` joined browsers get `messages` broadcasts sent at `rate` per
/// second: server CPU per delivered message, and the p99 over broadcasts
/// of the time until the last browser had it.
pub async fn fan_out(
    server: &Contender,
    browsers: usize,
    messages: usize,
    rate: f64,
) -> anyhow::Result<FanOut> {
    let crowd = crowd(server, browsers).await?;
    let start = Instant::now();
    let arrivals: Arc<Vec<Arrival>> = Arc::new((0..messages).map(|_| Arrival::default()).collect());
    let mut readers = JoinSet::new();
    for ws in crowd {
        readers.spawn(count_messages(ws, Arc::clone(&arrivals), start));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let before = server.cpu();
    let mut sent = Vec::with_capacity(messages);
    let mut triggers = JoinSet::new();
    let first = tokio::time::Instant::now();
    for i in 0..messages {
        // Open loop: each trigger in a task of its own, so a slow server
        // does not slow the schedule down.
        tokio::time::sleep_until(first + Duration::from_secs_f64(i as f64 / rate)).await;
        sent.push(start.elapsed());
        let trigger = server.trigger();
        triggers.spawn(async move { trigger.broadcast(SERVER, &format!("bench {i}")).await });
    }
    while let Some(outcome) = triggers.join_next().await {
        outcome??;
    }
    let expected = (browsers * messages) as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered(&arrivals) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let used = server.cpu() - before;
    let total = delivered(&arrivals);
    readers.abort_all();
    while readers.join_next().await.is_some() {}
    anyhow::ensure!(total > 0, "no broadcast arrived");
    let mut latencies: Vec<f64> = arrivals
        .iter()
        .zip(&sent)
        .map(|(arrival, sent)| {
            if arrival.count.load(Ordering::Relaxed) < browsers as u64 {
                f64::INFINITY
            } else {
                let last = Duration::from_nanos(arrival.last_nanos.load(Ordering::Relaxed));
                last.saturating_sub(*sent).as_secs_f64() * 1e3
            }
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let p99 = latencies[((latencies.len() * 99).div_ceil(100)).saturating_sub(1)];
    if total < expected {
        eprintln!(
            "side_by_side: {}: {total} of {expected} messages arrived",
            server.name()
        );
    }
    Ok(FanOut {
        cpu_per_delivery_us: used.as_secs_f64() * 1e6 / total as f64,
        last_browser_p99_ms: p99,
    })
}

#[derive(Default)]
struct Arrival {
    count: AtomicU64,
    /// Since the start of the phase.
    last_nanos: AtomicU64,
}

fn delivered(arrivals: &[Arrival]) -> u64 {
    arrivals
        .iter()
        .map(|a| a.count.load(Ordering::Relaxed))
        .sum()
}

async fn count_messages(mut ws: Ws, arrivals: Arc<Vec<Arrival>>, start: Instant) {
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Some(i) = message_index(&text) else {
            continue;
        };
        if let Some(arrival) = arrivals.get(i) {
            arrival.count.fetch_add(1, Ordering::Relaxed);
            let at = start.elapsed().as_nanos() as u64;
            arrival.last_nanos.fetch_max(at, Ordering::Relaxed);
        }
    }
}

/// `i` of a `message` frame saying `bench <i>`.
fn message_index(text: &str) -> Option<usize> {
    let rest = &text[text.find("\"bench ")? + 7..];
    rest[..rest.find('"')?].parse().ok()
}
