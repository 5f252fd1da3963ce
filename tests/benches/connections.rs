//! The server's resident memory idle and with 1,000 joined WebSocket
//! connections. Runs the real `d-back` binary in a child process
//! (`D_BACK_BIN`, default `target/release/d-back`; `cargo xtask bench` builds
//! it) so the numbers are the server's alone.

use std::time::Duration;

use d_back_tests::Client;
use d_back_tests::child::{ChildServer, rss_kib};
use serde_json::Value;

const CONNECTIONS: usize = 1_000;

fn main() -> anyhow::Result<()> {
    let server = ChildServer::start(&format!(
        "[clients]\nmax_connections_per_ip = {}\n",
        CONNECTIONS * 2
    ))?;
    let (pid, addr) = (server.pid(), server.addr());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        server.wait_until_up().await?;
        // One join first, so the plugin's first instance exists in both readings.
        let mut first = Client::connect(addr).await;
        first.recv().await;
        first.join(Value::Null).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = rss_kib(pid)?;

        let mut clients = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let mut client = Client::connect(addr).await;
            client.recv().await;
            let joined = client.join(Value::Null).await;
            anyhow::ensure!(joined["type"] == "server-join", "join failed: {joined}");
            clients.push(client);
        }
        // Keep reading what the mock broadcasts, like browsers do.
        let drains: Vec<_> = clients
            .into_iter()
            .map(|mut client| {
                tokio::spawn(async move {
                    loop {
                        if let d_back_tests::client::Next::Closed(_) = client.next().await {
                            break;
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let loaded = rss_kib(pid)?;
        println!("connections: server RSS (real d-back binary, mock plugin)");
        println!("  idle:                       {:>8} KiB", idle);
        println!("  {CONNECTIONS} joined connections:   {:>8} KiB", loaded);
        println!(
            "  per connection:             {:>8.1} KiB   ({:.2}x the idle footprint in all)",
            (loaded.saturating_sub(idle)) as f64 / CONNECTIONS as f64,
            loaded as f64 / idle as f64
        );
        for drain in drains {
            drain.abort();
        }
        Ok(())
    })
}
