//! The Discord bridge under load, against the real binary (`D_BACK_BIN`,
//! default the release build) following a fake gateway in this process,
//! with 1,000 browsers joined to the guild:
//!
//! - throughput: the fake gateway fires presence updates as fast as it
//!   can; printed are the events per second the bridge takes in (the
//!   host's own count) and the events per second that reach all 1,000
//!   browsers, with the fraction of frames delivered. The baseline, in the
//!   same run: the same presences posted to the broadcast API by 8
//!   concurrent posters, as a separate bot process would;
//! - latency: events at a steady 50 a second; printed are p50 and p99 from
//!   the gateway's send to a browser's receipt, over every delivery and
//!   for the last browser of each event.
//!
//! `D_BACK_BENCH_QUICK=1` fires fewer events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use d_back_tests::child::ChildServer;
use d_back_tests::fake_discord::{BOT_TOKEN, FakeDiscord, SMALL_GUILD};
use d_back_tests::fake_gateway::FakeGateway;
use d_back_tests::http::admin;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

const BROWSERS: usize = 1_000;
const TOKEN: &str = "gateway-bench-token";
/// Members whose presences change; each event changes one, so every
/// event is news and becomes a frame.
const MEMBERS: u64 = 1_000;
/// Uids of the latency phase start here, one per event.
const LATENCY_UIDS: u64 = 900_000;
const STATUSES: [&str; 3] = ["online", "idle", "dnd"];

/// What every browser saw.
struct Seen {
    /// Presence frames of the throughput phase, all browsers together.
    frames: AtomicU64,
    /// When the last throughput frame reached all of them.
    last: Mutex<Option<Instant>>,
    /// Latency phase: per event, when each browser got it.
    arrivals: Mutex<Vec<Vec<Instant>>>,
}

/// The uid in a presence frame, found without parsing the whole frame
/// (the readers must not be the bottleneck).
fn uid_of(text: &str) -> Option<u64> {
    let start = text.find("\"uid\":\"")? + 7;
    let end = start + text[start..].find('"')?;
    text[start..end].parse().ok()
}

async fn browser(addr: std::net::SocketAddr, seen: Arc<Seen>, ready: Arc<AtomicU64>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .expect("browser connects");
    ws.next().await; // server-list
    ws.send(Message::text(
        json!({"type": "connect", "data": {"server": SMALL_GUILD}}).to_string(),
    ))
    .await
    .expect("join");
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.contains("\"server-join\"") => break,
            Some(Ok(_)) => {}
            _ => panic!("closed before joining"),
        }
    }
    ready.fetch_add(1, Ordering::SeqCst);
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let now = Instant::now();
        match uid_of(&text) {
            Some(uid) if uid >= LATENCY_UIDS => {
                let index = (uid - LATENCY_UIDS) as usize;
                if let Some(slot) = seen.arrivals.lock().unwrap().get_mut(index) {
                    slot.push(now);
                }
            }
            Some(_) => {
                let total = seen.frames.fetch_add(1, Ordering::Relaxed) + 1;
                if total.is_multiple_of(BROWSERS as u64) {
                    *seen.last.lock().unwrap() = Some(now);
                }
            }
            None => {}
        }
    }
}

/// Waits until `events` more presence frames reached every browser (or
/// a minute passes without progress); returns the events per second from
/// `start` to the last of them, and the fraction delivered. The counters
/// are reset for the next phase.
async fn delivered(seen: &Seen, events: u64, start: Instant) -> (f64, f64) {
    let expected = events * BROWSERS as u64;
    let mut progress = (0, Instant::now());
    loop {
        let frames = seen.frames.load(Ordering::Relaxed);
        if frames >= expected {
            break;
        }
        if frames != progress.0 {
            progress = (frames, Instant::now());
        } else if progress.1.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Frames still on their way get a moment more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let frames = seen.frames.swap(0, Ordering::Relaxed);
    let last = seen
        .last
        .lock()
        .unwrap()
        .take()
        .unwrap_or_else(Instant::now);
    let seconds = last
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-9);
    (events as f64 / seconds, frames as f64 / expected as f64)
}

fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}

