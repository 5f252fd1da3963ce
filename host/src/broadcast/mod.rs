//! Broadcasting: who is bound to which server ([`hub`]), and the public API
//! that sends d-back's three broadcasts ([`Broadcaster`]). The HTTP ingress
//! for other processes lives in `http::broadcast_api` and calls the same API.

mod hub;
mod presence_memory;

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, OnceLock};

pub use hub::{ConnId, Hub, Outbox, QueueLimit};
pub use presence_memory::PresenceMemory;

/// The bounds of the presence memory, which a cluster's shared memory keeps too.
pub mod presence_bounds {
    pub use super::presence_memory::{MAX_BYTES, MAX_MEMBERS_PER_SERVER, MAX_SERVERS};
}

use crate::metrics::{BroadcastKind, BroadcastLabels, metrics};
use crate::model::{Event, InvalidValue, PresenceUpdate, require_non_empty};
use crate::protocol::{MemberList, ServerFrame};

/// Sends frames to every connection bound to a server. Cheap to clone; hand
/// it to a Discord bot's event handlers.
#[derive(Clone)]
pub struct Broadcaster {
    hub: Arc<Hub>,
    presence: Arc<PresenceMemory>,
    order: Arc<PresenceOrder>,
    relay: Arc<OnceLock<Arc<dyn Relay>>>,
}

/// Where a broadcast made on this node goes besides its own browsers: the
/// other nodes of a cluster. Called once per broadcast, after the local
/// delivery; it must not block.
pub trait Relay: Send + Sync {
    fn publish(&self, event: &Event);
}

/// Orders presence broadcasts and joins of the same server: a presence is
/// remembered and delivered while no join of its server is between taking
/// its snapshot and binding, so every presence is in a joiner's snapshot or
/// delivered to it after its join frame. Striped by server, so joins of
/// different servers do not wait for each other.
struct PresenceOrder {
    stripes: [Mutex<()>; 64],
    hasher: std::collections::hash_map::RandomState,
}

impl PresenceOrder {
    fn lock(&self, server: &str) -> std::sync::MutexGuard<'_, ()> {
        let stripe = (self.hasher.hash_one(server) % self.stripes.len() as u64) as usize;
        self.stripes[stripe]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for PresenceOrder {
    fn default() -> Self {
        Self {
            stripes: std::array::from_fn(|_| Mutex::new(())),
            hasher: Default::default(),
        }
    }
}

impl Broadcaster {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self {
            hub,
            presence: Arc::default(),
            order: Arc::default(),
            relay: Arc::default(),
        }
    }

    /// Sends every broadcast made from now on to `relay` too. Set once; a
    /// second relay is refused (returned).
    pub fn relay_to(&self, relay: Arc<dyn Relay>) -> Result<(), Arc<dyn Relay>> {
        self.relay.set(relay)
    }

    /// A broadcast another node made: delivered to this node's browsers
    /// (and remembered), not relayed again.
    pub fn deliver_from_peer(&self, event: &Event) -> Result<usize, InvalidValue> {
        self.deliver(event)
    }

    /// A presence another node remembered while this one could not hear
    /// it (it started later, or Redis was away): remembered and delivered
    /// to this node's browsers when it is news here. Returns whether it was.
    pub fn recall_presence(&self, server: &str, update: &PresenceUpdate) -> bool {
        if self.presence.get(server, &update.uid).as_ref() == Some(update) {
            return false;
        }
        self.deliver_presence(server, update).is_ok()
    }

    /// What is remembered of member `uid` of `server`: the latest presence
    /// broadcast, merged.
    pub fn remembered_presence(&self, server: &str, uid: &str) -> Option<PresenceUpdate> {
        self.presence.get(server, uid)
    }

