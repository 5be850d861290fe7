//! The blocking transport: one pooled [`ureq::Agent`] per client.
//!
//! - `http_status_as_error(false)`: 4xx/5xx answers are returned with their
//!   headers and body, so the S3 error XML can be classified.
//! - Timeouts: connect, answer head, and each body read or write (so large
//!   streamed bodies have no overall cap but a stalled peer is noticed).
//! - Bodies are streamed: no 10 MB read cap.
//! - Idle connections per host sized for the store's parallelism.
//! - No presigned URL's secrets pass through ureq: ureq (and ureq-proto)
//!   log the request target at `log` level TRACE, and hex-dump every request
//!   head they write, whatever ureq's configuration; a library cannot filter
//!   another crate's log records. So ureq gets the URL with placeholders for
//!   the values of `X-Amz-Signature`, `X-Amz-Credential` and
//!   `X-Amz-Security-Token`, and [`SwapTransport`], under ureq, puts the real
//!   values into the bytes on their way to the socket.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ureq::Agent;
use ureq::http::Response;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};

use crate::config::HttpOptions;
use crate::http::{Failure, ResponseHead, TransportError, io_kind_error};
use crate::s3::SignedRequest;

/// Sends requests with ureq (blocking).
#[derive(Clone, Debug)]
pub struct UreqTransport {
    agent: Agent,
    secrets: Secrets,
}

/// The query parameters whose values never pass through ureq.
const SWAPPED: [&str; 3] = [
    "X-Amz-Signature=",
    "X-Amz-Credential=",
    "X-Amz-Security-Token=",
];

/// Headers whose values never pass through ureq (credentials' requests
/// carry secrets in them).
pub(crate) const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-security-token",
    "x-amz-sso_bearer_token",
    "x-aws-ec2-metadata-token",
];

/// Length of a placeholder: a per-transport prefix and a per-value part.
const PLACEHOLDER_LEN: usize = 40;
const PREFIX_LEN: usize = 16;

/// Placeholders of requests in flight, and the values they stand for.
#[derive(Clone)]
struct Secrets {
    /// Starts every placeholder of this transport (random, alphanumeric).
    prefix: Arc<str>,
    pending: Arc<Mutex<HashMap<String, String>>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(REDACTED)")
    }
}

impl Secrets {
    fn new() -> Self {
        let prefix: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(PREFIX_LEN)
            .collect();
        Secrets {
            prefix: prefix.into(),
            pending: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `url` with the values of [`SWAPPED`] replaced by new placeholders,
    /// registered until the returned guard is dropped.
    fn hide(&self, url: &str) -> (String, Hidden<'_>) {
        let mut out = String::with_capacity(url.len() + 64);
        let mut keys = Vec::new();
        let mut rest = url;
        while let Some((at, name)) = SWAPPED
            .iter()
            .filter_map(|n| rest.find(n).map(|i| (i, n)))
            .min_by_key(|(i, _)| *i)
        {
            let start = at + name.len();
            let len = rest[start..].find('&').unwrap_or(rest.len() - start);
            let value = &rest[start..start + len];
            out.push_str(&rest[..start]);
            if value.is_empty() {
                rest = &rest[start..];
                continue;
            }
            let mut placeholder = self.prefix.to_string();
            placeholder.extend(
                std::iter::repeat_with(fastrand::alphanumeric).take(PLACEHOLDER_LEN - PREFIX_LEN),
            );
            out.push_str(&placeholder);
            self.lock().insert(placeholder.clone(), value.to_owned());
            keys.push(placeholder);
            rest = &rest[start + len..];
        }
        out.push_str(rest);
        (
            out,
            Hidden {
                secrets: self,
                keys,
            },
        )
    }

    /// A placeholder for the header value `value`, registered until the
    /// returned guard is dropped.
    fn hide_value(&self, value: &str) -> (String, Hidden<'_>) {
        let mut placeholder = self.prefix.to_string();
        placeholder.extend(
            std::iter::repeat_with(fastrand::alphanumeric).take(PLACEHOLDER_LEN - PREFIX_LEN),
        );
        self.lock().insert(placeholder.clone(), value.to_owned());
        (
            placeholder.clone(),
            Hidden {
                secrets: self,
                keys: vec![placeholder],
            },
        )
    }

    /// Puts the real values back into `buf[..amount]`, the bytes about to be
    /// sent; returns the new amount.
    fn reveal(&self, buf: &mut [u8], amount: usize) -> Result<usize, ureq::Error> {
        let pending = self.lock();
        if pending.is_empty() {
            return Ok(amount);
        }
        let mut amount = amount;
        let mut from = 0;
        let prefix = self.prefix.as_bytes();
        while let Some(i) = buf[from..amount]
            .windows(prefix.len())
            .position(|w| w == prefix)
        {
            let at = from + i;
            let end = at + PLACEHOLDER_LEN;
            let real = std::str::from_utf8(buf.get(at..end.min(amount)).unwrap_or_default())
                .ok()
                .and_then(|p| pending.get(p));
            let Some(real) = real else {
                from = at + 1;
                continue;
            };
            let grown = amount - PLACEHOLDER_LEN + real.len();
            if grown > buf.len() {
                return Err(ureq::Error::Other(
                    "request head too large for the output buffer".into(),
                ));
            }
            buf.copy_within(end..amount, at + real.len());
            buf[at..at + real.len()].copy_from_slice(real.as_bytes());
            amount = grown;
            from = at + real.len();
        }
        Ok(amount)
    }
}

/// Unregisters a request's placeholders when it is done.
struct Hidden<'a> {
    secrets: &'a Secrets,
    keys: Vec<String>,
}

impl Drop for Hidden<'_> {
    fn drop(&mut self) {
        let mut pending = self.secrets.lock();
        for k in &self.keys {
            pending.remove(k);
        }
    }
}

