//! Turning an HTTP request into a WebSocket on any path.

//! Turning an HTTP request into a WebSocket on any path, when it came
//! through the HTTP server: a refused handshake, or one that was not the
//! first request of its connection (see [`super::handshake`]).

use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::Context;
use super::handshake::{self, Refusal};
use super::prefixed::Prefixed;
use super::response::{self, Body};
use crate::limits::Verdict;

/// True for a request that asks to become a WebSocket.
pub fn is_websocket(request: &Request<Incoming>) -> bool {
    handshake::wants_websocket(request.headers())
}

/// Answers the handshake and serves the socket once hyper hands it over.
pub fn accept(mut request: Request<Incoming>, cx: Context) -> Response<Body> {
    let is_get = request.method() == Method::GET;
    let accept_key = match handshake::accept_key(is_get, request.headers()) {
        Ok(key) => key,
        Err(Refusal::NotHandshake) => {
            return response::error(StatusCode::BAD_REQUEST, "not a WebSocket handshake");
        }
        Err(Refusal::Version) => {
            let mut refused = response::error(
                StatusCode::UPGRADE_REQUIRED,
                "unsupported WebSocket version; use 13",
            );
            refused
                .headers_mut()
                .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
            return refused;
        }
        Err(Refusal::MissingKey) => {
            return response::error(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
        }
    };
    // Checked before anything else runs for this connection: a refused
    // client never reaches a plugin.
    let slot = match cx.shared.connections.acquire(cx.peer.ip()) {
        Ok(slot) => slot,
        Err(refusal) => {
            if let Verdict::Write { suppressed } =
                cx.shared.refusal_log.admit(96, std::time::Instant::now())
            {
                tracing::info!(peer = %cx.peer, %refusal, suppressed, "WebSocket refused");
            }
            return response::error(StatusCode::SERVICE_UNAVAILABLE, &refusal.to_string());
        }
    };

    let upgrading = hyper::upgrade::on(&mut request);
    let Context {
        shared,
        shutdown,
        tasks,
        ..
    } = cx;
    tasks.spawn(async move {
        if let Some((stream, early)) = plain_socket(upgrading.await) {
            crate::ws::serve(stream, early, shared, slot, shutdown, None).await;
        }
    });

    let mut switching = Response::new(Body::default());
    *switching.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = switching.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(value) = HeaderValue::from_str(&accept_key) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, value);
    }
    switching
}

/// The plain socket back from hyper, with whatever the browser sent after
/// its request: the connection reads and writes it directly. Not async, so
/// none of this stays in the connection's task once it has run.
fn plain_socket(
    upgraded: hyper::Result<hyper::upgrade::Upgraded>,
) -> Option<(TcpStream, bytes::Bytes)> {
    let upgraded = match upgraded {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "WebSocket upgrade failed");
            return None;
        }
    };
    match upgraded.downcast::<TokioIo<Prefixed>>() {
        Ok(parts) => {
            // What hyper read ahead came before what it did not read yet.
            let (stream, unread) = parts.io.into_inner().into_parts();
            let early = if unread.is_empty() {
                parts.read_buf
            } else {
                [parts.read_buf, unread].concat().into()
            };
            Some((stream, early))
        }
        Err(_) => {
            tracing::error!("WebSocket upgrade on a connection that is not TCP");
            None
        }
    }
}
