//! Raw HTTP/1.1 over TCP, so tests send paths exactly as written.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Sends one request and reads the whole reply (`Connection: close`),
/// within 15 s.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpReply {
    http_within(
        std::time::Duration::from_secs(15),
        addr,
        method,
        path,
        headers,
        body,
    )
    .await
}

/// [`http`], with the reply awaited for up to `wait` (a reload that
/// compiles a big component answers after it).
pub async fn http_within(
    wait: std::time::Duration,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpReply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write body");
    let raw = tokio::time::timeout(wait, read_reply(&mut stream))
        .await
        .expect("reply in time");
    parse(&raw)
}

/// Reads the head, then `Content-Length` bytes, or to the end when the
/// length is not given (some servers keep the connection open regardless).
async fn read_reply(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.expect("read");
        raw.extend_from_slice(&chunk[..n]);
        if let Some(end) = header_end(&raw) {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if let Some(length) = length
                && raw.len() >= end + 4 + length
            {
                raw.truncate(end + 4 + length);
                return raw;
            }
        }
        if n == 0 {
            return raw;
        }
    }
}

fn header_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n")
}

fn parse(raw: &[u8]) -> HttpReply {
    let split = header_end(raw).expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.lines();
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    HttpReply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// `method path` with `token` as the admin bearer token, and `body` as
/// JSON when given.
pub async fn admin(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&serde_json::Value>,
) -> HttpReply {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("Authorization", bearer.as_str())];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    let body = body.map(|body| body.to_string()).unwrap_or_default();
    http(addr, method, path, &headers, body.as_bytes()).await
}

/// `POST /api/broadcast/message` of `text` by `uid` in `server`, channel 1.
pub async fn broadcast_message(
    addr: SocketAddr,
    token: &str,
    server: &str,
    uid: &str,
    text: &str,
) -> HttpReply {
    let body = serde_json::json!({"server": server, "uid": uid, "message": text, "channel": "1"});
    admin(addr, "POST", "/api/broadcast/message", token, Some(&body)).await
}
