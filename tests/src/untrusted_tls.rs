//! A TLS server whose certificate no public root signs (the self-signed
//! one for `localhost` in `tests/fixtures/tls`): where a man in the middle
//! would stand. It records the server name of each ClientHello and what
//! got through a handshake, which for a client that checks certificates
//! is nothing.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::Acceptor;

const CERTIFICATE: &[u8] = include_bytes!("../fixtures/tls/localhost.pem");
const KEY: &[u8] = include_bytes!("../fixtures/tls/localhost.key");

/// What the server saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The server name (SNI) of each ClientHello, in order.
    pub server_names: Vec<String>,
    /// Handshakes that completed.
    pub handshakes: usize,
    /// Bytes read after a completed handshake: a request, a token.
    pub bytes: usize,
}

pub struct UntrustedTls {
    port: u16,
    seen: Arc<Mutex<Seen>>,
    accepting: JoinHandle<()>,
}

impl UntrustedTls {
    pub async fn start() -> Self {
        let config = Arc::new(server_config());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let accepting = tokio::spawn({
            let seen = Arc::clone(&seen);
            async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    tokio::spawn(serve(tcp, Arc::clone(&config), Arc::clone(&seen)));
                }
            }
        });
        Self {
            port,
            seen,
            accepting,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for UntrustedTls {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

fn server_config() -> ServerConfig {
    let chain = CertificateDer::pem_slice_iter(CERTIFICATE)
        .collect::<Result<Vec<_>, _>>()
        .expect("the fixture certificate parses");
    let key = PrivateKeyDer::from_pem_slice(KEY).expect("the fixture key parses");
    ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("the fixture key fits its certificate")
}

async fn serve(tcp: TcpStream, config: Arc<ServerConfig>, seen: Arc<Mutex<Seen>>) {
    let Ok(start) = LazyConfigAcceptor::new(Acceptor::default(), tcp).await else {
        return;
    };
    let name = start.client_hello().server_name().unwrap_or("").to_string();
    seen.lock().unwrap().server_names.push(name);
    let Ok(mut stream) = start.into_stream(config).await else {
        return;
    };
    seen.lock().unwrap().handshakes += 1;
    let mut buffer = [0u8; 4096];
    while let Ok(read) = stream.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        seen.lock().unwrap().bytes += read;
    }
}
