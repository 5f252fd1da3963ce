//! Why a plugin call produced no usable answer.

use std::time::Duration;

use super::callback::Lane;

/// A plugin call that failed. Never shown to browsers: the host logs it and
/// answers with the callback's safe default.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    #[error("could not instantiate the component: {0}")]
    Instantiate(String),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("ran out of fuel ({0} units per call)")]
    OutOfFuel(u64),
    #[error("missed its deadline of {0:?}")]
    Deadline(Duration),
    #[error("was refused memory past its cap of {0} bytes")]
    MemoryCap(usize),
    #[error("returned an error: {0}")]
    Returned(String),
    #[error("returned an invalid value: {0}")]
    InvalidOutput(String),
    #[error("is overloaded: {reason} ({lane} lane)", lane = .0.as_str(), reason = .1)]
    Overloaded(Lane, &'static str),
    #[error("is paused after repeated failures ({0:?} left)")]
    CircuitOpen(Duration),
}

impl PluginError {
    /// The failure's name in the metrics.
    pub fn outcome(&self) -> crate::metrics::CallOutcome {
        use crate::metrics::CallOutcome;
        match self {
            Self::Instantiate(_) => CallOutcome::instantiate,
            Self::Trap(_) => CallOutcome::trap,
            Self::OutOfFuel(_) => CallOutcome::fuel,
            Self::Deadline(_) => CallOutcome::deadline,
            Self::MemoryCap(_) => CallOutcome::memory,
            Self::Returned(_) => CallOutcome::err,
            Self::InvalidOutput(_) => CallOutcome::invalid,
            Self::Overloaded(..) => CallOutcome::overloaded,
            Self::CircuitOpen(_) => CallOutcome::breaker_open,
        }
    }

    /// True for failures of the plugin itself, which count towards its
    /// circuit breaker; a full queue or an open breaker do not.
    pub fn counts_against_plugin(&self) -> bool {
        !matches!(self, Self::Overloaded(..) | Self::CircuitOpen(_))
    }
}
