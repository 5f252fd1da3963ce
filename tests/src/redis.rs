//! A real `redis-server` (Debian's package; `cargo xtask test` installs
//! it) per test, on a free loopback port with a folder of its own, nothing
//! saved to disk. Killed when dropped; it can be stopped and started again
//! on the same port mid-test, to see what the nodes do without it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one; fails when `redis-server` is not installed.
    pub fn start() -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = crate::scratch::path(&format!("redis-{port}"));
        std::fs::create_dir_all(&dir)?;
        let mut server = Self {
            child: None,
            port,
            dir,
        };
        server.restart()?;
        Ok(server)
    }

    /// `redis://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Kills the server; its port stays reserved for [`RedisServer::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on its port, empty, and waits until it
    /// accepts connections.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (Debian package redis-server; `cargo xtask test` installs it)")?;
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(self.addr()).is_err() {
            if Instant::now() > until {
                bail!("redis-server did not listen on {} within 10 s", self.port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

/// Counters from `INFO`: calls per command, and bytes in and out.
#[derive(Debug, Clone, Default)]
pub struct RedisCounters {
    /// Calls per command name (lower case), scripts' own calls included.
    pub calls: std::collections::BTreeMap<String, u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl RedisCounters {
    pub fn calls_of(&self, command: &str) -> u64 {
        self.calls.get(command).copied().unwrap_or(0)
    }

    /// Calls of every command.
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
}

impl RedisServer {
    /// `INFO commandstats` and `INFO stats`, read over a plain socket.
    pub fn counters(&self) -> anyhow::Result<RedisCounters> {
        let mut counters = RedisCounters::default();
        for section in ["commandstats", "stats"] {
            for line in self.info(section)?.lines() {
                if let Some((name, rest)) = line
                    .strip_prefix("cmdstat_")
                    .and_then(|line| line.split_once(':'))
                {
                    let calls = rest
                        .split(',')
                        .find_map(|field| field.strip_prefix("calls="))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    counters.calls.insert(name.to_string(), calls);
                } else if let Some(n) = line.strip_prefix("total_net_input_bytes:") {
                    counters.bytes_in = n.trim().parse().unwrap_or(0);
                } else if let Some(n) = line.strip_prefix("total_net_output_bytes:") {
                    counters.bytes_out = n.trim().parse().unwrap_or(0);
                }
            }
        }
        Ok(counters)
    }

    fn info(&self, section: &str) -> anyhow::Result<String> {
        use std::io::{BufRead, BufReader, Read, Write};
        let mut stream = TcpStream::connect(self.addr())?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "*2\r\n$4\r\nINFO\r\n${}\r\n{section}\r\n",
            section.len()
        )?;
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        reader.read_line(&mut head)?;
        let length: usize = head
            .trim()
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("INFO answered {head:?}"))?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
