//! The answers the rest of the host uses. Server and member lists come from
//! the host-side cache when fresh; each call goes through its callback's
//! circuit breaker (per server or per client address where one caller
//! could otherwise pause a callback for all); a failed call is logged once here (within the plugin's
//! report budget), naming plugin, callback and cause, and replaced by the
//! last good answer where there is one (server and member lists) or else
//! the safe default.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Beyond a call's deadline, how long a node's claim to make the shared
/// call lasts (see [`Plugin::shared_users`]).
pub(super) const SHARED_CLAIM_SLACK: Duration = Duration::from_secs(1);

use super::breaker::Transition;
use super::callback::{Callback, Lane};
use super::error::PluginError;
use super::plugin::Plugin;
use super::sharing::AnswerSharing;
use crate::limits::Verdict;
use crate::metrics::{
    CacheLabels, CacheResult, CallLabels, CallOutcome, Fallback, FallbackLabels, PluginCallback,
    metrics,
};
use crate::model::{DiscordUserClaim, Event, Member, StaticReply};
use crate::protocol::{MemberList, Members, ServerList, Servers};

impl Plugin {
    /// The servers to offer; the last good list, or none, when the plugin fails.
    pub async fn servers(&self) -> Servers {
        let missed = std::sync::atomic::AtomicBool::new(false);
        let fetch = || async {
            missed.store(true, std::sync::atomic::Ordering::Relaxed);
            self.guarded(Callback::GetServerData, None, self.get_server_data())
                .await
                .map(ServerList::new)
        };
        let cached = self.cached_servers.get_or_fetch("", fetch).await;
        self.count_lookup(
            Callback::GetServerData,
            missed.load(std::sync::atomic::Ordering::Relaxed),
        );
        match cached {
            Ok(servers) => {
                self.last_good.remember_servers(&servers);
                servers
            }
            Err(cause) => {
                let last = self.last_good.servers();
                self.report(Callback::GetServerData, None, &cause, last.is_some());
                last.unwrap_or_else(ServerList::empty)
            }
        }
    }

    /// The members of `server`; the last good list, or none, when the plugin fails.
    pub async fn users(&self, server: &str) -> Members {
        let missed = std::sync::atomic::AtomicBool::new(false);
        let fetch = || async {
            missed.store(true, std::sync::atomic::Ordering::Relaxed);
            match self.sharing.get() {
                Some(sharing) if !self.cache_ttl.is_zero() => {
                    self.shared_users(sharing.as_ref(), server).await
                }
                _ => self.fetch_users(server).await.map(MemberList::new),
            }
        };
        let cached = self.cached_users.get_or_fetch(server, fetch).await;
        self.count_lookup(
            Callback::GetUserData,
            missed.load(std::sync::atomic::Ordering::Relaxed),
        );
        match cached {
            Ok(users) => {
                self.last_good.remember_users(server, &users);
                users
            }
            Err(cause) => {
                let last = self.last_good.users(server);
                self.report(Callback::GetUserData, Some(server), &cause, last.is_some());
                last.unwrap_or_else(MemberList::empty)
            }
        }
    }

    /// Counts a lookup in the host's cache: a hit when no call was made.
    fn count_lookup(&self, callback: Callback, missed: bool) {
        metrics()
            .plugin_cache
            .get_or_create(&CacheLabels {
                plugin: self.label(),
                callback: callback.as_str(),
                result: if missed {
                    CacheResult::miss
                } else {
                    CacheResult::hit
                },
            })
            .inc();
    }

    async fn fetch_users(&self, server: &str) -> Result<Vec<Member>, PluginError> {
        self.guarded(
            Callback::GetUserData,
            Some(server),
            self.get_user_data(server),
        )
        .await
    }

