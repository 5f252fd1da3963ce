//! The sandbox around every plugin call: fuel, a memory cap and a
//! wall-clock deadline.
//!
//! Fuel counts instructions, so it stops a busy loop deterministically. The
//! deadline covers what fuel cannot: a call that waits (sleeps, blocks on a
//! host function) or burns its budget slowly. It is enforced by epoch
//! interruption: a background thread ([`super::epoch`]) bumps the
//! engine's epoch every [`EPOCH_TICK`] while calls run, and on each tick the running call yields to tokio (so a
//! plugin never holds a worker thread for more than one tick) and traps once
//! its deadline has passed. A tokio timeout around the call is the backstop.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// How often the engine's epoch advances.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Most table elements a plugin may have; tables hold function references,
/// so real components stay far below this.
pub const MAX_TABLE_ELEMENTS: usize = 1_000_000;

/// Per-call limits of one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel units per call (about one per WebAssembly instruction).
    pub fuel: u64,
    /// Bytes of linear memory one instance may hold, all memories together.
    pub memory_bytes: usize,
    /// Wall-clock time one call may take.
    pub deadline: Duration,
}

impl Limits {
    /// One billion units is a few hundred milliseconds of busy work: plenty
    /// for a provider that answers from memory or an interpreter's start-up,
    /// and an endless loop still ends well inside the deadline.
    pub const DEFAULT_FUEL: u64 = 1_000_000_000;
    /// JavaScript and Python components need tens of megabytes to start.
    pub const DEFAULT_MEMORY_BYTES: usize = 128 << 20;
    /// Long enough for a provider that asks an HTTP API, short enough that
    /// a browser waiting to join does not give up.
    pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: Self::DEFAULT_FUEL,
            memory_bytes: Self::DEFAULT_MEMORY_BYTES,
            deadline: Self::DEFAULT_DEADLINE,
        }
    }
}

/// Caps the linear memory of one store and remembers whether it said no, so
/// the trap that usually follows can be reported as what it is.
#[derive(Debug)]
pub struct MemoryCap {
    limit: usize,
    used: usize,
    refused: bool,
}

impl MemoryCap {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: 0,
            refused: false,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// True once a growth was refused since the last [`Self::forget_refusal`].
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// Starts a new call: a refusal an earlier call survived is not its cause.
    pub fn forget_refusal(&mut self) {
        self.refused = false;
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        match self.used.checked_add(growth) {
            Some(total) if total <= self.limit => {
                self.used = total;
                Ok(true)
            }
            _ => {
                self.refused = true;
                Ok(false)
            }
        }
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_cap_counts_all_memories_together() {
        let mut cap = MemoryCap::new(100);
        assert!(cap.memory_growing(0, 60, None).unwrap());
        assert!(cap.memory_growing(0, 40, None).unwrap());
        assert!(!cap.refused());
        assert!(!cap.memory_growing(40, 41, None).unwrap());
        assert!(cap.refused());
    }
}
