//! Following Discord's gateway natively, so a community is live from the
//! first join with no separate bot process. This first part is the
//! gateway's protocol itself ([`protocol`]): payloads, op codes, intents,
//! close codes and what each asks the session to do, the heartbeat's
//! schedule. The session and the bridge to the broadcasts build on it.

pub mod protocol;
