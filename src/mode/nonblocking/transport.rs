//! The async transport: one pooled [`reqwest::Client`] per client.
//!
//! Status codes are never turned into errors here: 4xx/5xx answers come back
//! with headers and body for classification. Timeouts: connect, answer head
//! (a `tokio` timeout around sending), and each body read; bodies stream.

use bytes::Bytes;
use std::time::Duration;

use futures_util::TryStreamExt;
use tokio::io::AsyncRead;

use crate::config::HttpOptions;
use crate::http::{Failure, ResponseHead, TransportError};
use crate::s3::SignedRequest;
use crate::s3::request::Body;

/// Headers whose values carry secrets (credentials' requests).
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-security-token",
    "x-amz-sso_bearer_token",
    "x-aws-ec2-metadata-token",
];

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
        let tls = tls_config();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.io_timeout)
            .pool_max_idle_per_host(options.max_idle_connections_per_host.max(1))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("konserve-s3-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .or_else(|_| {
                reqwest::Client::builder()
                    .tls_backend_preconfigured(tls)
                    .build()
            })
            .expect("a reqwest client with a preconfigured rustls config builds");
        ReqwestTransport {
            client,
            response_timeout: options.response_timeout,
        }
    }

    /// A transport for credential endpoints (the same as [`Self::new`]:
    /// reqwest and hyper do not log bodies).
    pub fn for_credentials(options: &HttpOptions) -> Self {
        Self::new(options)
    }

    /// `secret` as it goes into a request body: unchanged (only the
    /// blocking transport needs placeholders).
    pub fn hide_in_body(&self, secret: &str) -> (String, ()) {
        (secret.to_owned(), ())
    }

    /// Sends `req` and returns the answer's head with its unread body.
    ///
    /// # Errors
    /// [`TransportError`] when no answer arrived.
    pub async fn send(
        &self,
        req: &SignedRequest,
    ) -> Result<(ResponseHead, ReqwestBody), TransportError> {
        self.send_parts(req.method, &req.url, &req.headers, req.body.as_ref())
            .await
    }

    /// Sends a request given by its parts (STS, instance metadata: no
    /// presigned URL); the values of headers that carry secrets are marked
    /// sensitive, so that reqwest and hyper never show them.
    ///
    /// # Errors
    /// [`TransportError`] when no answer arrived.
    pub async fn send_parts(
        &self,
        method: &str,
        url: &url::Url,
        headers: &[(&'static str, String)],
        body: Option<&Body>,
    ) -> Result<(ResponseHead, ReqwestBody), TransportError> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
            let message = format!("unsupported method {method}");
            TransportError::Other(Failure::message(message))
        })?;
        let put_or_post = matches!(method.as_str(), "PUT" | "POST");
        let mut builder = self.client.request(method, url.as_str());
        for (name, value) in headers {
            let Ok(mut value) = reqwest::header::HeaderValue::from_str(value) else {
                let message = format!("header {name} has a value HTTP cannot carry");
                return Err(TransportError::Other(Failure::message(message)));
            };
            if SECRET_HEADERS.contains(name) {
                value.set_sensitive(true);
            }
            builder = builder.header(*name, value);
        }
        builder =
            match body {
                Some(body) => match body.as_single() {
                    Some(one) => builder.body(one.clone()),
                    // Sized by the header (not chunked), the pieces sent one
                    // after the other, uncopied.
                    None => {
                        let pieces: Vec<Result<Bytes, std::io::Error>> =
                            body.segments().cloned().map(Ok).collect();
                        builder.header("content-length", body.len()).body(
                            reqwest::Body::wrap_stream(futures_util::stream::iter(pieces)),
                        )
                    }
                },
                // S3 wants a Content-Length on every PUT/POST, also an empty one.
                None if put_or_post => builder.header("content-length", "0"),
                None => builder,
            };
        let response = tokio::time::timeout(self.response_timeout, builder.send())
            .await
            .map_err(|_| {
                let message = "no answer within the response timeout";
                TransportError::Timeout(Failure::message(message))
            })?
            .map_err(map_error)?;
        let head = ResponseHead::from_headers(response.status().as_u16(), |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
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
    // reqwest's errors show the URL, with its signature: drop it.
    let e = e.without_url();
    let full = format!("{e}: {}", source_chain(&e));
    let failure = Failure::caused_by(&full, e);
    if timeout {
        TransportError::Timeout(failure)
    } else if connect {
        TransportError::Connect(failure)
    } else if lost {
        TransportError::ConnectionLost(failure)
    } else {
        TransportError::Other(failure)
    }
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

impl ReqwestBody {
    /// Reads the whole body, or `None` once it would hold more than
    /// `limit` bytes (then the rest is not read).
    ///
    /// # Errors
    /// [`TransportError`] when the body breaks off or stalls.
    pub async fn read_all(self, limit: u64) -> Result<Option<Bytes>, TransportError> {
        let mut body = self.0;
        let declared = body.content_length().filter(|n| *n <= limit).unwrap_or(0);
        // A body that comes in one chunk is kept as it came, uncopied;
        // one in several is gathered into a buffer sized by the declared
        // length (no regrowing and recopying), up to `limit`.
        let mut first: Option<Bytes> = None;
        let mut gathered: Vec<u8> = Vec::new();
        let mut total = 0u64;
        while let Some(chunk) = body.chunk().await.map_err(map_error)? {
            total += chunk.len() as u64;
            if total > limit {
                return Ok(None);
            }
            match first.take() {
                None if gathered.is_empty() => first = Some(chunk),
                held => {
                    if let Some(held) = held {
                        let want = usize::try_from(declared.max(total)).unwrap_or(0);
                        gathered.reserve_exact(want);
                        gathered.extend_from_slice(&held);
                    }
                    gathered.extend_from_slice(&chunk);
                }
            }
        }
        Ok(Some(first.unwrap_or_else(|| Bytes::from(gathered))))
    }

    /// The body as an async reader.
    pub fn into_reader(self) -> impl AsyncRead + Send + Unpin + 'static {
        let stream = self.0.bytes_stream().map_err(std::io::Error::other);
        tokio_util::io::StreamReader::new(Box::pin(stream))
    }
}

