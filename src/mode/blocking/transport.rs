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
//! - ureq-proto also hex-dumps every body it reads or writes at TRACE. A
//!   transport made with [`UreqTransport::for_credentials`] (STS, instance
//!   metadata, container and SSO endpoints, whose answers carry secrets)
//!   therefore masks answer bodies under ureq (a keystream XOR, undone by
//!   [`UreqBody`]), and secrets in request bodies pass ureq as placeholders
//!   of the same length ([`UreqTransport::hide_in_body`]).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ureq::Agent;
use ureq::http::Response;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, LazyBuffers, NextTimeout, Transport,
};

use crate::config::HttpOptions;
use crate::http::{Failure, ResponseHead, TransportError, io_kind_error};
use crate::s3::SignedRequest;
use crate::s3::request::Body;

/// Sends requests with ureq (blocking).
#[derive(Clone, Debug)]
pub struct UreqTransport {
    agent: Agent,
    secrets: Secrets,
    /// The key answer bodies are masked with (credential endpoints only).
    mask: Option<u64>,
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
    /// First [`PLACEHOLDER_LEN`] bytes of a placeholder → the real value
    /// and the placeholder's whole length.
    pending: Arc<Mutex<HashMap<String, (String, usize)>>>,
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

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, usize)>> {
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
            self.lock()
                .insert(placeholder.clone(), (value.to_owned(), PLACEHOLDER_LEN));
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
        self.lock()
            .insert(placeholder.clone(), (value.to_owned(), PLACEHOLDER_LEN));
        (
            placeholder.clone(),
            Hidden {
                secrets: self,
                keys: vec![placeholder],
            },
        )
    }

    /// A placeholder exactly as long as `value` (so that a body's length
    /// stays right), or `None` when `value` is too short to be told apart.
    fn hide_same_length(&self, value: &str) -> Option<(String, Hidden<'_>)> {
        if value.len() < PLACEHOLDER_LEN {
            return None;
        }
        let mut placeholder = self.prefix.to_string();
        placeholder
            .extend(std::iter::repeat_with(fastrand::alphanumeric).take(value.len() - PREFIX_LEN));
        let key = placeholder[..PLACEHOLDER_LEN].to_owned();
        self.lock()
            .insert(key.clone(), (value.to_owned(), value.len()));
        Some((
            placeholder,
            Hidden {
                secrets: self,
                keys: vec![key],
            },
        ))
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
        // memmem, not a window-by-window compare: every byte sent passes
        // here, bodies included, and a 4 MiB body cost ~20 ms of CPU with
        // one `memcmp` call per position.
        while let Some(i) = memchr::memmem::find(&buf[from..amount], prefix) {
            let at = from + i;
            let key_end = at + PLACEHOLDER_LEN;
            let real = std::str::from_utf8(buf.get(at..key_end.min(amount)).unwrap_or_default())
                .ok()
                .and_then(|p| pending.get(p));
            let Some((real, len)) = real else {
                from = at + 1;
                continue;
            };
            let end = at + len;
            if end > amount {
                return Err(ureq::Error::Other(
                    "a hidden value is split over two writes".into(),
                ));
            }
            let grown = amount - len + real.len();
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

/// Keeps a body's placeholder registered until dropped.
pub struct BodyGuard<'a>(#[allow(dead_code)] Option<Hidden<'a>>);

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
    mask: Option<u64>,
}

