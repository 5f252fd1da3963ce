//! One WebSocket connection: the frames it reads, the joins it makes, the
//! queue it writes from.

mod connection;
mod join;

pub use connection::serve;
pub use join::{AuthGate, JoinRefusal, Joined, join};
