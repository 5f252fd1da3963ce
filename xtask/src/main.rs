//! Project tasks: `cargo xtask <task>`. Each installs the toolchain pieces it
//! needs (the wasm32-wasip2 target, Chromium for the browser test) first.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use d_back_plugin_build::{Builder, Language, ensure_wasm_target, run_step as step};

const HELP: &str = "\
usage: cargo xtask <task> [args]

tasks:
  build          build the plugins (target/plugins/) and the host in
                 release mode (target/release/d-back); needs Go, Node.js
                 and Python for the plugins in those languages
  new LANG DIR   start a plugin in DIR (outside this repository too) from
                 the LANG starter (rust, js, python, go): its sources, the
                 WIT, the Go SDK; no build outputs
  build-host     build only the host (target/release/d-back), with Rust
                 alone; the first build compiles wasmtime: minutes
  run [ARGS]     build the host, then run target/release/d-back ARGS
                 (no ARGS: the mock plugin on localhost:3000)
  test           everything CI runs: fmt, clippy, the whole test suite
  bench          build in release mode and print the benchmarks' numbers:
                 d-back (from PyPI), the host and the floor side by side,
                 plugin calls per language, three nodes sharing a Redis,
                 plugin swaps and the authors' loop, the Discord bridge
                 under a flood of gateway events, and the isolation
                 attacks' against the release binary
  soak [CYCLES]  churn connect/join/leave cycles against the release
                 binary (default 5000) and report its memory before/after
  fuzz [SECONDS] run every fuzz target for SECONDS each (default 600);
                 installs the nightly toolchain and cargo-fuzz if missing
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut args = env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    match task.as_deref() {
        Some("build") => build(),
        Some("build-host") => build_host(),
        Some("new") => new_plugin(&rest),
        Some("run") => {
            build_host()?;
            let binary = target_dir().join("release/d-back");
            let status = Command::new(&binary)
                .args(server_args(&rest))
                .status()
                .with_context(|| format!("cannot start {}", binary.display()))?;
            if !status.success() {
                bail!("d-back exited with {status}");
            }
            Ok(())
        }
        Some("test") => test(),
        Some("bench") => bench(),
        Some("soak") => soak(rest.first().map(String::as_str)),
        Some("fuzz") => fuzz(rest.first().map(String::as_str)),
        _ => {
            eprint!("{HELP}");
            if task.is_some() {
                bail!("unknown task");
            }
            Ok(())
        }
    }
}

