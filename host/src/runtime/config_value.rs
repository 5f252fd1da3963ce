//! A plugin configuration value, which may be a secret: secrets never show
//! in `Debug` output, so no log line can carry one by accident.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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

/// A value as a config file writes it: text (numbers and booleans are
/// taken as their text), or a secret read from an environment variable
/// (`{ env = "NAME" }`) or a file (`{ file = "path" }`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ConfigSource {
    Text(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    Env(EnvSource),
    File(FileSource),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSource {
    env: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    file: PathBuf,
}

impl ConfigSource {
    /// The value, reading the variable or the file (relative to `base`,
    /// the config file's folder) now; `name` is the key, for errors.
    pub fn resolve(self, name: &str, base: &Path) -> Result<ConfigValue, String> {
        Ok(match self {
            Self::Text(text) => ConfigValue::plain(text),
            Self::Integer(n) => ConfigValue::plain(n.to_string()),
            Self::Float(x) => ConfigValue::plain(x.to_string()),
            Self::Bool(b) => ConfigValue::plain(b.to_string()),
            Self::Env(EnvSource { env }) => {
                let value = std::env::var(&env)
                    .map_err(|_| format!("{name}: environment variable {env} is not set"))?;
                ConfigValue::secret(value)
            }
            Self::File(FileSource { file }) => {
                let path = base.join(file);
                let text = std::fs::read_to_string(&path)
                    .map_err(|error| format!("{name}: cannot read {}: {error}", path.display()))?;
                ConfigValue::secret(text.trim_end_matches(['\r', '\n']))
            }
        })
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
