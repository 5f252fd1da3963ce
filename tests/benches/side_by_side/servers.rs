//! The three servers: where they come from, how they start, how each is
//! asked to broadcast, and how much CPU and memory each has used.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// The token the host's broadcast API is given.
const ADMIN_TOKEN: &str = "side-by-side-bench";

/// Where the bench keeps what it installs and builds.
pub struct Lab {
    dir: PathBuf,
    workspace: PathBuf,
}

/// One running server, killed when dropped.
pub struct Contender {
    name: &'static str,
    child: Child,
    ws: SocketAddr,
    trigger: Trigger,
}

/// How a server is made to broadcast one message.
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    /// The host's `POST /api/broadcast/message`, with the admin token.
    Host(SocketAddr),
    /// `POST /broadcast` with d-back's `broadcast_message` arguments.
    Plain(SocketAddr),
}

impl Lab {
    pub fn new() -> anyhow::Result<Self> {
        let workspace = d_back_tests::manifest_dir()
            .parent()
            .context("tests/ lives in the workspace")?
            .to_path_buf();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"));
        let dir = target.join("side-by-side");
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir, workspace })
    }

    /// Starts `name`; `None` when it is optional and absent (the floor).
    pub fn start(&self, name: &'static str) -> anyhow::Result<Option<Contender>> {
        let ws_port = free_port()?;
        let ws = SocketAddr::from(([127, 0, 0, 1], ws_port));
        let (command, trigger) = match name {
            "d-back" => {
                let python = self.dback_python()?;
                let trigger_port = free_port()?;
                let mut command = pinned(&python);
                command
                    .arg(d_back_tests::manifest_dir().join("benches/side_by_side/dback_runner.py"))
                    .args([ws_port.to_string(), trigger_port.to_string()]);
                (
                    command,
                    Trigger::Plain(SocketAddr::from(([127, 0, 0, 1], trigger_port))),
                )
            }
            "host" => {
                let binary = self.host_binary()?;
                let config = self.dir.join("host.toml");
                // All load comes from one address: the per-address and
                // frame-rate caps (there for a public server) are lifted.
                std::fs::write(
                    &config,
                    "[clients]\nmax_connections = 30000\nmax_connections_per_ip = 30000\n\
                     frames_per_second = 1000.0\nframe_burst = 1000\n",
                )?;
                let mut command = pinned(&binary);
                command
                    .args([
                        "--host",
                        "127.0.0.1",
                        "--port",
                        &ws_port.to_string(),
                        "--config",
                    ])
                    .arg(&config)
                    .env("D_BACK_ADMIN_TOKEN", ADMIN_TOKEN)
                    .env("RUST_LOG", "warn");
                (command, Trigger::Host(ws))
            }
            "floor" => {
                let Some(binary) = self.floor_binary()? else {
                    return Ok(None);
                };
                let mut command = pinned(&binary);
                command.args(["--port", &ws_port.to_string(), "--host", "127.0.0.1"]);
                (command, Trigger::Plain(ws))
            }
            other => bail!("unknown server {other}"),
        };
        let mut command = command;
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Some(Contender {
            name,
            child,
            ws,
            trigger,
        }))
    }

    /// d-back from PyPI in a venv of its own, installed on first use.
    fn dback_python(&self) -> anyhow::Result<PathBuf> {
        let venv = self.dir.join("dback-venv");
        let python = venv.join("bin/python");
        if python.exists() {
            return Ok(python);
        }
        eprintln!(
            "side_by_side: installing d-back from PyPI into {}",
            venv.display()
        );
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", "d_back"]))?;
        Ok(python)
    }

    fn host_binary(&self) -> anyhow::Result<PathBuf> {
        let binary = std::env::var_os("D_BACK_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                self.dir
                    .parent()
                    .unwrap_or(&self.dir)
                    .join("release/d-back")
            });
        anyhow::ensure!(
            binary.exists(),
            "{} does not exist; `cargo xtask bench` builds it",
            binary.display()
        );
        Ok(binary)
    }

    /// The floor server, built from the perf instrument when it is there.
    fn floor_binary(&self) -> anyhow::Result<Option<PathBuf>> {
        let perf = std::env::var_os("D_BACK_PERF_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.workspace.join("../shared/perf"));
        let manifest = perf.join("wsbench/Cargo.toml");
        if !manifest.exists() {
            eprintln!(
                "side_by_side: no perf instrument at {} (set D_BACK_PERF_DIR); measuring without the floor",
                perf.display()
            );
            return Ok(None);
        }
        let target = self.dir.join("floor-target");
        run(
            Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .args([
                    "build",
                    "--quiet",
                    "--release",
                    "--bin",
                    "floor",
                    "--manifest-path",
                ])
                .arg(&manifest)
                .env("CARGO_TARGET_DIR", &target),
        )?;
        Ok(Some(target.join("release/floor")))
    }
}

impl Contender {
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn ws(&self) -> SocketAddr {
        self.ws
    }

    /// Waits until the server answers a WebSocket with its server list.
    pub async fn wait_until_up(&self) -> anyhow::Result<()> {
        for _ in 0..600 {
            if let Ok(Ok(_)) = tokio::time::timeout(
                Duration::from_secs(2),
                tokio_tungstenite::connect_async(format!("ws://{}/", self.ws)),
            )
            .await
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("no WebSocket answer within a minute")
    }

    /// How to make this server broadcast.
    pub fn trigger(&self) -> Trigger {
        self.trigger
    }

    /// CPU time the server has used so far, all threads.
    pub fn cpu(&self) -> Duration {
        cpu_of(self.pid())
    }

    /// Resident memory, in KiB.
    pub fn rss_kib(&self) -> f64 {
        d_back_tests::child::rss_kib(self.pid()).unwrap_or(0) as f64
    }
}

impl Trigger {
    /// Makes the server broadcast `message` to `server`'s browsers.
    pub async fn broadcast(self, server: &str, message: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({
            "server": server,
            "uid": "123456789012345001",
            "message": message,
            "channel": "527964146659229701",
        })
        .to_string();
        let (addr, path, auth) = match self {
            Trigger::Host(addr) => (addr, "/api/broadcast/message", Some(ADMIN_TOKEN)),
            Trigger::Plain(addr) => (addr, "/broadcast", None),
        };
        let bearer = auth.map(|token| format!("Bearer {token}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(bearer) = &bearer {
            headers.push(("Authorization", bearer.as_str()));
        }
        let reply = d_back_tests::http(addr, "POST", path, &headers, body.as_bytes()).await;
        anyhow::ensure!(reply.status == 200, "broadcast answered {}", reply.status);
        Ok(())
    }
}

impl Drop for Contender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Nanoseconds on CPU, summed over every thread of `pid`.
fn cpu_of(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// `program` under `taskset -c 0` when taskset exists.
fn pinned(program: &Path) -> Command {
    if has_taskset() {
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Keeps the generator off the servers' CPU.
pub fn pin_self_to_cpu(cpu: usize) {
    if has_taskset() {
        let _ = Command::new("taskset")
            .args(["-cp", &cpu.to_string(), &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
    }
}

/// Room for this many sockets in this process and the servers it starts.
pub fn raise_fd_limit(wanted: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    anyhow::ensure!(status.success(), "{command:?} failed: {status}");
    Ok(())
}
