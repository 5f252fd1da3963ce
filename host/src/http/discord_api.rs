//! `GET /api/discord` (admin token): the gateway connection's state, the
//! session's age and last sequence, events per type, the last close.

use hyper::{Method, Request, Response, StatusCode};

use super::admin;
use super::response::{self, Body};
use crate::server::Shared;

pub fn handle<B>(request: &Request<B>, shared: &Shared) -> Response<Body> {
    if let Some(refused) = admin::refusal(request, shared, "the Discord API") {
        return refused;
    }
    if request.method() != Method::GET {
        return response::method_not_allowed();
    }
    match &shared.discord {
        Some(status) => {
            let mut snapshot = status.snapshot();
            if let Some(config) = &shared.settings.discord {
                snapshot["guilds"] = config
                    .guilds
                    .iter()
                    .map(|guild| serde_json::Value::from(guild.snowflake.clone()))
                    .collect();
            }
            response::json(StatusCode::OK, &snapshot)
        }
        None => response::error(
            StatusCode::NOT_FOUND,
            "no Discord gateway is followed (set [discord] or --discord-guild)",
        ),
    }
}
