//! HTTP on the WebSocket's port: the upgrade, `/api/version`, the broadcast
//! API, the plugin's `static-request`, and static files, in that order.
//! A browser's WebSocket handshake takes a short road ([`handshake`]).

mod admin;
mod broadcast_api;
mod cluster_api;
mod discord_api;
pub mod handshake;
pub mod metrics_api;
mod plugin_api;
mod prefixed;
mod response;
pub mod static_files;
pub mod static_path;
mod upgrade;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use response::Body;

use crate::limits::ConnectionGuard;
use crate::server::Shared;
use handshake::FirstRequest;
use prefixed::Prefixed;

/// Serves one accepted connection; `http_slot` is its place under the HTTP
/// connection caps, given up when it becomes a WebSocket (which has caps
/// of its own).
pub async fn serve(mut stream: TcpStream, cx: Context, http_slot: ConnectionGuard) {
    let _ = stream.set_nodelay(true);
    let limits = &cx.shared.settings.clients;
    let first = tokio::select! {
        first = handshake::read_first(&mut stream, limits.max_header_bytes, limits.handshake_timeout) => first,
        () = cx.shutdown.cancelled() => None,
    };
    let read = match first {
        None => return,
        Some(FirstRequest::Http(read)) => read,
        Some(FirstRequest::WebSocket {
            accept_key,
            read,
            head_len,
        }) => match cx.shared.connections.acquire(cx.peer.ip()) {
            Ok(slot) => {
                drop(http_slot);
                let early = read.slice(head_len..);
                drop(read);
                let switching = handshake::switching_protocols(&accept_key);
                let Context {
                    shared, shutdown, ..
                } = cx;
                crate::ws::serve(stream, early, shared, slot, shutdown, Some(switching)).await;
                return;
            }
            // Refused: the HTTP server answers it, and logs it, as any
            // other refused handshake.
            Err(_) => read,
        },
    };
    // Boxed: a WebSocket served by this task would otherwise carry the
    // HTTP server's state in its allocation for as long as it is open.
    Box::pin(serve_http(Prefixed::new(read, stream), cx)).await;
    drop(http_slot);
}

/// The general HTTP server, for everything but the short road.
async fn serve_http(io: Prefixed, cx: Context) {
    let shutdown = cx.shutdown.clone();
    let peer = cx.peer;
    let limits = &cx.shared.settings.clients;
    let mut builder = http1::Builder::new();
    // The header timeout also bounds a connection that sends nothing at all,
    // and the buffer cap bounds the request head (431 past it).
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.handshake_timeout)
        .max_buf_size(limits.max_header_bytes);
    let service = service_fn(move |request| handle(request, cx.clone()));
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "HTTP connection ended with an error");
    }
}

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
    if path == "/metrics" {
        return Ok(metrics_api::behind_token(&request, &cx.shared));
    }
    if path == "/api/plugin/reload" {
        return Ok(plugin_api::reload(&request, &cx.shared).await);
    }
    if path == "/api/discord" {
        return Ok(discord_api::handle(&request, &cx.shared));
    }
    if path == "/api/cluster" {
        return Ok(cluster_api::handle(&request, &cx.shared));
    }
    if let Some(kind) = path.strip_prefix("/api/broadcast/") {
        return Ok(broadcast_api::handle(kind, request, &cx.shared).await);
    }
    let head = request.method() == Method::HEAD;
    if request.method() != Method::GET && !head {
        return Ok(response::method_not_allowed());
    }
    if let Some(reply) = cx.shared.plugins.plugin().static_response(&path).await {
        return Ok(response::from_plugin(reply, head));
    }
    Ok(static_files::serve(&cx.shared.static_root, &path, head).await)
}
