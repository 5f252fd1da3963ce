//! A small blocking HTTP client over `wasi:http`: the host decides whether a
//! request may go out at all (its allow-list) and how long it may take.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, IncomingBody, Method, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

/// Largest response body read; the host caps it too.
const MAX_BODY: usize = 16 << 20;

/// A response's status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A parsed `http(s)://authority/path` base URL.
#[derive(Debug, Clone)]
pub struct BaseUrl {
    https: bool,
    authority: String,
    path: String,
}

impl BaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!(
                "api_base {url:?} must start with https:// or http://"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(format!("api_base {url:?} has no host"));
        }
        Ok(Self {
            https,
            authority: authority.to_string(),
            path: path.trim_end_matches('/').to_string(),
        })
    }
}

/// GET `base` + `path_and_query` with an `Authorization` header.
pub fn get(base: &BaseUrl, path_and_query: &str, authorization: &str) -> Result<Response, String> {
    let headers = Fields::from_list(&[
        (
            "authorization".to_string(),
            authorization.as_bytes().to_vec(),
        ),
        ("accept".to_string(), b"application/json".to_vec()),
        (
            "user-agent".to_string(),
            b"DiscordBot (d-back-discord, 0.1)".to_vec(),
        ),
    ])
    .map_err(|e| format!("bad request headers: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let target = format!("{}{}", base.path, path_and_query);
    let scheme = if base.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    request
        .set_method(&Method::Get)
        .and_then(|()| request.set_scheme(Some(&scheme)))
        .and_then(|()| request.set_authority(Some(&base.authority)))
        .and_then(|()| request.set_path_with_query(Some(&target)))
        .map_err(|()| format!("cannot build a request for {}{target}", base.authority))?;

    let pending = outgoing_handler::handle(request, None)
        .map_err(|e| format!("request to {} refused: {e:?}", base.authority))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("no response after waiting")?
        .map_err(|()| "response already taken".to_string())?
        .map_err(|e| format!("request to {} failed: {e:?}", base.authority))?;
    let status = response.status();
    let body = response
        .consume()
        .map_err(|()| "response body already taken".to_string())?;
    let bytes = read_all(&body)?;
    // A body is a child of its response: finish it before the response goes.
    let _trailers = IncomingBody::finish(body);
    drop(response);
    Ok(Response {
        status,
        body: bytes,
    })
}

fn read_all(body: &IncomingBody) -> Result<Vec<u8>, String> {
    let stream = body
        .stream()
        .map_err(|()| "response body stream already taken".to_string())?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_BODY {
                    return Err(format!("response larger than {MAX_BODY} bytes"));
                }
            }
            Err(StreamError::Closed) => return Ok(bytes),
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(format!(
                    "reading the response failed: {}",
                    error.to_debug_string()
                ));
            }
        }
    }
}

/// Sleeps for `millis` on the monotonic clock.
pub fn sleep_ms(millis: u64) {
    wasip2::clocks::monotonic_clock::subscribe_duration(millis * 1_000_000).block();
}
