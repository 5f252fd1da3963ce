//! Joining a server: find it, check credentials, gather what the browser
//! needs to draw it.

use std::net::IpAddr;

use subtle::ConstantTimeEq;

use crate::limits::AuthThrottle;
use crate::metrics::{JoinOutcome, LoginLabels, LoginOutcome, metrics};
use crate::model::ServerEntry;
use crate::protocol::{ConnectRequest, Credentials, Members, ServerJoin, texts};
use crate::runtime::Plugin;

/// A successful join: the server and what the browser gets of it. The
/// frame is written around `users`' rendering, with the latest presences
/// laid over it ([`crate::broadcast::Broadcaster::join_room`]).
#[derive(Debug)]
pub struct Joined {
    pub server: ServerEntry,
    pub users: Members,
    pub client_id: Option<String>,
}

impl Joined {
    /// The `server-join` frame for a browser that asked for `requested`,
    /// around the rendered `users_json`.
    pub fn frame(&self, users_json: &[u8], requested: &str) -> bytes::Bytes {
        ServerJoin {
            users_json,
            requested,
            server_name: &self.server.name,
            client_id: self.client_id.as_deref(),
        }
        .to_frame()
    }
}

/// Why a join was refused; each maps to the text the browser shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefusal {
    NoSuchServer,
    AuthenticationFailed,
    AuthenticationRequired,
    TooManyAttempts,
}

/// One connection's standing for logins: its address and its failures.
pub struct AuthGate<'a> {
    pub ip: IpAddr,
    pub throttle: &'a AuthThrottle,
    /// Failed logins on this connection so far.
    pub failures: u32,
}

impl AuthGate<'_> {
    async fn allows(&self) -> bool {
        self.failures < self.throttle.config().per_connection && self.throttle.admits(self.ip).await
    }

    async fn record_failure(&mut self) {
        self.failures += 1;
        self.throttle.count_failure(self.ip).await;
    }
}

impl JoinRefusal {
    /// The refusal's name in the metrics.
    pub fn outcome(self) -> JoinOutcome {
        match self {
            Self::NoSuchServer => JoinOutcome::no_such_server,
            Self::AuthenticationFailed => JoinOutcome::auth_failed,
            Self::AuthenticationRequired => JoinOutcome::auth_required,
            Self::TooManyAttempts => JoinOutcome::throttled,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::NoSuchServer => texts::SERVER_NOT_FOUND,
            Self::AuthenticationFailed => texts::DISCORD_AUTH_FAILED,
            Self::AuthenticationRequired => texts::DISCORD_AUTH_REQUIRED,
            Self::TooManyAttempts => texts::TOO_MANY_AUTH_FAILURES,
        }
    }
}

/// Runs the join of SPEC section 3 against `plugin`.
pub async fn join(
    plugin: &Plugin,
    request: &ConnectRequest,
    gate: &mut AuthGate<'_>,
) -> Result<Joined, JoinRefusal> {
    let server = plugin
        .servers()
        .await
        .find(&request.server)
        .cloned()
        .ok_or(JoinRefusal::NoSuchServer)?;
    if server.passworded {
        authorize(plugin, &server, &request.credentials, gate).await?;
    }
    let (users, client_id) = tokio::join!(
        plugin.users(&server.snowflake),
        plugin.client_id(&server.snowflake)
    );
    Ok(Joined {
        server,
        users,
        client_id,
    })
}

/// Fails closed: only a plugin's yes or a matching legacy password lets a
/// browser into a passworded server. Every attempt with credentials is
/// logged (never the token or password itself) and failures are throttled.
async fn authorize(
    plugin: &Plugin,
    server: &ServerEntry,
    credentials: &Credentials,
    gate: &mut AuthGate<'_>,
) -> Result<(), JoinRefusal> {
    let has_token = credentials.discord_token.is_some() && credentials.discord_user.is_some();
    if !has_token && credentials.password.is_none() {
        return Err(JoinRefusal::AuthenticationRequired);
    }
    let discord_user = credentials
        .discord_user
        .as_ref()
        .map_or("", |user| user.id.as_str());
    let method = if has_token { "oauth2" } else { "password" };
    if !gate.allows().await {
        tracing::warn!(
            server = %server.snowflake,
            discord_user,
            ip = %gate.ip,
            method,
            outcome = "throttled",
            "authentication attempt"
        );
        count_login(LoginOutcome::throttled);
        return Err(JoinRefusal::TooManyAttempts);
    }
    let outcome = match (&credentials.discord_token, &credentials.discord_user) {
        (Some(token), Some(user)) => {
            if plugin
                .accepts(token, user, &server.snowflake, gate.ip)
                .await
            {
                Ok(())
            } else {
                Err(JoinRefusal::AuthenticationFailed)
            }
        }
        _ => {
            let given = credentials.password.as_deref().unwrap_or_default();
            let matches = server
                .password
                .as_ref()
                .is_some_and(|expected| bool::from(given.as_bytes().ct_eq(expected.as_bytes())));
            if matches {
                Ok(())
            } else {
                Err(JoinRefusal::AuthenticationRequired)
            }
        }
    };
    tracing::info!(
        server = %server.snowflake,
        discord_user,
        ip = %gate.ip,
        method,
        outcome = if outcome.is_ok() { "accepted" } else { "refused" },
        "authentication attempt"
    );
    count_login(if outcome.is_ok() {
        LoginOutcome::accepted
    } else {
        LoginOutcome::refused
    });
    if outcome.is_err() {
        gate.record_failure().await;
    }
    outcome
}

fn count_login(outcome: LoginOutcome) {
    metrics()
        .login_attempts
        .get_or_create(&LoginLabels { outcome })
        .inc();
}
