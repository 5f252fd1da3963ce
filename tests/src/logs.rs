//! Everything the host logs during a test run, kept in memory so tests can
//! check what was (and was not) logged.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<()> = OnceLock::new();

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once per test process; the host logs
/// at debug level so tests see the most it would ever write.
pub fn install() {
    INSTALLED.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("d_back=debug,info"))
            .with_ansi(false)
            .with_writer(|| Capture)
            .init();
    });
}

/// All log text so far.
pub fn text() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// The log lines that contain every one of `needles`.
pub fn lines_with(needles: &[&str]) -> Vec<String> {
    text()
        .lines()
        .filter(|line| needles.iter().all(|n| line.contains(n)))
        .map(str::to_string)
        .collect()
}

/// Waits (up to 10 s) until a line with all of `needles` was logged.
pub async fn wait_for(needles: &[&str]) -> String {
    for _ in 0..200 {
        if let Some(line) = lines_with(needles).into_iter().next() {
            return line;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no log line contains all of {needles:?}");
}
