//! The boundary: plugin values become checked host values here, or the call
//! counts as failed.

use std::collections::HashSet;

use super::bindings::exports::d_back::plugin::activity::Timer;
use super::bindings::wit;
use crate::model::{
    DiscordUserClaim, Event, InvalidValue, Member, PresenceUpdate, RoleColor, ServerEntry,
    StaticReply, Status, clip, require_non_empty,
};

/// Shortest timer interval a plugin may ask for.
pub const MIN_TIMER_INTERVAL_MS: u32 = 100;

/// Most timers a plugin may ask for: a provider needs one or two; each is
/// a task and a stream of calls.
pub const MAX_TIMERS: usize = 16;

/// How much a plugin may return from one call. Past a cap the answer is
/// invalid, handled like a trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCaps {
    pub max_servers: usize,
    /// Members of one server; d-zone draws every one of them.
    pub max_users: usize,
    /// Events from one timer firing.
    pub max_events: usize,
    /// Bytes of any one string (ids, names, messages, content types).
    pub max_string_bytes: usize,
    /// Bytes of a `static-request` body.
    pub max_body_bytes: usize,
    /// Bytes of one whole answer: every text of a server list, a member
    /// list or a firing's events, plus [`ITEM_OVERHEAD`] per item. Items
    /// within their own caps can still add up; this bounds the frame a
    /// join sends and the memory one answer holds.
    pub max_answer_bytes: usize,
}

/// What one item of an answer costs beyond its texts: about what it adds
/// to the JSON a browser gets.
pub const ITEM_OVERHEAD: usize = 48;

impl Default for OutputCaps {
    fn default() -> Self {
        Self {
            max_servers: 1_000,
            max_users: 25_000,
            max_events: 10_000,
            max_string_bytes: 4_096,
            max_body_bytes: 8 << 20,
            // 25,000 members with realistic ids and names are about 2.5 MB.
            max_answer_bytes: 8 << 20,
        }
    }
}

impl OutputCaps {
    fn count(&self, what: &str, count: usize, max: usize) -> Result<(), InvalidValue> {
        if count > max {
            Err(InvalidValue(format!(
                "{count} {what}, more than the cap of {max}"
            )))
        } else {
            Ok(())
        }
    }

    fn text(&self, what: &str, value: &str) -> Result<(), InvalidValue> {
        if value.len() > self.max_string_bytes {
            Err(InvalidValue(format!(
                "{what} is {} bytes, more than the cap of {}",
                value.len(),
                self.max_string_bytes
            )))
        } else {
            Ok(())
        }
    }

    fn texts(&self, fields: &[(&str, &str)]) -> Result<(), InvalidValue> {
        fields
            .iter()
            .try_for_each(|(what, value)| self.text(what, value))
    }

    /// Fails once the texts of `items` add up past the answer budget.
    fn answer<T>(
        &self,
        what: &str,
        items: &[T],
        texts: impl Fn(&T) -> usize,
    ) -> Result<(), InvalidValue> {
        let mut total = 0usize;
        for item in items {
            total = total.saturating_add(texts(item) + ITEM_OVERHEAD);
            if total > self.max_answer_bytes {
                return Err(InvalidValue(format!(
                    "{what} add up to more than the answer budget of {} bytes",
                    self.max_answer_bytes
                )));
            }
        }
        Ok(())
    }
}

fn opt_len(text: &Option<String>) -> usize {
    text.as_ref().map_or(0, String::len)
}

pub fn servers(
    list: Vec<wit::Server>,
    caps: &OutputCaps,
) -> Result<Vec<ServerEntry>, InvalidValue> {
    caps.count("servers", list.len(), caps.max_servers)?;
    caps.answer("servers", &list, |s| {
        s.snowflake.len() + s.id.len() + s.name.len() + opt_len(&s.password)
    })?;
    let mut seen = HashSet::new();
    list.into_iter()
        .map(|s| {
            caps.texts(&[
                ("server snowflake", &s.snowflake),
                ("server id", &s.id),
                ("server name", &s.name),
                ("server password", s.password.as_deref().unwrap_or_default()),
            ])?;
            require_non_empty("server snowflake", &s.snowflake)?;
            require_non_empty("server id", &s.id)?;
            if !seen.insert(s.snowflake.clone()) {
                return Err(InvalidValue(format!(
                    "server snowflake {:?} appears twice",
                    clip(&s.snowflake)
                )));
            }
            Ok(ServerEntry {
                snowflake: s.snowflake,
                id: s.id,
                name: s.name,
                passworded: s.passworded,
                is_default: s.is_default,
                password: s.password,
            })
        })
        .collect()
}

