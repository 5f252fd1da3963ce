//! `componentize-go --wit wit --world provider core.wasm -o out.wasm`

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;

/// Turns a Go core module (GOOS=wasip1 GOARCH=wasm go build
/// -buildmode=c-shared) built with the d-back Go SDK into a provider
/// component.
#[derive(Parser)]
#[command(name = "componentize-go", version)]
struct Args {
    /// Directory holding the WIT package (d-back's `wit/`).
    #[arg(long, default_value = "wit")]
    wit: PathBuf,
    /// World the component targets.
    #[arg(long, default_value = "provider")]
    world: String,
    /// The core module produced by `go build`.
    core: PathBuf,
    /// Where to write the component.
    #[arg(short, long)]
    output: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let core = std::fs::read(&args.core)
        .with_context(|| format!("cannot read {}", args.core.display()))?;
    let component = componentize_go::componentize(&core, &args.wit, &args.world)
        .with_context(|| format!("cannot componentize {}", args.core.display()))?;
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&args.output, &component)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(())
}
