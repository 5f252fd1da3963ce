//! HTTP on the WebSocket's port: the upgrade, `/api/version`, the broadcast
//! API, the plugin's `static-request`, and static files, in that order.

mod broadcast_api;
mod response;
pub mod static_files;
pub mod static_path;
mod upgrade;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use response::Body;

use crate::server::Shared;

/// Everything a request handler may need, cheap to clone per request.
#[derive(Clone)]
pub struct Context {
    pub shared: Arc<Shared>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    /// The client's address.
    pub peer: SocketAddr,
}

/// Answers one HTTP request.
pub async fn handle(request: Request<Incoming>, cx: Context) -> Result<Response<Body>, Infallible> {
    if upgrade::is_websocket(&request) {
        return Ok(upgrade::accept(request, cx));
    }
    let path = request.uri().path().to_string();
    tracing::debug!(method = %request.method(), path, "http request");
    if path == "/api/version" {
        return Ok(response::json(
            hyper::StatusCode::OK,
            &serde_json::json!({ "version": crate::VERSION }),
        ));
    }
    if let Some(kind) = path.strip_prefix("/api/broadcast/") {
        return Ok(broadcast_api::handle(kind, request, &cx.shared).await);
    }
    let head = request.method() == Method::HEAD;
    if request.method() != Method::GET && !head {
        return Ok(response::method_not_allowed());
    }
    if let Some(reply) = cx.shared.plugin.static_response(&path).await {
        return Ok(response::from_plugin(reply, head));
    }
    Ok(static_files::serve(&cx.shared.static_root, &path, head).await)
}
