//! The WebSocket handshake over raw sockets, as browsers and attackers
//! send it: however it arrives (in pieces, with the first frame in the same
//! write, after a plain request on the same connection) the browser gets
//! its `101` and the server list; a bad one gets its HTTP answer, and the
//! server serves everybody else.

use std::time::Duration;

use d_back_tests::server::quiet_mock;
use d_back_tests::{Client, TestServer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// RFC 6455's answer to `KEY`.
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn handshake(extra_headers: &str) -> String {
    format!(
        "GET /any/path HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n{extra_headers}\r\n"
    )
}

/// A masked client text frame.
fn client_text(text: &str) -> Vec<u8> {
    let payload = text.as_bytes();
    assert!(payload.len() < 126);
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads one HTTP response head; returns it and whatever came after it.
async fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut read = Vec::new();
    let mut chunk = [0u8; 4096];
    let reading = async {
        loop {
            if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                let rest = read.split_off(end + 4);
                return (String::from_utf8_lossy(&read).into_owned(), rest);
            }
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed before a whole head: {read:?}");
            read.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(15), reading)
        .await
        .expect("a head in time")
}

/// Writes `bytes` in pieces of `piece` bytes, pausing between them.
async fn write_in_pieces(stream: &mut TcpStream, bytes: &[u8], piece: usize) {
    for part in bytes.chunks(piece) {
        stream.write_all(part).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn assert_switching(head: &str) {
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("upgrade: websocket"), "{head}");
    assert!(head.contains(ACCEPT), "{head}");
}

#[tokio::test]
async fn a_handshake_in_pieces_or_with_its_first_frame_is_served() {
    let server = TestServer::start(quiet_mock()).await;
    for piece in [1, 7, 4096] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        write_in_pieces(&mut stream, handshake("").as_bytes(), piece).await;
        let (head, rest) = read_head(&mut stream).await;
        assert_switching(&head);
        let mut client = Client::handshaken(stream, rest).await;
        assert_eq!(
            client.recv().await["type"],
            "server-list",
            "pieces of {piece}"
        );
        assert_eq!(client.join(Value::Null).await["type"], "server-join");
    }
    // The head and a `connect` in one write: the frame is not lost.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut both = handshake("").into_bytes();
    both.extend(client_text(
        r#"{"type":"connect","data":{"server":"docs"}}"#,
    ));
    stream.write_all(&both).await.unwrap();
    let (head, rest) = read_head(&mut stream).await;
    assert_switching(&head);
    let mut client = Client::handshaken(stream, rest).await;
    assert_eq!(client.recv().await["type"], "server-list");
    let joined = client.recv().await;
    assert_eq!(joined["type"], "server-join");
    assert_eq!(joined["data"]["request"]["server"], "docs");
    server.stop().await;
}

#[tokio::test]
async fn a_websocket_after_a_plain_request_on_the_same_connection_is_served() {
    let server = TestServer::start(quiet_mock()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /api/version HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (head, mut rest) = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a length");
    while rest.len() < length {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.unwrap();
        rest.extend_from_slice(&chunk[..n]);
    }
    assert!(String::from_utf8_lossy(&rest).contains("version"));
    stream.write_all(handshake("").as_bytes()).await.unwrap();
    let (head, rest) = read_head(&mut stream).await;
    assert_switching(&head);
    let mut client = Client::handshaken(stream, rest).await;
    assert_eq!(client.recv().await["type"], "server-list");
    assert_eq!(client.join(Value::Null).await["type"], "server-join");
    server.stop().await;
}

#[tokio::test]
async fn bad_handshakes_get_their_http_answers() {
    let server = TestServer::start(quiet_mock()).await;
    let cases = [
        (
            "POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: a\r\nContent-Length: 0\r\n\r\n".to_string(),
            "HTTP/1.1 400",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\r\n"),
            "HTTP/1.1 400",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: {KEY}\r\n\r\n"),
            "HTTP/1.1 426",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n".to_string(),
            "HTTP/1.1 400",
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: a\r\nBad Header\r\n\r\n".to_string(),
            "HTTP/1.1 400",
        ),
    ];
    for (request, expected) in cases {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let (head, _) = read_head(&mut stream).await;
        assert!(head.starts_with(expected), "{request:?} got {head}");
        assert!(!head.contains(" 101 "), "{request:?} got {head}");
        if expected.ends_with("426") {
            assert!(
                head.to_ascii_lowercase()
                    .contains("sec-websocket-version: 13"),
                "{head}"
            );
        }
    }
    // Many headers (past what the short road parses) still make a WebSocket.
    let many: String = (0..60).map(|n| format!("X-Filler-{n}: {n}\r\n")).collect();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(handshake(&many).as_bytes()).await.unwrap();
    let (head, rest) = read_head(&mut stream).await;
    assert_switching(&head);
    let mut client = Client::handshaken(stream, rest).await;
    assert_eq!(client.recv().await["type"], "server-list");
    server.assert_serves_joins().await;
    server.stop().await;
}
