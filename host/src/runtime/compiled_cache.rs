//! Compiled components kept on disk, so a restart with the same component
//! takes milliseconds instead of compiling again (JavaScript and Python
//! components are tens of megabytes of WebAssembly).
//!
//! An entry is named by the BLAKE3 hash of the component, the engine's
//! compatibility hash (wasmtime version and settings), and the BLAKE3 hash
//! of the compiled code it holds. A good entry is mapped into memory, not
//! read and copied; an entry whose bytes do not match its name, or that
//! wasmtime refuses, is removed and rebuilt.
//!
//! The directory must be as trusted as the binary itself: loading compiled
//! code runs it without recompiling.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Engine;
use wasmtime::component::Component;

#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
}

impl CompiledCache {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The component for `bytes`: from the cache when a good entry exists,
    /// else compiled and stored. Cache trouble only costs a compile.
    pub fn load(&self, engine: &Engine, name: &str, bytes: &[u8]) -> wasmtime::Result<Component> {
        let prefix = self.entry_prefix(engine, bytes);
        for path in self.entries(&prefix) {
            match read(engine, &path, &prefix) {
                Ok(component) => {
                    tracing::debug!(plugin = name, path = %path.display(), "loaded compiled component from the cache");
                    return Ok(component);
                }
                Err(reason) => {
                    tracing::warn!(plugin = name, path = %path.display(), %reason, "ignoring an unusable compiled-code cache entry");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        if let Err(error) = self.write(&prefix, &compiled) {
            tracing::warn!(plugin = name, dir = %self.dir.display(), %error, "cannot store compiled code; the next start compiles again");
        }
        // SAFETY: `compiled` was produced just now by this engine.
        unsafe { Component::deserialize(engine, &compiled) }
    }

    /// What every entry for this component and engine is named with.
    fn entry_prefix(&self, engine: &Engine, bytes: &[u8]) -> String {
        let mut compat = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut compat);
        format!("{}-{:016x}-", blake3::hash(bytes).to_hex(), compat.finish())
    }

    /// Entries for `prefix` (normally one).
    fn entries(&self, prefix: &str) -> Vec<PathBuf> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .filter(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name.starts_with(prefix) && name.ends_with(".cwasm")
            })
            .map(|entry| entry.path())
            .collect()
    }

    fn write(&self, prefix: &str, compiled: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self
            .dir
            .join(format!("{prefix}{}.cwasm", blake3::hash(compiled).to_hex()));
        // Written aside and renamed: a reader never sees half an entry,
        // and concurrent writers of the same entry write the same bytes.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let partial = path.with_extension(format!(
            "partial-{}-{}",
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&partial, compiled)?;
        std::fs::rename(&partial, path)
    }
}

/// Maps the entry at `path` after checking its bytes against its name.
fn read(engine: &Engine, path: &Path, prefix: &str) -> Result<Component, String> {
    let expected = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix(prefix))
        .and_then(|rest| rest.strip_suffix(".cwasm"))
        .ok_or("entry is misnamed")?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap(path).map_err(|e| e.to_string())?;
    if hasher.finalize().to_hex().as_str() != expected {
        return Err("entry does not match its checksum".into());
    }
    // SAFETY: the bytes are exactly what `write` stored after this engine
    // compiled them (checked above), in a directory as trusted as the
    // binary; wasmtime also checks they fit this engine. The file is
    // replaced only by renaming a new one over it, so the mapping stays
    // valid.
    unsafe { Component::deserialize_file(engine, path) }.map_err(|e| e.to_string())
}
