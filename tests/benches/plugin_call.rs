//! Time of one `get-user-data` call on the mock plugin, on a reused
//! instance (what the host does) against a fresh instance per call (the
//! baseline), measured in the same run; then the plugin work of one join,
//! call by call, as a joining browser makes it (cache, breaker and last
//! good answer included, time-to-live 0).

use std::time::{Duration, Instant};

use d_back::runtime::{PluginRuntime, PluginSpec};
use d_back_tests::timing::Summary;

const DWORLD: &str = "232769614004748288";
const CALLS: usize = 20_000;
const FRESH_CALLS: usize = 2_000;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let plugins = PluginRuntime::new()?;
        let reused = plugins.load(&PluginSpec::mock())?;
        let mut fresh_spec = PluginSpec::mock();
        fresh_spec.idle_instances = 0;
        let fresh = plugins.load(&fresh_spec)?;

        let mut samples = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let start = Instant::now();
            let users = reused.get_user_data(DWORLD).await?;
            samples.push(start.elapsed());
            assert_eq!(users.len(), 4);
        }
        let mut fresh_samples = Vec::with_capacity(FRESH_CALLS);
        for _ in 0..FRESH_CALLS {
            let start = Instant::now();
            let users = fresh.get_user_data(DWORLD).await?;
            fresh_samples.push(start.elapsed());
            assert_eq!(users.len(), 4);
        }
        let Summary { median, p99 } = Summary::of(&mut samples);
        let Summary {
            median: fresh_median,
            p99: fresh_p99,
        } = Summary::of(&mut fresh_samples);
        println!("plugin_call get-user-data (mock, D-World, 4 users)");
        println!(
            "  reused instance:   median {:>8.1} µs   p99 {:>8.1} µs   ({CALLS} calls)",
            micros(median),
            micros(p99)
        );
        println!(
            "  fresh instance:    median {:>8.1} µs   p99 {:>8.1} µs   ({FRESH_CALLS} calls, baseline)",
            micros(fresh_median),
            micros(fresh_p99)
        );
        println!(
            "  reuse is {:.1}x faster than a fresh instance per call",
            fresh_median.as_secs_f64() / median.as_secs_f64()
        );

        // A join: the server list on connect and again for `connect`, the
        // members and the client id of the server joined.
        println!("plugin_call: one join's calls (mock, time-to-live 0)");
        let servers = time(|| async { reused.servers().await.entries().len() }).await;
        let users = time(|| async { reused.users(DWORLD).await.members().len() }).await;
        let client_id = time(|| async { reused.client_id(DWORLD).await.map_or(0, |id| id.len()) }).await;
        let raw = time(|| async { reused.get_client_id(DWORLD).await.map_or(0, |id| id.map_or(0, |id| id.len())) }).await;
        for (what, median) in [
            ("server list (x2 per join)", servers),
            ("member list", users),
            ("client id", client_id),
            ("client id, bare call", raw),
        ] {
            println!("  {what:<27} median {:>8.1} µs", micros(median));
        }
        println!(
            "  one join's plugin work:     {:>8.1} µs",
            micros(servers * 2 + users + client_id)
        );
        Ok(())
    })
}

/// The median time of `CALLS` runs of `call`.
async fn time<F, Fut>(call: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let start = Instant::now();
        std::hint::black_box(call().await);
        samples.push(start.elapsed());
    }
    Summary::of(&mut samples).median
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
