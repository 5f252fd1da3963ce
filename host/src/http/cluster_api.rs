//! `GET /api/cluster` (admin token): the nodes this one sees, their
//! connections, who runs the plugin's timers, and whether Redis answers.

use hyper::{Method, Request, Response, StatusCode};

use super::admin;
use super::response::{self, Body};
use crate::server::Shared;

pub fn handle<B>(request: &Request<B>, shared: &Shared) -> Response<Body> {
    if let Some(refused) = admin::refusal(request, shared, "the cluster API") {
        return refused;
    }
    if request.method() != Method::GET {
        return response::method_not_allowed();
    }
    let status = match &shared.cluster {
        Some(cluster) => cluster.status(),
        None => serde_json::json!({
            "node": null,
            "role": "alone (no [cluster] configured)",
            "connections": shared.connections.open(),
        }),
    };
    response::json(StatusCode::OK, &status)
}
