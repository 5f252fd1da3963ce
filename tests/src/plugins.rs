//! Test plugins, compiled from source for wasm32-wasip2 on first use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("test-plugins")
}

/// The `hostile` fixture component (`tests/plugins/hostile`).
pub fn hostile() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| build(&root().join("tests/plugins"), "hostile"))
        .clone()
}

/// The Discord provider (`plugins/discord`).
pub fn discord() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| build(&root().join("plugins"), "d-back-discord"))
        .clone()
}

/// The README's example plugin (`examples/hello-plugin`), built the way the
/// README tells plugin authors to build it.
pub fn hello_example() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| build(&root().join("examples/hello-plugin"), "hello-plugin"))
        .clone()
}

fn build(workspace: &Path, package: &str) -> PathBuf {
    let target = target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
        ])
        .args(["--package", package, "--target-dir"])
        .arg(&target)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .status()
        .expect("cannot run cargo to build a test plugin");
    assert!(
        status.success(),
        "building test plugin {package} failed; is `rustup target add wasm32-wasip2` done?"
    );
    let wasm = target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(wasm.exists(), "{} was not built", wasm.display());
    wasm
}
