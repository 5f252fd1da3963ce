//! Time of one `get-user-data` call on the mock plugin, on a reused
//! instance (what the host does) against a fresh instance per call (the
//! baseline), measured in the same run.

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
        Ok(())
    })
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
