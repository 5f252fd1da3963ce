//! The admin token that guards the operator's endpoints.

use hyper::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Request, Response, StatusCode};

use super::response::{self, Body};
use crate::server::Shared;

/// `None` when `request` carries the configured admin token as a bearer
/// token; else the answer to send instead: 404 when no token is configured (the
/// endpoint is off, named by `what`), 401 when it is missing or wrong.
pub fn refusal<B>(request: &Request<B>, shared: &Shared, what: &str) -> Option<Response<Body>> {
    let Some(token) = &shared.settings.admin_token else {
        return Some(response::error(
            StatusCode::NOT_FOUND,
            &format!("{what} is off: set admin_token in the config or D_BACK_ADMIN_TOKEN"),
        ));
    };
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if presented.is_some_and(|presented| token.matches(presented)) {
        return None;
    }
    let mut refused = response::error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    refused
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(refused)
}
