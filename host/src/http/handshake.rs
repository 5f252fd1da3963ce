//! The WebSocket handshake: what makes a request one, and the short road
//! for the common case. A browser opens a new connection for its
//! WebSocket, so its first request is the handshake: that request is read
//! and answered here, straight from the socket, and the connection goes on
//! as a WebSocket in the same task. Anything else (a page, the API, a bad
//! or partial handshake, a refusal) goes to the HTTP server with the bytes
//! already read, and is answered exactly as if this did not exist.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::header::{HeaderMap, HeaderName};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Headers parsed at most on the short road; a request with more goes to
/// the HTTP server.
const MAX_HEADERS: usize = 32;

/// Why a request is not a usable handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a GET, or no `Connection: upgrade`.
    NotHandshake,
    /// `Sec-WebSocket-Version` is not 13.
    Version,
    MissingKey,
}

/// A request's headers, however they were parsed.
pub trait Headers {
    /// Every value of header `name` (case-insensitive).
    fn values(&self, name: &str) -> impl Iterator<Item = &[u8]>;

    /// Whether a comma-separated header contains `token`, ignoring case.
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name)
            .filter_map(|value| std::str::from_utf8(value).ok())
            .flat_map(|value| value.split(','))
            .any(|part| part.trim().eq_ignore_ascii_case(token))
    }
}

impl Headers for HeaderMap {
    fn values(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        HeaderName::from_bytes(name.as_bytes())
            .ok()
            .into_iter()
            .flat_map(|name| self.get_all(name).iter().map(|v| v.as_bytes()))
    }
}

impl Headers for [httparse::Header<'_>] {
    fn values(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        self.iter()
            .filter(move |header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value)
    }
}

/// True for a request that asks to become a WebSocket.
pub fn wants_websocket(headers: &(impl Headers + ?Sized)) -> bool {
    headers.has_token("upgrade", "websocket")
}

/// The `Sec-WebSocket-Accept` value for a request that asks to become a
/// WebSocket, or why it cannot.
pub fn accept_key(is_get: bool, headers: &(impl Headers + ?Sized)) -> Result<String, Refusal> {
    if !is_get || !headers.has_token("connection", "upgrade") {
        return Err(Refusal::NotHandshake);
    }
    if headers.values("sec-websocket-version").next() != Some(b"13") {
        return Err(Refusal::Version);
    }
    let key = headers
        .values("sec-websocket-key")
        .next()
        .ok_or(Refusal::MissingKey)?;
    Ok(derive_accept_key(key))
}

/// The `101` answer to a handshake.
pub fn switching_protocols(accept_key: &str) -> Bytes {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ",
    );
    out.extend_from_slice(accept_key.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.into()
}

/// What the first request on a connection turned out to be.
#[derive(Debug)]
pub enum FirstRequest {
    /// A valid handshake, to be answered with `101` and `accept_key`;
    /// `read` is what was read, the head being its first `head_len`
    /// bytes and the rest what the browser sent after it.
    WebSocket {
        accept_key: String,
        read: Bytes,
        head_len: usize,
    },
    /// Anything else, for the HTTP server, with what was read of it.
    Http(Bytes),
}

/// Reads the head of the connection's first request (at most `max_bytes`,
/// for at most `timeout`) and sorts it. `None` when the client closed, or
/// sent no whole head in time (the HTTP server would drop it too).
pub async fn read_first(
    stream: &mut TcpStream,
    max_bytes: usize,
    timeout: Duration,
) -> Option<FirstRequest> {
    tokio::time::timeout(timeout, read_head(stream, max_bytes))
        .await
        .ok()
        .flatten()
}

async fn read_head(stream: &mut TcpStream, max_bytes: usize) -> Option<FirstRequest> {
    let mut buf = BytesMut::with_capacity(1024.min(max_bytes.max(1)));
    loop {
        if buf.len() >= max_bytes {
            // Too big for the short road; the HTTP server answers 431.
            return Some(FirstRequest::Http(buf.freeze()));
        }
        buf.reserve(1024.min(max_bytes - buf.len()));
        let room = max_bytes - buf.len();
        let read = (&mut *stream).take(room as u64).read_buf(&mut buf).await;
        match read {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf) {
            Ok(httparse::Status::Partial) => continue,
            Ok(httparse::Status::Complete(head_len)) => {
                let is_get = request.method == Some("GET");
                let handshake = (request.version == Some(1) && wants_websocket(request.headers))
                    .then(|| accept_key(is_get, request.headers).ok())
                    .flatten();
                return Some(match handshake {
                    Some(accept_key) => FirstRequest::WebSocket {
                        accept_key,
                        read: buf.freeze(),
                        head_len,
                    },
                    None => FirstRequest::Http(buf.freeze()),
                });
            }
            // The HTTP server gives each malformed request its answer.
            Err(_) => return Some(FirstRequest::Http(buf.freeze())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn first(sent: &[&[u8]], max: usize) -> Option<FirstRequest> {
        let (mut socket, mut client) = crate::wire::socket_pair().await;
        let sent: Vec<Vec<u8>> = sent.iter().map(|part| part.to_vec()).collect();
        let writer = tokio::spawn(async move {
            for part in sent {
                client.write_all(&part).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            client
        });
        let read = read_first(&mut socket, max, Duration::from_secs(2)).await;
        drop(writer.await);
        read
    }

    const HANDSHAKE: &[u8] = b"GET /any HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

    #[tokio::test]
    async fn a_handshake_split_anywhere_is_read_with_what_follows_it() {
        for split in [1, 17, HANDSHAKE.len() - 1] {
            let (head, tail) = HANDSHAKE.split_at(split);
            let mut rest = tail.to_vec();
            rest.extend_from_slice(b"early");
            match first(&[head, &rest], 8192).await {
                Some(FirstRequest::WebSocket {
                    accept_key,
                    read,
                    head_len,
                }) => {
                    // RFC 6455's own example.
                    assert_eq!(accept_key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
                    assert_eq!(&read[..head_len], HANDSHAKE);
                    assert_eq!(&read[head_len..], b"early");
                }
                other => panic!("split at {split}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn everything_else_goes_to_the_http_server_with_what_was_read() {
        let cases: [&[u8]; 5] = [
            b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
            b"\x16\x03\x01 not http at all\r\n\r\n",
        ];
        for case in cases {
            match first(&[case], 8192).await {
                Some(FirstRequest::Http(read)) => assert_eq!(&read[..], case),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(case)),
            }
        }
    }

    #[tokio::test]
    async fn a_head_past_the_cap_is_handed_over_at_the_cap() {
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        big.extend(std::iter::repeat_n(b"X-Filler: yes\r\n".as_slice(), 200).flatten());
        match first(&[&big], 1000).await {
            Some(FirstRequest::Http(read)) => assert_eq!(read.len(), 1000),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn silence_and_early_close_end_the_connection() {
        let (mut socket, client) = crate::wire::socket_pair().await;
        let read = read_first(&mut socket, 8192, Duration::from_millis(100)).await;
        assert!(read.is_none(), "nothing sent in time");
        drop(client);
        let (mut socket, mut client) = crate::wire::socket_pair().await;
        client.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
        drop(client);
        let read = read_first(&mut socket, 8192, Duration::from_secs(5)).await;
        assert!(read.is_none(), "closed halfway through the head");
    }
}
