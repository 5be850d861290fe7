//! Transports: send one [`SignedRequest`](crate::s3::SignedRequest), return
//! the answer's head and its body. No S3 knowledge lives here; retries and
//! classification are the caller's.

use std::fmt;

/// The parts of an answer's head the crate uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseHead {
    /// HTTP status.
    pub status: u16,
    /// `ETag`, as sent (quoted).
    pub etag: Option<String>,
    /// `x-amz-request-id`.
    pub request_id: Option<String>,
    /// `Content-Length`.
    pub content_length: Option<u64>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
    /// `Content-Range` (ranged GET).
    pub content_range: Option<String>,
    /// The write tag of an object
    /// ([`WRITE_TAG_HEADER`](crate::s3::request::WRITE_TAG_HEADER)), on GET and HEAD.
    pub write_tag: Option<String>,
    /// `Server`: the provider's name for itself (SeaweedFS, Ceph, …).
    pub server: Option<String>,
}

impl ResponseHead {
    /// The head of an answer with `status`, reading the headers it keeps
    /// through `header` (by lowercase name; `None` when absent or not text).
    /// Every kept value is redacted (see
    /// [`redact_text`](crate::s3::redact::redact_text)): a server or proxy
    /// that echoes the request target must not put the signature, credential
    /// or session token into errors and logs. The only place transports
    /// build a head.
    pub(crate) fn from_headers(status: u16, header: impl Fn(&str) -> Option<String>) -> Self {
        let kept = |name: &str| header(name).map(|v| crate::s3::redact::redact_text(&v));
        ResponseHead {
            status,
            etag: kept("etag"),
            request_id: kept("x-amz-request-id"),
            content_length: header("content-length").and_then(|v| v.parse().ok()),
            last_modified: kept("last-modified"),
            content_range: kept("content-range"),
            write_tag: kept(crate::s3::request::WRITE_TAG_HEADER),
            server: kept("server"),
        }
    }

    /// Whether the status is a success (2xx).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The total object size of a ranged answer (`Content-Range: bytes a-b/total`).
    pub fn total_size(&self) -> Option<u64> {
        self.content_range
            .as_deref()
            .and_then(|r| r.rsplit('/').next())
            .and_then(|t| t.trim().parse().ok())
            .or(self.content_length)
    }
}

/// Whether a transport's message says the host name did not resolve
/// (ureq's, reqwest's and the operating systems' words for it).
pub(crate) fn is_dns_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "failed to lookup address",
        "host not found",
        "dns error",
        "name or service not known",
        "nodename nor servname",
        "no such host",
        "temporary failure in name resolution",
        "no address associated with hostname",
    ]
    .iter()
    .any(|w| m.contains(w))
}

/// The underlying error of a failure, kept as its `source()`.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a request got no answer. Messages are redacted: no signatures,
/// credentials or tokens.
#[derive(Debug)]
pub enum TransportError {
    /// Connecting, or waiting for the answer or a body read, took too long.
    Timeout(Failure),
    /// The connection broke (reset, closed early). A pooled connection that
    /// the server had closed looks like this; the request may or may not
    /// have reached the server.
    ConnectionLost(Failure),
    /// No connection could be made (refused, DNS).
    Connect(Failure),
    /// Anything else (protocol error, TLS, local I/O).
    Other(Failure),
}

/// What a transport reported.
#[derive(Debug)]
pub struct Failure {
    /// What happened, redacted.
    pub message: String,
    /// The transport's own error (ureq, reqwest, rustls, I/O), unless none
    /// exists or it would show a secret (see [`cause`]).
    pub source: Option<BoxError>,
}

