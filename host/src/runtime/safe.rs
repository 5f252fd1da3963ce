//! The answers the rest of the host uses. Server and member lists come from
//! the host-side cache when fresh; each call goes through the plugin's
//! circuit breaker; a failed call is logged once here, naming
//! plugin, callback and cause, and replaced by the last good answer where
//! there is one (server and member lists) or else the safe default.

use std::future::Future;
use std::time::Instant;

use super::breaker::Transition;
use super::error::PluginError;
use super::plugin::{Callback, Plugin};
use crate::model::{DiscordUserClaim, Event, Member, ServerEntry, StaticReply};

impl Plugin {
    /// The servers to offer; the last good list, or none, when the plugin fails.
    pub async fn servers(&self) -> Vec<ServerEntry> {
        let fetch = || self.guarded(self.get_server_data());
        match self.cached_servers.get_or_fetch("", fetch).await {
            Ok(servers) => {
                self.last_good.remember_servers(&servers);
                servers
            }
            Err(cause) => {
                let last = self.last_good.servers();
                self.report(Callback::GetServerData, &cause, last.is_some());
                last.unwrap_or_default()
            }
        }
    }

    /// The members of `server`; the last good list, or none, when the plugin fails.
    pub async fn users(&self, server: &str) -> Vec<Member> {
        let fetch = || self.guarded(self.get_user_data(server));
        match self.cached_users.get_or_fetch(server, fetch).await {
            Ok(users) => {
                self.last_good.remember_users(server, &users);
                users
            }
            Err(cause) => {
                let last = self.last_good.users(server);
                self.report(Callback::GetUserData, &cause, last.is_some());
                last.unwrap_or_default()
            }
        }
    }

    /// The plugin's answer to a plain HTTP request; `None` (serve static
    /// files) when it has none or fails.
    pub async fn static_response(&self, path: &str) -> Option<StaticReply> {
        let outcome = self.guarded(self.static_request(path)).await;
        self.or_default(Callback::StaticRequest, outcome)
    }

    /// Whether the token's holder may join; a failing plugin refuses.
    pub async fn accepts(&self, token: &str, user: &DiscordUserClaim, server: &str) -> bool {
        let verdict = self
            .guarded(self.validate_discord_user(token, user, server))
            .await;
        self.or_default(Callback::ValidateDiscordUser, verdict)
    }

    /// The OAuth2 client id of `server`, if the plugin knows and answers.
    pub async fn client_id(&self, server: &str) -> Option<String> {
        let outcome = self.guarded(self.get_client_id(server)).await;
        self.or_default(Callback::GetClientId, outcome)
    }

    /// Events for timer `name`; none when the plugin fails.
    pub async fn events(&self, name: &str, servers: &[String]) -> Vec<Event> {
        let outcome = self.guarded(self.on_timer(name, servers)).await;
        self.or_default(Callback::OnTimer, outcome)
    }

    /// Runs `call` unless the breaker is open, and tells the breaker how it went.
    async fn guarded<T>(
        &self,
        call: impl Future<Output = Result<T, PluginError>>,
    ) -> Result<T, PluginError> {
        if let Some(left) = self.breaker.open_for(Instant::now()) {
            return Err(PluginError::CircuitOpen(left));
        }
        let outcome = call.await;
        let transition = match &outcome {
            Ok(_) => self.breaker.record_success(),
            Err(cause) if cause.counts_against_plugin() => {
                self.breaker.record_failure(Instant::now())
            }
            Err(_) => Transition::None,
        };
        match transition {
            Transition::Opened(pause) => tracing::warn!(
                plugin = self.name(),
                ?pause,
                "plugin keeps failing; pausing calls to it"
            ),
            Transition::Recovered => {
                tracing::info!(plugin = self.name(), "plugin recovered; calling it again")
            }
            Transition::None => {}
        }
        outcome
    }

    fn or_default<T: Default>(&self, callback: Callback, outcome: Result<T, PluginError>) -> T {
        outcome.unwrap_or_else(|cause| {
            self.report(callback, &cause, false);
            T::default()
        })
    }

    fn report(&self, callback: Callback, cause: &PluginError, served_last_good: bool) {
        let plugin = self.name();
        let callback = callback.as_str();
        let fallback = if served_last_good {
            "serving the last good answer"
        } else {
            "using the safe default"
        };
        // While paused every call would log; once per pause is enough.
        if matches!(cause, PluginError::CircuitOpen(_)) {
            tracing::debug!(plugin, callback, %cause, fallback, "plugin call skipped");
        } else {
            tracing::warn!(plugin, callback, %cause, fallback, "plugin call failed");
        }
    }
}
