//! A plugin configuration value, which may be a secret: secrets never show
//! in `Debug` output, so no log line can carry one by accident.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct ConfigValue {
    value: String,
    secret: bool,
}

impl ConfigValue {
    pub fn plain(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            secret: false,
        }
    }

    /// A value read from an environment variable or a file.
    pub fn secret(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            secret: true,
        }
    }

    /// The value itself, for the plugin it is configured for.
    pub fn expose(&self) -> &str {
        &self.value
    }

    pub fn is_secret(&self) -> bool {
        self.secret
    }
}

impl From<&str> for ConfigValue {
    fn from(value: &str) -> Self {
        Self::plain(value)
    }
}

impl From<String> for ConfigValue {
    fn from(value: String) -> Self {
        Self::plain(value)
    }
}

impl fmt::Debug for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret {
            f.write_str("<secret>")
        } else {
            fmt::Debug::fmt(&self.value, f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_from_debug_output() {
        assert_eq!(format!("{:?}", ConfigValue::plain("x")), "\"x\"");
        let secret = ConfigValue::secret("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }
}