    /// The members of `server` as the cluster shares them: another node's
    /// answer of this time-to-live, or this node's call, shared.
    async fn shared_users(
        &self,
        sharing: &dyn AnswerSharing,
        server: &str,
    ) -> Result<Members, PluginError> {
        let key = format!("{}:users:{server}", self.scope);
        // Long enough for the node calling the plugin to finish, or for
        // its claim to expire if it died, and to call again.
        let patience = 2 * (self.limits().deadline + SHARED_CLAIM_SLACK);
        let fetch = Box::pin(async {
            let members = self.fetch_users(server).await?;
            serde_json::to_vec(&members).map_err(|e| PluginError::InvalidOutput(e.to_string()))
        });
        let encoded = sharing
            .get_or_fetch(key, self.cache_ttl, patience, fetch)
            .await?;
        match serde_json::from_slice::<Vec<Member>>(&encoded) {
            Ok(members) if members.len() <= self.caps.max_users => Ok(MemberList::new(members)),
            unreadable => {
                tracing::warn!(
                    plugin = self.name(),
                    server,
                    unreadable = ?unreadable.err(),
                    "a shared member list was unreadable; asking the plugin"
                );
                self.fetch_users(server).await.map(MemberList::new)
            }
        }
    }

    /// The plugin's answer to a plain HTTP request; `None` (serve static
    /// files) when it has none or fails. Runs on the low-priority thread.
    pub async fn static_response(self: &Arc<Self>, path: &str) -> Option<StaticReply> {
        let plugin = Arc::clone(self);
        let path = path.to_owned();
        self.background
            .run(async move {
                let outcome = plugin
                    .guarded(Callback::StaticRequest, None, plugin.static_request(&path))
                    .await;
                plugin.or_default(Callback::StaticRequest, outcome)
            })
            .await
            .flatten()
    }

    /// Whether the token's holder may join; a failing plugin refuses.
    /// `caller` (the browser's address) keys the breaker: a browser whose
    /// logins make the plugin fail pauses logins from its address only.
    pub async fn accepts(
        &self,
        token: &str,
        user: &DiscordUserClaim,
        server: &str,
        caller: IpAddr,
    ) -> bool {
        let verdict = self
            .guarded_judged(
                Callback::ValidateDiscordUser,
                Some(&caller.to_string()),
                self.validate_discord_user(token, user, server),
                |accepted| {
                    if *accepted {
                        CallOutcome::ok
                    } else {
                        CallOutcome::refused
                    }
                },
            )
            .await;
        self.or_default(Callback::ValidateDiscordUser, verdict)
    }

    /// The OAuth2 client id of `server`, if the plugin knows and answers.
    pub async fn client_id(&self, server: &str) -> Option<String> {
        let outcome = self
            .guarded(
                Callback::GetClientId,
                Some(server),
                self.get_client_id(server),
            )
            .await;
        self.or_default(Callback::GetClientId, outcome)
    }

    /// Events for timer `name`; none when the plugin fails.
    pub async fn events(&self, name: &str, servers: &[String]) -> Vec<Event> {
        let outcome = self
            .guarded(Callback::OnTimer, None, self.on_timer(name, servers))
            .await;
        self.or_default(Callback::OnTimer, outcome)
    }

    /// Runs `call` unless its callback's breaker is open, and tells the
    /// breaker how it went. An answer, `false` for a token included, is a
    /// success; only a failure of the plugin counts against it.
    async fn guarded<T>(
        &self,
        callback: Callback,
        key: Option<&str>,
        call: impl Future<Output = Result<T, PluginError>>,
    ) -> Result<T, PluginError> {
        self.guarded_judged(callback, key, call, |_| CallOutcome::ok)
            .await
    }