    /// Runs `enter` (which sends the join frame and binds the connection)
    /// with the rendered `users` object of `members`, the latest broadcast
    /// presences of `server` laid over it, before any further presence of
    /// `server` is remembered or delivered. The overlay is rendered once
    /// per list and state of the presences, for every join that follows.
    pub fn join_room<R>(
        &self,
        server: &str,
        members: &MemberList,
        enter: impl FnOnce(&[u8]) -> R,
    ) -> R {
        let _order = self.order.lock(server);
        let Some(stamp) = self.presence.stamp(server) else {
            return enter(&members.json());
        };
        if let Some(json) = members.overlaid(stamp) {
            return enter(&json);
        }
        match self.presence.overlaid(server, members.members()) {
            Some((stamp, overlaid)) => enter(&members.keep_overlaid(stamp, &overlaid)),
            None => enter(&members.json()),
        }
    }

    /// Sends every browser joined to `server` the frame `render` makes of
    /// `members`' rendering (the latest presences laid over it), as a join
    /// would; returns how many it was queued for. For a new plugin
    /// version's members reaching browsers already there.
    pub fn rejoin_room(
        &self,
        server: &str,
        members: &MemberList,
        render: impl FnOnce(&[u8]) -> bytes::Bytes,
    ) -> usize {
        self.join_room(server, members, |users_json| {
            self.hub.deliver(server, &render(users_json))
        })
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
        let delivered = self.deliver_message(server, uid, message, channel)?;
        self.relay(|| Event::Message {
            server: server.into(),
            uid: uid.into(),
            message: message.into(),
            channel: channel.into(),
        });
        Ok(delivered)
    }

    fn deliver_message(
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
        let delivered = self.deliver_presence(server, update)?;
        self.relay(|| Event::Presence {
            server: server.into(),
            update: update.clone(),
        });
        Ok(delivered)
    }

    fn deliver_presence(
        &self,
        server: &str,
        update: &PresenceUpdate,
    ) -> Result<usize, InvalidValue> {
        require_non_empty("server", server)?;
        require_non_empty("uid", &update.uid)?;
        let _order = self.order.lock(server);
        self.presence.remember(server, update);
        Ok(self.send(server, ServerFrame::Presence { server, update }))
    }

    /// The server's OAuth2 client id changed.
    pub fn broadcast_client_id_update(
        &self,
        server: &str,
        client_id: &str,
    ) -> Result<usize, InvalidValue> {
        let delivered = self.deliver_client_id(server, client_id)?;
        self.relay(|| Event::ClientId {
            server: server.into(),
            client_id: client_id.into(),
        });
        Ok(delivered)
    }

    fn deliver_client_id(&self, server: &str, client_id: &str) -> Result<usize, InvalidValue> {
        require_non_empty("server", server)?;
        require_non_empty("client id", client_id)?;
        Ok(self.send(server, ServerFrame::ClientId { server, client_id }))
    }

    /// Sends an event a plugin produced.
    pub fn broadcast_event(&self, event: &Event) -> Result<usize, InvalidValue> {
        let delivered = self.deliver(event)?;
        if let Some(relay) = self.relay.get() {
            relay.publish(event);
        }
        Ok(delivered)
    }

    /// Delivers `event` to this node's browsers only.
    fn deliver(&self, event: &Event) -> Result<usize, InvalidValue> {
        match event {
            Event::Presence { server, update } => self.deliver_presence(server, update),
            Event::Message {
                server,
                uid,
                message,
                channel,
            } => self.deliver_message(server, uid, message, channel),
            Event::ClientId { server, client_id } => self.deliver_client_id(server, client_id),
        }
    }

    /// Hands the broadcast just delivered to the relay, if there is one;
    /// the event is built only then.
    fn relay(&self, event: impl FnOnce() -> Event) {
        if let Some(relay) = self.relay.get() {
            relay.publish(&event());
        }
    }

    /// Snowflakes with at least one bound connection.
    pub fn active_servers(&self) -> Vec<String> {
        self.hub.active_servers()
    }

    fn send(&self, server: &str, frame: ServerFrame<'_>) -> usize {
        let kind = match frame {
            ServerFrame::Message { .. } => BroadcastKind::message,
            ServerFrame::Presence { .. } => BroadcastKind::presence,
            _ => BroadcastKind::client_id,
        };
        metrics()
            .broadcasts
            .get_or_create(&BroadcastLabels { kind })
            .inc();
        // Rendered once, shared by every connection it goes to.
        let delivered = self.hub.deliver(server, &frame.to_frame());
        tracing::debug!(server, delivered, "broadcast");
        delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Member, RoleColor, Status};
    use crate::wire::frame::{self, Opcode};
    use crate::wire::{read_frames, socket_pair};

