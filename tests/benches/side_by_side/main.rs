//! d-back, this host and the floor side by side, in one run, with one load
//! generator: server CPU per join, server CPU per delivered broadcast
//! message, resident memory per idle joined connection, and the last
//! browser's latency with many browsers joined.
//!
//! - **d-back**: the Python reference from PyPI, installed into a venv under
//!   the target directory, serving its own mock data (`dback_runner.py`).
//! - **host**: the release binary (`D_BACK_BIN`) with its mock plugin.
//! - **floor**: a deliberately minimal single-threaded server speaking the
//!   same frames, from the perf instrument next to the project
//!   (`D_BACK_PERF_DIR`, default `../shared/perf` beside the workspace);
//!   left out when it is not there.
//!
//! Each server runs pinned to CPU 0 and this generator to CPU 1 (when
//! `taskset` exists). CPU is summed over the server's threads from
//! `/proc/<pid>/task/*/schedstat` (nanoseconds). Compare ratios within
//! one run: absolute numbers move with the machine's other load.
//!
//! `D_BACK_BENCH_SCALE` (default 10000; 0 skips it) sets how many browsers
//! the latency figure joins; `D_BACK_BENCH_QUICK=1` shortens every phase.

mod load;
mod servers;

use std::time::Duration;

use servers::{Contender, Lab};

/// What one server measured.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    join_cpu_us: Option<f64>,
    msg_cpu_us: Option<f64>,
    kib_per_conn: Option<f64>,
    scale_p99_ms: Option<f64>,
}

struct Plan {
    joins: usize,
    fan_browsers: usize,
    fan_messages: usize,
    idle_browsers: usize,
    scale_browsers: usize,
}

impl Plan {
    fn from_env() -> Self {
        let quick = std::env::var("D_BACK_BENCH_QUICK").is_ok_and(|v| v == "1");
        let scale = std::env::var("D_BACK_BENCH_SCALE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if quick { 2_000 } else { 10_000 });
        Self {
            joins: if quick { 1_000 } else { 3_000 },
            fan_browsers: 1_000,
            fan_messages: if quick { 60 } else { 150 },
            idle_browsers: if quick { 1_000 } else { 3_000 },
            scale_browsers: scale,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let plan = Plan::from_env();
    servers::raise_fd_limit(plan.scale_browsers.max(plan.idle_browsers) as u64 * 2 + 256);
    servers::pin_self_to_cpu(1);
    let lab = Lab::new()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    let mut rows: Vec<(&'static str, Figures)> = Vec::new();
    for name in ["d-back", "host", "floor"] {
        let contender = match lab.start(name) {
            Ok(Some(contender)) => contender,
            Ok(None) => continue,
            Err(error) => {
                eprintln!("side_by_side: {name} left out: {error:#}");
                continue;
            }
        };
        eprintln!("side_by_side: measuring {name} (pid {})", contender.pid());
        let figures = runtime.block_on(measure(&contender, &plan));
        drop(contender);
        rows.push((name, figures));
    }
    print_table(&rows, &plan);
    Ok(())
}

async fn measure(server: &Contender, plan: &Plan) -> Figures {
    let mut figures = Figures::default();
    if let Err(error) = server.wait_until_up().await {
        eprintln!("side_by_side: {} did not come up: {error:#}", server.name());
        return figures;
    }
    let report = |what: &str, error: anyhow::Error| {
        eprintln!("side_by_side: {} {what}: {error:#}", server.name());
    };
    match load::joins(server, plan.joins).await {
        Ok(us) => figures.join_cpu_us = Some(us),
        Err(error) => report("joins", error),
    }
    // Before the fan-out: memory its browsers freed would be reused by
    // the idle ones and hide what they cost.
    match load::idle(server, plan.idle_browsers).await {
        Ok(kib) => figures.kib_per_conn = Some(kib),
        Err(error) => report("idle", error),
    }
    match load::fan_out(server, plan.fan_browsers, plan.fan_messages, 15.0).await {
        Ok(fan) => figures.msg_cpu_us = Some(fan.cpu_per_delivery_us),
        Err(error) => report("fan-out", error),
    }
    if plan.scale_browsers > 0 {
        let messages = 100;
        match load::fan_out(server, plan.scale_browsers, messages, 10.0).await {
            Ok(fan) => figures.scale_p99_ms = Some(fan.last_browser_p99_ms),
            Err(error) => report("scale", error),
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    figures
}

/// Reads one figure.
type Pick = fn(&Figures) -> Option<f64>;

fn print_table(rows: &[(&'static str, Figures)], plan: &Plan) {
    let get = |name: &str| rows.iter().find(|(n, _)| *n == name).map(|(_, f)| *f);
    let (dback, host, floor) = (get("d-back"), get("host"), get("floor"));
    println!();
    println!(
        "side by side: {} joins (50 at a time), {} browsers x {} broadcasts at 15/s, {} idle browsers, {} browsers x 100 broadcasts at 10/s",
        plan.joins, plan.fan_browsers, plan.fan_messages, plan.idle_browsers, plan.scale_browsers
    );
    println!(
        "  {:<34} {:>10} {:>10} {:>10} {:>12} {:>11}",
        "figure", "d-back", "host", "floor", "d-back/host", "host/floor"
    );
    let figure_rows: [(&str, Pick); 4] = [
        ("server CPU per join (µs)", |f| f.join_cpu_us),
        ("server CPU per delivered msg (µs)", |f| f.msg_cpu_us),
        ("RSS per idle joined conn (KiB)", |f| f.kib_per_conn),
        ("last-browser p99 at scale (ms)", |f| f.scale_p99_ms),
    ];
    for (label, pick) in figure_rows {
        let value = |f: Option<Figures>| f.as_ref().and_then(pick);
        let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
            _ => "-".to_string(),
        };
        println!(
            "  {:<34} {:>10} {:>10} {:>10} {:>12} {:>11}",
            label,
            cell(value(dback)),
            cell(value(host)),
            cell(value(floor)),
            ratio(value(dback), value(host)),
            ratio(value(host), value(floor)),
        );
    }
    if floor.is_none() {
        println!(
            "  (no floor: the perf instrument was not found; set D_BACK_PERF_DIR to include it)"
        );
    }
}
