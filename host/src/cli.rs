//! Command-line flags. Each overrides its environment variable, which
//! overrides the config file.

use std::path::PathBuf;

use clap::Parser;

/// d-zone's backend: serves a Discord community to d-zone browsers over one
/// WebSocket, with data from a sandboxed WebAssembly provider plugin.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "d-back", version)]
pub struct Cli {
    /// Port for HTTP and WebSocket [default: 3000]
    #[arg(long, env = "D_BACK_PORT")]
    pub port: Option<u16>,

    /// Address to listen on [default: localhost]
    #[arg(long, env = "D_BACK_HOST")]
    pub host: Option<String>,

    /// Directory of static files to serve [default: a built-in page]
    #[arg(long, env = "D_BACK_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// Provider plugin (.wasm component) [default: the built-in mock]
    #[arg(long, env = "D_BACK_PLUGIN")]
    pub plugin: Option<PathBuf>,

    /// TOML config file (see the README for its keys)
    #[arg(long, env = "D_BACK_CONFIG")]
    pub config: Option<PathBuf>,

    /// Follow this Discord guild (repeatable; with DISCORD_BOT_TOKEN):
    /// its presences and members live, served by the built-in Discord
    /// provider unless a plugin is named
    #[arg(
        long = "discord-guild",
        env = "D_BACK_DISCORD_GUILDS",
        value_delimiter = ','
    )]
    pub discord_guilds: Vec<String>,
    /// Reload the plugin when its file or the config file changes
    #[arg(long)]
    pub watch: bool,
}