    fn member(uid: &str) -> Member {
        Member {
            uid: uid.into(),
            username: "one".into(),
            status: Status::Offline,
            role_color: RoleColor::parse("#000000").unwrap(),
        }
    }

    /// Joins see the latest presences; the overlay is rendered once per
    /// state of the presences, not once per join, and never changes the
    /// shared list itself.
    #[test]
    fn joins_share_one_overlaid_rendering_until_a_presence_changes() {
        let broadcaster = Broadcaster::new(Arc::new(Hub::new()));
        let members = MemberList::new(vec![member("1"), member("2")]);
        let render = |broadcaster: &Broadcaster| {
            broadcaster.join_room("s", &members, bytes::Bytes::copy_from_slice)
        };
        assert_eq!(render(&broadcaster), members.json(), "nothing remembered");
        broadcaster
            .broadcast_presence("s", &presence("2", Status::Dnd))
            .unwrap();
        let first = broadcaster.join_room("s", &members, |json| json.as_ptr());
        let second = broadcaster.join_room("s", &members, |json| json.as_ptr());
        assert_eq!(
            first, second,
            "the second join reused the first's rendering"
        );
        let text = String::from_utf8(render(&broadcaster).to_vec()).unwrap();
        assert!(
            text.contains(r#""2":{"uid":"2","username":"user 2","status":"dnd""#),
            "{text}"
        );
        broadcaster
            .broadcast_presence("s", &presence("1", Status::Idle))
            .unwrap();
        let text = String::from_utf8(render(&broadcaster).to_vec()).unwrap();
        assert!(text.contains(r#""status":"idle""#), "re-rendered: {text}");
        assert!(text.contains(r#""status":"dnd""#), "{text}");
        let plain = String::from_utf8(members.json().to_vec()).unwrap();
        assert!(!plain.contains("dnd") && !plain.contains("idle"), "{plain}");
    }

    fn presence(uid: &str, status: Status) -> PresenceUpdate {
        PresenceUpdate {
            uid: uid.into(),
            status,
            username: Some(format!("user {uid}")),
            role_color: None,
            delete: false,
        }
    }

    /// A presence broadcast between a joiner's snapshot and its bind is
    /// held until the bind, then delivered after the join frame.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_presence_between_snapshot_and_bind_is_not_lost() {
        let hub = Arc::new(Hub::new());
        let broadcaster = Broadcaster::new(Arc::clone(&hub));
        let limit = QueueLimit {
            frames: 16,
            bytes: 1 << 20,
        };
        let (socket, mut browser) = socket_pair().await;
        let outbox = Outbox::new(socket, limit);
        let members = MemberList::new(vec![member("1")]);
        let racer = broadcaster.clone();
        let mut concurrent = None;
        broadcaster.join_room("s", &members, |snapshot| {
            assert!(String::from_utf8_lossy(snapshot).contains("\"offline\""));
            // The interleaving forced: another thread broadcasts now, after
            // the snapshot, before the bind.
            concurrent = Some(std::thread::spawn(move || {
                racer.broadcast_presence("s", &presence("1", Status::Dnd))
            }));
            std::thread::sleep(std::time::Duration::from_millis(100));
            outbox.send(&frame::text("join frame"));
            hub.bind(7, None, "s", outbox.clone());
        });
        let delivered = concurrent.unwrap().join().unwrap().unwrap();
        assert_eq!(delivered, 1, "the presence reached the new connection");
        let frames = read_frames(&mut browser, 2).await;
        assert_eq!(frames[0], (Opcode::Text, b"join frame".to_vec()));
        let text = String::from_utf8(frames[1].1.clone()).unwrap();
        assert!(text.contains("\"dnd\""), "{text}");
    }
}
