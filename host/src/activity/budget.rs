//! What one timer firing may send: events only for servers somebody
//! watches, the latest presence per member, and no more frames per server
//! than its budget. A browser reading normally is never closed because a
//! plugin was loud; what is over the budget is dropped and counted.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crate::limits::TokenBucket;
use crate::model::Event;

/// Frames per second one server's browsers get from the plugin's events,
/// and the burst above it. The burst stays below a browser's outgoing queue
/// (256 frames by default), so a burst alone cannot fill it.
pub const EVENTS_PER_SECOND: f64 = 100.0;
pub const EVENT_BURST: u32 = 128;

/// Per-server event budgets of one plugin.
#[derive(Debug, Default)]
pub struct EventBudget {
    servers: HashMap<String, TokenBucket>,
}

/// What a firing may send, and what it may not.
#[derive(Debug, Default, PartialEq)]
pub struct Admitted {
    pub events: Vec<Event>,
    /// Events for servers nobody watches.
    pub unwatched: usize,
    /// Presence events replaced by a later one for the same member.
    pub coalesced: usize,
    /// Events over a server's budget.
    pub over_budget: usize,
}

impl EventBudget {
    /// Filters one firing's `events`; `watched` are the servers with at
    /// least one browser, as passed to the plugin.
    pub fn admit(&mut self, events: Vec<Event>, watched: &[String], now: Instant) -> Admitted {
        let watched: HashSet<&str> = watched.iter().map(String::as_str).collect();
        self.servers
            .retain(|server, _| watched.contains(server.as_str()));
        let mut admitted = Admitted::default();
        // The last presence per (server, member) wins; everything else keeps
        // its order.
        let mut last_presence: HashMap<(&str, &str), usize> = HashMap::new();
        for (n, event) in events.iter().enumerate() {
            if let Event::Presence { server, update } = event {
                last_presence.insert((server, &update.uid), n);
            }
        }
        let keep: Vec<bool> = events
            .iter()
            .enumerate()
            .map(|(n, event)| match event {
                Event::Presence { server, update } => {
                    last_presence.get(&(server.as_str(), update.uid.as_str())) == Some(&n)
                }
                _ => true,
            })
            .collect();
        for (event, keep) in events.into_iter().zip(keep) {
            let server = server_of(&event);
            if !watched.contains(server) {
                admitted.unwatched += 1;
                continue;
            }
            if !keep {
                admitted.coalesced += 1;
                continue;
            }
            let bucket = self
                .servers
                .entry(server.to_string())
                .or_insert_with(|| TokenBucket::new(EVENTS_PER_SECOND, EVENT_BURST, now));
            if bucket.try_take(now) {
                admitted.events.push(event);
            } else {
                admitted.over_budget += 1;
            }
        }
        admitted
    }
}

fn server_of(event: &Event) -> &str {
    match event {
        Event::Presence { server, .. }
        | Event::Message { server, .. }
        | Event::ClientId { server, .. } => server,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PresenceUpdate, Status};
    use std::time::Duration;

    fn presence(server: &str, uid: &str, status: Status) -> Event {
        Event::Presence {
            server: server.into(),
            update: PresenceUpdate {
                uid: uid.into(),
                status,
                username: None,
                role_color: None,
                delete: false,
            },
        }
    }

    fn message(server: &str, n: usize) -> Event {
        Event::Message {
            server: server.into(),
            uid: "1".into(),
            message: n.to_string(),
            channel: "c".into(),
        }
    }

    #[test]
    fn drops_unwatched_coalesces_presence_and_caps_each_server() {
        let mut budget = EventBudget::default();
        let watched = vec!["a".to_string(), "b".to_string()];
        let t0 = Instant::now();
        let mut events = vec![
            presence("a", "1", Status::Online),
            presence("nobody", "1", Status::Online),
            presence("a", "1", Status::Dnd),
        ];
        events.extend((0..1000).map(|n| message("a", n)));
        events.push(message("b", 0));
        let admitted = budget.admit(events, &watched, t0);
        assert_eq!(admitted.unwatched, 1);
        assert_eq!(admitted.coalesced, 1);
        assert_eq!(admitted.events.len(), EVENT_BURST as usize + 1);
        assert_eq!(admitted.over_budget, 1000 + 1 - EVENT_BURST as usize);
        assert_eq!(admitted.events[0], presence("a", "1", Status::Dnd));
        assert_eq!(*admitted.events.last().unwrap(), message("b", 0));

        let later = t0 + Duration::from_millis(100);
        let again = budget.admit((0..50).map(|n| message("a", n)).collect(), &watched, later);
        assert_eq!(again.events.len(), 10, "the rate refills the budget");
    }
}
