//! JavaScript plugins: componentize-js, pinned by each plugin's npm lock
//! file. `npm run build` is the plugin's own build command, the one its
//! README gives.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;

use crate::{dist_component, fresh, step};

/// `wit` is the interface the plugin's build script names; a change to it
/// rebuilds the plugin.
pub fn build(dir: &Path, wit: &Path) -> anyhow::Result<PathBuf> {
    if needs_install(dir) {
        step::run(
            &format!("npm ci ({})", dir.display()),
            Command::new("npm")
                .current_dir(dir)
                .args(["ci", "--no-audit", "--no-fund"]),
        )?;
    }
    let wasm = dist_component(dir)?;
    let installed = dir.join("node_modules/.package-lock.json");
    if fresh::is_up_to_date(&wasm, &[dir, wit, &installed]) {
        eprintln!("==> {} is up to date", wasm.display());
        return Ok(wasm);
    }
    step::run(
        &format!("npm run build ({})", dir.display()),
        Command::new("npm").current_dir(dir).args(["run", "build"]),
    )?;
    if !wasm.exists() {
        bail!("npm run build succeeded but {} is missing", wasm.display());
    }
    Ok(wasm)
}

/// npm records what it installed in `node_modules/.package-lock.json`; an
/// install older than the lock file is stale.
fn needs_install(dir: &Path) -> bool {
    let modified = |path: PathBuf| path.metadata().and_then(|m| m.modified()).ok();
    match (
        modified(dir.join("node_modules/.package-lock.json")),
        modified(dir.join("package-lock.json")),
    ) {
        (Some(installed), Some(locked)) => installed < locked,
        _ => true,
    }
}
