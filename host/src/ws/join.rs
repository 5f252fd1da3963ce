//! Joining a server: find it, check credentials, gather what the browser
//! needs to draw it.

use subtle::ConstantTimeEq;

use crate::model::ServerEntry;
use crate::protocol::inbound::DEFAULT_SERVER;
use crate::protocol::{ConnectRequest, Credentials, ServerFrame, texts};
use crate::runtime::Plugin;

/// A successful join: the server, and the `server-join` frame to send.
#[derive(Debug)]
pub struct Joined {
    pub server: ServerEntry,
    pub frame: String,
}

/// Why a join was refused; each maps to the text the browser shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefusal {
    NoSuchServer,
    AuthenticationFailed,
    AuthenticationRequired,
}

impl JoinRefusal {
    pub fn message(self) -> &'static str {
        match self {
            Self::NoSuchServer => texts::SERVER_NOT_FOUND,
            Self::AuthenticationFailed => texts::DISCORD_AUTH_FAILED,
            Self::AuthenticationRequired => texts::DISCORD_AUTH_REQUIRED,
        }
    }
}

/// Runs the join of SPEC section 3 against `plugin`.
pub async fn join(plugin: &Plugin, request: &ConnectRequest) -> Result<Joined, JoinRefusal> {
    let server =
        find_server(plugin.servers().await, &request.server).ok_or(JoinRefusal::NoSuchServer)?;
    if server.passworded {
        authorize(plugin, &server, &request.credentials).await?;
    }
    let (users, client_id) = tokio::join!(
        plugin.users(&server.snowflake),
        plugin.client_id(&server.snowflake)
    );
    let frame = ServerFrame::ServerJoin {
        users: &users,
        requested: &request.server,
        server_name: &server.name,
        client_id: client_id.as_deref(),
    }
    .to_json();
    Ok(Joined { server, frame })
}

/// The first server whose id is `requested`, or, for `"default"`, the first
/// marked default.
pub fn find_server(servers: Vec<ServerEntry>, requested: &str) -> Option<ServerEntry> {
    servers
        .into_iter()
        .find(|s| s.id == requested || (requested == DEFAULT_SERVER && s.is_default))
}

/// Fails closed: only a plugin's yes or a matching legacy password lets a
/// browser into a passworded server.
async fn authorize(
    plugin: &Plugin,
    server: &ServerEntry,
    credentials: &Credentials,
) -> Result<(), JoinRefusal> {
    if let (Some(token), Some(user)) = (&credentials.discord_token, &credentials.discord_user) {
        let accepted = plugin.accepts(token, user, &server.snowflake).await;
        tracing::info!(
            server = %server.snowflake,
            discord_user = %user.id,
            method = "oauth2",
            outcome = if accepted { "accepted" } else { "refused" },
            "authentication attempt"
        );
        return if accepted {
            Ok(())
        } else {
            Err(JoinRefusal::AuthenticationFailed)
        };
    }
    if let Some(given) = &credentials.password {
        let matches = server
            .password
            .as_ref()
            .is_some_and(|expected| bool::from(given.as_bytes().ct_eq(expected.as_bytes())));
        tracing::info!(
            server = %server.snowflake,
            method = "password",
            outcome = if matches { "accepted" } else { "refused" },
            "authentication attempt"
        );
        if matches {
            return Ok(());
        }
    }
    Err(JoinRefusal::AuthenticationRequired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(id: &str, is_default: bool) -> ServerEntry {
        ServerEntry {
            snowflake: format!("{id}-snowflake"),
            id: id.into(),
            name: id.into(),
            passworded: false,
            is_default,
            password: None,
        }
    }

    #[test]
    fn finds_by_id_in_order_or_the_first_default() {
        let servers = vec![server("a", false), server("b", true), server("c", true)];
        assert_eq!(find_server(servers.clone(), "c").unwrap().id, "c");
        assert_eq!(find_server(servers.clone(), "default").unwrap().id, "b");
        assert!(find_server(servers, "zzz").is_none());
        assert!(find_server(vec![server("a", false)], "default").is_none());
    }
}
