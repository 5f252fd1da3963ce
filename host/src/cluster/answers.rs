//! Plugin answers shared by the nodes: a cross-node single flight. The
//! first node to miss claims the call in Redis (a key that expires, so a
//! node that dies mid-call frees it); the others wait for its answer,
//! which it stores for the time-to-live. Ten nodes joining one server make
//! one call to the plugin, and so one round of Discord requests.

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;

use std::sync::Arc;

use super::link::Link;
use super::membership::Membership;
use crate::runtime::{AnswerSharing, Shared};

/// How often a node waiting for another's call looks for its answer.
const POLL: Duration = Duration::from_millis(20);

/// Answers bigger than this are not shared (each node calls for itself):
/// Redis is no place for them. A full member list of 25,000 is ~3 MiB.
const MAX_SHARED_BYTES: usize = 16 << 20;

/// The answer if there is one; else the claim if nobody holds it.
const CLAIM_SCRIPT: &str = r"
local answer = redis.call('GET', KEYS[1])
if answer then return {1, answer} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, ''} end
return {0, ''}
";

/// Stores the answer (when given) and gives the claim up, if still ours.
const SETTLE_SCRIPT: &str = r"
if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
";

pub struct SharedAnswers {
    link: Link,
    /// Whether Redis answered the last heartbeat: when it did not, nodes
    /// call alone at once instead of each waiting for a timeout.
    membership: Arc<Membership>,
    prefix: String,
    node: String,
    claim: redis::Script,
    settle: redis::Script,
}

/// What Redis said to a claim.
enum Claim {
    Answer(Vec<u8>),
    Ours,
    Taken,
}

impl SharedAnswers {
    pub fn new(link: Link, membership: Arc<Membership>, prefix: &str) -> Self {
        Self {
            link,
            node: membership.node().to_string(),
            membership,
            prefix: prefix.to_string(),
            claim: redis::Script::new(CLAIM_SCRIPT),
            settle: redis::Script::new(SETTLE_SCRIPT),
        }
    }

    async fn claim(&self, keys: &Keys, hold: Duration) -> Result<Claim, super::link::LinkError> {
        let mut call = self.claim.prepare_invoke();
        call.key(&keys.answer)
            .key(&keys.claim)
            .arg(&self.node)
            .arg(millis(hold));
        let (kind, answer): (i64, Vec<u8>) = self.link.run(&call).await?;
        Ok(match kind {
            1 => Claim::Answer(answer),
            2 => Claim::Ours,
            _ => Claim::Taken,
        })
    }

    /// Stores `answer` (if any) for `ttl` and frees the claim.
    async fn settle(&self, keys: &Keys, answer: Option<&[u8]>, ttl: Duration) {
        let mut call = self.settle.prepare_invoke();
        call.key(&keys.answer)
            .key(&keys.claim)
            .arg(&self.node)
            .arg(answer.unwrap_or_default())
            .arg(millis(ttl));
        if let Err(error) = self.link.run::<i64>(&call).await {
            tracing::debug!(%error, "cluster: an answer was not shared");
        }
    }
}

struct Keys {
    answer: String,
    claim: String,
}

fn millis(duration: Duration) -> u64 {
    (duration.as_millis() as u64).max(1)
}

impl AnswerSharing for SharedAnswers {
    fn get_or_fetch<'a>(
        &'a self,
        key: String,
        ttl: Duration,
        patience: Duration,
        fetch: BoxFuture<'a, Shared>,
    ) -> BoxFuture<'a, Shared> {
        Box::pin(async move {
            if !self.membership.reachable() {
                return fetch.await;
            }
            let keys = Keys {
                answer: format!("{}:answer:{key}", self.prefix),
                claim: format!("{}:calling:{key}", self.prefix),
            };
            // The claim outlives one call of the plugin, so a waiting node
            // takes over only from a node that died or hung.
            let hold = patience / 2;
            let give_up = Instant::now() + patience;
            loop {
                match self.claim(&keys, hold).await {
                    Ok(Claim::Answer(answer)) => return Ok(answer),
                    Ok(Claim::Ours) => {
                        let outcome = fetch.await;
                        let shared = match &outcome {
                            Ok(answer) if answer.len() <= MAX_SHARED_BYTES => {
                                Some(answer.as_slice())
                            }
                            _ => None,
                        };
                        self.settle(&keys, shared, ttl).await;
                        return outcome;
                    }
                    Ok(Claim::Taken) if Instant::now() < give_up => {
                        tokio::time::sleep(POLL).await;
                    }
                    Ok(Claim::Taken) => {
                        tracing::warn!(
                            key,
                            "cluster: another node's call took too long; calling the plugin here"
                        );
                        return fetch.await;
                    }
                    Err(error) => {
                        tracing::debug!(%error, "cluster: answers not shared now; calling the plugin here");
                        return fetch.await;
                    }
                }
            }
        })
    }
}
