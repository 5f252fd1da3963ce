//! Error texts the d-zone client shows in its dialog. Keep them word for word:
//! people have seen them for years and the client's docs quote them.

pub const INVALID_JSON: &str = "Invalid JSON";
pub const INVALID_BINARY_ENCODING: &str = "Invalid binary encoding";
pub const UNKNOWN_EVENT_TYPE: &str = "Unknown event type";
pub const SERVER_NOT_FOUND: &str = "Sorry, couldn't connect to that Discord server.";
pub const DISCORD_AUTH_FAILED: &str = "Discord authentication failed. Please try logging in again.";
pub const DISCORD_AUTH_REQUIRED: &str =
    "This server requires Discord authentication. Please login with Discord.";
/// Ours: d-back dropped the connection on a `connect` without `data`.
pub const CONNECT_WITHOUT_DATA: &str =
    "Invalid connect request: \"data\" must be an object with the server to join.";
/// Ours: too many failed logins from this connection or address.
pub const TOO_MANY_AUTH_FAILURES: &str =
    "Too many failed login attempts. Please wait a minute and try again.";
/// Ours: a browser sending faster than the server allows.
pub const TOO_FAST: &str = "You are sending messages too fast. Please slow down.";
