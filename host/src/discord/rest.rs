//! The one REST call the gateway needs: `GET /gateway/bot`, which says
//! where to connect and how many sessions may still start.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, pki_types::ServerName};

/// The whole request, connecting included.
const TIMEOUT: Duration = Duration::from_secs(15);
/// The answer is a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GatewayBot {
    pub url: String,
    pub session_start_limit: StartLimit,
}

/// How many IDENTIFYs the bot has left, and when that count resets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StartLimit {
    pub remaining: u32,
    /// Milliseconds.
    pub reset_after: u64,
    #[serde(default = "one")]
    pub max_concurrency: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// Discord refused the token: retrying cannot help.
    #[error(
        "Discord refused the bot token ({0} from GET /gateway/bot): set a valid bot_token in [discord]"
    )]
    Refused(u16),
    #[error("GET /gateway/bot: {0}")]
    Failed(String),
}

/// Asks `api_base` (`https://discord.com/api/v10`, or `http://` for a
/// local stand-in) where the bot's gateway is.
pub async fn gateway_bot(api_base: &str, token: &str) -> Result<GatewayBot, RestError> {
    let uri: hyper::Uri = format!("{api_base}/gateway/bot")
        .parse()
        .map_err(|e| RestError::Failed(format!("bad api_base: {e}")))?;
    match tokio::time::timeout(TIMEOUT, get(&uri, token)).await {
        Ok(answer) => answer,
        Err(_) => Err(RestError::Failed(format!(
            "no answer within {} s",
            TIMEOUT.as_secs()
        ))),
    }
}

async fn get(uri: &hyper::Uri, token: &str) -> Result<GatewayBot, RestError> {
    let https = uri.scheme_str() == Some("https");
    let host = uri
        .host()
        .ok_or_else(|| RestError::Failed("no host".into()))?;
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| failed("cannot connect", &e))?;
    let request = Request::get(uri.path())
        .header(
            hyper::header::HOST,
            uri.authority().map_or(host, |a| a.as_str()),
        )
        .header(hyper::header::AUTHORIZATION, format!("Bot {token}"))
        .header(
            hyper::header::USER_AGENT,
            concat!("DiscordBot (d-back, ", env!("CARGO_PKG_VERSION"), ")"),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| failed("request", &e))?;
    let (status, body) = if https {
        let name = ServerName::try_from(host.to_string()).map_err(|e| failed("host name", &e))?;
        let tls = TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await
            .map_err(|e| failed("TLS", &e))?;
        send(tls, request).await?
    } else {
        send(tcp, request).await?
    };
    match status {
        200 => serde_json::from_slice(&body).map_err(|e| failed("unexpected answer", &e)),
        401 | 403 => Err(RestError::Refused(status)),
        status => Err(RestError::Failed(format!("Discord answered {status}"))),
    }
}

async fn send<S>(io: S, request: Request<Empty<Bytes>>) -> Result<(u16, Bytes), RestError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| failed("HTTP", &e))?;
    let connection = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| failed("HTTP", &e))?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| failed("reading the answer", &e))?
        .to_bytes();
    connection.abort();
    Ok((status, body))
}

fn failed(what: &str, error: &dyn std::fmt::Display) -> RestError {
    RestError::Failed(format!("{what}: {error}"))
}

/// Web PKI roots, built once.
pub fn tls_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Arc::new(
            ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }))
}
