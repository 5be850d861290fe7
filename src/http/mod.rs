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
}

impl ResponseHead {
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

/// Why a request got no answer. Messages are redacted: no signatures,
/// credentials or tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// Connecting, or waiting for the answer or a body read, took too long.
    Timeout(String),
    /// The connection broke (reset, closed early). A pooled connection that
    /// the server had closed looks like this; the request may or may not
    /// have reached the server.
    ConnectionLost(String),
    /// No connection could be made (refused, DNS).
    Connect(String),
    /// Anything else (protocol error, TLS, local I/O).
    Other(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Timeout(m) => write!(f, "timeout: {m}"),
            TransportError::ConnectionLost(m) => write!(f, "connection lost: {m}"),
            TransportError::Connect(m) => write!(f, "cannot connect: {m}"),
            TransportError::Other(m) => f.write_str(m),
        }
    }
}

/// Classifies an I/O error kind into a [`TransportError`].
#[cfg_attr(not(feature = "blocking"), allow(dead_code))]
pub(crate) fn io_kind_error(kind: std::io::ErrorKind, message: String) -> TransportError {
    use std::io::ErrorKind::*;
    let message = crate::s3::redact::redact_text(&message);
    match kind {
        TimedOut | WouldBlock => TransportError::Timeout(message),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
            TransportError::ConnectionLost(message)
        }
        ConnectionRefused | AddrNotAvailable | NotConnected => TransportError::Connect(message),
        _ => TransportError::Other(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn io_kinds_map_and_redact() {
        let e = io_kind_error(
            std::io::ErrorKind::ConnectionReset,
            "http://h/b?X-Amz-Signature=abc reset".into(),
        );
        assert_eq!(
            e,
            TransportError::ConnectionLost("http://h/b?X-Amz-Signature=REDACTED reset".into())
        );
        assert!(matches!(
            io_kind_error(std::io::ErrorKind::TimedOut, String::new()),
            TransportError::Timeout(_)
        ));
    }
}
