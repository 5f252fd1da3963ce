//! What the lease decides on each node: the servers its timers call the
//! plugin for (all the cluster's on the lease holder, none on the others,
//! this node's own when it has lost touch with the rest), and whether it
//! follows Discord's gateway (the holder does, and a node on its own).

use std::sync::Arc;
use std::time::Instant;

use super::membership::{Membership, Role};
use crate::activity::Audience;
use crate::broadcast::Broadcaster;
use crate::discord::GatewayLease;

pub struct ClusterAudience {
    pub membership: Arc<Membership>,
    pub broadcaster: Broadcaster,
}

impl Audience for ClusterAudience {
    fn watched(&self) -> Vec<String> {
        match self.membership.role(Instant::now()) {
            Role::Holder => self.membership.watched(self.broadcaster.active_servers()),
            Role::Follower => Vec::new(),
            Role::Alone => self.broadcaster.active_servers(),
        }
    }
}

/// The gateway session goes with the lease: one node follows Discord and
/// its events reach the others as broadcasts. A node out of touch with
/// Redis follows on its own, for its own browsers.
pub struct ClusterGatewayLease {
    pub membership: Arc<Membership>,
}

impl GatewayLease for ClusterGatewayLease {
    fn held(&self) -> bool {
        matches!(
            self.membership.role(Instant::now()),
            Role::Holder | Role::Alone
        )
    }
}
