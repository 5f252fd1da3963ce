//! The real server on 127.0.0.1, port 0.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use d_back::limits::ConnectionLimiter;
use d_back::runtime::{ConfigValue, PluginSource, PluginSpec};
use d_back::{Broadcaster, Server, Settings};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::client::Client;

/// A running server; stops when [`TestServer::stop`] is called or dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub broadcaster: Broadcaster,
    /// Reports the open WebSocket connections.
    pub connections: ConnectionLimiter,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// Mock plugin timers that never fire during a test.
pub fn quiet_mock() -> Settings {
    let mut settings = Settings::new();
    settings.plugin.config = config(&[
        ("presence_interval_ms", "3600000"),
        ("message_interval_ms", "3600000"),
    ]);
    settings
}

/// Settings that run the plugin at `wasm`, named `name` in logs.
pub fn with_plugin(name: &str, wasm: &Path, values: &[(&str, &str)]) -> Settings {
    let mut settings = Settings::new();
    let mut spec = PluginSpec::new(name, PluginSource::File(wasm.to_path_buf()));
    spec.config = config(values);
    settings.plugin = spec;
    settings
}

pub fn config(values: &[(&str, &str)]) -> BTreeMap<String, ConfigValue> {
    values
        .iter()
        .map(|(k, v)| (k.to_string(), ConfigValue::plain(*v)))
        .collect()
}

impl TestServer {
    /// Starts the server. Compiled plugins are kept in a cache of the
    /// tests' own, shared by every test on this machine, so running the
    /// tests leaves nothing in the user's cache folder and a large component
    /// is compiled once, not once per test.
    pub async fn start(mut settings: Settings) -> Self {
        crate::logs::install();
        settings.compiled_cache_dir = Some(std::env::temp_dir().join("d-back-tests/compiled"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let server = Server::with_listener(listener, settings)
            .await
            .expect("server starts");
        let addr = server.local_addr().expect("local address");
        let broadcaster = server.broadcaster();
        let connections = server.connections();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.run(shutdown.clone()));
        Self {
            addr,
            broadcaster,
            connections,
            shutdown,
            task: Some(task),
        }
    }

    /// A WebSocket client that has read its `server-list`.
    pub async fn client(&self) -> (Client, serde_json::Value) {
        let mut client = Client::connect(self.addr).await;
        let list = client.recv().await;
        assert_eq!(list["type"], "server-list", "first frame: {list}");
        (client, list)
    }

    /// Proves the server still serves: a new client joins the default server.
    pub async fn assert_serves_joins(&self) {
        let (mut client, _) = self.client().await;
        let joined = client.join(serde_json::Value::Null).await;
        assert_eq!(joined["type"], "server-join", "{joined}");
    }

    /// Proves the server still answers plain HTTP: `/api/version` is 200.
    pub async fn assert_answers_http(&self) {
        let reply = crate::http(self.addr, "GET", "/api/version", &[], b"").await;
        assert_eq!(reply.status, 200);
    }

    /// Waits (up to 10 s) until exactly `n` WebSocket connections are open.
    pub async fn wait_for_open(&self, n: usize) {
        for _ in 0..200 {
            if self.connections.open() == n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{} connections open, expected {n}", self.connections.open());
    }

    /// Cancels and waits for the server to finish its shutdown.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
