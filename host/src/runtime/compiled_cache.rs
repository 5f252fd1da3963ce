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
//! code runs it without recompiling. So a directory that other users can
//! write to (or that another user owns) is refused, and the server
//! compiles at every start instead.
//!
//! The cache is bounded ([`CompiledCacheConfig::max_bytes`], 1 GiB by
//! default): after storing an entry, the least recently used ones go
//! until the rest fit. A hit marks its entry used.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled code is kept, and how much of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledCacheConfig {
    pub dir: PathBuf,
    /// Bytes of entries kept at most.
    pub max_bytes: u64,
}

impl CompiledCacheConfig {
    /// 1 GiB: a few versions of each of the big (JavaScript, Python)
    /// components, whose compiled code is tens of MiB.
    pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl CompiledCache {
    /// The cache in `config.dir`, created (owner only) when missing;
    /// refused when others could write compiled code into it.
    pub fn open(config: &CompiledCacheConfig) -> Result<Self, String> {
        let dir = &config.dir;
        if !dir.exists() {
            create_private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        check_private(dir)?;
        Ok(Self {
            dir: dir.clone(),
            max_bytes: config.max_bytes,
        })
    }

    /// The component for `bytes`: from the cache when a good entry exists,
    /// else compiled and stored. Cache trouble only costs a compile.
    pub fn load(&self, engine: &Engine, name: &str, bytes: &[u8]) -> wasmtime::Result<Component> {
        let prefix = self.entry_prefix(engine, bytes);
        for path in self.entries(&prefix) {
            match read(engine, &path, &prefix) {
                Ok(component) => {
                    tracing::debug!(plugin = name, path = %path.display(), "loaded compiled component from the cache");
                    mark_used(&path);
                    return Ok(component);
                }
                Err(reason) => {
                    tracing::warn!(plugin = name, path = %path.display(), %reason, "ignoring an unusable compiled-code cache entry");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled = compile(engine, name, bytes)?;
        match self.write(&prefix, &compiled) {
            Ok(stored) => self.evict(&stored),
            Err(error) => {
                tracing::warn!(plugin = name, dir = %self.dir.display(), %error, "cannot store compiled code; the next start compiles again");
            }
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

    /// Removes the least recently used entries, never `keep`, until the
    /// entries fit in the bound.
    fn evict(&self, keep: &Path) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = dir
            .filter_map(Result::ok)
            .filter(|entry| entry.path().extension().is_some_and(|e| e == "cwasm"))
            .filter_map(|entry| {
                let meta = entry.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), entry.path()))
            })
            .collect();
        let mut total: u64 = entries.iter().map(|(_, size, _)| size).sum();
        entries.sort();
        for (_, size, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if path == keep {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= size;
                tracing::info!(path = %path.display(), bytes = size, "compiled-code cache full: evicted the least recently used entry");
            }
        }
    }

    fn write(&self, prefix: &str, compiled: &[u8]) -> std::io::Result<PathBuf> {
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
        std::fs::rename(&partial, &path)?;
        Ok(path)
    }
}

/// Compiles `bytes`, saying so at INFO: a big component takes seconds to
/// minutes, and a silent start looks hung.
pub fn compile(engine: &Engine, name: &str, bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
    let mib = bytes.len() as f64 / f64::from(1u32 << 20);
    tracing::info!(
        plugin = name,
        size_mib = format!("{mib:.1}"),
        "compiling the plugin"
    );
    let started = std::time::Instant::now();
    let compiled = engine.precompile_component(bytes)?;
    tracing::info!(
        plugin = name,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "compiled the plugin"
    );
    Ok(compiled)
}

/// Marks the entry at `path` as just used, for the eviction order.
fn mark_used(path: &Path) {
    if let Ok(file) = std::fs::File::options().write(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Refuses a directory others could put compiled code into: owned by
/// another user, or writable by its group or by everyone.
#[cfg(unix)]
fn check_private(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "{} belongs to another user (uid {}), who could put code in it",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} can be written by other users (mode {:o}); `chmod go-w` it",
            dir.display(),
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_dir: &Path) -> Result<(), String> {
    Ok(())
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
