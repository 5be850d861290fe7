//! The async transport: one pooled [`reqwest::Client`] per client.
//!
//! Status codes are never turned into errors here: 4xx/5xx answers come back
//! with headers and body for classification. Timeouts: connect, answer head
//! (a `tokio` timeout around sending), and each body read; bodies stream.

use std::time::Duration;

use futures_util::TryStreamExt;
use tokio::io::AsyncRead;

use crate::config::HttpOptions;
use crate::http::{ResponseHead, TransportError};
use crate::s3::SignedRequest;
use crate::s3::redact::redact_text;

/// Sends requests with reqwest (async).
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    response_timeout: Duration,
}

/// The body of an answer, unread.
pub struct ReqwestBody(reqwest::Response);

impl std::fmt::Debug for ReqwestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReqwestBody")
    }
}

impl ReqwestTransport {
    /// A transport with these settings.
    pub fn new(options: &HttpOptions) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.io_timeout)
            .pool_max_idle_per_host(options.max_idle_connections_per_host.max(1))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("konserve-s3-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        ReqwestTransport {
            client,
            response_timeout: options.response_timeout,
        }
    }

    /// Sends `req` and returns the answer's head with its unread body.
    ///
    /// # Errors
    /// [`TransportError`] when no answer arrived.
    pub async fn send(
        &self,
        req: &SignedRequest,
    ) -> Result<(ResponseHead, ReqwestBody), TransportError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| TransportError::Other(format!("unsupported method {}", req.method)))?;
        let mut builder = self.client.request(method, req.url.as_str());
        for (name, value) in &req.headers {
            builder = builder.header(*name, value.as_str());
        }
        builder = match &req.body {
            Some(body) => builder.body(body.clone()),
            // S3 wants a Content-Length on every PUT/POST, also an empty one.
            None if matches!(req.method, "PUT" | "POST") => builder.header("content-length", "0"),
            None => builder,
        };
        let response = tokio::time::timeout(self.response_timeout, builder.send())
            .await
            .map_err(|_| TransportError::Timeout("no answer within the response timeout".into()))?
            .map_err(map_error)?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let head = ResponseHead {
            status: response.status().as_u16(),
            etag: header("etag"),
            request_id: header("x-amz-request-id"),
            content_length: header("content-length").and_then(|v| v.parse().ok()),
            last_modified: header("last-modified"),
            content_range: header("content-range"),
        };
        Ok((head, ReqwestBody(response)))
    }

    /// Sleeps between retries.
    pub async fn sleep(duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

fn map_error(e: reqwest::Error) -> TransportError {
    let (timeout, connect, lost) = (
        e.is_timeout(),
        e.is_connect(),
        e.is_request() || e.is_body(),
    );
    let e = e.without_url();
    let full = format!("{}: {}", redact_text(&e.to_string()), source_chain(&e));
    if timeout {
        TransportError::Timeout(full)
    } else if connect {
        TransportError::Connect(full)
    } else if lost {
        TransportError::ConnectionLost(full)
    } else {
        TransportError::Other(full)
    }
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(redact_text(&s.to_string()));
        source = s.source();
    }
    parts.join(": ")
}

impl ReqwestBody {
    /// Reads the whole body.
    ///
    /// # Errors
    /// [`TransportError`] when the body breaks off or stalls.
    pub async fn read_all(self) -> Result<Vec<u8>, TransportError> {
        self.0.bytes().await.map(|b| b.to_vec()).map_err(map_error)
    }

    /// The body as an async reader.
    pub fn into_reader(self) -> impl AsyncRead + Send + Unpin + 'static {
        let stream = self.0.bytes_stream().map_err(std::io::Error::other);
        tokio_util::io::StreamReader::new(Box::pin(stream))
    }
}
