//! The exports the host calls, and the lane each one waits in.

/// The plugin exports the host calls, by their WIT names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Callback {
    GetServerData,
    GetUserData,
    StaticRequest,
    ValidateDiscordUser,
    GetClientId,
    Timers,
    OnTimer,
}

/// Where a call waits for a slot. Each lane has its own slots and queue, so
/// a flood of one callback (plain GETs, logins, a busy timer) never takes
/// the slots of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// `get-server-data`: every new connection and join.
    Servers,
    /// `get-user-data`: every join.
    Members,
    /// `get-client-id`: every join.
    ClientIds,
    /// `validate-discord-user`: logins to passworded servers.
    Logins,
    /// `static-request`: plain HTTP requests.
    Static,
    /// `timers` and `on-timer`: the plugin's own activity, the lowest priority.
    Timer,
}

impl Callback {
    pub const ALL: [Self; 7] = [
        Self::GetServerData,
        Self::GetUserData,
        Self::StaticRequest,
        Self::ValidateDiscordUser,
        Self::GetClientId,
        Self::Timers,
        Self::OnTimer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GetServerData => "get-server-data",
            Self::GetUserData => "get-user-data",
            Self::StaticRequest => "static-request",
            Self::ValidateDiscordUser => "validate-discord-user",
            Self::GetClientId => "get-client-id",
            Self::Timers => "timers",
            Self::OnTimer => "on-timer",
        }
    }

    /// Position in [`Self::ALL`], for tables with one entry per callback.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn lane(self) -> Lane {
        match self {
            Self::GetServerData => Lane::Servers,
            Self::GetUserData => Lane::Members,
            Self::GetClientId => Lane::ClientIds,
            Self::ValidateDiscordUser => Lane::Logins,
            Self::StaticRequest => Lane::Static,
            Self::Timers | Self::OnTimer => Lane::Timer,
        }
    }
}

impl Lane {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Servers => "get-server-data",
            Self::Members => "get-user-data",
            Self::ClientIds => "get-client-id",
            Self::Logins => "validate-discord-user",
            Self::Static => "static-request",
            Self::Timer => "timer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_match_the_table() {
        for (n, callback) in Callback::ALL.into_iter().enumerate() {
            assert_eq!(callback.index(), n);
        }
    }
}
