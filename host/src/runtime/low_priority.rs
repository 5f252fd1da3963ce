//! A thread of its own, at the lowest CPU priority, for plugin calls nobody
//! is waiting for in a join: timers and `static-request`. The operating
//! system gives it the cores only when the threads that serve browsers have
//! nothing to do, so a plugin that computes in these calls slows joins by
//! no more than a scheduler's time slice.

use std::future::Future;
use std::thread::JoinHandle;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// The low-priority executor; stops when dropped.
#[derive(Debug)]
pub struct LowPriority {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LowPriority {
    pub fn start() -> std::io::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("plugin-background".into())
            .spawn(move || {
                lower_this_threads_priority();
                let runtime = match Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(runtime.handle().clone()));
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        let handle = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("the background thread died at start"))??;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where to spawn long-lived background tasks.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `work` on the background thread and waits for it; `None` if it
    /// panicked or the executor stopped.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        self.handle.spawn(work).await.ok()
    }
}

impl Drop for LowPriority {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Not joined: dropping may happen on an async thread, and the
        // thread ends on its own once its runtime has stopped.
        drop(self.thread.take());
    }
}

#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // On Linux a nice value belongs to a thread, so this leaves the rest of
    // the process alone.
    // SAFETY: plain system calls on the calling thread's own id.
    let result = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19)
    };
    if result != 0 {
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "cannot lower the background thread's priority"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_elsewhere_and_stops() {
        let background = LowPriority::start().unwrap();
        let caller = std::thread::current().id();
        let ran_on = background.run(async { std::thread::current().id() }).await;
        assert!(ran_on.is_some_and(|id| id != caller));
        drop(background);
    }
}
