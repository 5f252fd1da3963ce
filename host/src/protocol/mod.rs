//! d-zone's wire protocol: JSON objects in WebSocket text frames.
//!
//! [`inbound`] turns what a browser sends into a [`ConnectRequest`] or a
//! [`ClientError`]; [`outbound`] renders every frame the server sends, and
//! [`snapshot`] keeps server and member lists with their JSON rendered
//! once. The texts browsers show to people live in [`texts`], word for word.

pub mod inbound;
pub mod outbound;
pub mod snapshot;
pub mod texts;

pub use inbound::{ClientError, ConnectRequest, Credentials, parse_client_frame};
pub use outbound::{ServerFrame, ServerJoin};
pub use snapshot::{MemberList, Members, ServerList, Servers};
