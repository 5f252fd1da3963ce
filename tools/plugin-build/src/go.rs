//! Go plugins: the stock Go toolchain builds a WASI preview1 reactor module,
//! `d-back-componentize-go` turns it into a component.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::{dist_component, step};

pub fn build(dir: &Path, wit: &Path) -> anyhow::Result<PathBuf> {
    let core = dir.join("dist/core.wasm");
    step::run(
        &format!("go build (GOOS=wasip1, {})", dir.display()),
        Command::new("go")
            .current_dir(dir)
            .env("GOOS", "wasip1")
            .env("GOARCH", "wasm")
            .args(["build", "-trimpath", "-buildmode=c-shared", "-o"])
            .arg(&core)
            .arg("."),
    )?;
    let module = fs::read(&core).with_context(|| format!("cannot read {}", core.display()))?;
    let component = componentize_go::componentize(&module, wit, "provider")
        .with_context(|| format!("cannot componentize {}", core.display()))?;
    let wasm = dist_component(dir)?;
    fs::write(&wasm, component).with_context(|| format!("cannot write {}", wasm.display()))?;
    Ok(wasm)
}
