//! The answers the rest of the host uses: a failed call is logged once here,
//! naming plugin, callback and cause, and replaced by its safe default.

use super::error::PluginError;
use super::plugin::{Callback, Plugin};
use crate::model::{DiscordUserClaim, Event, Member, ServerEntry, StaticReply};

impl Plugin {
    /// The servers to offer; none when the plugin fails.
    pub async fn servers(&self) -> Vec<ServerEntry> {
        self.or_default(Callback::GetServerData, self.get_server_data().await)
    }

    /// The members of `server`; none when the plugin fails.
    pub async fn users(&self, server: &str) -> Vec<Member> {
        self.or_default(Callback::GetUserData, self.get_user_data(server).await)
    }

    /// The plugin's answer to a plain HTTP request; `None` (serve static
    /// files) when it has none or fails.
    pub async fn static_response(&self, path: &str) -> Option<StaticReply> {
        self.or_default(Callback::StaticRequest, self.static_request(path).await)
    }

    /// Whether the token's holder may join; a failing plugin refuses.
    pub async fn accepts(&self, token: &str, user: &DiscordUserClaim, server: &str) -> bool {
        let verdict = self.validate_discord_user(token, user, server).await;
        self.or_default(Callback::ValidateDiscordUser, verdict)
    }

    /// The OAuth2 client id of `server`, if the plugin knows and answers.
    pub async fn client_id(&self, server: &str) -> Option<String> {
        self.or_default(Callback::GetClientId, self.get_client_id(server).await)
    }

    /// Events for timer `name`; none when the plugin fails.
    pub async fn events(&self, name: &str, servers: &[String]) -> Vec<Event> {
        self.or_default(Callback::OnTimer, self.on_timer(name, servers).await)
    }

    fn or_default<T: Default>(&self, callback: Callback, outcome: Result<T, PluginError>) -> T {
        outcome.unwrap_or_else(|cause| {
            tracing::warn!(
                plugin = self.name(),
                callback = callback.as_str(),
                %cause,
                "plugin call failed; using the safe default"
            );
            T::default()
        })
    }
}
