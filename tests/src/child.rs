//! The real `d-back` binary in a child process, for benchmarks that measure
//! the server alone and for tests that measure its memory and its log.
//! `D_BACK_BIN` names it (`cargo xtask bench` and `cargo xtask test` set
//! it); the default is `target/release/d-back` for benchmarks and
//! `target/debug/d-back` for tests.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::http;

/// A running server process; killed when dropped.
pub struct ChildServer {
    child: Child,
    addr: SocketAddr,
    config: PathBuf,
    /// Where its log goes, when kept.
    log: Option<PathBuf>,
}

impl ChildServer {
    /// Starts the release binary on a free loopback port with `config`
    /// (TOML) as its config file, logging warnings to stderr.
    pub fn start(config: &str) -> anyhow::Result<Self> {
        let binary = binary_or("release")?;
        Self::launch(&binary, config, "warn", false, &[])
    }

    /// Starts the binary the tests use (the debug build unless `D_BACK_BIN`
    /// says otherwise) with `config`, its log at `rust_log` kept in a file.
    pub fn start_logged(config: &str, rust_log: &str) -> anyhow::Result<Self> {
        Self::start_logged_with(config, rust_log, &[])
    }

    /// Like [`ChildServer::start_logged`], with more flags for the binary.
    pub fn start_logged_with(config: &str, rust_log: &str, flags: &[&str]) -> anyhow::Result<Self> {
        let binary = binary_or("debug")?;
        Self::launch(&binary, config, rust_log, true, flags)
    }

    /// Like [`ChildServer::start_logged_with`], with environment variables
    /// set for the binary.
    pub fn start_logged_with_env(
        config: &str,
        rust_log: &str,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let binary = binary_or("debug")?;
        Self::launch_with_env(&binary, config, rust_log, true, flags, env)
    }

    /// Like [`ChildServer::start`], with more flags for the binary.
    pub fn start_with(config: &str, flags: &[&str]) -> anyhow::Result<Self> {
        let binary = binary_or("release")?;
        Self::launch(&binary, config, "warn", false, flags)
    }

    /// The server's config file.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Writes `config` over the server's config file (for reloads).
    pub fn rewrite_config(&self, config: &str) -> std::io::Result<()> {
        std::fs::write(&self.config, config)
    }

    fn launch(
        binary: &Path,
        config: &str,
        rust_log: &str,
        keep_log: bool,
        flags: &[&str],
    ) -> anyhow::Result<Self> {
        Self::launch_with_env(binary, config, rust_log, keep_log, flags, &[])
    }

    fn launch_with_env(
        binary: &Path,
        config: &str,
        rust_log: &str,
        keep_log: bool,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let stem = crate::scratch::path(&format!("child-{port}"));
        let path = stem.with_extension("toml");
        std::fs::write(&path, config)?;
        let mut command = Command::new(binary);
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--config")
            .arg(&path)
            .args(flags)
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null());
        let log = if keep_log {
            let log = stem.with_extension("log");
            let file = std::fs::File::create(&log)?;
            command.stdout(file.try_clone()?).stderr(file);
            Some(log)
        } else {
            None
        };
        let child = command.spawn()?;
        Ok(Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            config: path,
            log,
        })
    }

    /// Everything the server has logged so far (empty when not kept).
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// Bytes logged so far.
    pub fn log_bytes(&self) -> u64 {
        self.log
            .as_ref()
            .and_then(|path| std::fs::metadata(path).ok())
            .map_or(0, |meta| meta.len())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits (up to `within`) until `/api/version` answers: for a server
    /// that compiles a big plugin before it answers anything.
    pub async fn wait_until_answering(&self, within: Duration) -> anyhow::Result<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            let attempt = async {
                let mut stream = tokio::net::TcpStream::connect(self.addr).await?;
                stream
                    .write_all(b"GET /api/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .await?;
                let mut head = [0u8; 12];
                stream.read_exact(&mut head).await?;
                Ok::<_, std::io::Error>(head.starts_with(b"HTTP/1.1 200"))
            };
            if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(1), attempt).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("the server did not answer within {within:?}")
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
        if let Some(log) = &self.log {
            let _ = std::fs::remove_file(log);
        }
    }
}

/// The binary the tests run (`D_BACK_BIN`, or the debug build).
pub fn test_binary() -> anyhow::Result<PathBuf> {
    binary_or("debug")
}

/// `D_BACK_BIN`, or the host binary of `profile` in the target directory.
fn binary_or(profile: &str) -> anyhow::Result<PathBuf> {
    let binary = std::env::var_os("D_BACK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| crate::manifest_dir().join("../target"))
                .join(profile)
                .join("d-back")
        });
    anyhow::ensure!(
        binary.exists(),
        "{} does not exist; run `cargo xtask test` (or `cargo xtask bench`), which builds it",
        binary.display()
    );
    Ok(binary)
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
