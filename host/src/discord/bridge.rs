//! From gateway events to d-back's broadcasts, through the same
//! [`Broadcaster`] as the broadcast API (checked, bounded, remembered in the
//! presence memory). What the bridge knows of each followed guild (roles,
//! members, channel names) is kept here, bounded, to name and color the
//! members it broadcasts the way the Discord provider does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::Value;

use super::config::DiscordConfig;
use super::gateway::EventHandler;
use super::protocol::Payload;
use crate::broadcast::Broadcaster;
use crate::broadcast::presence_bounds::MAX_MEMBERS_PER_SERVER;
use crate::model::{PresenceUpdate, RoleColor, Status};

/// Characters of a message shown at most; longer ones end in "…".
pub const MAX_MESSAGE_CHARS: usize = 500;
/// Roles and channels remembered per guild at most (Discord allows 250
/// roles and 500 channels).
const MAX_ROLES: usize = 1_000;
const MAX_CHANNELS: usize = 1_000;
/// Discord's color for members without a colored role, as the provider
/// shows them.
const NEUTRAL_COLOR: &str = "#99aab5";

/// Called when the bridge learns that a member list it did not make
/// changed (a member left): the provider's cached list of that server is
/// then stale.
pub type MembersChanged = Box<dyn Fn(&str) + Send + Sync>;

pub struct Bridge {
    config: Arc<DiscordConfig>,
    broadcaster: Broadcaster,
    guilds: Mutex<HashMap<String, Guild>>,
    members_changed: Option<MembersChanged>,
    nonce: AtomicU64,
}

#[derive(Default)]
struct Guild {
    roles: HashMap<String, Role>,
    members: HashMap<String, Known>,
    channels: HashMap<String, String>,
}

/// Remembers `role` in `roles`, within the bound (a known role always
/// updates); returns whether it did.
fn put_role(roles: &mut HashMap<String, Role>, role: Role) -> bool {
    let admitted = roles.len() < MAX_ROLES || roles.contains_key(&role.id);
    if admitted {
        roles.insert(role.id.clone(), role);
    }
    admitted
}

