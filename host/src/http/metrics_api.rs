//! `GET /metrics`: Prometheus' text format, behind the admin token on the
//! main port, or without it on a listener of its own (`metrics_addr`),
//! which an operator keeps off the public network.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::admin;
use super::response::{self, Body};
use crate::metrics::{InstanceLabels, InstanceState, PluginCallback, VersionLabels, metrics};
use crate::server::Shared;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// On the main port: the admin token first.
pub fn behind_token<B>(request: &Request<B>, shared: &Shared) -> Response<Body> {
    if let Some(refused) = admin::refusal(request, shared, "/metrics on the main port") {
        return refused;
    }
    answer(request, shared)
}

fn answer<B>(request: &Request<B>, shared: &Shared) -> Response<Body> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return response::method_not_allowed();
    }
    response::bytes(StatusCode::OK, CONTENT_TYPE, render(shared))
}

/// Every metric, the gauges of the serving plugin version read now.
pub fn render(shared: &Shared) -> String {
    let metrics = metrics();
    metrics
        .connections_open
        .set(i64::try_from(shared.connections.open()).unwrap_or(i64::MAX));
    let plugin = shared.plugins.plugin();
    let name = plugin.label();
    let (live, idle) = plugin.instances();
    metrics.plugin_instances.clear();
    for (state, count) in [(InstanceState::live, live), (InstanceState::idle, idle)] {
        metrics
            .plugin_instances
            .get_or_create(&InstanceLabels {
                plugin: name.clone(),
                state,
            })
            .set(count as i64);
    }
    metrics.plugin_breakers_open.clear();
    for (callback, open) in plugin.breakers_open() {
        metrics
            .plugin_breakers_open
            .get_or_create(&PluginCallback {
                plugin: name.clone(),
                callback: callback.as_str(),
            })
            .set(open as i64);
    }
    metrics.plugin_version.clear();
    metrics
        .plugin_version
        .get_or_create(&VersionLabels {
            plugin: name,
            version: plugin.version().to_string(),
        })
        .set(1);
    metrics.render()
}

/// Serves `GET /metrics`, tokenless, on `listener` until `shutdown`.
pub async fn serve_alone(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let response = if request.uri().path() == "/metrics" {
                    answer(&request, &shared)
                } else {
                    response::not_found()
                };
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
