//! The server's resident memory idle and with 1,000 joined WebSocket
//! connections. Runs the real `d-back` binary in a child process
//! (`D_BACK_BIN`, default `target/release/d-back`; `cargo xtask bench` builds
//! it) so the numbers are the server's alone.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use d_back_tests::{Client, http};
use serde_json::Value;

const CONNECTIONS: usize = 1_000;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> anyhow::Result<()> {
    let binary = std::env::var_os("D_BACK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/d-back")
        });
    anyhow::ensure!(
        binary.exists(),
        "{} does not exist; run `cargo xtask bench`",
        binary.display()
    );
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    // Every bench client comes from 127.0.0.1, past the default per-IP cap.
    let config = std::env::temp_dir().join(format!("d-back-bench-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        format!("[clients]\nmax_connections_per_ip = {}\n", CONNECTIONS * 2),
    )?;
    let child = Command::new(&binary)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let server = Killed(child);
    let pid = server.0.id();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        wait_until_up(addr).await?;
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

async fn wait_until_up(addr: SocketAddr) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            let reply = http(addr, "GET", "/api/version", &[], b"").await;
            anyhow::ensure!(reply.status == 200, "server answered {}", reply.status);
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the server did not start")
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for {pid}"))
}
