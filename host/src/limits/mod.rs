//! Limits on what clients may do: how many may connect, how fast they may
//! send, how often they may fail to log in. Each has a safe default and is
//! set in the config file's `[clients]` table.

mod auth_throttle;
mod connections;
mod log_budget;
mod token_bucket;

use std::time::Duration;

pub use auth_throttle::{AuthThrottle, AuthThrottleConfig, SharedFailures};
pub use connections::{ConnectionGuard, ConnectionLimiter, Refusal};
pub use log_budget::{LogBudget, Verdict};
pub use token_bucket::TokenBucket;

/// Client-side limits of one server.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientLimits {
    /// Largest WebSocket message (and frame) a browser may send; a larger
    /// one closes the connection with code 1009.
    pub max_message_bytes: usize,
    /// Frames queued per browser before it counts as not reading.
    pub outgoing_queue: usize,
    /// Bytes of frames queued per browser before it counts as not reading
    /// (a frame bigger than this still goes to an empty queue).
    pub outgoing_queue_bytes: usize,
    /// WebSocket connections open at once, in all.
    pub max_connections: usize,
    /// WebSocket connections open at once from one IP address.
    pub max_connections_per_ip: usize,
    /// TCP connections still speaking plain HTTP (before any upgrade), in
    /// all; past it a new one is closed at once.
    pub max_http_connections: usize,
    /// ... and from one IP address.
    pub max_http_connections_per_ip: usize,
    /// Time a TCP connection gets to send its complete request head.
    pub handshake_timeout: Duration,
    /// Largest HTTP request head (request line and headers).
    pub max_header_bytes: usize,
    /// A connection silent this long is pinged.
    pub ping_interval: Duration,
    /// A pinged connection silent this much longer is dropped.
    pub pong_timeout: Duration,
    /// Sustained frames per second a browser may send.
    pub frames_per_second: f64,
    /// Frames a browser may send in a burst above the sustained rate.
    pub frame_burst: u32,
    /// Frames over the rate (each answered with an error) before the
    /// connection is closed.
    pub rate_strikes: u32,
    /// Failed logins to passworded servers.
    pub auth: AuthThrottleConfig,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            // A `connect` with a full Discord user object is about 1 KiB.
            max_message_bytes: 64 * 1024,
            outgoing_queue: 256,
            // Room for the largest `server-join` (an 8 MiB answer, as JSON)
            // and what is broadcast while it is read.
            outgoing_queue_bytes: 16 << 20,
            max_connections: 10_000,
            max_connections_per_ip: 64,
            // Browsers open a handful of HTTP connections each; a WebSocket
            // holds one only during its handshake. Generous enough for many
            // browsers behind one address, small next to file limits.
            max_http_connections: 4096,
            max_http_connections_per_ip: 256,
            handshake_timeout: Duration::from_secs(5),
            max_header_bytes: 16 * 1024,
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(30),
            // d-zone sends one `connect` per navigation; people click slower.
            frames_per_second: 5.0,
            frame_burst: 20,
            rate_strikes: 10,
            auth: AuthThrottleConfig::default(),
        }
    }
}
