//! Builds d-back's plugins from source, in each of the languages plugins are
//! written in, into WebAssembly components. Shared by `cargo xtask` and the
//! end-to-end tests so both build plugins exactly the way the docs tell
//! authors to.
//!
//! Every builder installs the language's pieces on first use: the
//! `wasm32-wasip2` Rust target, the npm packages of a JavaScript plugin's lock
//! file, a Python plugin's pinned requirements in a virtualenv of its own.
//! Go needs only the stock toolchain; its components are finished by
//! `d-back-componentize-go`.

mod fresh;
mod go;
mod javascript;
mod python;
mod rust;
mod step;

use std::path::{Path, PathBuf};

pub mod starter;
pub use rust::ensure_wasm_target;
pub use step::run as run_step;

/// The language a plugin is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Rust,
    JavaScript,
    Python,
    Go,
}

impl Language {
    pub const ALL: [Language; 4] = [
        Language::Rust,
        Language::JavaScript,
        Language::Python,
        Language::Go,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::JavaScript => "js",
            Language::Python => "python",
            Language::Go => "go",
        }
    }
}

/// Where plugins come from and where their builds go.
#[derive(Clone, Debug)]
pub struct Builder {
    /// The repository root (it holds `wit/`).
    root: PathBuf,
    /// Cargo's target dir; Rust plugins build under `plugin-build/` in it.
    target: PathBuf,
}

impl Builder {
    pub fn new(root: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Self {
        Builder {
            root: root.into(),
            target: target.into(),
        }
    }

    /// Cargo's target dir the builds go under.
    pub fn target(&self) -> &Path {
        &self.target
    }

    pub fn wit(&self) -> PathBuf {
        self.root.join("wit")
    }

    /// Builds `package` of the Rust workspace at `workspace`.
    pub fn rust(&self, workspace: &Path, package: &str) -> anyhow::Result<PathBuf> {
        rust::build(workspace, package, &self.target.join("plugin-build"))
    }

    /// Builds the JavaScript plugin in `dir` (`npm ci`, `npm run build`),
    /// unless its component is newer than its sources and the WIT.
    pub fn javascript(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        javascript::build(dir, &self.wit())
    }

    /// Builds the Python plugin in `dir` with componentize-py, unless its
    /// component is newer than its sources and the WIT.
    pub fn python(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        python::build(dir, &self.wit())
    }

    /// Builds the Go plugin in `dir` with stock Go, then componentizes it.
    pub fn go(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        go::build(dir, &self.wit())
    }

    /// Builds the plugin in the folder `dir` with the tools of `language`,
    /// into `dir/dist/<folder>.wasm`. A Rust plugin is named by its
    /// workspace and package instead: use [`Builder::rust`].
    pub fn in_folder(&self, language: Language, dir: &Path) -> anyhow::Result<PathBuf> {
        match language {
            Language::Rust => anyhow::bail!(
                "{} is a Rust plugin: build it by workspace and package",
                dir.display()
            ),
            Language::JavaScript => self.javascript(dir),
            Language::Python => self.python(dir),
            Language::Go => self.go(dir),
        }
    }

    /// One of the config providers in `plugins/`, which implement the same
    /// behaviour in every language.
    pub fn config_provider(&self, language: Language) -> anyhow::Result<PathBuf> {
        let plugins = self.root.join("plugins");
        match language {
            Language::Rust => self.rust(&plugins, "d-back-config"),
            other => self.in_folder(other, &plugins.join(format!("config-{}", other.name()))),
        }
    }
}

/// The component a non-Rust build leaves behind: `dist/<folder name>.wasm`.
fn dist_component(dir: &Path) -> anyhow::Result<PathBuf> {
    let name = dir
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| anyhow::anyhow!("{} has no folder name", dir.display()))?;
    Ok(dir.join("dist").join(format!("{name}.wasm")))
}
