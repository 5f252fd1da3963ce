//! Soak: thousands of connect / join / leave cycles against the real binary,
//! reporting the server's memory and open files before and after. Not part
//! of CI; run it with `cargo xtask soak [CYCLES]`.

use std::time::{Duration, Instant};

use d_back_tests::Client;
use d_back_tests::child::{ChildServer, open_fds, rss_kib};
use futures_util::future::join_all;
use serde_json::{Value, json};

const PARALLEL: usize = 50;

fn main() -> anyhow::Result<()> {
    let cycles: usize = std::env::var("D_BACK_SOAK_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    // One address makes every connection: lift the per-address caps.
    let server = ChildServer::start(
        "[clients]\nmax_connections_per_ip = 1000\nframes_per_second = 1000.0\nframe_burst = 1000\n",
    )?;
    let (pid, addr) = (server.pid(), server.addr());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        server.wait_until_up().await?;
        // Warm up: the first join creates plugin instances.
        cycle(addr, 0).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rss_before, fds_before) = (rss_kib(pid)?, open_fds(pid)?);

        let started = Instant::now();
        for batch in (0..cycles).collect::<Vec<_>>().chunks(PARALLEL) {
            join_all(batch.iter().map(|n| cycle(addr, *n))).await;
        }
        let elapsed = started.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (rss_after, fds_after) = (rss_kib(pid)?, open_fds(pid)?);

        println!(
            "soak: {cycles} connect/join/leave cycles, {PARALLEL} at a time, in {elapsed:.1?}"
        );
        println!("  {:.0} cycles/s", cycles as f64 / elapsed.as_secs_f64());
        println!("  server RSS before:  {rss_before:>8} KiB   open files: {fds_before}");
        println!("  server RSS after:   {rss_after:>8} KiB   open files: {fds_after}");
        println!(
            "  RSS after / before: {:.2}x",
            rss_after as f64 / rss_before as f64
        );
        anyhow::ensure!(fds_after <= fds_before + 2, "file descriptors leaked");
        Ok(())
    })
}

/// One browser visit: connect, read the list, join, maybe read an event, leave.
async fn cycle(addr: std::net::SocketAddr, n: usize) {
    let servers = [
        Value::Null,
        json!("docs"),
        json!("repos"),
        json!("dworld"),
        json!("nope"),
    ];
    let mut client = Client::connect(addr).await;
    client.recv().await;
    let answer = client.join(servers[n % servers.len()].clone()).await;
    assert!(
        answer["type"] == "server-join" || answer["type"] == "error",
        "{answer}"
    );
    if n.is_multiple_of(7) {
        // Some leave without a goodbye.
        drop(client);
    } else {
        client.close().await;
    }
}
