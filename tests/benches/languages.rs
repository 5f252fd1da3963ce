//! The config provider in each language: component size, load time without
//! and with the compiled-code cache, time of the first call (a fresh
//! instance) and the median time of one `get-user-data` call on a reused
//! instance. Rust is the baseline the ratios are taken against.
//!
//! `D_BACK_BENCH_LANGUAGES=js,python` measures only those. Under a profiler
//! (`D_BACK_PLUGIN_PROFILER`, see the README) the calls run on a plugin
//! compiled in the process rather than mapped from the cache, so `perf`
//! names the guest's functions.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use d_back::runtime::{ConfigValue, PluginRuntime, PluginSource, PluginSpec};
use d_back_plugin_build::Language;
use d_back_tests::plugins;
use d_back_tests::timing::Summary;

const SNOWFLAKE: &str = "500000000000000001";
const CALLS: usize = 2_000;

fn spec(language: Language, wasm: PathBuf) -> PluginSpec {
    let users: Vec<String> = (0..50)
        .map(|i| {
            format!(
                r#"{{"uid": "{}", "username": "member {i}", "status": "online"}}"#,
                1000 + i
            )
        })
        .collect();
    let servers = format!(
        r#"[{{"snowflake": "{SNOWFLAKE}", "id": "town", "default": true, "users": [{}]}}]"#,
        users.join(",")
    );
    let mut spec = PluginSpec::new(
        format!("config-{}", language.name()),
        PluginSource::File(wasm),
    );
    spec.config
        .insert("servers".into(), ConfigValue::plain(servers));
    spec
}

struct Row {
    language: Language,
    size: u64,
    first_load: Duration,
    cached_load: Duration,
    first_call: Duration,
    calls: Summary,
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cache = d_back_tests::scratch::path("bench-languages");
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        let chosen = std::env::var("D_BACK_BENCH_LANGUAGES").ok();
        let profiling = std::env::var_os("D_BACK_PLUGIN_PROFILER").is_some();
        for language in Language::ALL {
            if chosen
                .as_deref()
                .is_some_and(|chosen| !chosen.split(',').any(|name| name == language.name()))
            {
                continue;
            }
            let wasm = plugins::config_provider(language);
            let size = std::fs::metadata(&wasm)?.len();
            let spec = spec(language, wasm);
            let _ = std::fs::remove_dir_all(&cache);

            // Each start gets a runtime of its own, as a new process would.
            let cold = PluginRuntime::with_compiled_cache(Some(cache.clone()))?;
            let started = Instant::now();
            drop(cold.load(&spec)?);
            let first_load = started.elapsed();

            let warm = PluginRuntime::with_compiled_cache(Some(cache.clone()))?;
            let started = Instant::now();
            let mut plugin = warm.load(&spec)?;
            let cached_load = started.elapsed();
            if profiling {
                plugin = PluginRuntime::new()?.load(&spec)?;
            }

            let started = Instant::now();
            assert_eq!(plugin.get_user_data(SNOWFLAKE).await?.len(), 50);
            let first_call = started.elapsed();

            let mut samples = Vec::with_capacity(CALLS);
            for _ in 0..CALLS {
                let started = Instant::now();
                let users = plugin.get_user_data(SNOWFLAKE).await?;
                samples.push(started.elapsed());
                assert_eq!(users.len(), 50);
            }
            rows.push(Row {
                language,
                size,
                first_load,
                cached_load,
                first_call,
                calls: Summary::of(&mut samples),
            });
        }
        anyhow::Ok(rows)
    })?;
    let _ = std::fs::remove_dir_all(&cache);

    println!("languages: the config provider, 50 members, {CALLS} get-user-data calls each");
    println!(
        "  {:<7} {:>12} {:>12} {:>12} {:>8} {:>11} {:>11} {:>11} {:>9}",
        "lang",
        "size (B)",
        "first load",
        "cached load",
        "speedup",
        "first call",
        "median",
        "p99",
        "vs Rust"
    );
    let Some(baseline) = rows
        .iter()
        .find(|row| row.language == Language::Rust)
        .or(rows.first())
        .map(|row| row.calls.median.as_secs_f64())
    else {
        return Ok(());
    };
    for row in &rows {
        println!(
            "  {:<7} {:>12} {:>9.1} ms {:>9.1} ms {:>7.0}x {:>8.2} ms {:>8.1} µs {:>8.1} µs {:>8.1}x",
            row.language.name(),
            row.size,
            ms(row.first_load),
            ms(row.cached_load),
            row.first_load.as_secs_f64() / row.cached_load.as_secs_f64(),
            ms(row.first_call),
            row.calls.median.as_secs_f64() * 1e6,
            row.calls.p99.as_secs_f64() * 1e6,
            row.calls.median.as_secs_f64() / baseline,
        );
    }
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
