//! Broadcasting: who is bound to which server ([`hub`]), and the public API
//! that sends d-back's three broadcasts ([`Broadcaster`]). The HTTP ingress
//! for other processes lives in `http::broadcast_api` and calls the same API.

mod hub;
mod presence_memory;

use std::sync::Arc;

pub use hub::{ConnId, Hub, Outbox};
pub use presence_memory::PresenceMemory;

use crate::model::{Event, InvalidValue, Member, PresenceUpdate, require_non_empty};
use crate::protocol::ServerFrame;

/// Sends frames to every connection bound to a server. Cheap to clone; hand
/// it to a Discord bot's event handlers.
#[derive(Clone)]
pub struct Broadcaster {
    hub: Arc<Hub>,
    presence: Arc<PresenceMemory>,
}

impl Broadcaster {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self {
            hub,
            presence: Arc::default(),
        }
    }

    /// Lays the latest broadcast presences of `server` over `members`.
    pub fn overlay_presence(&self, server: &str, members: &mut Vec<Member>) {
        self.presence.overlay(server, members);
    }

    /// A member wrote `message` in `channel`. Returns how many connections
    /// the frame was queued for.
    pub fn broadcast_message(
        &self,
        server: &str,
        uid: &str,
        message: &str,
        channel: &str,
    ) -> Result<usize, InvalidValue> {
        require_non_empty("server", server)?;
        require_non_empty("uid", uid)?;
        Ok(self.send(
            server,
            ServerFrame::Message {
                server,
                uid,
                message,
                channel,
            },
        ))
    }

    /// A member's presence changed (or, with `delete`, the member left).
    pub fn broadcast_presence(
        &self,
        server: &str,
        update: &PresenceUpdate,
    ) -> Result<usize, InvalidValue> {
        require_non_empty("server", server)?;
        require_non_empty("uid", &update.uid)?;
        self.presence.remember(server, update);
        Ok(self.send(server, ServerFrame::Presence { server, update }))
    }

    /// The server's OAuth2 client id changed.
    pub fn broadcast_client_id_update(
        &self,
        server: &str,
        client_id: &str,
    ) -> Result<usize, InvalidValue> {
        require_non_empty("server", server)?;
        require_non_empty("client id", client_id)?;
        Ok(self.send(server, ServerFrame::ClientId { server, client_id }))
    }

    /// Sends an event a plugin produced.
    pub fn broadcast_event(&self, event: &Event) -> Result<usize, InvalidValue> {
        match event {
            Event::Presence { server, update } => self.broadcast_presence(server, update),
            Event::Message {
                server,
                uid,
                message,
                channel,
            } => self.broadcast_message(server, uid, message, channel),
            Event::ClientId { server, client_id } => {
                self.broadcast_client_id_update(server, client_id)
            }
        }
    }

    /// Snowflakes with at least one bound connection.
    pub fn active_servers(&self) -> Vec<String> {
        self.hub.active_servers()
    }

    fn send(&self, server: &str, frame: ServerFrame<'_>) -> usize {
        // Rendered once, shared by every connection it goes to.
        let delivered = self.hub.deliver(server, frame.to_json());
        tracing::debug!(server, delivered, "broadcast");
        delivered
    }
}
