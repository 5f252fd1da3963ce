//! One WebSocket connection: the frames it reads, the joins it makes, the
//! queue it writes from.

mod connection;
mod join;
mod live;

pub use connection::serve;
pub use join::{AuthGate, JoinRefusal, Joined, join};
pub use live::{LiveConnections, watch as watch_liveness};
