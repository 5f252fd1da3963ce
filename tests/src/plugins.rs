//! Test plugins, built from source on first use, the way `cargo xtask build`
//! and the plugin READMEs build them.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use d_back_plugin_build::{Builder, Language};

fn root() -> PathBuf {
    crate::manifest_dir()
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

fn builder() -> Builder {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("test-plugins");
    Builder::new(root(), target)
}

/// Builds each plugin once per test process. Builds run one at a time: they
/// would only compete for the same cores (and the same npm/pip caches).
fn once(
    cell: &'static OnceLock<PathBuf>,
    what: &str,
    build: impl FnOnce(&Builder) -> anyhow::Result<PathBuf>,
) -> PathBuf {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    cell.get_or_init(|| {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        build(&builder()).unwrap_or_else(|e| panic!("building {what} failed: {e:#}"))
    })
    .clone()
}

/// The `hostile` fixture component (`tests/plugins/hostile`).
pub fn hostile() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    once(&BUILT, "tests/plugins/hostile", |b| {
        b.rust(&root().join("tests/plugins"), "hostile")
    })
}

/// A provider built against a WIT with a renamed record field
/// (`tests/plugins/mismatched`).
pub fn mismatched() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    once(&BUILT, "tests/plugins/mismatched", |b| {
        b.rust(&root().join("tests/plugins"), "mismatched")
    })
}

/// The Discord provider (`plugins/discord`).
pub fn discord() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    once(&BUILT, "plugins/discord", |b| {
        b.rust(&root().join("plugins"), "d-back-discord")
    })
}

/// The README's example plugin (`examples/hello-plugin`).
pub fn hello_example() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    once(&BUILT, "examples/hello-plugin", |b| {
        b.rust(&root().join("examples/hello-plugin"), "hello-plugin")
    })
}

/// The starter for plugin authors in `language` (`examples/<language>-plugin`,
/// or the README's Rust example), built the way its README says.
pub fn example(language: Language) -> PathBuf {
    static BUILT: [OnceLock<PathBuf>; 4] = [const { OnceLock::new() }; 4];
    match language {
        Language::Rust => hello_example(),
        other => in_folder(&BUILT, other, &format!("examples/{}-plugin", other.name())),
    }
}

/// The config provider written in `language` (`plugins/config-*`).
pub fn config_provider(language: Language) -> PathBuf {
    static BUILT: [OnceLock<PathBuf>; 4] = [const { OnceLock::new() }; 4];
    once(&BUILT[language as usize], language.name(), |b| {
        b.config_provider(language)
    })
}

/// The failing fixture written in `language` (`tests/plugins/hostile-*`):
/// one server, and callbacks that fail the language's own way.
pub fn hostile_in(language: Language) -> PathBuf {
    static BUILT: [OnceLock<PathBuf>; 4] = [const { OnceLock::new() }; 4];
    match language {
        Language::Rust => hostile(),
        other => in_folder(
            &BUILT,
            other,
            &format!("tests/plugins/hostile-{}", other.name()),
        ),
    }
}

/// The plugin in the repository's folder `dir`, written in `language`
/// (not Rust), built once into the cell `built` holds for that language.
fn in_folder(built: &'static [OnceLock<PathBuf>; 4], language: Language, dir: &str) -> PathBuf {
    once(&built[language as usize], dir, |b| {
        b.in_folder(language, &root().join(dir))
    })
}

/// The starter of `language` copied by `cargo xtask new` into a fresh
/// folder outside the repository, and built there the way the copy's
/// printed commands say (its own `wit/`, and for Go its own SDK).
pub fn starter_copy(language: Language) -> PathBuf {
    static BUILT: [OnceLock<PathBuf>; 4] = [const { OnceLock::new() }; 4];
    let what = format!("a copied {} starter", language.name());
    once(&BUILT[language as usize], &what, |b| {
        // Named as the original: a JavaScript starter's build writes
        // `dist/js-plugin.wasm` whatever its folder, and the builder looks
        // for `dist/<folder>.wasm`.
        let folder = match language {
            Language::Rust => "hello-plugin".to_string(),
            other => format!("{}-plugin", other.name()),
        };
        let dest = crate::scratch::path("starters").join(folder);
        let _ = std::fs::remove_dir_all(&dest);
        d_back_plugin_build::starter::create(&root(), language, &dest)?;
        let from_copy = Builder::new(&dest, b.target());
        match language {
            Language::Rust => from_copy.rust(&dest, "hello-plugin"),
            other => from_copy.in_folder(other, &dest),
        }
    })
}
