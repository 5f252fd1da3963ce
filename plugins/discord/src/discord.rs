//! Discord's REST API: members, roles, and who an OAuth2 token belongs to.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::http::{self, BaseUrl};

#[derive(Debug, Deserialize)]
pub struct Role {
    pub id: String,
    #[serde(default)]
    pub color: u32,
    #[serde(default)]
    pub position: i64,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub global_name: Option<String>,
    #[serde(default)]
    pub bot: bool,
}

#[derive(Debug, Deserialize)]
pub struct Member {
    pub user: User,
    #[serde(default)]
    pub nick: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct PartialGuild {
    pub id: String,
}

#[derive(Deserialize)]
struct RateLimited {
    retry_after: f64,
}

/// GET a JSON document, waiting out a 429 when its `retry_after` fits in
/// the call; any other failure fails the call (the host's fallbacks apply).
fn get_json<T: DeserializeOwned>(
    base: &BaseUrl,
    path: &str,
    authorization: &str,
    max_retry_wait_ms: u64,
) -> Result<T, String> {
    match get_json_unless_refused(base, path, authorization, max_retry_wait_ms)? {
        Some(value) => Ok(value),
        None => Err(format!("GET {path}: Discord refused the credentials")),
    }
}

/// Like [`get_json`], but `None` when Discord refuses the credentials (401
/// or 403): for a token a browser sent, that is an answer, not a failure.
fn get_json_unless_refused<T: DeserializeOwned>(
    base: &BaseUrl,
    path: &str,
    authorization: &str,
    max_retry_wait_ms: u64,
) -> Result<Option<T>, String> {
    let mut waited = 0;
    loop {
        let response = http::get(base, path, authorization)?;
        match response.status {
            200..=299 => {
                return serde_json::from_slice(&response.body)
                    .map(Some)
                    .map_err(|e| format!("GET {path}: unexpected answer: {e}"));
            }
            401 | 403 => return Ok(None),
            429 => {
                let wait = serde_json::from_slice::<RateLimited>(&response.body)
                    .map(|r| (r.retry_after.max(0.0) * 1000.0).ceil() as u64)
                    .map_err(|_| format!("GET {path}: rate limited without retry_after"))?;
                if waited + wait > max_retry_wait_ms {
                    return Err(format!(
                        "GET {path}: rate limited for {wait} ms, longer than this call may wait"
                    ));
                }
                http::sleep_ms(wait);
                waited += wait;
            }
            status => return Err(format!("GET {path}: Discord answered {status}")),
        }
    }
}

pub fn roles(config: &Config, guild: &str) -> Result<Vec<Role>, String> {
    get_json(
        &config.api,
        &format!("/guilds/{guild}/roles"),
        &format!("Bot {}", config.bot_token),
        config.max_retry_wait_ms,
    )
}

#[derive(Deserialize)]
struct GuildName {
    name: String,
}

/// The guild's name on Discord.
pub fn guild_name(config: &Config, guild: &str) -> Result<String, String> {
    get_json::<GuildName>(
        &config.api,
        &format!("/guilds/{guild}"),
        &format!("Bot {}", config.bot_token),
        config.max_retry_wait_ms,
    )
    .map(|guild| guild.name)
}

/// Every member of `guild`, page after page.
pub fn members(config: &Config, guild: &str) -> Result<Vec<Member>, String> {
    let mut all = Vec::new();
    let mut after = "0".to_string();
    loop {
        let page: Vec<Member> = get_json(
            &config.api,
            &format!(
                "/guilds/{guild}/members?limit={}&after={after}",
                config.page_size
            ),
            &format!("Bot {}", config.bot_token),
            config.max_retry_wait_ms,
        )?;
        let full = page.len() as u32 >= config.page_size;
        match page
            .iter()
            .map(|m| &m.user.id)
            .max_by_key(|id| id.parse::<u64>().unwrap_or(0))
        {
            Some(last) => after.clone_from(last),
            None => return Ok(all),
        }
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// Who the OAuth2 `token` belongs to, and the guilds they are in; `None`
/// when it is not a token Discord accepts.
pub fn token_owner(
    config: &Config,
    token: &str,
) -> Result<Option<(User, Vec<PartialGuild>)>, String> {
    if !looks_like_a_token(token) {
        return Ok(None);
    }
    let authorization = format!("Bearer {token}");
    let Some(user) = get_json_unless_refused::<User>(
        &config.api,
        "/users/@me",
        &authorization,
        config.max_retry_wait_ms,
    )?
    else {
        return Ok(None);
    };
    let Some(guilds) = get_json_unless_refused(
        &config.api,
        "/users/@me/guilds",
        &authorization,
        config.max_retry_wait_ms,
    )?
    else {
        return Ok(None);
    };
    Ok(Some((user, guilds)))
}

/// OAuth2 access tokens are short runs of letters, digits and `._-~+/=`;
/// anything else is refused without asking Discord (and could not be sent
/// in a header anyway).
fn looks_like_a_token(token: &str) -> bool {
    (1..=512).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-~+/=".contains(&b))
}

/// The color of the member's highest colored role, as `#rrggbb`.
pub fn role_color(member: &Member, roles: &[Role]) -> Option<String> {
    roles
        .iter()
        .filter(|role| role.color != 0 && member.roles.contains(&role.id))
        .max_by_key(|role| role.position)
        .map(|role| format!("#{:06x}", role.color & 0xff_ffff))
}