/// The workspace. Read when run (cargo sets it for `cargo run`), not only
/// when built: a build cache shared between checkouts may hold an xtask
/// built in another folder.
fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .parent()
        .expect("xtask/ lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// What the tests run for real from Debian's packages: Chromium for the
/// browser test, `redis-server` for the cluster tests. Installed once,
/// when missing.
fn ensure_test_packages() -> Result<()> {
    let missing: Vec<&str> = [
        ("chromium", chromium().is_some()),
        ("redis-server", redis_server().is_some()),
    ]
    .into_iter()
    .filter(|(_, present)| !present)
    .map(|(package, _)| package)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let apt = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    step("apt-get update", &mut apt(&["update", "-qq"]))?;
    let mut install = vec!["install", "-y", "-qq"];
    install.extend(&missing);
    step(
        &format!("apt-get install {}", missing.join(" ")),
        &mut apt(&install),
    )?;
    if chromium().is_none() {
        bail!("chromium was installed but is not on PATH");
    }
    if redis_server().is_none() {
        bail!("redis-server was installed but is not on PATH");
    }
    Ok(())
}

fn redis_server() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/redis-server");
    path.exists().then_some(path)
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

fn plugin_builder() -> Builder {
    Builder::new(root(), target_dir())
}

/// Builds the plugins we ship (the mock, the Discord provider, the config
/// provider in every language), then the host with the mock embedded. The
/// config providers are copied to `target/plugins/config-<language>.wasm`.
fn build() -> Result<()> {
    let plugins = plugin_builder();
    let discord = plugins.rust(&root().join("plugins"), "d-back-discord")?;
    let shipped = target_dir().join("plugins");
    std::fs::create_dir_all(&shipped)
        .with_context(|| format!("cannot create {}", shipped.display()))?;
    for language in Language::ALL {
        let built = plugins.config_provider(language)?;
        let copy = shipped.join(format!("config-{}.wasm", language.name()));
        std::fs::copy(&built, &copy)
            .with_context(|| format!("cannot copy {} to {}", built.display(), copy.display()))?;
    }
    build_host()?;
    eprintln!(
        "xtask: built {}, the Discord provider {} and the config providers in {}",
        target_dir().join("release/d-back").display(),
        discord.display(),
        shipped.display()
    );
    Ok(())
}

fn new_plugin(rest: &[String]) -> Result<()> {
    let [language, folder] = rest else {
        bail!("usage: cargo xtask new <rust|js|python|go> <folder>");
    };
    let Some(language) = Language::ALL.into_iter().find(|l| l.name() == language) else {
        bail!("unknown language {language:?}; use rust, js, python or go");
    };
    let next = d_back_plugin_build::starter::create(&root(), language, Path::new(folder))?;
    eprintln!(
        "xtask: a {} plugin in {folder}; build it with:

{next}",
        language.name()
    );
    Ok(())
}

/// What `run` passes to the server: its arguments, without the `--` that
/// separates them from cargo's (`cargo xtask run -- --plugin x.wasm`).
fn server_args(rest: &[String]) -> &[String] {
    match rest.first() {
        Some(first) if first == "--" => &rest[1..],
        _ => rest,
    }
}

/// The host in release mode with the mock plugin embedded: all that
/// `run` needs, so serving the mock asks for no other language's tools.
fn build_host() -> Result<()> {
    let plugins = plugin_builder();
    let mock = plugins.rust(&root().join("plugins"), "d-back-mock")?;
    let discord = plugins.rust(&root().join("plugins"), "d-back-discord")?;
    step(
        "build d-back (release)",
        cargo()
            .args(["build", "--release", "--locked", "--package", "d-back"])
            .env("D_BACK_MOCK_WASM", &mock)
            .env("D_BACK_DISCORD_WASM", &discord),
    )
}

fn test() -> Result<()> {
    ensure_wasm_target()?;
    ensure_test_packages()?;
    step(
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--check"]),
    )?;
    for workspace in ["plugins", "tests/plugins", "examples/hello-plugin"] {
        step(
            &format!("cargo fmt --check ({workspace})"),
            cargo()
                .current_dir(root().join(workspace))
                .args(["fmt", "--all", "--check"]),
        )?;
        step(
            &format!("cargo clippy ({workspace})"),
            cargo()
                .current_dir(root().join(workspace))
                .args(["clippy", "--locked", "--target", "wasm32-wasip2"])
                .args(["--target-dir"])
                .arg(target_dir().join("plugin-build"))
                .args(["--", "-D", "warnings"]),
        )?;
    }
    go_checks()?;
    step(
        "cargo clippy",
        cargo().args([
            "clippy",
            "--locked",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // Tests that measure the server's memory and log run the real binary.
    step(
        "build d-back (debug, for the tests that run it)",
        cargo().args([
            "build",
            "--locked",
            "--package",
            "d-back",
            "--bin",
            "d-back",
        ]),
    )?;
    step(
        "cargo test",
        cargo()
            .args(["test", "--locked", "--workspace"])
            .env("D_BACK_BIN", target_dir().join("debug/d-back")),
    )
}

/// The Go modules: formatted, vetted, and their native unit tests (the ABI
/// glue's among them) passing.
fn go_checks() -> Result<()> {
    const MODULES: [&str; 4] = [
        "sdk/go",
        "plugins/config-go",
        "examples/go-plugin",
        "tests/plugins/hostile-go",
    ];
    for module in MODULES {
        let dir = root().join(module);
        eprintln!("==> gofmt -l ({module})");
        let output = Command::new("gofmt")
            .arg("-l")
            .arg(".")
            .current_dir(&dir)
            .output()
            .context("cannot run gofmt: is Go installed?")?;
        let unformatted = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || !unformatted.trim().is_empty() {
            bail!("gofmt ({module}) wants to reformat:\n{unformatted}");
        }
        step(
            &format!("go vet ({module})"),
            Command::new("go").args(["vet", "./..."]).current_dir(&dir),
        )?;
        // The exports and imports only compile for wasip1; vet them there too.
        step(
            &format!("go vet, GOOS=wasip1 ({module})"),
            Command::new("go")
                .args(["vet", "./..."])
                .env("GOOS", "wasip1")
                .env("GOARCH", "wasm")
                .current_dir(&dir),
        )?;
        step(
            &format!("go test ({module})"),
            Command::new("go").args(["test", "./..."]).current_dir(&dir),
        )?;
    }
    Ok(())
}

fn bench() -> Result<()> {
    // The cluster figure runs a real redis-server, as the tests do.
    ensure_test_packages()?;
    run_benches(
        &[
            "side_by_side",
            "plugin_call",
            "connections",
            "languages",
            "cluster",
            "live",
            "gateway",
        ],
        None,
    )?;
    // The isolation tests print, per attack, the server's peak memory, its
    // log rate and the join p99 under attack against the calm one: against
    // the release binary, these are the numbers to quote.
    step(
        "isolation attacks against the release binary",
        cargo()
            .args(["test", "--locked", "--package", "d-back-tests"])
            .args(["--test", "isolation", "--", "--nocapture"])
            .env("D_BACK_BIN", target_dir().join("release/d-back")),
    )
}

fn soak(cycles: Option<&str>) -> Result<()> {
    if let Some(cycles) = cycles {
        cycles
            .parse::<usize>()
            .with_context(|| format!("CYCLES must be a number, not {cycles:?}"))?;
    }
    run_benches(&["soak"], cycles)
}

/// Builds the release binary, then runs the named bench targets against it.
fn run_benches(benches: &[&str], soak_cycles: Option<&str>) -> Result<()> {
    build()?;
    let mut command = cargo();
    command
        .args(["bench", "--locked", "--package", "d-back-tests"])
        .env("D_BACK_BIN", target_dir().join("release/d-back"))
        .env("D_BACK_MOCK_WASM", embedded_path("d_back_mock"))
        .env("D_BACK_DISCORD_WASM", embedded_path("d_back_discord"));
    for bench in benches {
        command.args(["--bench", bench]);
    }
    if let Some(cycles) = soak_cycles {
        command.env("D_BACK_SOAK_CYCLES", cycles);
    }
    step(
        &format!("cargo bench ({})", benches.join(", ")),
        &mut command,
    )
}

/// An embedded plugin as `build_host` built it.
fn embedded_path(file_stem: &str) -> PathBuf {
    target_dir()
        .join("plugin-build/wasm32-wasip2/release")
        .join(format!("{file_stem}.wasm"))
}

/// The fuzz targets in `fuzz/fuzz_targets`.
const FUZZ_TARGETS: [&str; 2] = ["inbound_frame", "static_path"];

fn fuzz(seconds: Option<&str>) -> Result<()> {
    let seconds: u64 = match seconds {
        None => 600,
        Some(text) => text
            .parse()
            .with_context(|| format!("SECONDS must be a number, not {text:?}"))?,
    };
    let toolchains = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .context("rustup is needed for the nightly toolchain")?;
    if !String::from_utf8_lossy(&toolchains.stdout).contains("nightly") {
        step(
            "rustup toolchain install nightly",
            Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
            ]),
        )?;
    }
    let has_cargo_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_cargo_fuzz {
        step(
            "cargo install cargo-fuzz",
            cargo().args(["install", "cargo-fuzz", "--locked"]),
        )?;
    }
    for target in FUZZ_TARGETS {
        step(
            &format!("fuzz {target} for {seconds} s"),
            Command::new("cargo")
                .current_dir(root().join("fuzz"))
                .args(["+nightly", "fuzz", "run", target, "--"])
                .arg(format!("-max_total_time={seconds}")),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_passes_the_servers_arguments_with_or_without_a_separator() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let with = args(&["--", "--plugin", "x.wasm"]);
        assert_eq!(server_args(&with), args(&["--plugin", "x.wasm"]));
        let without = args(&["--plugin", "x.wasm"]);
        assert_eq!(server_args(&without), without);
        assert!(server_args(&[]).is_empty());
    }
}
