//! WebSocket on the wire: framing ([`frame`]) and each connection's
//! outgoing side ([`outbox`]), below the d-zone protocol and broadcasting.

pub mod frame;
mod outbox;

pub use outbox::{Flow, Outbox, QueueLimit, StopReason, Wake};

#[cfg(test)]
pub(crate) use outbox::tests::{read_frames, socket_pair};
