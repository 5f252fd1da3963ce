//! The `d-back` binary: flags and config in, server out.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use d_back::cli::Cli;
use d_back::{Server, Settings};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Thousands of connections each allocate and free small buffers per frame
/// and per join from several threads: mimalloc's per-thread free lists
/// cost less per allocation than glibc's arenas and hand memory back
/// instead of leaving it fragmented.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_ansi(colors_wanted())
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // An operator's mistake (a bad config, a port in use) is a message, not
    // a stack trace, whatever RUST_BACKTRACE says.
    match runtime.block_on(serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Colors only for a person at a terminal: a log file or a pipe gets plain
/// text, and `NO_COLOR` turns them off anywhere. (The log goes to stdout.)
fn colors_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

async fn serve() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_cli(&cli)?;
    let mut server = Server::bind(settings)
        .await
        .context("d-back could not start")?;
    // A reload reads the config file again, with the command line on top.
    let reread = cli.clone();
    server.reload_from(Box::new(move || {
        Settings::from_cli(&reread)
            .map(|settings| settings.plugin)
            .map_err(|error| error.to_string())
    }));
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let reloader = server.reloader();
    #[cfg(unix)]
    tokio::spawn(reload_on_hangup(Arc::clone(&reloader)));
    if cli.watch {
        tokio::spawn(d_back::live::watch::watch(
            reloader,
            cli.config.clone(),
            shutdown.clone(),
        ));
    }
    server.run(shutdown).await;
    Ok(())
}

/// `SIGHUP` reloads the plugin, as operators expect of a daemon.
#[cfg(unix)]
async fn reload_on_hangup(reloader: Arc<d_back::live::Reloader>) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        // The outcome is logged by the reloader.
        let _ = reloader.reload("SIGHUP").await;
    }
}

/// `RUST_LOG` (default `info`), except that the WebSocket and HTTP crates
/// never log below INFO: at trace they print whole frames and requests,
/// tokens and passwords among them.
fn log_filter() -> EnvFilter {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    for quiet in [
        "tungstenite",
        "tokio_tungstenite",
        "hyper",
        "hyper_util",
        "h2",
    ] {
        if let Ok(directive) = format!("{quiet}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Cancels `shutdown` on SIGINT (Ctrl-C) or SIGTERM.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    let _ = interrupt.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    shutdown.cancel();
}
