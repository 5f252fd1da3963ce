//! The servers a node's timers call the plugin for, in a cluster: all the
//! cluster's on the lease holder, none on the others, this node's own when
//! it has lost touch with the rest.

use std::sync::Arc;
use std::time::Instant;

use super::membership::{Membership, Role};
use crate::activity::Audience;
use crate::broadcast::Broadcaster;

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
