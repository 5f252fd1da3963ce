//! The demo community d-back has always shipped: four servers, their members.

use crate::bindings::d_back::plugin::types::{Server, Status, User};

pub struct MockServer {
    pub snowflake: &'static str,
    pub id: &'static str,
    pub name: &'static str,
    pub passworded: bool,
    pub is_default: bool,
    pub users: Vec<User>,
}

impl MockServer {
    pub fn to_server(&self) -> Server {
        Server {
            snowflake: self.snowflake.to_string(),
            id: self.id.to_string(),
            name: self.name.to_string(),
            passworded: self.passworded,
            is_default: self.is_default,
            password: None,
        }
    }
}

fn user(uid: &str, username: &str, status: Status, role_color: &str) -> User {
    User {
        uid: uid.to_string(),
        username: username.to_string(),
        status,
        role_color: role_color.to_string(),
    }
}

const REPOS: [&str; 21] = [
    "d-zone",
    "d-back",
    "d-zone-docs",
    "d-cogs",
    "discord-twitter-bot",
    "discord-logo",
    "discord-oauth2-example",
    "nntin.github.io",
    "Reply-Dota-2-Reddit",
    "Reply-LoL-Reddit",
    "Dota-2-Reddit-Flair-Mosaic",
    "shell-plus",
    "pxls-bot",
    "tqdm-discord",
    "discord-web-bridge",
    "Cubify-Reddit",
    "Discord-Invite-Tracker",
    "twitch-chat-logger",
    "github-actions-demo",
    "dotabase-web",
    "d-zone-api",
];

const REPO_COLORS: [&str; 7] = [
    "#e74c3c", "#3498db", "#2ecc71", "#f1c40f", "#9b59b6", "#1abc9c", "#e67e22",
];

const REPO_STATUSES: [Status; 4] = [Status::Online, Status::Idle, Status::Dnd, Status::Offline];

/// The servers, built on the first call and kept: every call of a reused
/// instance answers from them instead of building them again.
pub fn servers() -> &'static [MockServer] {
    static SERVERS: std::sync::OnceLock<Vec<MockServer>> = std::sync::OnceLock::new();
    SERVERS.get_or_init(build)
}

fn build() -> Vec<MockServer> {
    vec![
        MockServer {
            snowflake: "232769614004748288",
            id: "dworld",
            name: "D-World",
            passworded: false,
            is_default: true,
            users: vec![
                user("123456789012345001", "vegeta897", Status::Online, "#ff6b6b"),
                user(
                    "123456789012345002",
                    "Cog-Creators",
                    Status::Idle,
                    "#4ecdc4",
                ),
                user("123456789012345003", "d-zone-org", Status::Dnd, "#45b7d1"),
                user("123456789012345004", "NNTin", Status::Online, "#96ceb4"),
            ],
        },
        MockServer {
            snowflake: "482241773318701056",
            id: "docs",
            name: "Docs (WIP)",
            passworded: false,
            is_default: false,
            users: vec![user(
                "223456789012345001",
                "nntin.xyz/me",
                Status::Online,
                "#feca57",
            )],
        },
        MockServer {
            snowflake: "123456789012345678",
            id: "oauth",
            name: "OAuth2 Protected Server",
            passworded: true,
            is_default: false,
            users: vec![user(
                "323456789012345001",
                "NNTin",
                Status::Online,
                "#ff9ff3",
            )],
        },
        MockServer {
            snowflake: "987654321098765432",
            id: "repos",
            name: "My Repos",
            passworded: false,
            is_default: false,
            users: REPOS
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    user(
                        &format!("423456789012345{:03}", i + 1),
                        name,
                        REPO_STATUSES[i % REPO_STATUSES.len()],
                        REPO_COLORS[i % REPO_COLORS.len()],
                    )
                })
                .collect(),
        },
    ]
}

/// What d-back's mock users say.
pub const MESSAGES: [&str; 5] = [
    "hello",
    "how are you?",
    "this is a test message",
    "D-Zone rocks!",
    "what's up?",
];

/// The channel every mock message is written in.
pub const CHANNEL: &str = "527964146659229701";