impl Failure {
    /// A failure with a message only.
    pub(crate) fn message(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            source: None,
        }
    }

    /// A failure with a message (redacted here) and the error behind it.
    pub(crate) fn caused_by<E>(message: &str, error: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Failure {
            message: crate::s3::redact::redact_text(message),
            source: Some(cause(error)),
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Timeout(m) => write!(f, "timeout: {}", m.message),
            TransportError::ConnectionLost(m) => write!(f, "connection lost: {}", m.message),
            TransportError::Connect(m) => write!(f, "cannot connect: {}", m.message),
            TransportError::Other(m) => f.write_str(&m.message),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let (TransportError::Timeout(m)
        | TransportError::ConnectionLost(m)
        | TransportError::Connect(m)
        | TransportError::Other(m)) = self;
        m.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `error`, boxed to be kept as a `source()`, unless its `Display` or `Debug`
/// (or those of an error in its chain) mention an `X-Amz-…` query parameter:
/// ureq's `BadUri` and `RequireHttpsOnly` carry the whole presigned URL, with
/// signature, credential and token. Such an error is replaced by its redacted
/// text.
pub(crate) fn cause<E>(error: E) -> BoxError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut shows_query = false;
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = next {
        let texts = [e.to_string(), format!("{e:?}")];
        shows_query |= texts
            .iter()
            .any(|t| t.to_ascii_lowercase().contains("x-amz-"));
        next = e.source();
    }
    if shows_query {
        Box::new(Redacted(crate::s3::redact::redact_text(&error.to_string())))
    } else {
        Box::new(error)
    }
}

/// The redacted text of an error that cannot be kept as it is.
#[derive(Debug)]
struct Redacted(String);

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Redacted {}

/// Classifies an I/O error kind into a [`TransportError`].
#[cfg_attr(not(feature = "blocking"), allow(dead_code))]
pub(crate) fn io_kind_error(kind: std::io::ErrorKind, failure: Failure) -> TransportError {
    use std::io::ErrorKind::*;
    match kind {
        TimedOut | WouldBlock => TransportError::Timeout(failure),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
            TransportError::ConnectionLost(failure)
        }
        ConnectionRefused | AddrNotAvailable | NotConnected => TransportError::Connect(failure),
        _ => TransportError::Other(failure),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every `Display` and `Debug` of `e` and its chain, joined.
    pub(crate) fn all_text(e: &(dyn std::error::Error + 'static)) -> String {
        let mut out = String::new();
        let mut next = Some(e);
        while let Some(e) = next {
            out.push_str(&format!("{e} {e:?}\n"));
            next = e.source();
        }
        out
    }

    #[test]
    fn total_size_from_content_range() {
        let h = ResponseHead {
            status: 206,
            content_range: Some("bytes 0-19/12345".into()),
            content_length: Some(20),
            ..ResponseHead::default()
        };
        assert_eq!(h.total_size(), Some(12345));
        let h = ResponseHead {
            status: 200,
            content_length: Some(7),
            ..ResponseHead::default()
        };
        assert_eq!(h.total_size(), Some(7));
        assert!(h.is_success());
    }

    #[test]
    fn kept_headers_are_redacted() {
        let echo = "/b/k?X-Amz-Credential=AKID%2F2024&X-Amz-Security-Token=TOK&X-Amz-Signature=abc";
        let h = ResponseHead::from_headers(503, |name| match name {
            "content-length" => Some("7".into()),
            _ => Some(echo.to_owned()),
        });
        assert_eq!(h.content_length, Some(7));
        let text = format!("{h:?}");
        for secret in ["AKID", "TOK", "=abc"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(
            h.request_id.as_deref(),
            Some(
                "/b/k?X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED"
            )
        );
    }

    #[test]
    fn io_kinds_map_and_redact() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let e = io_kind_error(
            std::io::ErrorKind::ConnectionReset,
            Failure::caused_by("http://h/b?X-Amz-Signature=abc reset", io),
        );
        let TransportError::ConnectionLost(f) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(f.message, "http://h/b?X-Amz-Signature=REDACTED reset");
        let source = std::error::Error::source(&e).unwrap();
        let io = source.downcast_ref::<std::io::Error>().unwrap();
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
        assert!(matches!(
            io_kind_error(std::io::ErrorKind::TimedOut, Failure::message("")),
            TransportError::Timeout(_)
        ));
    }

    #[test]
    fn a_cause_that_shows_the_query_is_replaced_by_its_redacted_text() {
        let url = "http://h/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240101&X-Amz-Security-Token=TOKEN&X-Amz-Signature=abc";
        let leaky = std::io::Error::other(format!("bad uri: {url}"));
        let kept = cause(leaky);
        assert!(kept.downcast_ref::<std::io::Error>().is_none());
        for text in [kept.to_string(), format!("{kept:?}")] {
            for secret in ["AKID", "TOKEN", "=abc"] {
                assert!(!text.contains(secret), "{text}");
            }
        }
        // A wrapped error deeper in the chain is checked too.
        let wrapped = std::io::Error::other(std::io::Error::other(url.to_owned()));
        assert!(!format!("{:?}", cause(wrapped)).contains("TOKEN"));
        let plain = cause(std::io::Error::other("connection refused"));
        assert!(plain.downcast_ref::<std::io::Error>().is_some());
    }

    #[cfg(feature = "blocking")]
    #[test]
    fn ureq_errors_with_the_url_are_redacted() {
        let url = "http://h/b/k?X-Amz-Credential=AKID%2F2024&X-Amz-Signature=abc".to_owned();
        for e in [
            ureq::Error::BadUri(url.clone()),
            ureq::Error::RequireHttpsOnly(url),
        ] {
            let kept = cause(e);
            assert!(!format!("{kept} {kept:?}").contains("AKID"), "{kept:?}");
        }
        let kept = cause(ureq::Error::ConnectionFailed);
        assert!(kept.downcast_ref::<ureq::Error>().is_some());
    }
}
