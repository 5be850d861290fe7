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
use crate::http::{Failure, ResponseHead, TransportError, io_kind_error};
use crate::s3::SignedRequest;

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
        write_tag: header(crate::s3::request::WRITE_TAG_HEADER),
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::tests::all_text;

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
