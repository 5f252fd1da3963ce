//! Builds the plugins the host embeds, the mock provider (`plugins/mock`,
//! the default) and the Discord provider (`plugins/discord`, served when
//! `[discord]` names no plugin), for `wasm32-wasip2`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Each embedded plugin: its package, its file once built, the variable
/// that may hand in a prebuilt component (e.g. from `cargo xtask`), and
/// the name the host includes.
const EMBEDDED: [(&str, &str, &str, &str); 2] = [
    (
        "d-back-mock",
        "d_back_mock.wasm",
        "D_BACK_MOCK_WASM",
        "mock.wasm",
    ),
    (
        "d-back-discord",
        "d_back_discord.wasm",
        "D_BACK_DISCORD_WASM",
        "discord.wasm",
    ),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.parent().expect("host/ lives in the workspace");
    let plugins = root.join("plugins");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));

    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    for folder in ["mock", "discord", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", plugins.join(folder).display());
    }
    let mut to_build = Vec::new();
    for (package, _, variable, name) in EMBEDDED {
        println!("cargo:rerun-if-env-changed={variable}");
        match env::var(variable) {
            Ok(prebuilt) => copy(Path::new(&prebuilt), &out_dir.join(name)),
            Err(_) => to_build.push(package),
        }
    }
    if to_build.is_empty() {
        return;
    }

    // A separate target dir: the outer cargo holds the lock on ours.
    let wasm_target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("plugin-build");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&plugins)
        .args(["build", "--release", "--locked"]);
    for package in &to_build {
        command.args(["--package", package]);
    }
    let status = command
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
            "building the embedded plugins for wasm32-wasip2 failed ({status}); \
             is the target installed? `rustup target add wasm32-wasip2` \
             (or run `cargo xtask build`, which installs it)"
        ),
        Err(error) => panic!("cannot run cargo to build the embedded plugins: {error}"),
    }
    for (package, file, _, name) in EMBEDDED {
        if to_build.contains(&package) {
            copy(
                &wasm_target_dir.join("wasm32-wasip2/release").join(file),
                &out_dir.join(name),
            );
        }
    }
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
