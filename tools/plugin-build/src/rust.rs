//! Rust plugins: cargo for `wasm32-wasip2`, which emits components directly.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::step;

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // Flags meant for the host build (coverage, sanitizers) break wasm builds.
    command
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS");
    command
}

/// Installs the wasm32-wasip2 standard library if rustup lacks it.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
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
    step::run(
        "rustup target add wasm32-wasip2",
        Command::new("rustup").args(["target", "add", "wasm32-wasip2"]),
    )
}

pub fn build(workspace: &Path, package: &str, target: &Path) -> anyhow::Result<PathBuf> {
    ensure_wasm_target()?;
    step::run(
        &format!("build plugin {package} (Rust, wasm32-wasip2)"),
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
            .arg(target),
    )?;
    let wasm = target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    if !wasm.exists() {
        bail!("cargo reported success but {} is missing", wasm.display());
    }
    Ok(wasm)
}
