//! Builds the mock provider plugin (`plugins/mock`) for `wasm32-wasip2` and
//! hands the component to the host, which embeds it as its default plugin.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.parent().expect("host/ lives in the workspace");
    let plugins = root.join("plugins");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));

    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-changed={}", plugins.join("mock").display());
    println!(
        "cargo:rerun-if-changed={}",
        plugins.join("Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        plugins.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-env-changed=D_BACK_MOCK_WASM");

    let target = out_dir.join("mock.wasm");
    // A prebuilt component may be handed in (e.g. by `cargo xtask`).
    if let Ok(prebuilt) = env::var("D_BACK_MOCK_WASM") {
        copy(Path::new(&prebuilt), &target);
        return;
    }

    // A separate target dir: the outer cargo holds the lock on ours.
    let wasm_target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("plugin-build");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&plugins)
        .args(["build", "--release", "--locked", "--package", "d-back-mock"])
        .args(["--target", "wasm32-wasip2", "--target-dir"])
        .arg(&wasm_target_dir)
        // Flags meant for the host build must not leak into the wasm build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "building plugins/mock for wasm32-wasip2 failed ({status}); \
             is the target installed? `rustup target add wasm32-wasip2` \
             (or run `cargo xtask build`, which installs it)"
        ),
        Err(error) => panic!("cannot run cargo to build plugins/mock: {error}"),
    }
    copy(
        &wasm_target_dir.join("wasm32-wasip2/release/d_back_mock.wasm"),
        &target,
    );
}

fn copy(from: &Path, to: &Path) {
    if let Err(error) = std::fs::copy(from, to) {
        panic!(
            "cannot copy {} to {}: {error}",
            from.display(),
            to.display()
        );
    }
}
