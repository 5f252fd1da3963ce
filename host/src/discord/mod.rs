//! Following Discord's gateway natively, so a community is live from the
//! first join with no separate bot process. So far: the gateway's protocol
//! as data ([`protocol`]: payloads, op codes, intents, close codes, the
//! heartbeat's schedule) and a session's rules without its I/O
//! ([`session`]: identify or resume, zombie connections, replayed
//! events). The connection driver and the bridge to the broadcasts build
//! on them.

pub mod protocol;
pub mod session;