    /// [`Plugin::guarded`], with `judge` naming the outcome of an answer
    /// for the metrics (a `false` to a login is a refusal).
    async fn guarded_judged<T>(
        &self,
        callback: Callback,
        key: Option<&str>,
        call: impl Future<Output = Result<T, PluginError>>,
        judge: impl Fn(&T) -> CallOutcome,
    ) -> Result<T, PluginError> {
        let started = Instant::now();
        let breaker = self.breakers.of(callback, key);
        if let Some(left) = breaker.as_ref().and_then(|b| b.open_for(Instant::now())) {
            let refused = Err(PluginError::CircuitOpen(left));
            self.count_call(callback, started, &refused, judge);
            return refused;
        }
        let outcome = call.await;
        self.count_call(callback, started, &outcome, judge);
        let Some(breaker) = breaker else {
            return outcome;
        };
        let transition = match &outcome {
            Ok(_) => breaker.record_success(),
            Err(cause) if cause.counts_against_plugin() => breaker.record_failure(Instant::now()),
            Err(_) => Transition::None,
        };
        let (plugin, callback) = (self.name(), callback.as_str());
        let key = key.unwrap_or_default();
        match transition {
            Transition::Opened(pause) => tracing::warn!(
                plugin,
                callback,
                key,
                ?pause,
                "callback keeps failing; pausing calls to it"
            ),
            Transition::Recovered => {
                tracing::info!(
                    plugin,
                    callback,
                    key,
                    "callback recovered; calling it again"
                )
            }
            Transition::None => {}
        }
        outcome
    }

    fn or_default<T: Default>(&self, callback: Callback, outcome: Result<T, PluginError>) -> T {
        outcome.unwrap_or_else(|cause| {
            self.report(callback, None, &cause, false);
            T::default()
        })
    }

    /// Counts one call of `callback` begun at `started` for the metrics.
    pub(super) fn count_call<T>(
        &self,
        callback: Callback,
        started: Instant,
        outcome: &Result<T, PluginError>,
        judge: impl Fn(&T) -> CallOutcome,
    ) {
        let metrics = metrics();
        let of = PluginCallback {
            plugin: self.label(),
            callback: callback.as_str(),
        };
        metrics
            .plugin_call_seconds
            .get_or_create(&of)
            .observe(started.elapsed().as_secs_f64());
        let outcome = match outcome {
            Ok(answer) => judge(answer),
            Err(cause) => cause.outcome(),
        };
        metrics
            .plugin_calls
            .get_or_create(&CallLabels {
                plugin: of.plugin,
                callback: of.callback,
                outcome,
            })
            .inc();
    }

    fn report(
        &self,
        callback: Callback,
        key: Option<&str>,
        cause: &PluginError,
        served_last_good: bool,
    ) {
        metrics()
            .plugin_fallbacks
            .get_or_create(&FallbackLabels {
                plugin: self.label(),
                callback: callback.as_str(),
                served: if served_last_good {
                    Fallback::last_good
                } else {
                    Fallback::default
                },
            })
            .inc();
        let plugin = self.name();
        let (callback_kind, cause_kind) = (callback, cause);
        let callback = callback.as_str();
        let key = key.unwrap_or_default();
        let fallback = if served_last_good {
            "serving the last good answer"
        } else {
            "using the safe default"
        };
        // While paused every call would log; once per pause is enough. A
        // timer firing that finds the previous one still running is skipped
        // by design.
        if matches!(
            cause,
            PluginError::CircuitOpen(_) | PluginError::Overloaded(Lane::Timer, _)
        ) {
            tracing::debug!(plugin, callback, key, %cause, fallback, "plugin call skipped");
            return;
        }
        let cause = cause.to_string();
        match self.reports.admit(cause.len() + 96, Instant::now()) {
            Verdict::Drop => {}
            Verdict::Write { suppressed } => {
                if suppressed > 0 {
                    tracing::warn!(
                        plugin,
                        suppressed,
                        "reports of failed plugin calls suppressed (over the report budget)"
                    );
                }
                match super::hints::hint(callback_kind, cause_kind) {
                    Some(hint) => {
                        tracing::warn!(plugin, callback, key, %cause, fallback, hint, "plugin call failed")
                    }
                    None => {
                        tracing::warn!(plugin, callback, key, %cause, fallback, "plugin call failed")
                    }
                }
            }
        }
    }
}
