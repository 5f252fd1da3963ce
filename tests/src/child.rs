//! The real `d-back` binary in a child process, for benchmarks that measure
//! the server alone. `D_BACK_BIN` names it (`cargo xtask bench` sets it);
//! the default is `target/release/d-back`.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::http;

/// A running server process; killed when dropped.
pub struct ChildServer {
    child: Child,
    addr: SocketAddr,
    config: PathBuf,
}

impl ChildServer {
    /// Starts the binary on a free loopback port with `config` (TOML) as
    /// its config file.
    pub fn start(config: &str) -> anyhow::Result<Self> {
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
        let path =
            std::env::temp_dir().join(format!("d-back-child-{}-{port}.toml", std::process::id()));
        std::fs::write(&path, config)?;
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?;
        Ok(Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            config: path,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until `/api/version` answers.
    pub async fn wait_until_up(&self) -> anyhow::Result<()> {
        for _ in 0..400 {
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                let reply = http(self.addr, "GET", "/api/version", &[], b"").await;
                anyhow::ensure!(reply.status == 200, "server answered {}", reply.status);
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("the server did not start")
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    proc_status_field(pid, "VmRSS:")
}

/// Open file descriptors of process `pid`.
pub fn open_fds(pid: u32) -> anyhow::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

fn proc_status_field(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no {field} for {pid}"))
}
