//! Helpers for the end-to-end tests: a real server on an ephemeral port,
//! a real WebSocket client, raw HTTP, captured logs, and plugins built from
//! source.

pub mod child;
pub mod client;
pub mod crowd;
pub mod fake_discord;
pub mod http;
pub mod logs;
pub mod plugins;
pub mod redis;
pub mod server;
pub mod timing;

pub use client::Client;
pub use http::{HttpReply, http};
pub use server::TestServer;
