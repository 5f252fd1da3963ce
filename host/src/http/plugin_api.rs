//! `POST /api/plugin/reload` (admin token): the config file's `[plugin]`
//! table read again and its plugin swapped in. Answers once the new
//! version serves (200), or with the reason it was refused (422, the old
//! version still serving).

use hyper::{Method, Request, Response, StatusCode};

use super::admin;
use super::response::{self, Body};
use crate::server::Shared;

pub async fn reload<B>(request: &Request<B>, shared: &Shared) -> Response<Body> {
    if let Some(refused) = admin::refusal(request, shared, "the plugin API") {
        return refused;
    }
    if request.method() != Method::POST {
        return response::use_post();
    }
    match shared.plugins.reload("POST /api/plugin/reload").await {
        Ok(swapped) => response::json(
            StatusCode::OK,
            &serde_json::json!({
                "plugin": swapped.name,
                "version": swapped.version,
                "prepared_ms": swapped.prepared_in.as_millis() as u64,
                "swapped_us": swapped.swapped_in.as_micros() as u64,
            }),
        ),
        Err(error) => response::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("reload refused, the serving version goes on: {error}"),
        ),
    }
}
