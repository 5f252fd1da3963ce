//! The `[cluster]` table: which Redis the nodes share, and who this node is.

use serde::Deserialize;

/// How this node joins the others. Absent, the server runs alone. Its
/// `Debug` hides a password in the URL.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `redis://host:port/` (or `rediss://`, `redis+unix://`).
    pub redis_url: String,
    /// This node's name among the others; default: host name and port.
    #[serde(default)]
    pub node_id: Option<String>,
    /// Put before every key and channel, so clusters can share a Redis.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("redis_url", &without_credentials(&self.redis_url))
            .field("node_id", &self.node_id)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

/// `url` with whatever stands between the scheme and an `@` (user and
/// password) replaced.
fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}<redacted>{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn default_key_prefix() -> String {
    "d-back".to_string()
}

impl ClusterConfig {
    /// A cluster on `redis_url` with the default node id and prefix.
    pub fn with_url(redis_url: String) -> Self {
        Self {
            redis_url,
            node_id: None,
            key_prefix: default_key_prefix(),
        }
    }

    /// The node id set, or this machine's host name and `port`.
    pub fn node_id(&self, port: u16) -> String {
        self.node_id
            .clone()
            .unwrap_or_else(|| format!("{}:{port}", host_name()))
    }

    /// Refuses what cannot work, naming the field.
    pub fn check(&self) -> Result<(), String> {
        let scheme_ok = ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .any(|scheme| self.redis_url.starts_with(scheme));
        if !scheme_ok {
            return Err(format!(
                "cluster.redis_url must start with redis://, rediss:// or redis+unix://, got {:?}",
                crate::model::clip(&self.redis_url)
            ));
        }
        if self.node_id.as_deref().is_some_and(str::is_empty) {
            return Err("cluster.node_id must not be empty".into());
        }
        if self.key_prefix.is_empty() || self.key_prefix.contains(char::is_whitespace) {
            return Err("cluster.key_prefix must be a non-empty word".into());
        }
        Ok(())
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_checks() {
        let config: ClusterConfig =
            toml::from_str(r#"redis_url = "redis://127.0.0.1:6379/""#).unwrap();
        assert_eq!(config.key_prefix, "d-back");
        assert!(config.node_id(3000).ends_with(":3000"));
        assert!(config.check().is_ok());
        let named = ClusterConfig {
            node_id: Some("a".into()),
            ..config.clone()
        };
        assert_eq!(named.node_id(3000), "a");
        for bad in [
            ClusterConfig::with_url("http://x".into()),
            ClusterConfig {
                node_id: Some(String::new()),
                ..config.clone()
            },
            ClusterConfig {
                key_prefix: "a b".into(),
                ..config.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        assert!(toml::from_str::<ClusterConfig>("redis_url = \"redis://x\"\nnodes = 3").is_err());
        let secret = ClusterConfig::with_url("redis://user:hunter2@10.0.0.5:6379/".into());
        let shown = format!("{secret:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("@10.0.0.5:6379"),
            "{shown}"
        );
    }
}
