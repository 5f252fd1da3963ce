//! Helpers for the end-to-end tests: a real server on an ephemeral port,
//! a real WebSocket client, raw HTTP, captured logs, and plugins built from
//! source.

pub mod child;
pub mod client;
pub mod crowd;
pub mod fake_discord;
pub mod fake_gateway;
pub mod http;
pub mod logs;
pub mod plugins;
pub mod redis;
pub mod scratch;
pub mod server;
pub mod timing;
pub mod untrusted_tls;

pub use client::Client;
pub use http::{HttpReply, http};
pub use server::TestServer;

/// This package's folder (`tests/`), read when the tests run: cargo sets
/// it for every test and bench it runs. The value built in is only the
/// fallback, since a build cache shared between checkouts may hold test
/// binaries built in another folder.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        std::path::PathBuf::from,
    )
}
