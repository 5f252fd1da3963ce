//! Where tests and benches write to disk: one folder per process,
//! `<temp>/d-back-scratch/<pid>/`, removed when the process exits.
//!
//! A suite run makes hundreds of megabytes of files (config files, copied
//! starters with their build outputs, browser profiles, Redis dumps) on a
//! disk other jobs share, so none of it may outlive the run. A process
//! that dies without exiting (killed, aborted) cannot remove its folder;
//! the next process to start removes the folders of processes gone.
//!
//! The tests' cache of compiled components is not here: it is shared
//! between processes on purpose, and the host bounds its size.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static ROOT: OnceLock<PathBuf> = OnceLock::new();

/// The folder all of this process's scratch files go under.
fn parent() -> PathBuf {
    std::env::temp_dir().join("d-back-scratch")
}

/// This process's folder, made (and the folders of dead processes
/// removed) on first use.
pub fn root() -> &'static Path {
    ROOT.get_or_init(|| {
        remove_left_by_dead_processes();
        let root = parent().join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root)
            .unwrap_or_else(|error| panic!("cannot make {}: {error}", root.display()));
        // SAFETY: `remove_root` is an `extern "C" fn()` that only reads a
        // static already set when it runs, and never unwinds.
        unsafe { libc::atexit(remove_root) };
        root
    })
}

/// `name` inside this process's folder: unique for the process, as the
/// name is unique among the process's uses.
pub fn path(name: &str) -> PathBuf {
    root().join(name)
}

/// A fresh, empty folder `name` inside this process's folder.
pub fn dir(name: &str) -> PathBuf {
    let dir = path(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|error| panic!("cannot make {}: {error}", dir.display()));
    dir
}

extern "C" fn remove_root() {
    if let Some(root) = ROOT.get() {
        let _ = std::fs::remove_dir_all(root);
    }
}

/// Removes the folders of processes that no longer run. Only where the
/// process table can be read (`/proc`); elsewhere the folders stay.
fn remove_left_by_dead_processes() {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
