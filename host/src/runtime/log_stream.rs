//! A plugin's stdout and stderr, written line by line to the host's log:
//! stdout at INFO, stderr at WARN (where panics and uncaught exceptions
//! land), within the plugin's log budget.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::bindings::Level;
use super::state::PluginIdentity;

/// Bytes kept while waiting for the end of a line; past this a partial line
/// is logged as it is.
const MAX_PENDING: usize = 8192;

/// Hands each plugin stream a writer that logs whole lines.
#[derive(Clone)]
pub struct LogStream {
    plugin: Arc<PluginIdentity>,
    stream: &'static str,
    level: Level,
}

impl LogStream {
    pub fn new(plugin: Arc<PluginIdentity>, stream: &'static str, level: Level) -> Self {
        Self {
            plugin,
            stream,
            level,
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            target: self.clone(),
            pending: Vec::new(),
        })
    }
}

struct LineWriter {
    target: LogStream,
    pending: Vec<u8>,
}

impl LineWriter {
    fn emit(&self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let line = text.trim_end_matches(['\r', '\n']);
        if !line.is_empty() {
            let target = &self.target;
            target.plugin.log_line(target.level, target.stream, line);
        }
    }

    fn flush_lines(&mut self) {
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.emit(&line);
        }
        if self.pending.len() > MAX_PENDING {
            let partial = std::mem::take(&mut self.pending);
            self.emit(&partial);
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pending.extend_from_slice(buf);
        self.flush_lines();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let rest = std::mem::take(&mut self.pending);
        self.emit(&rest);
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let rest = std::mem::take(&mut self.pending);
        self.emit(&rest);
    }
}