/// reqwest's TLS: rustls on ring, the provider ureq uses (reqwest's own
/// default would build aws-lc-rs as well), checking certificates against
/// the platform's roots as reqwest's default does. Without any system
/// roots, an empty root store: HTTPS then fails at connect with an
/// unknown-issuer error instead of the client failing to build.
fn tls_config() -> rustls::ClientConfig {
    use rustls_platform_verifier::BuilderVerifierExt;
    let builder = || {
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls's default protocol versions")
    };
    match builder().with_platform_verifier() {
        Ok(b) => b.with_no_client_auth(),
        Err(e) => {
            tracing::warn!(error = %e, "no platform root certificates; HTTPS will not verify");
            builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::tests::all_text;

    #[tokio::test]
    async fn errors_keep_their_source_without_the_url() {
        let url = "http://127.0.0.1:1/b/k?X-Amz-Credential=AKID%2F2024&X-Amz-Security-Token=TOKEN&X-Amz-Signature=abc";
        let transport = ReqwestTransport::new(&HttpOptions::default());
        let raw = transport.client.get(url).send().await.unwrap_err();
        assert!(all_text(&raw).contains("TOKEN"), "reqwest shows the URL");
        let e = map_error(raw);
        assert!(matches!(e, TransportError::Connect(_)), "{e:?}");
        let text = all_text(&e);
        let source = std::error::Error::source(&e).unwrap();
        assert!(source.downcast_ref::<reqwest::Error>().is_some(), "{text}");
        for secret in ["AKID", "TOKEN", "abc", "X-Amz-"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    /// The client builds with only ring in the tree (reqwest's
    /// `rustls-no-provider` panics when no provider is configured) and
    /// does TLS: a handshake is attempted and fails on the certificate or
    /// the connection, never on a missing provider.
    #[tokio::test]
    async fn https_client_builds_on_ring() {
        let config = tls_config();
        assert_eq!(
            config.crypto_provider().cipher_suites,
            rustls::crypto::ring::default_provider().cipher_suites
        );
        let transport = ReqwestTransport::new(&HttpOptions::default());
        let e = transport
            .client
            .get("https://127.0.0.1:1/")
            .send()
            .await
            .unwrap_err();
        assert!(e.is_connect(), "{e:?}");
    }
}