pub fn users(list: Vec<wit::User>, caps: &OutputCaps) -> Result<Vec<Member>, InvalidValue> {
    caps.count("users", list.len(), caps.max_users)?;
    caps.answer("users", &list, |u| {
        u.uid.len() + u.username.len() + u.role_color.len()
    })?;
    let mut seen = HashSet::new();
    list.into_iter()
        .map(|u| {
            caps.texts(&[("user uid", &u.uid), ("username", &u.username)])?;
            require_non_empty("user uid", &u.uid)?;
            require_non_empty("username", &u.username)?;
            if !seen.insert(u.uid.clone()) {
                return Err(InvalidValue(format!(
                    "user uid {:?} appears twice",
                    clip(&u.uid)
                )));
            }
            Ok(Member {
                role_color: RoleColor::parse(&u.role_color)?,
                uid: u.uid,
                username: u.username,
                status: status(u.status),
            })
        })
        .collect()
}

pub fn static_reply(
    reply: wit::StaticResponse,
    caps: &OutputCaps,
) -> Result<StaticReply, InvalidValue> {
    caps.text("content type", &reply.content_type)?;
    caps.count("body bytes", reply.body.len(), caps.max_body_bytes)?;
    // 1xx statuses announce more to come (101 would claim a protocol
    // switch) and have no body: a plugin's answer is final.
    let status = reply.status.unwrap_or(200);
    if !(200..=599).contains(&status) {
        return Err(InvalidValue(format!(
            "HTTP status {status} is not in 200..=599"
        )));
    }
    if hyper::header::HeaderValue::from_str(&reply.content_type).is_err() {
        return Err(InvalidValue(format!(
            "content type {:?} is not a valid header value",
            clip(&reply.content_type)
        )));
    }
    Ok(StaticReply {
        status,
        content_type: reply.content_type,
        body: reply.body,
    })
}

pub fn client_id(id: Option<String>, caps: &OutputCaps) -> Result<Option<String>, InvalidValue> {
    if let Some(id) = &id {
        caps.text("client id", id)?;
    }
    Ok(id.filter(|id| !id.trim().is_empty()))
}

pub fn events(list: Vec<wit::Event>, caps: &OutputCaps) -> Result<Vec<Event>, InvalidValue> {
    caps.count("events", list.len(), caps.max_events)?;
    caps.answer("events", &list, |e| match e {
        wit::Event::Presence(p) => {
            p.server.len() + p.uid.len() + opt_len(&p.username) + opt_len(&p.role_color)
        }
        wit::Event::Message(m) => m.server.len() + m.uid.len() + m.message.len() + m.channel.len(),
        wit::Event::ClientId(c) => c.server.len() + c.client_id.len(),
    })?;
    list.into_iter().map(|e| event(e, caps)).collect()
}

fn event(event: wit::Event, caps: &OutputCaps) -> Result<Event, InvalidValue> {
    Ok(match event {
        wit::Event::Presence(p) => {
            caps.texts(&[
                ("event server", &p.server),
                ("presence uid", &p.uid),
                ("username", p.username.as_deref().unwrap_or_default()),
            ])?;
            require_non_empty("event server", &p.server)?;
            require_non_empty("presence uid", &p.uid)?;
            Event::Presence {
                server: p.server,
                update: PresenceUpdate {
                    uid: p.uid,
                    status: status(p.status),
                    username: p.username,
                    role_color: p.role_color.as_deref().map(RoleColor::parse).transpose()?,
                    delete: p.remove,
                },
            }
        }
        wit::Event::Message(m) => {
            caps.texts(&[
                ("event server", &m.server),
                ("message uid", &m.uid),
                ("message", &m.message),
                ("channel", &m.channel),
            ])?;
            require_non_empty("event server", &m.server)?;
            require_non_empty("message uid", &m.uid)?;
            Event::Message {
                server: m.server,
                uid: m.uid,
                message: m.message,
                channel: m.channel,
            }
        }
        wit::Event::ClientId(c) => {
            caps.texts(&[("event server", &c.server), ("client id", &c.client_id)])?;
            require_non_empty("event server", &c.server)?;
            require_non_empty("client id", &c.client_id)?;
            Event::ClientId {
                server: c.server,
                client_id: c.client_id,
            }
        }
    })
}

