//! Live operation, against the real binary (`D_BACK_BIN`, default the
//! release build):
//!
//! - swap time of the Rust and JavaScript config providers: a reload that
//!   compiles (compiled-code cache emptied first) and one that maps the
//!   cache, each as the host reports it (prepared, swapped) and as the
//!   operator waits for it (the HTTP request);
//! - the longest join during swaps against the calm p99, with joins one
//!   after another the whole time;
//! - the authors' loop: with `--watch`, from a changed config file to a
//!   browser's join showing the change, per language's starter.

use std::time::{Duration, Instant};

use d_back_plugin_build::Language;
use d_back_tests::Client;
use d_back_tests::child::ChildServer;
use d_back_tests::http::{admin, http_within};
use d_back_tests::plugins;
use serde_json::{Value, json};

const TOKEN: &str = "live-bench-token";
const SNOWFLAKE: &str = "500000000000000001";

fn config_provider(
    language: Language,
    cache: &std::path::Path,
    member: &str,
    watch_extra: &str,
) -> String {
    let servers = json!([{"snowflake": SNOWFLAKE, "id": "town", "default": true,
        "users": [{"uid": "1", "username": member}]}]);
    format!(
        "admin_token = \"{TOKEN}\"\ncompiled_cache_dir = \"{}\"\n{watch_extra}\n[plugin]\npath = \"{}\"\ndeadline_ms = 10000\nfuel = 20000000000\n\n[plugin.config]\nservers = '{servers}'\n",
        cache.display(),
        plugins::config_provider(language).display(),
    )
}

/// The usernames a join gets, and how long the join took.
async fn join(node: &ChildServer) -> (Vec<String>, Duration) {
    let started = Instant::now();
    let mut client = Client::connect(node.addr()).await;
    client.recv().await;
    let joined = client.join(Value::Null).await;
    let took = started.elapsed();
    let names = joined["data"]["users"]
        .as_object()
        .map(|users| {
            users
                .values()
                .filter_map(|u| u["username"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    (names, took)
}

fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples
        .get(samples.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

async fn swap_times(language: Language) -> anyhow::Result<()> {
    let cache = d_back_tests::scratch::path(&format!("live-bench-{}", language.name()));
    let node = ChildServer::start(&config_provider(language, &cache, "first", ""))?;
    node.wait_until_answering(Duration::from_secs(300)).await?;
    for (round, cold) in [(1, true), (2, false)] {
        if cold {
            let _ = std::fs::remove_dir_all(&cache);
        }
        node.rewrite_config(&config_provider(
            language,
            &cache,
            &format!("round {round}"),
            "",
        ))?;
        let started = Instant::now();
        let bearer = format!("Bearer {TOKEN}");
        let reply = http_within(
            Duration::from_secs(600),
            node.addr(),
            "POST",
            "/api/plugin/reload",
            &[("Authorization", &bearer)],
            b"",
        )
        .await;
        let waited = started.elapsed();
        anyhow::ensure!(reply.status == 200, "reload: {}", reply.text());
        let answer = reply.json();
        println!(
            "  {:<6} {:<28} prepared {:>8.1} ms, swapped {:>6} µs; the request took {:>8.1} ms",
            language.name(),
            if cold {
                "compiled (cache emptied):"
            } else {
                "from the compiled cache:"
            },
            answer["prepared_ms"].as_f64().unwrap_or(-1.0),
            answer["swapped_us"],
            ms(waited)
        );
    }
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}

/// Joins one after another for the whole run; swaps every second in the
/// middle of it. The calm p99 is of joins with no reload running.
async fn joins_during_swaps() -> anyhow::Result<()> {
    let cache = d_back_tests::scratch::path("live-joins");
    let node = ChildServer::start(&config_provider(Language::Rust, &cache, "a", ""))?;
    node.wait_until_answering(Duration::from_secs(300)).await?;
    let mut calm = Vec::new();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        calm.push(join(&node).await.1);
    }
    let swapping = {
        let (addr, cache) = (node.addr(), cache.clone());
        let config = node.config_path().to_path_buf();
        tokio::spawn(async move {
            let mut windows = Vec::new();
            for round in 0..10 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let text = config_provider(Language::Rust, &cache, &format!("m{round}"), "");
                std::fs::write(&config, text).ok();
                let started = Instant::now();
                let reply = admin(addr, "POST", "/api/plugin/reload", TOKEN, None).await;
                windows.push((started, Instant::now(), reply.status));
            }
            windows
        })
    };
    let mut during = Vec::new();
    while !swapping.is_finished() {
        let started = Instant::now();
        let took = join(&node).await.1;
        during.push((started, took));
    }
    let windows = swapping.await?;
    anyhow::ensure!(windows.iter().all(|w| w.2 == 200), "a reload failed");
    let in_swap: Vec<Duration> = during
        .iter()
        .filter(|(started, took)| {
            windows
                .iter()
                .any(|(from, to, _)| *started <= *to && *started + *took >= *from)
        })
        .map(|(_, took)| *took)
        .collect();
    let longest = in_swap.iter().max().copied().unwrap_or_default();
    let calm_p99 = p99(&mut calm);
    println!(
        "  joins: calm p99 {:.2} ms ({} joins); longest join overlapping a swap {:.2} ms ({} joins overlapped 10 swaps); {:.1}x",
        ms(calm_p99),
        calm.len(),
        ms(longest),
        in_swap.len(),
        longest.as_secs_f64() / calm_p99.as_secs_f64().max(1e-9)
    );
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}

/// With `--watch`: the config of the `language` starter edited, then joins
/// until one shows the edit.
async fn authors_loop(language: Language) -> anyhow::Result<()> {
    let wasm = plugins::example(language);
    let config = |members: &str| {
        format!(
            "[plugin]\npath = \"{}\"\n\n[plugin.config]\nmembers = \"{members}\"\n",
            wasm.display()
        )
    };
    let node = ChildServer::start_with(&config("alice"), &["--watch"])?;
    node.wait_until_answering(Duration::from_secs(300)).await?;
    anyhow::ensure!(join(&node).await.0 == ["alice"], "the starter serves alice");
    // Past the watcher's first look.
    tokio::time::sleep(Duration::from_millis(600)).await;
    node.rewrite_config(&config("bob"))?;
    let edited = Instant::now();
    loop {
        if join(&node).await.0 == ["bob"] {
            break;
        }
        anyhow::ensure!(
            edited.elapsed() < Duration::from_secs(60),
            "no reload within a minute"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "  {:<6} edit to browser: {:>8.1} ms (settling 300 ms and polling 250 ms included)",
        language.name(),
        ms(edited.elapsed())
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!("live: plugin swaps on the real binary");
        for language in [Language::Rust, Language::JavaScript] {
            swap_times(language).await?;
        }
        joins_during_swaps().await?;
        for language in Language::ALL {
            authors_loop(language).await?;
        }
        Ok(())
    })
}
