//! Running one build command, with its description in every error.

use std::process::Command;

use anyhow::{Context, bail};

/// Runs `command`, failing with `what` when it cannot start or fails.
pub fn run(what: &str, command: &mut Command) -> anyhow::Result<()> {
    eprintln!("==> {what}");
    let status = command
        .status()
        .with_context(|| format!("cannot run: {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}
