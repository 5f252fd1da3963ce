//! Broadcasts between the nodes, through one Redis channel. Each node
//! publishes what is broadcast on it (one PUBLISH per broadcast, from one
//! task, so in the order it was made) and delivers what the others publish
//! to its own browsers. Redis going away stops only the crossing: every
//! node keeps serving its own browsers, and both sides reconnect with
//! backoff and carry on, nothing replayed twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::link::Link;
use super::message;
use super::presence::PresenceStore;
use crate::backoff::Backoff;
use crate::broadcast::{Broadcaster, Relay};
use crate::model::{Event, PresenceUpdate};

/// Waits between attempts to reach Redis.
fn redis_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(200), Duration::from_secs(5))
}

/// Broadcasts waiting to be published at most: a node that makes more
/// than this before Redis takes them drops (and counts) the rest, rather
/// than hold memory or slow its own browsers.
const OUTGOING_QUEUE: usize = 4_096;

/// How long one PUBLISH may take before the link counts as lost.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// A broadcast on its way to Redis: the message, and for a presence what
/// the shared memory stores.
struct Outgoing {
    message: Vec<u8>,
    presence: Option<(String, PresenceUpdate)>,
}

/// This node's side of the channel.
pub struct ClusterBus {
    node: String,
    outgoing: mpsc::Sender<Outgoing>,
    /// Broadcasts not published: the queue was full, or Redis was away.
    dropped: AtomicU64,
    /// Whether both directions are connected now.
    publishing: AtomicBool,
    subscribed: AtomicBool,
}

impl ClusterBus {
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Broadcasts of this node that did not reach the others.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether broadcasts cross between the nodes now.
    pub fn connected(&self) -> bool {
        self.publishing.load(Ordering::Relaxed) && self.subscribed.load(Ordering::Relaxed)
    }
}

