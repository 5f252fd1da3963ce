//! What a new user tripped over, each answered with a message that says
//! what to do: components built against another WIT, core modules, the
//! sandbox's refusals, answers of the wrong shape, and the log itself.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use d_back::Settings;
use d_back::runtime::{PluginSource, PluginSpec};
use d_back_tests::child::{ChildServer, test_binary};
use d_back_tests::server::with_plugin;
use d_back_tests::{TestServer, logs, plugins};
use serde_json::{Value, json};

/// A component made from `wit` (its `provider` world), with a module that
/// does nothing: enough to see what the host says of its imports.
fn component_of(wit: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve.push_str("fixture.wit", wit).unwrap();
    let world = resolve.select_world(&[package], Some("provider")).unwrap();
    let mut module = wit_component::dummy_module(
        &resolve,
        world,
        wit_parser::ManglingAndAbi::Legacy(wit_parser::LiftLowerAbi::Sync),
    );
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

fn write_fixture(name: &str, bytes: &[u8]) -> PathBuf {
    let path = d_back_tests::scratch::path(&format!("{name}.wasm"));
    std::fs::write(&path, bytes).unwrap();
    path
}

async fn start_error(name: &str, bytes: &[u8]) -> String {
    let path = write_fixture(name, bytes);
    let mut settings = Settings::new();
    settings.plugin = PluginSpec::new(name, PluginSource::File(path));
    settings.compiled_cache_dir = None;
    match d_back::Server::bind(Settings {
        port: 0,
        ..settings
    })
    .await
    {
        Ok(_) => panic!("{name} was loaded"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn a_plugin_built_against_another_version_is_told_which_the_host_provides() {
    let old = r#"package d-back:plugin@0.0.9;
interface host { log: func(message: string); }
world provider { import host; }"#;
    let error = start_error("old-wit", &component_of(old)).await;
    assert!(
        error.contains("built against d-back:plugin@0.0.9")
            && error.contains("this host provides d-back:plugin@0.1.0"),
        "{error}"
    );
    assert!(!error.contains("wrong type"), "{error}");
}

#[tokio::test]
async fn a_plugin_importing_a_host_function_that_does_not_exist_is_told_which() {
    let extra = r#"package d-back:plugin@0.1.0;
interface host {
  log: func(message: string);
  fetch-secret: func() -> string;
}
world provider { import host; }"#;
    let error = start_error("extra-import", &component_of(extra)).await;
    assert!(
        error.contains("host function `fetch-secret`")
            && error.contains("log, config-get, config-all"),
        "{error}"
    );
}

#[tokio::test]
async fn a_core_module_is_told_to_become_a_component_and_how() {
    // The smallest core module: the magic and version 1.
    let error = start_error("core", b"\0asm\x01\0\0\0").await;
    assert!(
        error.contains("core WebAssembly module, not a component")
            && error.contains("componentize-go")
            && error.contains("wasm32-wasip2"),
        "{error}"
    );
    assert!(!error.contains("component parser"), "{error}");
}

/// A join of `trouble` with the hostile plugin's member list misbehaving
/// by `mode`; the log line of the failed call.
async fn failed_call_line(name: &str, mode: &str) -> String {
    logs::install();
    let settings = with_plugin(
        name,
        &plugins::hostile(),
        &[("target", "get-user-data"), ("mode", mode)],
    );
    let server = TestServer::start(settings).await;
    let (mut client, _) = server.client().await;
    assert_eq!(client.join(json!("trouble")).await["type"], "server-join");
    server.stop().await;
    let lines = logs::lines_with(&[&format!("plugin=\"{name}\""), "plugin call failed"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines[0].clone()
}

#[tokio::test]
async fn reading_a_file_or_opening_a_socket_is_logged_as_the_sandbox_refusing() {
    for (name, mode) in [("sandbox-file", "file"), ("sandbox-socket", "socket")] {
        let line = failed_call_line(name, mode).await;
        assert!(line.contains("the sandbox denied it"), "{line}");
        assert!(line.contains("allow_hosts"), "{line}");
    }
}

#[tokio::test]
async fn the_server_takes_its_plugin_from_the_command_line() {
    // What `cargo xtask run -- --plugin x.wasm` passes on (xtask's own test
    // checks it drops the `--`).
    let node = ChildServer::start_logged_with(
        "",
        "info",
        &["--plugin", &plugins::hostile().display().to_string()],
    )
    .unwrap();
    node.wait_until_up().await.unwrap();
    let mut client = d_back_tests::Client::connect(node.addr()).await;
    let list = client.recv().await;
    assert!(list["data"]["666"].is_object(), "{list}");
    assert_eq!(client.join(Value::Null).await["type"], "server-join");
}

#[test]
fn a_log_written_to_a_file_has_no_colors_and_start_up_errors_no_backtrace() {
    let binary = test_binary().unwrap();
    let dir = d_back_tests::scratch::dir("newcomer");
    // A start-up error with backtraces asked for: a message, no trace.
    let failed = Command::new(&binary)
        .args(["--plugin", "/nonexistent/plugin.wasm", "--port", "0"])
        .env("RUST_BACKTRACE", "1")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("/nonexistent/plugin.wasm"),
        "{stderr}"
    );
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
    // A log going to a file: no escape codes.
    let log = dir.join("log.txt");
    let mut running = Command::new(&binary)
        .args(["--port", "0", "--host", "127.0.0.1"])
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("listening") || started.elapsed().as_secs() > 60 {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = running.kill();
    let _ = running.wait();
    assert!(text.contains("listening"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "escape codes in a log file: {text:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
