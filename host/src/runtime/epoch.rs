//! The thread that advances an engine's epoch, which is how a running
//! call's deadline is enforced (see [`super::limits`]).
//!
//! It ticks only while a call is running: an idle server has no thread
//! waking every few milliseconds. The first call after a pause wakes it;
//! every call holds a [`Ticking`] guard from before guest code runs until
//! it is done, so no call ever runs without ticks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use wasmtime::Engine;

use super::limits::EPOCH_TICK;

pub struct EpochTicker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    /// Calls running now.
    running: AtomicUsize,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    stop: bool,
    /// The thread waits for a call.
    parked: bool,
}

/// Keeps the epoch advancing while it lives.
pub struct Ticking<'a> {
    shared: &'a Shared,
}

impl Drop for Ticking<'_> {
    fn drop(&mut self) {
        self.shared.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl EpochTicker {
    pub fn start(engine: Engine) -> std::io::Result<Self> {
        Self::with_tick(move || engine.increment_epoch())
    }

    /// Runs `on_tick` every [`EPOCH_TICK`] while a call holds the ticker.
    fn with_tick(on_tick: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || tick(&on_tick, &shared)
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Ticks until the guard is dropped; take it before guest code runs.
    pub fn hold(&self) -> Ticking<'_> {
        if self.shared.running.fetch_add(1, Ordering::SeqCst) == 0 {
            // The state lock orders this with the thread's check: either it
            // sees the call running, or it is parked by now and is woken.
            let state = self.shared.lock();
            if state.parked {
                self.shared.wake.notify_one();
            }
        }
        Ticking {
            shared: &self.shared,
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn tick(on_tick: &impl Fn(), shared: &Shared) {
    loop {
        {
            let mut state = shared.lock();
            while !state.stop && shared.running.load(Ordering::SeqCst) == 0 {
                state.parked = true;
                state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            state.parked = false;
            if state.stop {
                return;
            }
        }
        std::thread::sleep(EPOCH_TICK);
        on_tick();
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::time::{Duration, Instant};

    /// The epoch moves while a call holds the ticker, stops when none does,
    /// and moves again for the next call.
    #[test]
    fn ticks_only_while_held() {
        let ticks = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&ticks);
        let ticker = EpochTicker::with_tick(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        let epoch = || ticks.load(Ordering::SeqCst);
        let wait_for_tick = |from: u64| {
            let until = Instant::now() + Duration::from_secs(5);
            while epoch() == from {
                assert!(Instant::now() < until, "the epoch did not advance");
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let held = ticker.hold();
        wait_for_tick(epoch());
        drop(held);
        std::thread::sleep(EPOCH_TICK * 3);
        let resting = epoch();
        std::thread::sleep(EPOCH_TICK * 10);
        assert_eq!(epoch(), resting, "no ticks without a call");
        let _held = ticker.hold();
        wait_for_tick(resting);
    }
}
