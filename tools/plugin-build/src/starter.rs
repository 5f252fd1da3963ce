//! `cargo xtask new <language> <folder>`: a plugin author's own copy of a
//! starter, ready to build anywhere. `cp -r` of an example carries its
//! build outputs (a Rust `target/` of 100+ MB, a `.venv` whose scripts
//! point back at the original, `node_modules`) and paths into this
//! repository; this copies the sources only, with the WIT (and, for Go,
//! the SDK) inside the new folder and the paths pointing at them.

use std::fs;
use std::path::Path;

use anyhow::{Context, bail};

use crate::Language;

/// Build outputs and installed tools, never copied.
const SKIPPED: &[&str] = &["target", "node_modules", ".venv", "dist", "__pycache__"];

/// Makes `dest` (missing or empty) a copy of `language`'s starter from the
/// repository at `root`; returns the commands that build it there.
pub fn create(root: &Path, language: Language, dest: &Path) -> anyhow::Result<String> {
    if dest.exists() && fs::read_dir(dest)?.next().is_some() {
        bail!("{} is not empty; name a new folder", dest.display());
    }
    let source = match language {
        Language::Rust => root.join("examples/hello-plugin"),
        other => root.join(format!("examples/{}-plugin", other.name())),
    };
    copy_sources(&source, dest)?;
    copy_sources(&root.join("wit"), &dest.join("wit"))?;
    let next = match language {
        Language::Rust => {
            rewrite(
                &dest.join("src/lib.rs"),
                "path: \"../../wit\"",
                "path: \"wit\"",
            )?;
            "cargo build --release --target wasm32-wasip2\n\
             # the plugin: target/wasm32-wasip2/release/hello_plugin.wasm"
        }
        Language::JavaScript => {
            rewrite(&dest.join("package.json"), "--wit ../../wit", "--wit wit")?;
            "npm ci\nnpm run build\n# the plugin: dist/js-plugin.wasm"
        }
        Language::Python => {
            "python3 -m venv .venv\n\
             .venv/bin/pip install -r requirements.txt\n\
             .venv/bin/componentize-py -d wit -w provider componentize app -o dist/python-plugin.wasm"
        }
        Language::Go => {
            copy_sources(&root.join("sdk/go"), &dest.join("sdk"))?;
            rewrite(
                &dest.join("go.mod"),
                "replace dback.dev/plugin => ../../sdk/go",
                "replace dback.dev/plugin => ./sdk",
            )?;
            "GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o dist/core.wasm .\n\
             componentize-go --world provider dist/core.wasm -o dist/go-plugin.wasm\n\
             # componentize-go, once: cargo install --path <d-back>/tools/componentize-go"
        }
    };
    Ok(format!("cd {}\n{next}\n", dest.display()))
}

/// Copies `from` into `to`, leaving out build outputs and compiled plugins.
fn copy_sources(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if SKIPPED.contains(&name_text.as_ref()) || name_text.ends_with(".wasm") {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_sources(&source, &target)?;
        } else {
            fs::copy(&source, &target).with_context(|| {
                format!("cannot copy {} to {}", source.display(), target.display())
            })?;
        }
    }
    Ok(())
}

/// Replaces `from` (which must be there) with `to` in the file at `path`.
fn rewrite(path: &Path, from: &str, to: &str) -> anyhow::Result<()> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !text.contains(from) {
        bail!(
            "{} no longer says {from:?}; update the starter copier",
            path.display()
        );
    }
    fs::write(path, text.replace(from, to))
        .with_context(|| format!("cannot write {}", path.display()))
}
