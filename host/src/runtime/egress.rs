//! Outgoing HTTP for plugins (`wasi:http`), allowed only to the hosts the
//! operator lists for that plugin. The check is made on the request's real
//! scheme and authority as the host will connect, never on a header the
//! plugin sets. Each request has a timeout and a response size cap; the
//! plugin's own deadline still bounds the whole call.

use crate::metrics;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::limits::{LogBudget, Verdict};
use bytes::Bytes;
use http::uri::{Scheme, Uri};
use http_body::{Body, Frame, SizeHint};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks, default_send_request,
};

/// One allowed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    /// Lower-case host name or IP address.
    pub host: String,
    /// `None` allows the scheme's default port only.
    pub port: Option<u16>,
    /// Plain `http` allowed too (otherwise `https` only).
    pub plain_http: bool,
}

impl AllowedHost {
    /// Parses `host` or `host:port` (IPv6 in brackets).
    pub fn parse(entry: &str, plain_http: bool) -> Result<Self, String> {
        let authority: http::uri::Authority = entry
            .trim()
            .parse()
            .map_err(|_| format!("{entry:?} is not a host or host:port"))?;
        if authority.as_str().contains('@') {
            return Err(format!("{entry:?} must not contain credentials"));
        }
        Ok(Self {
            host: authority
                .host()
                .trim_matches(['[', ']'])
                .to_ascii_lowercase(),
            port: authority.port_u16(),
            plain_http,
        })
    }
}

/// Where one plugin may send requests, and how big and slow they may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRules {
    pub allowed: Vec<AllowedHost>,
    pub request_timeout: Duration,
    pub max_response_bytes: usize,
}

impl Default for EgressRules {
    fn default() -> Self {
        Self {
            allowed: Vec::new(),
            request_timeout: Duration::from_secs(10),
            max_response_bytes: 8 << 20,
        }
    }
}

impl EgressRules {
    /// Whether a request to `uri` may go out; the reason when not.
    pub fn check(&self, uri: &Uri) -> Result<(), String> {
        let scheme = uri.scheme().ok_or("the request has no scheme")?;
        let plain = if *scheme == Scheme::HTTPS {
            false
        } else if *scheme == Scheme::HTTP {
            true
        } else {
            return Err(format!("scheme {scheme} is not allowed"));
        };
        let authority = uri.authority().ok_or("the request has no host")?;
        let host = authority
            .host()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        let default_port = if plain { 80 } else { 443 };
        let port = authority.port_u16().unwrap_or(default_port);
        let allowed = self.allowed.iter().any(|rule| {
            rule.host == host
                && rule.port.unwrap_or(default_port) == port
                && (!plain || rule.plain_http)
        });
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "{}://{host}:{port} is not in the plugin's allow-list",
                scheme.as_str()
            ))
        }
    }
}

/// The `wasi:http` hooks of one plugin store.
pub struct EgressPolicy {
    plugin: Arc<str>,
    rules: Arc<EgressRules>,
    /// The plugin's log budget: a plugin that sends requests in a loop
    /// must not flood the log with the host's refusals either.
    log: Arc<LogBudget>,
}

impl EgressPolicy {
    pub fn new(plugin: Arc<str>, rules: Arc<EgressRules>, log: Arc<LogBudget>) -> Self {
        Self { plugin, rules, log }
    }
}

type Sent = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for EgressPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_error: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Sent {
        let plugin = Arc::clone(&self.plugin);
        let rules = Arc::clone(&self.rules);
        let log = Arc::clone(&self.log);
        Box::new(async move {
            let uri = request.uri().clone();
            let checked = rules.check(&uri);
            let verdict = if checked.is_ok() {
                metrics::Verdict::allowed
            } else {
                metrics::Verdict::denied
            };
            metrics::metrics()
                .plugin_http_requests
                .get_or_create(&metrics::EgressLabels {
                    plugin: Arc::clone(&plugin),
                    verdict,
                })
                .inc();
            if let Err(reason) = checked {
                if let Verdict::Write { suppressed } = log.admit(reason.len() + 64, Instant::now())
                {
                    tracing::warn!(plugin = %plugin, %reason, suppressed, "outgoing HTTP request denied");
                }
                return Err(HttpError::HttpRequestDenied);
            }
            tracing::debug!(plugin = %plugin, method = %request.method(), host = ?uri.host(), "outgoing HTTP request");
            let limit = rules.request_timeout;
            let clip = |t: Option<Duration>| Some(t.map_or(limit, |t| t.min(limit)));
            let options = options.unwrap_or_default();
            let options = RequestOptions {
                connect_timeout: clip(options.connect_timeout),
                first_byte_timeout: clip(options.first_byte_timeout),
                between_bytes_timeout: clip(options.between_bytes_timeout),
            };
            let (response, io) =
                tokio::time::timeout(limit, default_send_request(request, Some(options)))
                    .await
                    .map_err(|_| HttpError::ConnectionReadTimeout)??;
            let max = rules.max_response_bytes;
            let response = response.map(|body| {
                http_body_util::BodyExt::boxed_unsync(CappedBody {
                    inner: body,
                    left: max,
                })
            });
            Ok((
                response,
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

/// A response body that fails once it has carried more than its cap.
struct CappedBody<B> {
    inner: B,
    left: usize,
}

impl<B> Body for CappedBody<B>
where
    B: Body<Data = Bytes, Error = HttpError> + Unpin,
{
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            if data.len() > self.left {
                return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(None))));
            }
            self.left -= data.len();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(entries: &[(&str, bool)]) -> EgressRules {
        EgressRules {
            allowed: entries
                .iter()
                .map(|(entry, plain)| AllowedHost::parse(entry, *plain).unwrap())
                .collect(),
            ..EgressRules::default()
        }
    }

    fn check(rules: &EgressRules, uri: &str) -> bool {
        rules.check(&uri.parse().unwrap()).is_ok()
    }

    #[test]
    fn allows_only_listed_hosts_ports_and_schemes() {
        let rules = rules(&[("discord.com", false), ("127.0.0.1:8080", true)]);
        assert!(check(&rules, "https://discord.com/api/v10/users/@me"));
        assert!(check(&rules, "https://DISCORD.com:443/x"));
        assert!(
            !check(&rules, "http://discord.com/x"),
            "plain http not granted"
        );
        assert!(!check(&rules, "https://discord.com:8443/x"));
        assert!(!check(&rules, "https://evil.com/x"));
        assert!(!check(&rules, "https://discord.com.evil.com/x"));
        assert!(check(&rules, "http://127.0.0.1:8080/x"));
        assert!(!check(&rules, "http://127.0.0.1:8081/x"));
        assert!(!check(&rules, "http://localhost:8080/x"));
        assert!(!check(&rules, "/relative"));
        assert!(AllowedHost::parse("user@host", false).is_err());
        assert!(
            EgressRules::default()
                .check(&"https://discord.com/".parse().unwrap())
                .is_err()
        );
    }
}