pub fn timers(list: Vec<Timer>) -> Result<Vec<Timer>, InvalidValue> {
    if list.len() > MAX_TIMERS {
        return Err(InvalidValue(format!(
            "{} timers, more than the cap of {MAX_TIMERS}",
            list.len()
        )));
    }
    let mut seen = HashSet::new();
    for timer in &list {
        require_non_empty("timer name", &timer.name)?;
        if timer.interval_ms < MIN_TIMER_INTERVAL_MS {
            return Err(InvalidValue(format!(
                "timer {:?} fires every {} ms, below the minimum of {MIN_TIMER_INTERVAL_MS}",
                clip(&timer.name),
                timer.interval_ms
            )));
        }
        if !seen.insert(timer.name.as_str()) {
            return Err(InvalidValue(format!(
                "timer {:?} appears twice",
                clip(&timer.name)
            )));
        }
    }
    Ok(list)
}

pub fn status(status: wit::Status) -> Status {
    match status {
        wit::Status::Online => Status::Online,
        wit::Status::Idle => Status::Idle,
        wit::Status::Dnd => Status::Dnd,
        wit::Status::Offline => Status::Offline,
    }
}

pub fn discord_user(claim: &DiscordUserClaim) -> wit::DiscordUser {
    wit::DiscordUser {
        id: claim.id.clone(),
        username: claim.username.clone(),
        raw_json: claim.raw_json.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(uid: &str, color: &str) -> wit::User {
        wit::User {
            uid: uid.into(),
            username: "name".into(),
            status: wit::Status::Online,
            role_color: color.into(),
        }
    }

    #[test]
    fn users_reject_bad_colors_duplicates_and_empty_ids() {
        let caps = OutputCaps::default();
        assert!(users(vec![user("1", "#ffffff"), user("2", "#000000")], &caps).is_ok());
        assert!(users(vec![user("1", "red")], &caps).is_err());
        assert!(users(vec![user("1", "#ffffff"), user("1", "#ffffff")], &caps).is_err());
        assert!(users(vec![user("", "#ffffff")], &caps).is_err());
    }

    #[test]
    fn output_over_the_caps_is_invalid() {
        let caps = OutputCaps {
            max_users: 2,
            max_string_bytes: 8,
            ..OutputCaps::default()
        };
        let three = vec![
            user("1", "#ffffff"),
            user("2", "#ffffff"),
            user("3", "#ffffff"),
        ];
        assert!(users(three, &caps).unwrap_err().0.contains("cap of 2"));
        assert!(users(vec![user("123456789", "#ffffff")], &caps).is_err());
    }

    #[test]
    fn items_within_their_caps_cannot_add_up_past_the_budget() {
        let caps = OutputCaps {
            max_answer_bytes: 1000,
            ..OutputCaps::default()
        };
        let crowd: Vec<_> = (0..20)
            .map(|n| wit::User {
                username: "x".repeat(40),
                ..user(&n.to_string(), "#ffffff")
            })
            .collect();
        let error = users(crowd, &caps).unwrap_err().0;
        assert!(error.contains("answer budget of 1000 bytes"), "{error}");
        assert!(users(vec![user("1", "#ffffff")], &caps).is_ok());
    }

    #[test]
    fn static_reply_checks_status_and_content_type() {
        let reply = |status, content_type: &str| wit::StaticResponse {
            status,
            content_type: content_type.into(),
            body: vec![],
        };
        let caps = OutputCaps::default();
        assert_eq!(
            static_reply(reply(None, "text/plain"), &caps)
                .unwrap()
                .status,
            200
        );
        assert!(static_reply(reply(Some(99), "text/plain"), &caps).is_err());
        assert!(static_reply(reply(Some(101), "text/plain"), &caps).is_err());
        assert!(static_reply(reply(Some(199), "text/plain"), &caps).is_err());
        assert!(static_reply(reply(Some(600), "text/plain"), &caps).is_err());
        assert!(static_reply(reply(Some(404), "bad\nvalue"), &caps).is_err());
    }
}
