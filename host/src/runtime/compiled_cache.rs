//! Compiled components kept on disk, so a restart with the same component
//! takes milliseconds instead of compiling again (JavaScript and Python
//! components are tens of megabytes of WebAssembly).
//!
//! An entry is named by the SHA-256 of the component and the engine's
//! compatibility hash (wasmtime version and settings), and starts with the
//! SHA-256 of the compiled code that follows. An entry that is unreadable,
//! fails that check, or that wasmtime refuses is removed and rebuilt.
//!
//! The directory must be as trusted as the binary itself: loading compiled
//! code runs it without recompiling.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

const CHECKSUM_LEN: usize = 32;

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
        let path = self.entry_path(engine, bytes);
        match self.read(engine, &path) {
            Ok(Some(component)) => {
                tracing::debug!(plugin = name, path = %path.display(), "loaded compiled component from the cache");
                return Ok(component);
            }
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(plugin = name, path = %path.display(), %reason, "ignoring an unusable compiled-code cache entry");
                let _ = std::fs::remove_file(&path);
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        if let Err(error) = self.write(&path, &compiled) {
            tracing::warn!(plugin = name, dir = %self.dir.display(), %error, "cannot store compiled code; the next start compiles again");
        }
        // SAFETY: `compiled` was produced just now by this engine.
        unsafe { Component::deserialize(engine, &compiled) }
    }

    fn entry_path(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut compat = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut compat);
        let digest = Sha256::digest(bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.dir
            .join(format!("{hex}-{:016x}.cwasm", compat.finish()))
    }

    fn read(&self, engine: &Engine, path: &Path) -> Result<Option<Component>, String> {
        let data = match std::fs::read(path) {
            Ok(data) => data,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error.to_string()),
        };
        if data.len() < CHECKSUM_LEN {
            return Err("entry is truncated".into());
        }
        let (checksum, compiled) = data.split_at(CHECKSUM_LEN);
        if Sha256::digest(compiled).as_slice() != checksum {
            return Err("entry does not match its checksum".into());
        }
        // SAFETY: the bytes are exactly what `write` stored after this
        // engine compiled them (checked above), in a directory as trusted
        // as the binary; wasmtime also checks they fit this engine.
        unsafe { Component::deserialize(engine, compiled) }
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn write(&self, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        // Written aside and renamed: a reader never sees half an entry,
        // and concurrent writers of the same entry write the same bytes.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let partial = path.with_extension(format!(
            "partial-{}-{}",
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        ));
        let mut data = Vec::with_capacity(CHECKSUM_LEN + compiled.len());
        data.extend_from_slice(&Sha256::digest(compiled));
        data.extend_from_slice(compiled);
        std::fs::write(&partial, &data)?;
        std::fs::rename(&partial, path)
    }
}
