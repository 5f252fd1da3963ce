//! A real WebSocket client.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame before failing.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the next read produced.
#[derive(Debug)]
pub enum Next {
    Json(Value),
    Closed(Option<CloseFrame>),
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .expect("WebSocket handshake");
        Self { ws }
    }

    /// Like [`Client::connect`], but the handshake's failure is returned.
    pub async fn try_connect(
        addr: SocketAddr,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/")).await?;
        Ok(Self { ws })
    }

    /// A client on a socket whose handshake the test made itself; `read`
    /// is what it read past the `101`'s head.
    pub async fn handshaken(stream: TcpStream, read: Vec<u8>) -> Self {
        let ws = WebSocketStream::from_partially_read(
            MaybeTlsStream::Plain(stream),
            read,
            tokio_tungstenite::tungstenite::protocol::Role::Client,
            None,
        )
        .await;
        Self { ws }
    }

    /// Connects from the loopback address `from` (127.0.0.0/8 is all
    /// local), so tests can act as many client addresses.
    pub async fn connect_from(addr: SocketAddr, from: IpAddr) -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(from, 0)).expect("bind source");
        let stream = socket.connect(addr).await.expect("TCP connect");
        let (ws, _) =
            tokio_tungstenite::client_async(format!("ws://{addr}/"), MaybeTlsStream::Plain(stream))
                .await
                .expect("WebSocket handshake");
        Self { ws }
    }

    /// The next JSON frame; panics on close or timeout.
    pub async fn recv(&mut self) -> Value {
        match self.next().await {
            Next::Json(value) => value,
            Next::Closed(frame) => panic!("connection closed: {frame:?}"),
        }
    }

    /// The next data frame or the close, skipping pings.
    pub async fn next(&mut self) -> Next {
        loop {
            let message = tokio::time::timeout(FRAME_TIMEOUT, self.ws.next())
                .await
                .expect("timed out waiting for a frame");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Next::Json(serde_json::from_str(&text).expect("server sent JSON"));
                }
                Some(Ok(Message::Binary(bytes))) => {
                    return Next::Json(serde_json::from_slice(&bytes).expect("server sent JSON"));
                }
                Some(Ok(Message::Close(frame))) => return Next::Closed(frame),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Next::Closed(None),
            }
        }
    }

    /// Like [`Client::next`], but `None` when nothing came within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Next> {
        loop {
            let message = tokio::time::timeout(wait, self.ws.next()).await.ok()?;
            return Some(match message {
                Some(Ok(Message::Text(text))) => {
                    Next::Json(serde_json::from_str(&text).expect("server sent JSON"))
                }
                Some(Ok(Message::Binary(bytes))) => {
                    Next::Json(serde_json::from_slice(&bytes).expect("server sent JSON"))
                }
                Some(Ok(Message::Close(frame))) => Next::Closed(frame),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => Next::Closed(None),
            });
        }
    }

    /// The next frame of type `kind`, skipping others (timer events).
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    pub async fn send(&mut self, message: Message) {
        self.ws.send(message).await.expect("send frame");
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send(Message::text(value.to_string())).await;
    }

    /// Sends `connect` with `data` and returns the answer.
    pub async fn connect_with(&mut self, data: Value) -> Value {
        self.send_json(json!({ "type": "connect", "data": data }))
            .await;
        self.recv().await
    }

    /// Joins `server` (a JSON value: string, null, …) without credentials.
    pub async fn join(&mut self, server: Value) -> Value {
        self.connect_with(json!({ "server": server })).await
    }

    /// Says goodbye with a close frame and waits for the server's answer.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(FRAME_TIMEOUT, self.ws.next()).await {}
    }

    /// Expects an `error` frame with exactly `message`.
    pub fn assert_error(frame: &Value, message: &str) {
        assert_eq!(
            frame,
            &json!({ "type": "error", "data": { "message": message } })
        );
    }
}
