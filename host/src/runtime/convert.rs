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

pub fn servers(list: Vec<wit::Server>) -> Result<Vec<ServerEntry>, InvalidValue> {
    let mut seen = HashSet::new();
    list.into_iter()
        .map(|s| {
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

pub fn users(list: Vec<wit::User>) -> Result<Vec<Member>, InvalidValue> {
    let mut seen = HashSet::new();
    list.into_iter()
        .map(|u| {
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

pub fn static_reply(reply: wit::StaticResponse) -> Result<StaticReply, InvalidValue> {
    let status = reply.status.unwrap_or(200);
    if !(100..=599).contains(&status) {
        return Err(InvalidValue(format!(
            "HTTP status {status} is not in 100..=599"
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

pub fn client_id(id: Option<String>) -> Option<String> {
    id.filter(|id| !id.trim().is_empty())
}

pub fn event(event: wit::Event) -> Result<Event, InvalidValue> {
    Ok(match event {
        wit::Event::Presence(p) => {
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
        assert!(users(vec![user("1", "#ffffff"), user("2", "#000000")]).is_ok());
        assert!(users(vec![user("1", "red")]).is_err());
        assert!(users(vec![user("1", "#ffffff"), user("1", "#ffffff")]).is_err());
        assert!(users(vec![user("", "#ffffff")]).is_err());
    }

    #[test]
    fn static_reply_checks_status_and_content_type() {
        let reply = |status, content_type: &str| wit::StaticResponse {
            status,
            content_type: content_type.into(),
            body: vec![],
        };
        assert_eq!(static_reply(reply(None, "text/plain")).unwrap().status, 200);
        assert!(static_reply(reply(Some(99), "text/plain")).is_err());
        assert!(static_reply(reply(Some(600), "text/plain")).is_err());
        assert!(static_reply(reply(Some(404), "bad\nvalue")).is_err());
    }
}