/// ureq's default connector (TCP, rustls), with [`SwapTransport`] on top.
#[derive(Debug)]
struct SwapConnector {
    inner: DefaultConnector,
    secrets: Secrets,
}

impl Connector for SwapConnector {
    type Out = SwapTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<SwapTransport>, ureq::Error> {
        let inner = self.inner.connect(details, chained)?;
        Ok(inner.map(|inner| SwapTransport {
            inner,
            secrets: self.secrets.clone(),
        }))
    }
}

/// A connection that puts the placeholders' real values into the bytes
/// ureq hands it, after ureq has logged them.
#[derive(Debug)]
struct SwapTransport {
    inner: Box<dyn Transport>,
    secrets: Secrets,
}

impl Transport for SwapTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let amount = self.secrets.reveal(self.inner.buffers().output(), amount)?;
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// The body of an answer, unread.
pub struct UreqBody(ureq::Body);

impl std::fmt::Debug for UreqBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UreqBody")
    }
}

impl UreqTransport {
    /// A transport with these settings.
    pub fn new(options: &HttpOptions) -> Self {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .no_delay(true)
            .max_redirects(0)
            .user_agent(concat!("konserve-s3-rs/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections(options.max_idle_connections_per_host.max(1) * 2)
            .max_idle_connections_per_host(options.max_idle_connections_per_host.max(1))
            .timeout_connect(Some(options.connect_timeout))
            .timeout_recv_response(Some(options.response_timeout))
            .timeout_per_read(Some(options.io_timeout))
            .timeout_per_write(Some(options.io_timeout))
            .build();
        let secrets = Secrets::new();
        let connector = SwapConnector {
            inner: DefaultConnector::default(),
            secrets: secrets.clone(),
        };
        UreqTransport {
            agent: Agent::with_parts(config, connector, DefaultResolver::default()),
            secrets,
        }
    }

    /// Sends `req` and returns the answer's head with its unread body.
    ///
    /// # Errors
    /// [`TransportError`] when no answer arrived.
    pub fn send(&self, req: &SignedRequest) -> Result<(ResponseHead, UreqBody), TransportError> {
        self.send_parts(req.method, &req.url, &req.headers, req.body.as_ref())
    }

    /// Sends a request given by its parts (STS, instance metadata: no
    /// presigned URL); values of [`SECRET_HEADERS`] pass ureq as
    /// placeholders, like a presigned URL's secrets.
    ///
    /// # Errors
    /// [`TransportError`] when no answer arrived.
    pub fn send_parts(
        &self,
        method: &str,
        url: &url::Url,
        headers: &[(&'static str, String)],
        body: Option<&bytes::Bytes>,
    ) -> Result<(ResponseHead, UreqBody), TransportError> {
        let (url, _hidden) = self.secrets.hide(url.as_str());
        let url = url.as_str();
        let mut guards = Vec::new();
        let mut shown: Vec<(&'static str, String)> = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            if SECRET_HEADERS.contains(name) {
                let (placeholder, guard) = self.secrets.hide_value(value);
                guards.push(guard);
                shown.push((name, placeholder));
            } else {
                shown.push((name, value.clone()));
            }
        }
        let result = match method {
            "GET" => with_headers(self.agent.get(url), &shown).call(),
            "HEAD" => with_headers(self.agent.head(url), &shown).call(),
            "DELETE" => with_headers(self.agent.delete(url), &shown).call(),
            "PUT" | "POST" => {
                let builder = if method == "PUT" {
                    self.agent.put(url)
                } else {
                    self.agent.post(url)
                };
                let body: &[u8] = body.map(|b| &b[..]).unwrap_or_default();
                with_headers(builder, &shown).send(body)
            }
            other => {
                let message = format!("unsupported method {other}");
                return Err(TransportError::Other(Failure::message(message)));
            }
        };
        let response = result.map_err(map_error)?;
        Ok(split(response))
    }

    /// Sleeps between retries.
    pub fn sleep(duration: Duration) {
        std::thread::sleep(duration);
    }
}

fn with_headers<B>(
    mut builder: ureq::RequestBuilder<B>,
    headers: &[(&'static str, String)],
) -> ureq::RequestBuilder<B> {
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
}

fn split(response: Response<ureq::Body>) -> (ResponseHead, UreqBody) {
    let (parts, body) = response.into_parts();
    let head = ResponseHead::from_headers(parts.status.as_u16(), |name| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    (head, UreqBody(body))
}

fn map_error(e: ureq::Error) -> TransportError {
    let kind = match &e {
        ureq::Error::Timeout(_) => Kind::Timeout,
        ureq::Error::Io(io) => Kind::Io(io.kind()),
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => Kind::Connect,
        ureq::Error::Protocol(_) => Kind::Lost,
        _ => Kind::Other,
    };
    let failure = Failure::caused_by(&e.to_string(), e);
    match kind {
        Kind::Timeout => TransportError::Timeout(failure),
        Kind::Io(kind) => io_kind_error(kind, failure),
        Kind::Connect => TransportError::Connect(failure),
        Kind::Lost => TransportError::ConnectionLost(failure),
        Kind::Other => TransportError::Other(failure),
    }
}

/// Which [`TransportError`] a ureq error becomes.
enum Kind {
    Timeout,
    Io(std::io::ErrorKind),
    Connect,
    Lost,
    Other,
}

impl UreqBody {
    /// Reads the whole body, or `None` once it holds more than `limit`
    /// bytes (then the rest is not read).
    ///
    /// # Errors
    /// [`TransportError`] when the body breaks off or stalls.
    pub fn read_all(self, limit: u64) -> Result<Option<Vec<u8>>, TransportError> {
        let mut body = self.0;
        match body.with_config().limit(limit).read_to_vec() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(ureq::Error::BodyExceedsLimit(_)) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    /// The body as a blocking reader.
    pub fn into_reader(self) -> impl Read + Send + 'static {
        self.0.into_with_config().limit(u64::MAX).reader()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::tests::all_text;

    #[test]
    fn placeholders_hide_and_reveal_the_secret_values() {
        let secrets = Secrets::new();
        let url = "http://h/b/k?X-Amz-Algorithm=A&X-Amz-Credential=AKID%2F2024&X-Amz-Security-Token=T&X-Amz-Signature=abc";
        let (hidden, guard) = secrets.hide(url);
        for secret in ["AKID", "=T&", "abc"] {
            assert!(!hidden.contains(secret), "{hidden}");
        }
        assert!(hidden.starts_with("http://h/b/k?X-Amz-Algorithm=A&X-Amz-Credential="));
        let head = format!("GET {} HTTP/1.1\r\nhost: h\r\n\r\nbody", &hidden[8..]);
        let mut buf = head.clone().into_bytes();
        buf.resize(4096, 0);
        let n = secrets.reveal(&mut buf, head.len()).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            format!("GET {} HTTP/1.1\r\nhost: h\r\n\r\nbody", &url[8..])
        );
        drop(guard);
        assert!(secrets.lock().is_empty());
        // Without room for the real values the send fails rather than leak
        // or send placeholders.
        let long = format!("http://h/b?X-Amz-Security-Token={}", "t".repeat(100));
        let (hidden, _guard) = secrets.hide(&long);
        let mut tight = hidden.clone().into_bytes();
        let len = tight.len();
        assert!(secrets.reveal(&mut tight, len).is_err());
    }

    #[test]
    fn errors_keep_their_source_without_secrets() {
        let url = "http://127.0.0.1:1/b/k?X-Amz-Credential=AKID%2F2024&X-Amz-Security-Token=TOKEN&X-Amz-Signature=abc";
        let refused = ureq::get(url).call().unwrap_err();
        // ureq's `BadUri` shows the whole URI.
        let bad_uri = ureq::get(&url["http://127.0.0.1:1".len()..])
            .call()
            .unwrap_err();
        assert!(matches!(&bad_uri, ureq::Error::BadUri(u) if u.contains("TOKEN")));
        for raw in [refused, bad_uri] {
            let e = map_error(raw);
            let text = all_text(&e);
            assert!(std::error::Error::source(&e).is_some(), "{text}");
            for secret in ["AKID", "TOKEN", "=abc"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
    }
}