impl Connector for SwapConnector {
    type Out = SwapTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<SwapTransport>, ureq::Error> {
        let inner = self.inner.connect(details, chained)?;
        let buffer_sizes = (
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(inner.map(|inner| SwapTransport {
            inner,
            secrets: self.secrets.clone(),
            mask: self.mask.map(|key| Masker {
                key,
                buffers: LazyBuffers::new(buffer_sizes.0, buffer_sizes.1),
                framing: Framing::default(),
            }),
        }))
    }
}

/// A connection that puts the placeholders' real values into the bytes
/// ureq hands it, after ureq has logged them.
#[derive(Debug)]
struct SwapTransport {
    inner: Box<dyn Transport>,
    secrets: Secrets,
    mask: Option<Masker>,
}

/// Masks the bodies of answers on their way up to ureq: ureq gets its own
/// buffers, filled from the connection's with every byte after the head
/// XORed with a keystream (unless the body is chunked: ureq must read its
/// framing).
#[derive(Debug)]
struct Masker {
    key: u64,
    buffers: LazyBuffers,
    framing: Framing,
}

/// Where in an answer the bytes coming in are.
#[derive(Debug, Default)]
struct Framing {
    /// The answer's head so far, until its blank line.
    head: Vec<u8>,
    /// In the body: whether it is masked, and the position in it.
    body: Option<(bool, u64)>,
}

/// Longest answer head looked at for `Transfer-Encoding`.
const MAX_HEAD: usize = 64 * 1024;

impl Framing {
    /// Masks `bytes`, the next ones of the answer, with `key`.
    fn mask(&mut self, key: u64, bytes: &mut [u8]) {
        for b in bytes {
            match &mut self.body {
                Some((true, pos)) => {
                    *b ^= keystream(key, *pos);
                    *pos += 1;
                }
                Some((false, _)) => {}
                None => {
                    if self.head.len() < MAX_HEAD {
                        self.head.push(*b);
                    }
                    if self.head.ends_with(b"\r\n\r\n") || self.head.len() >= MAX_HEAD {
                        let head = String::from_utf8_lossy(&self.head).to_ascii_lowercase();
                        let chunked = head.contains("\ntransfer-encoding:");
                        let interim =
                            head.starts_with("http/1.1 1") || head.starts_with("http/1.0 1");
                        self.head.clear();
                        if !interim {
                            self.body = Some((!chunked, 0));
                        }
                    }
                }
            }
        }
    }
}

/// The mask of byte `pos` of a body (splitmix64 of the key and the
/// position's 8-byte block).
fn keystream(key: u64, pos: u64) -> u8 {
    let mut z = key.wrapping_add((pos / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> (8 * (pos % 8))) as u8
}

/// Undoes the mask of a body read from position `from`.
fn unmask(key: u64, from: u64, bytes: &mut [u8]) {
    for (i, b) in bytes.iter_mut().enumerate() {
        *b ^= keystream(key, from + i as u64);
    }
}

impl Transport for SwapTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        match &mut self.mask {
            Some(m) => &mut m.buffers,
            None => self.inner.buffers(),
        }
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let Some(m) = &mut self.mask else {
            let amount = self.secrets.reveal(self.inner.buffers().output(), amount)?;
            return self.inner.transmit_output(amount, timeout);
        };
        // A new request: the next bytes in are a new answer's head.
        m.framing = Framing::default();
        let amount = self.secrets.reveal(m.buffers.output(), amount)?;
        let out = self.inner.buffers().output();
        let Some(dst) = out.get_mut(..amount) else {
            return Err(ureq::Error::Other(
                "request too large for the output buffer".into(),
            ));
        };
        dst.copy_from_slice(&m.buffers.output()[..amount]);
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let Some(m) = &mut self.mask else {
            return self.inner.await_input(timeout);
        };
        if self.inner.buffers().input().is_empty() && !self.inner.await_input(timeout)? {
            return Ok(false);
        }
        let input = self.inner.buffers().input();
        let space = m.buffers.input_append_buf();
        let n = input.len().min(space.len());
        space[..n].copy_from_slice(&input[..n]);
        m.framing.mask(m.key, &mut space[..n]);
        m.buffers.input_appended(n);
        self.inner.buffers().input_consume(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// The body of an answer, unread.
pub struct UreqBody(ureq::Body, Option<u64>);

impl std::fmt::Debug for UreqBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UreqBody")
    }
}

impl UreqTransport {
    /// A transport with these settings.
    pub fn new(options: &HttpOptions) -> Self {
        Self::build(options, None)
    }

    /// A transport for credential endpoints: answer bodies pass ureq (and
    /// its TRACE hex dumps) masked; see the module docs.
    pub fn for_credentials(options: &HttpOptions) -> Self {
        Self::build(options, Some(fastrand::u64(..)))
    }

    /// `secret`, to be put into a request body, as a placeholder of the
    /// same length that this transport replaces on its way to the socket
    /// (after ureq has logged it), registered until the guard is dropped.
    /// Secrets shorter than 40 bytes are sent as they are.
    pub fn hide_in_body(&self, secret: &str) -> (String, BodyGuard<'_>) {
        match self.secrets.hide_same_length(secret) {
            Some((placeholder, guard)) => (placeholder, BodyGuard(Some(guard))),
            None => (secret.to_owned(), BodyGuard(None)),
        }
    }