impl Relay for ClusterBus {
    fn publish(&self, event: &Event) {
        let presence = match event {
            Event::Presence { server, update } => Some((server.clone(), update.clone())),
            _ => None,
        };
        let outgoing = Outgoing {
            message: message::encode(&self.node, event),
            presence,
        };
        if self.outgoing.try_send(outgoing).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Where the bus meets Redis: a client for its own connections (a
/// subscriber needs one to itself), the shared link, the presence store
/// and the channel.
pub struct Endpoints {
    pub client: redis::Client,
    pub link: Link,
    pub store: Arc<PresenceStore>,
    pub channel: String,
}

/// Starts this node's publisher and subscriber on the channel and relays
/// `broadcaster`'s broadcasts through them; presences are kept in the
/// store too, and read back each time the node subscribes.
pub fn start(
    redis: Endpoints,
    node: String,
    broadcaster: &Broadcaster,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Arc<ClusterBus> {
    let Endpoints {
        client,
        link,
        store,
        channel,
    } = redis;
    let (outgoing, queued) = mpsc::channel(OUTGOING_QUEUE);
    let bus = Arc::new(ClusterBus {
        node,
        outgoing,
        dropped: AtomicU64::new(0),
        publishing: AtomicBool::new(false),
        subscribed: AtomicBool::new(false),
    });
    if broadcaster.relay_to(bus.clone()).is_err() {
        tracing::warn!("this server already relays its broadcasts; not joining a second cluster");
    }
    tasks.spawn(publish(
        client.clone(),
        channel.clone(),
        Arc::clone(&store),
        queued,
        Arc::clone(&bus),
        shutdown.clone(),
    ));
    tasks.spawn(subscribe(
        client,
        link,
        store,
        channel,
        broadcaster.clone(),
        Arc::clone(&bus),
        shutdown.clone(),
    ));
    bus
}

/// Publishes this node's broadcasts, in order, for as long as it runs.
async fn publish(
    client: redis::Client,
    channel: String,
    store: Arc<PresenceStore>,
    mut queued: mpsc::Receiver<Outgoing>,
    bus: Arc<ClusterBus>,
    shutdown: CancellationToken,
) {
    let mut backoff = redis_backoff();
    // A broadcast whose PUBLISH found the connection dropped: it is sent
    // first on the next connection if that comes at once (Redis was back,
    // this node had been idle), and dropped if Redis is really away.
    let mut retry: Option<Outgoing> = None;
    loop {
        let connected = tokio::select! {
            () = shutdown.cancelled() => return,
            connected = client.get_multiplexed_async_connection() => connected,
        };
        let mut connection = match connected {
            Ok(connection) => connection,
            Err(error) => {
                if backoff.first_failure() {
                    tracing::warn!(%error, "cluster: Redis unreachable; serving this node's browsers alone, retrying");
                }
                // What was made while Redis was away is not sent late.
                if retry.take().is_some() {
                    bus.dropped.fetch_add(1, Ordering::Relaxed);
                }
                discard(&mut queued, &bus);
                if !backoff.wait(&shutdown).await {
                    return;
                }
                continue;
            }
        };
        if !backoff.first_failure() {
            // Back after an outage: what was made while Redis was away is
            // not sent late.
            discard(&mut queued, &bus);
        }
        backoff.reset();
        bus.publishing.store(true, Ordering::Relaxed);
        tracing::info!(node = bus.node(), "cluster: publishing broadcasts to Redis");
        loop {
            let message = match retry.take() {
                Some(message) => message,
                None => {
                    let next = tokio::select! {
                        () = shutdown.cancelled() => return,
                        next = queued.recv() => next,
                    };
                    let Some(message) = next else { return };
                    message
                }
            };
            // One command per broadcast: a PUBLISH, or for a presence the
            // script that stores it and publishes it.
            let sending = async {
                match &message.presence {
                    None => {
                        redis::cmd("PUBLISH")
                            .arg(&channel)
                            .arg(&message.message)
                            .query_async::<i64>(&mut connection)
                            .await
                    }
                    Some((server, update)) => {
                        store
                            .remember_and_publish(&channel, &message.message, server, update)
                            .invoke_async::<i64>(&mut connection)
                            .await
                    }
                }
            };
            let sent = tokio::time::timeout(PUBLISH_TIMEOUT, sending).await;
            match sent {
                Ok(Ok(_)) => continue,
                // Not sent at all: worth one more try on a new connection.
                // A timeout may have been sent, so it is not retried.
                Ok(Err(error))
                    if error.is_connection_dropped() || error.is_connection_refusal() =>
                {
                    retry = Some(message);
                }
                _ => {
                    bus.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            bus.publishing.store(false, Ordering::Relaxed);
            tracing::warn!("cluster: lost Redis while publishing; reconnecting");
            break;
        }
    }
}

/// Delivers the other nodes' broadcasts to this node's browsers.
async fn subscribe(
    client: redis::Client,
    link: Link,
    store: Arc<PresenceStore>,
    channel: String,
    broadcaster: Broadcaster,
    bus: Arc<ClusterBus>,
    shutdown: CancellationToken,
) {
    let mut backoff = redis_backoff();
    loop {
        let subscribed = tokio::select! {
            () = shutdown.cancelled() => return,
            subscribed = async {
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            } => subscribed,
        };
        let mut pubsub = match subscribed {
            Ok(pubsub) => pubsub,
            Err(error) => {
                if backoff.first_failure() {
                    tracing::debug!(%error, "cluster: cannot subscribe yet");
                }
                if !backoff.wait(&shutdown).await {
                    return;
                }
                continue;
            }
        };
        backoff.reset();
        bus.subscribed.store(true, Ordering::Relaxed);
        tracing::info!(node = bus.node(), %channel, "cluster: receiving the other nodes' broadcasts");
        // Subscribed first, then read: a presence published in between is
        // in both, and the broadcast, delivered after, is the newer.
        recall_presences(&link, &store, &broadcaster).await;
        let mut messages = pubsub.on_message();
        loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => return,
                next = messages.next() => next,
            };
            let Some(received) = next else { break };
            match message::decode(received.get_payload_bytes()) {
                Ok((from, _)) if from == bus.node() => {}
                Ok((_, event)) => {
                    if let Err(error) = broadcaster.deliver_from_peer(&event) {
                        tracing::debug!(%error, "cluster: a peer's broadcast refused");
                    }
                }
                Err(error) => tracing::debug!(%error, "cluster: an unreadable message ignored"),
            }
        }
        bus.subscribed.store(false, Ordering::Relaxed);
        tracing::warn!(
            "cluster: lost Redis; this node's browsers are served alone until it is back"
        );
    }
}

/// Reads the shared presence memory into this node's: what others
/// published while it was not listening.
async fn recall_presences(link: &Link, store: &PresenceStore, broadcaster: &Broadcaster) {
    match store.load(link).await {
        Ok(stored) => {
            let news = stored
                .iter()
                .filter(|(server, update)| broadcaster.recall_presence(server, update))
                .count();
            tracing::info!(
                stored = stored.len(),
                news,
                "cluster: presences read from the shared memory"
            );
        }
        Err(error) => {
            tracing::warn!(%error, "cluster: could not read the shared presence memory");
        }
    }
}

fn discard(queued: &mut mpsc::Receiver<Outgoing>, bus: &ClusterBus) {
    while queued.try_recv().is_ok() {
        bus.dropped.fetch_add(1, Ordering::Relaxed);
    }
}
