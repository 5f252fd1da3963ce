//! Project tasks: `cargo xtask <task>`. Each installs the toolchain pieces it
//! needs (the wasm32-wasip2 target, Chromium for the browser test) first.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

const HELP: &str = "\
usage: cargo xtask <task> [args]

tasks:
  build          build the plugins and the host in release mode
                 (target/release/d-back)
  run [ARGS]     build, then run target/release/d-back ARGS
                 (no ARGS: the mock plugin on localhost:3000)
  test           everything CI runs: fmt, clippy, the whole test suite
  bench          build in release mode and print the benchmarks' numbers
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
        Some("run") => {
            build()?;
            let binary = target_dir().join("release/d-back");
            let status = Command::new(&binary)
                .args(&rest)
                .status()
                .with_context(|| format!("cannot start {}", binary.display()))?;
            if !status.success() {
                bail!("d-back exited with {status}");
            }
            Ok(())
        }
        Some("test") => test(),
        Some("bench") => bench(),
        _ => {
            eprint!("{HELP}");
            if task.is_some() {
                bail!("unknown task");
            }
            Ok(())
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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

/// Runs `command`, failing with its description when it fails.
fn step(what: &str, command: &mut Command) -> Result<()> {
    eprintln!("xtask: {what}");
    let status = command
        .status()
        .with_context(|| format!("cannot run: {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Installs the wasm32-wasip2 standard library if rustup lacks it.
fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to add the wasm32-wasip2 target")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == "wasm32-wasip2")
    {
        return Ok(());
    }
    step(
        "rustup target add wasm32-wasip2",
        Command::new("rustup").args(["target", "add", "wasm32-wasip2"]),
    )
}

/// Chromium for the browser test, from Debian's packages.
fn ensure_chromium() -> Result<()> {
    if chromium().is_some() {
        return Ok(());
    }
    let apt = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    step("apt-get update", &mut apt(&["update", "-qq"]))?;
    step(
        "apt-get install chromium",
        &mut apt(&["install", "-y", "-qq", "chromium"]),
    )?;
    if chromium().is_none() {
        bail!("chromium was installed but is not on PATH");
    }
    Ok(())
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

/// Builds one plugin workspace's package for wasm32-wasip2; returns the
/// component's path.
fn build_plugin(workspace: &Path, package: &str) -> Result<PathBuf> {
    let target = target_dir().join("plugin-build");
    step(
        &format!("build plugin {package} (wasm32-wasip2)"),
        cargo()
            .current_dir(workspace)
            .args([
                "build",
                "--release",
                "--locked",
                "--target",
                "wasm32-wasip2",
            ])
            .args(["--package", package, "--target-dir"])
            .arg(&target),
    )?;
    Ok(target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_"))))
}

fn build() -> Result<()> {
    ensure_wasm_target()?;
    let mock = build_plugin(&root().join("plugins"), "d-back-mock")?;
    step(
        "build d-back (release)",
        cargo()
            .args(["build", "--release", "--locked", "--package", "d-back"])
            .env("D_BACK_MOCK_WASM", &mock),
    )?;
    eprintln!(
        "xtask: built {}",
        target_dir().join("release/d-back").display()
    );
    Ok(())
}

fn test() -> Result<()> {
    ensure_wasm_target()?;
    ensure_chromium()?;
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
    step(
        "cargo test",
        cargo().args(["test", "--locked", "--workspace"]),
    )
}

fn bench() -> Result<()> {
    build()?;
    let binary = target_dir().join("release/d-back");
    step(
        "cargo bench",
        cargo()
            .args(["bench", "--locked", "--package", "d-back-tests"])
            .env("D_BACK_BIN", binary.as_os_str())
            .env("D_BACK_MOCK_WASM", mock_path().as_os_str()),
    )
}

fn mock_path() -> PathBuf {
    target_dir().join(Path::new(
        "plugin-build/wasm32-wasip2/release/d_back_mock.wasm",
    ))
}