async fn presence_updates(node: &ChildServer) -> u64 {
    let status = admin(node.addr(), "GET", "/api/discord", TOKEN, None)
        .await
        .json();
    status["events"]["PRESENCE_UPDATE"].as_u64().unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::var("D_BACK_BENCH_QUICK").is_ok_and(|v| v == "1");
    let burst: u64 = if quick { 2_000 } else { 10_000 };
    let steady: usize = if quick { 200 } else { 500 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let rest = FakeDiscord::start().await;
        let gateway = FakeGateway::start().await;
        rest.set_gateway(gateway.url());
        gateway.set_heartbeat_interval(10_000);
        gateway.set_guilds(vec![json!({"id": SMALL_GUILD, "roles": [], "members": [], "presences": []})]);
        let config = format!(
            "admin_token = \"{TOKEN}\"\n[clients]\nmax_connections_per_ip = {}\n[discord]\nbot_token = \"{BOT_TOKEN}\"\nguilds = [\"{SMALL_GUILD}\"]\napi_base = \"{}\"\n",
            BROWSERS * 2,
            rest.base()
        );
        let node = ChildServer::start(&config)?;
        node.wait_until_up().await?;
        anyhow::ensure!(
            gateway.wait_until(Duration::from_secs(20), |g| g.identifies().len() == 1).await,
            "the host did not follow the gateway"
        );
        let seen = Arc::new(Seen {
            frames: AtomicU64::new(0),
            last: Mutex::new(None),
            arrivals: Mutex::new(vec![Vec::with_capacity(BROWSERS); steady]),
        });
        let ready = Arc::new(AtomicU64::new(0));
        for _ in 0..BROWSERS {
            tokio::spawn(browser(node.addr(), Arc::clone(&seen), Arc::clone(&ready)));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        while ready.load(Ordering::SeqCst) < BROWSERS as u64 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // Baseline: the broadcast API, 8 posters at once.
        // Whole rounds of the members, so the bridge's first round below
        // changes every status the baseline left.
        let api_events = MEMBERS * (burst / 5 / MEMBERS).max(1);
        let start = Instant::now();
        let posters: Vec<_> = (0..8u64)
            .map(|poster| {
                let addr = node.addr();
                tokio::spawn(async move {
                    for k in (poster..api_events).step_by(8) {
                        let body = json!({"server": SMALL_GUILD, "uid": (k % MEMBERS).to_string(), "status": STATUSES[((k / MEMBERS) % 3) as usize]});
                        let reply = admin(addr, "POST", "/api/broadcast/presence", TOKEN, Some(&body)).await;
                        assert_eq!(reply.status, 200, "{}", reply.text());
                    }
                })
            })
            .collect();
        for poster in posters {
            poster.await?;
        }
        let (api_rate, api_fraction) = delivered(&seen, api_events, start).await;

        // Throughput: as fast as the fake gateway can send.
        let before = presence_updates(&node).await;
        let start = Instant::now();
        for k in 0..burst {
            let uid = k % MEMBERS;
            // Past the baseline's statuses, so every event is news.
            let status = STATUSES[((k / MEMBERS + api_events / MEMBERS) % 3) as usize];
            gateway.dispatch(
                "PRESENCE_UPDATE",
                json!({"guild_id": SMALL_GUILD, "user": {"id": uid.to_string()}, "status": status}),
            );
        }
        let fired = start.elapsed();
        let mut taken_in = None;
        let give_up = Instant::now() + Duration::from_secs(300);
        while taken_in.is_none() && Instant::now() < give_up {
            if presence_updates(&node).await - before >= burst {
                taken_in = Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let taken_in = taken_in.unwrap_or_else(|| start.elapsed());
        let (bridge_rate, bridge_fraction) = delivered(&seen, burst, start).await;

        // Latency: a steady 50 events a second.
        let mut sent = Vec::with_capacity(steady);
        let mut ticks = tokio::time::interval(Duration::from_millis(20));
        for index in 0..steady {
            ticks.tick().await;
            sent.push(Instant::now());
            gateway.dispatch(
                "PRESENCE_UPDATE",
                json!({"guild_id": SMALL_GUILD, "user": {"id": (LATENCY_UIDS + index as u64).to_string()}, "status": "online"}),
            );
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let arrivals = seen.arrivals.lock().unwrap().clone();
        let mut every = Vec::new();
        let mut last_browser = Vec::new();
        let mut complete = 0;
        for (at, got) in sent.iter().zip(&arrivals) {
            every.extend(got.iter().map(|t| t.saturating_duration_since(*at)));
            if got.len() == BROWSERS {
                complete += 1;
                let latest = got.iter().max().copied().unwrap_or(*at);
                last_browser.push(latest.saturating_duration_since(*at));
            }
        }

        println!(
            "gateway: the bridge following a fake gateway, {BROWSERS} browsers joined (release binary; gateway, browsers and host share this machine's cores)"
        );
        println!(
            "  fired:              {burst} presence updates in {:.0} ms ({:.0}/s offered)",
            fired.as_secs_f64() * 1e3,
            burst as f64 / fired.as_secs_f64()
        );
        println!(
            "  bridge took in:     {:>9.0} events/s",
            burst as f64 / taken_in.as_secs_f64()
        );
        println!(
            "  into {BROWSERS} browsers: {bridge_rate:>9.0} events/s   ({bridge_fraction:.4} of {} frames delivered)",
            burst * BROWSERS as u64
        );
        println!(
            "  baseline, the broadcast API (8 posters): {api_rate:.0} events/s ({api_fraction:.4} delivered); bridge / API = {:.2}",
            bridge_rate / api_rate
        );
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "  event to browser at 50/s, every delivery:  p50 {:>7.2} ms   p99 {:>7.2} ms",
            ms(quantile(&mut every, 0.5)),
            ms(quantile(&mut every, 0.99))
        );
        println!(
            "  event to browser at 50/s, last browser:    p50 {:>7.2} ms   p99 {:>7.2} ms   ({complete} of {steady} events reached all)",
            ms(quantile(&mut last_browser, 0.5)),
            ms(quantile(&mut last_browser, 0.99))
        );
        Ok(())
    })
}
