//! `POST /api/broadcast/{message,presence,client-id}`: the broadcasts for
//! bots in any language. Off unless an admin token is configured.

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::admin;
use super::response::{self, Body};
use crate::model::{InvalidValue, PresenceUpdate, RoleColor, Status};
use crate::server::Shared;

/// Largest request body accepted; real broadcasts are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    server: String,
    uid: String,
    message: String,
    channel: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PresenceBody {
    server: String,
    uid: String,
    status: Status,
    username: Option<String>,
    role_color: Option<String>,
    #[serde(default)]
    delete: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ClientIdBody {
    server: String,
    client_id: String,
}

pub async fn handle(kind: &str, request: Request<Incoming>, shared: &Shared) -> Response<Body> {
    if let Some(refused) = admin::refusal(&request, shared, "the broadcast API") {
        return refused;
    }
    if !matches!(kind, "message" | "presence" | "client-id") {
        return response::error(
            StatusCode::NOT_FOUND,
            "unknown broadcast; use message, presence or client-id",
        );
    }
    if request.method() != Method::POST {
        return response::use_post();
    }
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return response::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body too large or unreadable (at most 64 KiB)",
            );
        }
    };
    let delivered = match kind {
        "message" => parse::<MessageBody>(&body).and_then(|b| {
            shared
                .broadcaster
                .broadcast_message(&b.server, &b.uid, &b.message, &b.channel)
                .map_err(reason)
        }),
        "presence" => parse::<PresenceBody>(&body).and_then(|b| {
            let role_color = b
                .role_color
                .as_deref()
                .map(RoleColor::parse)
                .transpose()
                .map_err(reason)?;
            let update = PresenceUpdate {
                uid: b.uid,
                status: b.status,
                username: b.username,
                role_color,
                delete: b.delete,
            };
            shared
                .broadcaster
                .broadcast_presence(&b.server, &update)
                .map_err(reason)
        }),
        _ => parse::<ClientIdBody>(&body).and_then(|b| {
            shared
                .broadcaster
                .broadcast_client_id_update(&b.server, &b.client_id)
                .map_err(reason)
        }),
    };
    match delivered {
        Ok(count) => response::json(StatusCode::OK, &serde_json::json!({ "delivered": count })),
        Err(why) => response::error(StatusCode::BAD_REQUEST, &why),
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

fn reason(error: InvalidValue) -> String {
    error.0
}