    fn build(options: &HttpOptions, mask: Option<u64>) -> Self {
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
            mask,
        };
        UreqTransport {
            agent: Agent::with_parts(config, connector, DefaultResolver::default()),
            secrets,
            mask,
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
        body: Option<&Body>,
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
                let builder = with_headers(builder, &shown);
                match body.map(|b| (b, b.as_single())) {
                    None => builder.send(&[][..]),
                    Some((_, Some(one))) => builder.send(&one[..]),
                    Some((chained, None)) => {
                        // Sized by the header (not chunked), the pieces
                        // read one after the other, uncopied.
                        let mut pieces = chained
                            .segments()
                            .fold(Box::new(std::io::empty()) as Box<dyn Read>, |r, s| {
                                Box::new(r.chain(&s[..]))
                            });
                        builder
                            .header("content-length", chained.len().to_string())
                            .send(ureq::SendBody::from_reader(&mut pieces))
                    }
                }
            }
            other => {
                let message = format!("unsupported method {other}");
                return Err(TransportError::Other(Failure::message(message)));
            }
        };
        let response = result.map_err(map_error)?;
        Ok(split(response, self.mask))
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

fn split(response: Response<ureq::Body>, mask: Option<u64>) -> (ResponseHead, UreqBody) {
    let (parts, body) = response.into_parts();
    // The masker leaves chunked bodies alone (see `Masker::mask`).
    let mask = mask.filter(|_| !parts.headers.contains_key("transfer-encoding"));
    let head = ResponseHead::from_headers(parts.status.as_u16(), |name| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    (head, UreqBody(body, mask))
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

/// A body reader that undoes the mask, if any.
struct Unmasked<R> {
    inner: R,
    mask: Option<u64>,
    pos: u64,
}

impl<R: Read> Read for Unmasked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(key) = self.mask {
            unmask(key, self.pos, &mut buf[..n]);
        }
        self.pos += n as u64;
        Ok(n)
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
    pub fn read_all(self, limit: u64) -> Result<Option<bytes::Bytes>, TransportError> {
        let (mut body, mask) = (self.0, self.1);
        // Sized by the declared length (no regrowing and recopying of a
        // large body); a body that turns out longer still grows, up to
        // `limit`.
        let declared = body.content_length().filter(|n| *n <= limit).unwrap_or(0);
        let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        let read = body
            .with_config()
            .limit(limit)
            .reader()
            .read_to_end(&mut bytes)
            .map_err(ureq::Error::from);
        match read {
            Ok(_) => {
                if let Some(key) = mask {
                    unmask(key, 0, &mut bytes);
                }
                Ok(Some(bytes::Bytes::from(bytes)))
            }
            Err(ureq::Error::BodyExceedsLimit(_)) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    /// The body as a blocking reader.
    pub fn into_reader(self) -> impl Read + Send + 'static {
        Unmasked {
            inner: self.0.into_with_config().limit(u64::MAX).reader(),
            mask: self.1,
            pos: 0,
        }
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
    fn framing_masks_bodies_but_not_heads_nor_chunked_bodies() {
        let key = 42;
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        let head_len = answer.len() - 5;
        let mut bytes = answer.to_vec();
        let mut f = Framing::default();
        // In two reads, split inside the blank line.
        let (a, b) = bytes.split_at_mut(head_len - 2);
        f.mask(key, a);
        f.mask(key, b);
        assert_eq!(&bytes[..head_len], &answer[..head_len]);
        assert_ne!(&bytes[head_len..], b"hello");
        let mut body = bytes[head_len..].to_vec();
        unmask(key, 0, &mut body);
        assert_eq!(body, b"hello");
        // A chunked body keeps its framing readable: not masked.
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        let mut c = chunked.to_vec();
        Framing::default().mask(key, &mut c);
        assert_eq!(c, chunked);
        // An interim 100 Continue: the final answer's body is masked.
        let two = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi";
        let mut t = two.to_vec();
        Framing::default().mask(key, &mut t);
        assert_eq!(&t[..t.len() - 2], &two[..two.len() - 2]);
        assert_ne!(&t[t.len() - 2..], b"hi");
    }

    #[test]
    fn same_length_placeholders_keep_a_body_s_length() {
        let secrets = Secrets::new();
        let token = "t".repeat(50);
        let (placeholder, guard) = secrets.hide_same_length(&token).unwrap();
        assert_eq!(placeholder.len(), token.len());
        assert!(!placeholder.contains("tttt"));
        let body = format!("A=1&T={placeholder}&B=2");
        let mut buf = body.clone().into_bytes();
        buf.resize(200, 0);
        let n = secrets.reveal(&mut buf, body.len()).unwrap();
        assert_eq!(&buf[..n], format!("A=1&T={token}&B=2").as_bytes());
        drop(guard);
        assert!(secrets.lock().is_empty());
        assert!(secrets.hide_same_length("short").is_none());
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