impl Guild {
    /// Remembers member `uid`, within the bound (a known one always updates).
    fn put_member(&mut self, uid: String, known: Known) {
        if self.members.len() < MAX_MEMBERS_PER_SERVER || self.members.contains_key(&uid) {
            self.members.insert(uid, known);
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Role {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    color: u32,
    #[serde(default)]
    position: i64,
}

/// What the bridge knows of one member.
#[derive(Debug, Clone)]
struct Known {
    name: String,
    roles: Vec<String>,
    bot: bool,
    status: Status,
}

#[derive(Debug, Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    global_name: Option<String>,
    #[serde(default)]
    bot: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct Member {
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    nick: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct UserId {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Presence {
    user: UserId,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Channel {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

/// `GUILD_CREATE` and `GUILD_MEMBERS_CHUNK`: members and their presences.
#[derive(Debug, Deserialize)]
struct Snapshot {
    #[serde(alias = "guild_id")]
    id: String,
    #[serde(default)]
    unavailable: bool,
    #[serde(default)]
    large: bool,
    #[serde(default)]
    roles: Vec<Role>,
    #[serde(default)]
    members: Vec<Member>,
    #[serde(default)]
    presences: Vec<Presence>,
    #[serde(default)]
    channels: Vec<Channel>,
}

/// `GUILD_MEMBER_ADD` / `UPDATE` (a member with its guild).
#[derive(Debug, Deserialize)]
struct GuildMember {
    guild_id: String,
    #[serde(flatten)]
    member: Member,
}

#[derive(Debug, Deserialize)]
struct MemberRemoved {
    guild_id: String,
    user: UserId,
}

#[derive(Debug, Deserialize)]
struct PresenceUpdated {
    guild_id: String,
    user: User,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RoleChanged {
    guild_id: String,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    role_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChannelChanged {
    #[serde(default)]
    guild_id: Option<String>,
    id: String,
    #[serde(default)]
    name: Option<String>,
}

/// A user a message mentions, with their member part when in a guild.
#[derive(Debug, Deserialize)]
struct Mentioned {
    #[serde(flatten)]
    user: User,
    #[serde(default)]
    member: Option<Member>,
}

#[derive(Debug, Deserialize)]
struct MessageCreated {
    #[serde(default)]
    guild_id: Option<String>,
    channel_id: String,
    author: User,
    #[serde(default)]
    content: String,
    #[serde(default)]
    mentions: Vec<Mentioned>,
    #[serde(default)]
    webhook_id: Option<String>,
}

/// Discord's statuses as d-zone's; `invisible` (and anything unknown)
/// shows as offline.
pub fn status_of(discord: Option<&str>) -> Status {
    match discord {
        Some("online") => Status::Online,
        Some("idle") => Status::Idle,
        Some("dnd") => Status::Dnd,
        _ => Status::Offline,
    }
}

/// Whether `update` changes what the presence memory holds of its member
/// (`remembered`): its status, or a name or color it carries.
fn is_news(remembered: Option<&PresenceUpdate>, update: &PresenceUpdate) -> bool {
    let Some(known) = remembered else {
        return true;
    };
    known.status != update.status
        || update
            .username
            .as_ref()
            .is_some_and(|name| known.username.as_ref() != Some(name))
        || update
            .role_color
            .as_ref()
            .is_some_and(|color| known.role_color.as_ref() != Some(color))
}

/// The color of the member's highest colored role (a colorless role, even
/// a higher one, does not count), else Discord's neutral gray: the rule
/// the Discord provider applies.
fn role_color(member_roles: &[String], roles: &HashMap<String, Role>) -> RoleColor {
    member_roles
        .iter()
        .filter_map(|id| roles.get(id))
        .filter(|role| role.color != 0)
        .max_by_key(|role| role.position)
        .and_then(|role| RoleColor::parse(&format!("#{:06x}", role.color & 0xff_ffff)).ok())
        .unwrap_or_else(|| RoleColor::parse(NEUTRAL_COLOR).expect("a valid color"))
}

/// What Discord shows: the server nickname, else the global display name,
/// else the username.
fn display_name(member: &Member) -> String {
    shown_name(member.nick.as_deref(), member.user.as_ref())
}

fn shown_name(nick: Option<&str>, user: Option<&User>) -> String {
    [
        nick,
        user.and_then(|u| u.global_name.as_deref()),
        user.and_then(|u| u.username.as_deref()),
    ]
    .into_iter()
    .flatten()
    .find(|name| !name.is_empty())
    .unwrap_or_default()
    .to_string()
}

impl Bridge {
    pub fn new(
        config: Arc<DiscordConfig>,
        broadcaster: Broadcaster,
        members_changed: Option<MembersChanged>,
    ) -> Self {
        Self {
            config,
            broadcaster,
            guilds: Mutex::default(),
            members_changed,
            nonce: AtomicU64::new(0),
        }
    }

    fn guilds(&self) -> std::sync::MutexGuard<'_, HashMap<String, Guild>> {
        self.guilds.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn shown(&self, bot: bool) -> bool {
        self.config.show_bots || !bot
    }

    /// Broadcasts `update` unless it changes nothing the presence memory
    /// holds (activity changes arrive as presences with the same status).
    fn broadcast_if_news(&self, server: &str, update: PresenceUpdate) {
        let remembered = self.broadcaster.remembered_presence(server, &update.uid);
        if is_news(remembered.as_ref(), &update) {
            self.broadcast(server, &update);
        }
    }

    fn broadcast(&self, server: &str, update: &PresenceUpdate) {
        if let Err(error) = self.broadcaster.broadcast_presence(server, update) {
            tracing::debug!(%error, "a Discord presence was not broadcast");
        }
    }

    /// `GUILD_CREATE` or a member chunk: remembers roles, channels and
    /// members, and broadcasts the presences that are news, so the first
    /// browser to join already sees who is online. Large guilds send only
    /// some members: the rest are asked for, with their presences.
    fn snapshot(&self, data: Value, first: bool) -> Vec<Payload> {
        let Ok(snapshot) = serde_json::from_value::<Snapshot>(data) else {
            return Vec::new();
        };
        let server = snapshot.id;
        if !self.config.follows(&server) || snapshot.unavailable {
            return Vec::new();
        }
        let statuses: HashMap<String, Status> = snapshot
            .presences
            .iter()
            .map(|p| (p.user.id.clone(), status_of(p.status.as_deref())))
            .collect();
        let mut updates = Vec::new();
        {
            let mut guilds = self.guilds();
            let guild = guilds.entry(server.clone()).or_default();
            for role in snapshot.roles {
                put_role(&mut guild.roles, role);
            }
            for channel in snapshot.channels {
                if let Some(name) = channel.name
                    && guild.channels.len() < MAX_CHANNELS
                {
                    guild.channels.insert(channel.id, name);
                }
            }
            for member in snapshot.members {
                let Some(user) = &member.user else { continue };
                let uid = user.id.clone();
                let known = Known {
                    name: display_name(&member),
                    bot: user.bot.unwrap_or(false),
                    status: statuses.get(&uid).copied().unwrap_or(Status::Offline),
                    roles: member.roles,
                };
                if self.shown(known.bot) && !known.name.is_empty() {
                    updates.push(PresenceUpdate {
                        uid: uid.clone(),
                        status: known.status,
                        username: Some(known.name.clone()),
                        role_color: Some(role_color(&known.roles, &guild.roles)),
                        delete: false,
                    });
                }
                // Bots too: their later presences carry no bot flag.
                guild.put_member(uid, known);
            }
        }
        for update in updates {
            let remembered = self.broadcaster.remembered_presence(&server, &update.uid);
            // An offline member nobody remembers is shown offline already
            // (the provider lists members offline): nothing to say.
            let unknown_offline = remembered.is_none() && update.status == Status::Offline;
            if !unknown_offline && is_news(remembered.as_ref(), &update) {
                self.broadcast(&server, &update);
            }
        }
        if first && snapshot.large {
            let nonce = self.nonce.fetch_add(1, Ordering::Relaxed);
            return vec![Payload::request_members(&server, &nonce.to_string())];
        }
        Vec::new()
    }

    fn presence_update(&self, data: Value) {
        let Ok(update) = serde_json::from_value::<PresenceUpdated>(data) else {
            return;
        };
        let server = update.guild_id;
        if !self.config.follows(&server) {
            return;
        }
        let status = status_of(update.status.as_deref());
        let known = {
            let mut guilds = self.guilds();
            let guild = guilds.entry(server.clone()).or_default();
            guild.members.get_mut(&update.user.id).map(|known| {
                known.status = status;
                (known.clone(), role_color(&known.roles, &guild.roles))
            })
        };
        let bot = update
            .user
            .bot
            .or(known.as_ref().map(|(k, _)| k.bot))
            .unwrap_or(false);
        if !self.shown(bot) {
            return;
        }
        let (username, role_color) = match known {
            Some((known, color)) => (Some(known.name), Some(color)),
            None => (None, None),
        };
        self.broadcast_if_news(
            &server,
            PresenceUpdate {
                uid: update.user.id,
                status,
                username,
                role_color,
                delete: false,
            },
        );
    }

    /// A member joined or changed (name, roles).
    fn member_upsert(&self, data: Value) {
        let Ok(GuildMember { guild_id, member }) = serde_json::from_value::<GuildMember>(data)
        else {
            return;
        };
        if !self.config.follows(&guild_id) {
            return;
        }
        let Some(user) = &member.user else { return };
        let uid = user.id.clone();
        let bot = user.bot.unwrap_or(false);
        let name = display_name(&member);
        let update = {
            let mut guilds = self.guilds();
            let guild = guilds.entry(guild_id.clone()).or_default();
            let status = guild
                .members
                .get(&uid)
                .map_or(Status::Offline, |known| known.status);
            let color = role_color(&member.roles, &guild.roles);
            guild.put_member(
                uid.clone(),
                Known {
                    name: name.clone(),
                    roles: member.roles,
                    bot,
                    status,
                },
            );
            PresenceUpdate {
                uid,
                status,
                username: Some(name),
                role_color: Some(color),
                delete: false,
            }
        };
        if self.shown(bot) && update.username.as_ref().is_some_and(|n| !n.is_empty()) {
            self.broadcast_if_news(&guild_id, update);
        }
    }

    fn member_remove(&self, data: Value) {
        let Ok(removed) = serde_json::from_value::<MemberRemoved>(data) else {
            return;
        };
        if !self.config.follows(&removed.guild_id) {
            return;
        }
        if let Some(guild) = self.guilds().get_mut(&removed.guild_id) {
            guild.members.remove(&removed.user.id);
        }
        let update = PresenceUpdate {
            uid: removed.user.id,
            status: Status::Offline,
            username: None,
            role_color: None,
            delete: true,
        };
        self.broadcast(&removed.guild_id, &update);
        if let Some(changed) = &self.members_changed {
            changed(&removed.guild_id);
        }
    }

    /// A role was made, changed or deleted: members whose color changes
    /// with it get a presence with the new color.
    fn role_change(&self, data: Value, deleted: bool) {
        let Ok(change) = serde_json::from_value::<RoleChanged>(data) else {
            return;
        };
        let server = change.guild_id;
        if !self.config.follows(&server) {
            return;
        }
        let mut updates = Vec::new();
        {
            let mut guilds = self.guilds();
            let guild = guilds.entry(server.clone()).or_default();
            let before: HashMap<&String, RoleColor> = guild
                .members
                .iter()
                .map(|(uid, known)| (uid, role_color(&known.roles, &guild.roles)))
                .collect();
            let changed = match (deleted, change.role, change.role_id) {
                (true, _, Some(id)) => guild.roles.remove(&id).is_some(),
                (false, Some(role), _) => put_role(&mut guild.roles, role),
                _ => false,
            };
            if !changed {
                return;
            }
            for (uid, known) in &guild.members {
                let color = role_color(&known.roles, &guild.roles);
                if before.get(uid) != Some(&color) && self.shown(known.bot) {
                    updates.push(PresenceUpdate {
                        uid: uid.clone(),
                        status: known.status,
                        username: Some(known.name.clone()),
                        role_color: Some(color),
                        delete: false,
                    });
                }
            }
        }
        for update in updates {
            self.broadcast_if_news(&server, update);
        }
    }

    fn channel_change(&self, data: Value) {
        let Ok(change) = serde_json::from_value::<ChannelChanged>(data) else {
            return;
        };
        let Some(server) = change.guild_id.filter(|g| self.config.follows(g)) else {
            return;
        };
        let mut guilds = self.guilds();
        let guild = guilds.entry(server).or_default();
        match change.name {
            Some(name) if guild.channels.len() < MAX_CHANNELS => {
                guild.channels.insert(change.id, name);
            }
            _ => {}
        }
    }

    /// A message in a listed channel of a followed guild, as d-zone shows
    /// it. Any other message is dropped here unread: no broadcast, no log.
    fn message(&self, data: Value) {
        let channel_listed = data["channel_id"]
            .as_str()
            .is_some_and(|channel| self.config.shows_channel(channel));
        let guild_followed = data["guild_id"]
            .as_str()
            .is_some_and(|guild| self.config.follows(guild));
        if !channel_listed || !guild_followed {
            return;
        }
        let Ok(message) = serde_json::from_value::<MessageCreated>(data) else {
            return;
        };
        let bot = message.author.bot.unwrap_or(false) || message.webhook_id.is_some();
        if !self.shown(bot) {
            return;
        }
        let Some(server) = message.guild_id else {
            return;
        };
        let text = {
            let guilds = self.guilds();
            readable(&message.content, &message.mentions, guilds.get(&server))
        };
        if text.trim().is_empty() {
            return;
        }
        if let Err(error) = self.broadcaster.broadcast_message(
            &server,
            &message.author.id,
            &text,
            &message.channel_id,
        ) {
            tracing::debug!(%error, "a Discord message was not broadcast");
        }
    }
}

impl EventHandler for Bridge {
    fn on_event(&self, name: &str, data: Value) -> Vec<Payload> {
        match name {
            "GUILD_CREATE" => return self.snapshot(data, true),
            "GUILD_MEMBERS_CHUNK" => return self.snapshot(data, false),
            "PRESENCE_UPDATE" => self.presence_update(data),
            "GUILD_MEMBER_ADD" | "GUILD_MEMBER_UPDATE" => self.member_upsert(data),
            "GUILD_MEMBER_REMOVE" => self.member_remove(data),
            "GUILD_ROLE_CREATE" | "GUILD_ROLE_UPDATE" => self.role_change(data, false),
            "GUILD_ROLE_DELETE" => self.role_change(data, true),
            "CHANNEL_CREATE" | "CHANNEL_UPDATE" => self.channel_change(data),
            "MESSAGE_CREATE" => self.message(data),
            _ => {}
        }
        Vec::new()
    }
}

/// `content` as people read it: mentions of users, roles and channels as
/// their names, custom emoji as `:name:`; cut to [`MAX_MESSAGE_CHARS`].
fn readable(content: &str, mentions: &[Mentioned], guild: Option<&Guild>) -> String {
    let mut out = String::with_capacity(content.len().min(4 * MAX_MESSAGE_CHARS));
    let mut rest = content;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(end) = tail.find('>') else {
            out.push_str(tail);
            rest = "";
            break;
        };
        let inner = &tail[1..end];
        match token_name(inner, mentions, guild) {
            Some(name) => out.push_str(&name),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
        if out.chars().count() > MAX_MESSAGE_CHARS {
            break;
        }
    }
    out.push_str(rest);
    match out.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    }
}

/// What one `<…>` token reads as, or `None` to leave it.
fn token_name(inner: &str, mentions: &[Mentioned], guild: Option<&Guild>) -> Option<String> {
    let digits = |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
    if let Some(id) = inner.strip_prefix("@&") {
        let name = guild
            .and_then(|g| g.roles.get(id))
            .map_or("role", |r| r.name.as_str());
        return digits(id).then(|| format!("@{name}"));
    }
    if let Some(id) = inner.strip_prefix('@') {
        let id = id.strip_prefix('!').unwrap_or(id);
        if !digits(id) {
            return None;
        }
        let named = mentions.iter().find(|m| m.user.id == id).map(|m| {
            let nick = m.member.as_ref().and_then(|member| member.nick.as_deref());
            shown_name(nick, Some(&m.user))
        });
        let name = named
            .filter(|n| !n.is_empty())
            .or_else(|| {
                guild
                    .and_then(|g| g.members.get(id))
                    .map(|k| k.name.clone())
            })
            .unwrap_or_else(|| "someone".to_string());
        return Some(format!("@{name}"));
    }
    if let Some(id) = inner.strip_prefix('#') {
        let name = guild
            .and_then(|g| g.channels.get(id))
            .map_or("channel", String::as_str);
        return digits(id).then(|| format!("#{name}"));
    }
    // Custom emoji: <:name:id> or <a:name:id>.
    let emoji = inner
        .strip_prefix("a:")
        .or_else(|| inner.strip_prefix(':'))?;
    let (name, id) = emoji.split_once(':')?;
    (digits(id) && !name.is_empty()).then(|| format!(":{name}:"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roles() -> HashMap<String, Role> {
        serde_json::from_value::<Vec<Role>>(json!([
            {"id": "1", "name": "@everyone", "color": 0, "position": 0},
            {"id": "10", "name": "red", "color": 0xff0000, "position": 1},
            {"id": "20", "name": "green", "color": 0x00ff00, "position": 5},
            {"id": "30", "name": "mods", "color": 0, "position": 10},
        ]))
        .unwrap()
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect()
    }

    #[test]
    fn the_highest_colored_role_colors_a_member() {
        let roles = roles();
        let color = |ids: &[&str]| {
            let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
            role_color(&ids, &roles).as_str().to_string()
        };
        assert_eq!(color(&["10", "20", "30"]), "#00ff00");
        assert_eq!(color(&["10", "30"]), "#ff0000");
        assert_eq!(color(&["30"]), NEUTRAL_COLOR);
        assert_eq!(color(&[]), NEUTRAL_COLOR);
    }

    #[test]
    fn statuses_map_and_invisible_is_offline() {
        assert_eq!(status_of(Some("online")), Status::Online);
        assert_eq!(status_of(Some("idle")), Status::Idle);
        assert_eq!(status_of(Some("dnd")), Status::Dnd);
        assert_eq!(status_of(Some("invisible")), Status::Offline);
        assert_eq!(status_of(Some("offline")), Status::Offline);
        assert_eq!(status_of(None), Status::Offline);
    }

    #[test]
    fn mentions_read_as_names_and_long_messages_are_cut() {
        let mut guild = Guild {
            roles: roles(),
            ..Guild::default()
        };
        guild.channels.insert("55".into(), "general".into());
        let mentions: Vec<Mentioned> = serde_json::from_value(json!([
            {"id": "7", "username": "ann", "member": {"nick": "Annie"}},
            {"id": "8", "username": "bob", "global_name": "Bobby"},
        ]))
        .unwrap();
        assert_eq!(
            readable(
                "hi <@7> and <@!8>, see <#55> <@&20> <:wave:123> <@99> <b>",
                &mentions,
                Some(&guild)
            ),
            "hi @Annie and @Bobby, see #general @green :wave: @someone <b>"
        );
        let long = "é".repeat(MAX_MESSAGE_CHARS + 10);
        let cut = readable(&long, &[], None);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(readable("a < b", &[], None), "a < b");
    }
}
