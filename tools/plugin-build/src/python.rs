//! Python plugins: componentize-py, pinned in each plugin's
//! `requirements.txt`, installed into a virtualenv inside the plugin's
//! folder (`.venv`), as the plugin's README does it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::{dist_component, fresh, step};

/// Copy of the requirements a virtualenv was last filled from.
const INSTALLED: &str = ".venv/requirements.installed";

pub fn build(dir: &Path, wit: &Path) -> anyhow::Result<PathBuf> {
    let venv = dir.join(".venv");
    if !venv.join("bin/python").exists() {
        step::run(
            &format!("python3 -m venv ({})", dir.display()),
            Command::new("python3")
                .current_dir(dir)
                .args(["-m", "venv", ".venv"]),
        )?;
    }
    let requirements = fs::read_to_string(dir.join("requirements.txt"))
        .with_context(|| format!("{} has no requirements.txt", dir.display()))?;
    if fs::read_to_string(dir.join(INSTALLED)).ok().as_deref() != Some(requirements.as_str()) {
        step::run(
            &format!("pip install -r requirements.txt ({})", dir.display()),
            Command::new(venv.join("bin/pip"))
                .current_dir(dir)
                .args(["install", "--disable-pip-version-check", "--quiet"])
                .args(["-r", "requirements.txt"]),
        )?;
        fs::write(dir.join(INSTALLED), &requirements)?;
    }
    let wasm = dist_component(dir)?;
    if fresh::is_up_to_date(&wasm, &[dir, wit, &dir.join(INSTALLED)]) {
        eprintln!("==> {} is up to date", wasm.display());
        return Ok(wasm);
    }
    step::run(
        &format!("componentize-py ({})", dir.display()),
        Command::new(venv.join("bin/componentize-py"))
            .current_dir(dir)
            .arg("-d")
            .arg(wit)
            .args(["-w", "provider", "componentize", "app", "-o"])
            .arg(&wasm),
    )?;
    if !wasm.exists() {
        bail!(
            "componentize-py succeeded but {} is missing",
            wasm.display()
        );
    }
    Ok(wasm)
}
