//! The blocking transport: one pooled [`ureq::Agent`] per client.
//!
//! - `http_status_as_error(false)`: 4xx/5xx answers are returned with their
//!   headers and body, so the S3 error XML can be classified.
//! - Timeouts: connect, answer head, and each body read or write (so large
//!   streamed bodies have no overall cap but a stalled peer is noticed).
//! - Bodies are streamed: no 10 MB read cap.
//! - Idle connections per host sized for the store's parallelism.

use std::io::Read;
use std::time::Duration;

use ureq::Agent;
use ureq::http::Response;

use crate::config::HttpOptions;
use crate::http::{ResponseHead, TransportError, io_kind_error};
use crate::s3::SignedRequest;
use crate::s3::redact::redact_text;

/// Sends requests with ureq (blocking).
#[derive(Clone, Debug)]
pub struct UreqTransport {
    agent: Agent,
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
        UreqTransport {
            agent: config.new_agent(),
        }
    }

    /// Sends `req` and returns the answer's head with its unread body.
    ///
    /// # Errors
    /// [`TransportError`] when no answer arrived.
    pub fn send(&self, req: &SignedRequest) -> Result<(ResponseHead, UreqBody), TransportError> {
        let url = req.url.as_str();
        let result = match req.method {
            "GET" => with_headers(self.agent.get(url), req).call(),
            "HEAD" => with_headers(self.agent.head(url), req).call(),
            "DELETE" => with_headers(self.agent.delete(url), req).call(),
            "PUT" | "POST" => {
                let builder = if req.method == "PUT" {
                    self.agent.put(url)
                } else {
                    self.agent.post(url)
                };
                let body: &[u8] = req.body.as_deref().unwrap_or_default();
                with_headers(builder, req).send(body)
            }
            other => return Err(TransportError::Other(format!("unsupported method {other}"))),
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
    req: &SignedRequest,
) -> ureq::RequestBuilder<B> {
    for (name, value) in &req.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
}

fn split(response: Response<ureq::Body>) -> (ResponseHead, UreqBody) {
    let (parts, body) = response.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let head = ResponseHead {
        status: parts.status.as_u16(),
        etag: header("etag"),
        request_id: header("x-amz-request-id"),
        content_length: header("content-length").and_then(|v| v.parse().ok()),
        last_modified: header("last-modified"),
        content_range: header("content-range"),
    };
    (head, UreqBody(body))
}

fn map_error(e: ureq::Error) -> TransportError {
    let message = redact_text(&e.to_string());
    match e {
        ureq::Error::Timeout(_) => TransportError::Timeout(message),
        ureq::Error::Io(io) => io_kind_error(io.kind(), message),
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            TransportError::Connect(message)
        }
        ureq::Error::Protocol(_) => TransportError::ConnectionLost(message),
        _ => TransportError::Other(message),
    }
}

impl UreqBody {
    /// Reads the whole body.
    ///
    /// # Errors
    /// [`TransportError`] when the body breaks off or stalls.
    pub fn read_all(self) -> Result<Vec<u8>, TransportError> {
        let mut body = self.0;
        body.with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(map_error)
    }

    /// The body as a blocking reader.
    pub fn into_reader(self) -> impl Read + Send + 'static {
        self.0.into_with_config().limit(u64::MAX).reader()
    }
}
