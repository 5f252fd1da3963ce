//! One shared connection to Redis for the cluster's requests (membership,
//! shared answers, login failures), reconnected by the client library
//! when it drops. Every request has a deadline: a Redis that is slow or
//! away makes the request fail fast, and the caller decides what to do
//! alone (serve locally, count locally).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, RedisError};

/// How long one request may take, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(1_500);

/// Why a request to Redis gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("Redis did not answer within {} ms", REQUEST_TIMEOUT.as_millis())]
    Timeout,
    #[error("Redis: {0}")]
    Redis(#[from] RedisError),
}

/// Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Link {
    connection: ConnectionManager,
}

impl Link {
    /// Connects lazily: nothing happens until the first request, so a node
    /// starts whether or not Redis is there.
    pub fn new(client: redis::Client) -> Result<Self, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        Ok(Self {
            connection: ConnectionManager::new_lazy_with_config(client, config)?,
        })
    }

    /// A link to the Redis at `url`.
    pub fn open(url: &str) -> Result<Self, RedisError> {
        Self::new(redis::Client::open(url)?)
    }

    /// Sends `command` and reads its answer as `T`.
    pub async fn query<T: FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, LinkError> {
        let mut connection = self.connection.clone();
        tokio::time::timeout(REQUEST_TIMEOUT, command.query_async(&mut connection))
            .await
            .map_err(|_| LinkError::Timeout)?
            .map_err(LinkError::from)
    }

    /// Runs `script` (by its hash, loading it when Redis does not know it).
    pub async fn run<T: FromRedisValue>(
        &self,
        script: &redis::ScriptInvocation<'_>,
    ) -> Result<T, LinkError> {
        let mut connection = self.connection.clone();
        tokio::time::timeout(REQUEST_TIMEOUT, script.invoke_async(&mut connection))
            .await
            .map_err(|_| LinkError::Timeout)?
            .map_err(LinkError::from)
    }
}
