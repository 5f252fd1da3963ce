//! A socket with the bytes already read from it put back in front: what
//! the HTTP server gets after the handshake's short road looked at the
//! first request and passed.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct Prefixed {
    /// Read from the socket already, not yet read through this.
    read: Bytes,
    stream: TcpStream,
}

impl Prefixed {
    pub fn new(read: Bytes, stream: TcpStream) -> Self {
        Self { read, stream }
    }

    /// The socket, and what was put back in front of it and not read yet.
    pub fn into_parts(self) -> (TcpStream, Bytes) {
        (self.stream, self.read)
    }
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.read.is_empty() {
            return Pin::new(&mut self.stream).poll_read(cx, buf);
        }
        let n = self.read.len().min(buf.remaining());
        buf.put_slice(&self.read[..n]);
        self.read.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_what_was_put_back_then_the_socket() {
        let (socket, mut client) = crate::wire::socket_pair().await;
        let mut prefixed = Prefixed::new(Bytes::from_static(b"put back "), socket);
        client.write_all(b"then the socket").await.unwrap();
        drop(client);
        let mut read = Vec::new();
        let mut small = [0u8; 4];
        let n = prefixed.read(&mut small).await.unwrap();
        read.extend_from_slice(&small[..n]);
        prefixed.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, b"put back then the socket");
        let (_, rest) = prefixed.into_parts();
        assert!(rest.is_empty());
    }
}
