//! The labels of the metrics: typed, so a metric cannot get a value its
//! help text does not promise.

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};

/// A plugin, by the name the operator gave it (shared, so counting a call
/// allocates nothing).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    pub plugin: Arc<str>,
}

/// A plugin's callback.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginCallback {
    pub plugin: Arc<str>,
    pub callback: &'static str,
}

/// How a plugin call ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum CallOutcome {
    /// An answer (a `false` for a token included).
    ok,
    /// The plugin returned an error.
    err,
    /// `validate-discord-user` said no: an answer, counted apart.
    refused,
    trap,
    fuel,
    memory,
    deadline,
    /// An answer the host refused (malformed, over a cap).
    invalid,
    /// Its lane's queue was full or the wait too long.
    overloaded,
    breaker_open,
    /// The instance could not be made.
    instantiate,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub plugin: Arc<str>,
    pub callback: &'static str,
    pub outcome: CallOutcome,
}

/// What answered a failed call instead.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Fallback {
    last_good,
    default,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FallbackLabels {
    pub plugin: Arc<str>,
    pub callback: &'static str,
    pub served: Fallback,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum InstanceState {
    live,
    idle,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InstanceLabels {
    pub plugin: Arc<str>,
    pub state: InstanceState,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum CacheResult {
    hit,
    miss,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub plugin: Arc<str>,
    pub callback: &'static str,
    pub result: CacheResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    pub plugin: Arc<str>,
    pub version: String,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum ReloadResult {
    swapped,
    refused,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub result: ReloadResult,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Verdict {
    allowed,
    denied,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EgressLabels {
    pub plugin: Arc<str>,
    pub verdict: Verdict,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum JoinOutcome {
    joined,
    no_such_server,
    auth_failed,
    auth_required,
    throttled,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JoinLabels {
    pub outcome: JoinOutcome,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum BroadcastKind {
    message,
    presence,
    client_id,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BroadcastLabels {
    pub kind: BroadcastKind,
}

/// Why the server closed a browser.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum CloseReason {
    /// Its queue of frames to send filled up: it does not read.
    not_reading,
    /// It did not answer pings.
    unresponsive,
    /// Too many frames too fast.
    rate,
    /// A frame over the size limit.
    too_big,
    /// A frame that is not the protocol.
    protocol,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    pub reason: CloseReason,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum LoginOutcome {
    accepted,
    refused,
    throttled,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    pub outcome: LoginOutcome,
}

/// A gateway event, by the names the bridge reads; any other is `other`,
/// so a strange gateway cannot grow the series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DiscordEventLabels {
    pub event: &'static str,
}

impl DiscordEventLabels {
    const KNOWN: [&'static str; 15] = [
        "READY",
        "RESUMED",
        "GUILD_CREATE",
        "GUILD_MEMBERS_CHUNK",
        "PRESENCE_UPDATE",
        "GUILD_MEMBER_ADD",
        "GUILD_MEMBER_UPDATE",
        "GUILD_MEMBER_REMOVE",
        "GUILD_ROLE_CREATE",
        "GUILD_ROLE_UPDATE",
        "GUILD_ROLE_DELETE",
        "CHANNEL_CREATE",
        "CHANNEL_UPDATE",
        "MESSAGE_CREATE",
        "GUILD_DELETE",
    ];

    pub fn of(event: &str) -> Self {
        Self {
            event: Self::KNOWN
                .iter()
                .find(|known| **known == event)
                .copied()
                .unwrap_or("other"),
        }
    }
}

/// How a gateway session started on a new connection.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum SessionStart {
    identify,
    resume,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SessionStartLabels {
    pub start: SessionStart,
}
