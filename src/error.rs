//! The crate's one error type.
//!
//! Every S3 response that is not a success is classified exactly once (in
//! `s3::classify`) into an [`Error`] variant. Each S3 variant carries an
//! [`ErrorContext`]: the action, bucket, object key, HTTP status, the S3 error
//! code and message, the request id and the number of attempts made. Secrets and
//! presigned URLs never appear in an error: the context holds no URL at all.

use std::fmt;

use crate::action::Action;
pub use crate::codec::CodecError;
pub use crate::path::PathError;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where and how an S3 request failed.
///
/// Fields are public for inspection; none of them ever holds a credential or a
/// signed URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorContext {
    /// The S3 action, when the error comes from a request.
    pub action: Option<Action>,
    /// The bucket the request addressed.
    pub bucket: Option<String>,
    /// The object key, for object-level actions.
    pub key: Option<String>,
    /// The HTTP status of the answer, if one arrived.
    pub status: Option<u16>,
    /// The S3 error code from the XML body (`NoSuchKey`, `SlowDown`, …).
    pub code: Option<String>,
    /// The S3 error message from the XML body.
    pub message: Option<String>,
    /// The request id (`x-amz-request-id` header or `<RequestId>`).
    pub request_id: Option<String>,
    /// How many attempts were made before giving up (1 = no retry).
    pub attempts: u32,
    /// What the error most likely means and what to do about it, in
    /// words (`the secret key does not match the access key …`), when the
    /// crate can tell; shown last.
    pub hint: Option<String>,
}

impl ErrorContext {
    /// A context for a request of `action` on `bucket` (and `key`).
    pub fn new(action: Action, bucket: &str, key: Option<&str>) -> Self {
        Self {
            action: Some(action),
            bucket: Some(bucket.to_owned()),
            key: key.map(str::to_owned),
            attempts: 1,
            ..Self::default()
        }
    }
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(action) = self.action {
            parts.push(action.to_string());
        }
        match (&self.bucket, &self.key) {
            (Some(b), Some(k)) => parts.push(format!("s3://{b}/{k}")),
            (Some(b), None) => parts.push(format!("s3://{b}")),
            _ => {}
        }
        if let Some(status) = self.status {
            parts.push(format!("status {status}"));
        }
        if let Some(code) = &self.code {
            parts.push(format!("code {code}"));
        }
        if let Some(message) = &self.message {
            parts.push(format!("message {message:?}"));
        }
        if let Some(id) = &self.request_id {
            parts.push(format!("request id {id}"));
        }
        if self.attempts > 1 {
            parts.push(format!("after {} attempts", self.attempts));
        }
        f.write_str(&parts.join(", "))?;
        if let Some(hint) = &self.hint {
            write!(f, ": {hint}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in konserve-s3.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a
/// wildcard arm. [`Error::is_retryable`] and [`Error::context`] help generic code.
///
/// ```
/// use konserve_s3::Error;
/// fn describe(e: &Error) -> &'static str {
///     match e {
///         Error::NotFound(_) => "missing",
///         Error::PreconditionFailed(_) => "changed meanwhile",
///         _ => "other",
///     }
/// }
/// # let _ = describe;
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist (404 `NoSuchKey`, or a 404 to HEAD).
    #[error("not found: {0}")]
    NotFound(Box<ErrorContext>),
    /// The bucket does not exist (404 `NoSuchBucket`).
    #[error("no such bucket: {0}")]
    NoSuchBucket(Box<ErrorContext>),
    /// A conditional request's precondition failed (412; also 404 on `If-Match`).
    #[error("precondition failed: {0}")]
    PreconditionFailed(Box<ErrorContext>),
    /// A concurrent conditional write was in flight (409 `ConditionalRequestConflict`).
    #[error("conflict: {0}")]
    Conflict(Box<ErrorContext>),
    /// The bucket (or object) already exists (`BucketAlreadyExists`,
    /// `BucketAlreadyOwnedByYou`).
    #[error("already exists: {0}")]
    AlreadyExists(Box<ErrorContext>),
    /// The credentials are valid but not allowed to do this (403 `AccessDenied`).
    #[error("access denied: {0}")]
    AccessDenied(Box<ErrorContext>),
    /// The credentials are wrong or expired (`SignatureDoesNotMatch`,
    /// `InvalidAccessKeyId`, `ExpiredToken`, …).
    #[error("invalid credentials: {0}")]
    InvalidCredentials(Box<ErrorContext>),
    /// The server asks us to slow down (429, 503 `SlowDown`).
    #[error("throttled: {0}")]
    Throttled(Box<ErrorContext>),
    /// The server failed (5xx other than 501 and throttling).
    #[error("service unavailable: {0}")]
    Unavailable(Box<ErrorContext>),
    /// The request did not complete in time (client timeout, or S3 `RequestTimeout`).
    #[error("timed out: {0}")]
    Timeout(Box<ErrorContext>),
    /// The connection failed (refused, reset, DNS, TLS, …).
    #[error("transport error: {context}: {message}")]
    Transport {
        /// Where it happened.
        context: Box<ErrorContext>,
        /// What the transport reported, with any URL redacted.
        message: String,
        /// The HTTP client's own error (`ureq::Error`, `reqwest::Error`
        /// without its URL, or the I/O or TLS error under it), for
        /// [`source()`](std::error::Error::source) and downcasting. `None`
        /// when there is none, or when its text would show a presigned URL's
        /// query (its redacted text is in `message` then).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// The server does not implement what was asked (501), e.g. conditional writes.
    #[error("not implemented by this S3 provider: {0}")]
    NotImplemented(Box<ErrorContext>),
    /// The server received a body that does not match the checksum the
    /// request carried (400 `BadDigest`, `XAmzContentChecksumMismatch`):
    /// altered on the way, so nothing was written. Transient, and retried
    /// like a 5xx.
    #[error("body altered in flight: {0}")]
    ChecksumMismatch(Box<ErrorContext>),
    /// Any other rejected request (400 `InvalidArgument`, …).
    #[error("request rejected: {0}")]
    Rejected(Box<ErrorContext>),
    /// No source of the credential chain gave credentials (or the one that
    /// gave them could not renew them): every source looked at, and why it
    /// was skipped or failed. Never holds a secret.
    #[error("no credentials: {0}")]
    NoCredentials(Box<crate::credentials::CredentialsReport>),
    /// The configuration is invalid; `field` names the offending setting.
    #[error("invalid configuration: {field}: {reason}")]
    InvalidConfig {
        /// The configuration key, as spelled in the JSON form (`bucket`, `id`,
        /// `config.optimistic-locking-retries`, …).
        field: String,
        /// Why it is invalid.
        reason: String,
    },
    /// An object key the crate would build is not a valid S3 key.
    #[error("invalid object key {key:?}: {reason}")]
    InvalidObjectKey {
        /// The offending key.
        key: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// Data from the network or the bucket is not what it should be
    /// (unparseable XML, a truncated or malformed blob, …).
    #[error("corrupt data: {context}: {reason}")]
    CorruptData {
        /// Where the data came from.
        context: Box<ErrorContext>,
        /// What is wrong with it.
        reason: String,
    },
    /// A local I/O error (reading a caller's body, a file, …).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A stored blob cannot be decoded: truncated, malformed, or written with
    /// a serializer, compressor or encryptor id this build does not support
    /// (the [`CodecError`] names it).
    #[error("cannot decode blob {blob}: {source}")]
    Blob {
        /// The blob's name in its store (`<uuid>.ksv`).
        blob: String,
        /// What is wrong.
        source: CodecError,
    },
    /// `create_store` found the store already there.
    #[error("store {id} already exists in bucket {bucket}")]
    StoreAlreadyExists {
        /// Bucket.
        bucket: String,
        /// Store id.
        id: uuid::Uuid,
    },
    /// `connect_store` (or another operation) found no such store.
    #[error(
        "store {id} does not exist in bucket {bucket}: check the store's `id`, \
         or create the store with `create_store`"
    )]
    StoreNotFound {
        /// Bucket.
        bucket: String,
        /// Store id.
        id: uuid::Uuid,
    },
    /// The operation is not supported by this backing (e.g. multi-key
    /// operations on S3, which konserve requires to be atomic).
    #[error("{operation} is not supported: {reason}")]
    Unsupported {
        /// The operation.
        operation: &'static str,
        /// Why.
        reason: std::borrow::Cow<'static, str>,
    },
    /// A blob's metadata, larger than one read, was rewritten between its
    /// two reads on every attempt (another writer rewrites it without pause).
    #[error(
        "blob {blob} changed while its metadata was read, {attempts} times in a row; retry when its writers pause"
    )]
    BlobKeptChanging {
        /// The blob (store-relative name).
        blob: String,
        /// The attempts made.
        attempts: u32,
    },
    /// Optimistic locking gave up: the key kept changing under every attempt.
    #[error("optimistic lock conflict on key {key} after {attempts} attempts")]
    OptimisticLockConflict {
        /// The key, as EDN.
        key: String,
        /// Attempts made (1 + retries).
        attempts: u32,
    },
    /// A conditional write got an unclear answer (a 5xx, a lost
    /// connection, a timeout) and looking again could not tell whether it
    /// landed: the key now holds a version that is neither ours nor the one
    /// we read, so another writer came in between. The write may or may not
    /// be stored; it was not repeated, so that an update is never applied
    /// twice. Read the key to see what it holds, and repeat the operation
    /// only if that is safe for it (an `assoc` is; an increment is not).
    #[error(
        "the write to key {key} may or may not have landed: its answer was unclear \
         ({cause}) and the key has changed since; it was not repeated. Read the key \
         to see what it holds before writing again"
    )]
    OutcomeUnknown {
        /// The key, as EDN.
        key: String,
        /// The unclear answer.
        #[source]
        cause: Box<Error>,
    },
    /// Write-behind: writes queued for a tiered store's backend have not
    /// reached it (`TieredBacking::flush` tried
    /// each once more and these failed). They stay queued and are retried;
    /// the data is in the frontend meanwhile.
    #[error(
        "{pending} write(s) queued for the tiered store's backend have not reached it; {}",
        crate::tiered::describe_failures(failures)
    )]
    WriteBehindPending {
        /// Blobs still queued.
        pending: usize,
        /// The last failure of each queued blob that failed.
        failures: Vec<crate::tiered::WriteFailure>,
    },
    /// `append`/`log` on a key that holds something other than an append log.
    #[error("key {key} is not an append log")]
    NotAnAppendLog {
        /// The key, as EDN.
        key: String,
    },
    /// A path cannot be followed into the stored value.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A value does not convert to or from the Rust type asked for.
    #[error("value conversion: {0}")]
    Value(#[from] crate::value::ValueError),
}

/// The context of the variants that come from S3 requests, by reference of
/// whatever mutability `$error` has.
macro_rules! s3_context {
    ($error:expr) => {
        match $error {
            Error::NotFound(c)
            | Error::NoSuchBucket(c)
            | Error::PreconditionFailed(c)
            | Error::Conflict(c)
            | Error::AlreadyExists(c)
            | Error::AccessDenied(c)
            | Error::InvalidCredentials(c)
            | Error::Throttled(c)
            | Error::Unavailable(c)
            | Error::Timeout(c)
            | Error::NotImplemented(c)
            | Error::ChecksumMismatch(c)
            | Error::Rejected(c) => Some(c),
            Error::Transport { context, .. } | Error::CorruptData { context, .. } => Some(context),
            _ => None,
        }
    };
}

impl Error {
    /// The S3 context of this error, if it comes from a request.
    pub fn context(&self) -> Option<&ErrorContext> {
        s3_context!(self)
    }

    #[cfg(any(feature = "blocking", feature = "async"))]
    pub(crate) fn context_mut(&mut self) -> Option<&mut ErrorContext> {
        s3_context!(self)
    }

    /// Applies `f` to every text of this error that came from a server or a
    /// transport (code, message, request id, transport message).
    #[cfg(any(feature = "blocking", feature = "async"))]
    pub(crate) fn map_server_text(&mut self, f: impl Fn(&str) -> String) {
        if let Error::Transport { message, .. } = self {
            *message = f(message);
        }
        if let Some(c) = self.context_mut() {
            for text in [&mut c.code, &mut c.message, &mut c.request_id]
                .into_iter()
                .flatten()
            {
                *text = f(text);
            }
        }
    }

    /// Whether this error is transient, so that repeating a request that is
    /// safe to repeat may succeed: throttling, 5xx, timeouts, transport errors.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Throttled(_)
                | Error::Unavailable(_)
                | Error::Timeout(_)
                | Error::Transport { .. }
                | Error::ChecksumMismatch(_)
        )
    }

    /// `true` for [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }

    pub(crate) fn corrupt(context: ErrorContext, reason: impl Into<String>) -> Self {
        Error::CorruptData {
            context: Box::new(context),
            reason: reason.into(),
        }
    }

    /// The 412 a local backing gives when a write's conditions do not hold
    /// for blob `name`, shaped as S3's answer.
    #[cfg(any(feature = "blocking", feature = "async"))]
    pub(crate) fn precondition_failed(name: &str) -> Self {
        Error::PreconditionFailed(Box::new(ErrorContext {
            key: Some(name.to_owned()),
            status: Some(412),
            code: Some("PreconditionFailed".to_owned()),
            ..ErrorContext::default()
        }))
    }

    /// [`Error::NoSuchBucket`] for `ctx`, with the hint that says so in
    /// words and what to do.
    pub(crate) fn no_such_bucket(mut ctx: ErrorContext) -> Self {
        let bucket = ctx.bucket.as_deref().unwrap_or("");
        ctx.hint = Some(format!(
            "bucket `{bucket}` does not exist: check its name, or create it \
             (`create_store` creates a missing bucket)"
        ));
        Error::NoSuchBucket(Box::new(ctx))
    }

    pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// For code that works in [`std::io`] terms (readers, writers, streaming):
/// the [`io::ErrorKind`](std::io::ErrorKind) says what kind of failure it is,
/// and the [`Error`] itself stays inside, for
/// [`get_ref`](std::io::Error::get_ref) and
/// [`into_inner`](std::io::Error::into_inner) to downcast.
///
/// | [`Error`] | [`io::ErrorKind`](std::io::ErrorKind) |
/// |---|---|
/// | `NotFound`, `NoSuchBucket`, `StoreNotFound` | `NotFound` |
/// | `Timeout` | `TimedOut` |
/// | `AccessDenied`, `InvalidCredentials` | `PermissionDenied` |
/// | `AlreadyExists`, `StoreAlreadyExists` | `AlreadyExists` |
/// | `Throttled`, `Conflict` | `ResourceBusy` |
/// | `NotImplemented`, `Unsupported` | `Unsupported` |
/// | `InvalidConfig`, `InvalidObjectKey` | `InvalidInput` |
/// | `CorruptData`, `Blob` | `InvalidData` |
/// | `Io` | its own kind |
/// | `Transport` | the kind of the I/O error under it, if any |
/// | anything else | `Other` |
///
/// ```
/// use std::io;
/// use konserve_s3::{Error, error::ErrorContext, s3::Action};
///
/// fn read_blob() -> Result<Vec<u8>, Error> {
///     let ctx = ErrorContext::new(Action::GetObject, "bkt", Some("k"));
///     Err(Error::NotFound(Box::new(ctx)))
/// }
///
/// fn read_for_io() -> io::Result<Vec<u8>> {
///     Ok(read_blob()?)
/// }
///
/// let e = read_for_io().unwrap_err();
/// assert_eq!(e.kind(), io::ErrorKind::NotFound);
/// let inner = e.get_ref().and_then(|e| e.downcast_ref::<Error>()).unwrap();
/// assert!(inner.is_not_found());
/// ```
impl From<Error> for std::io::Error {
    fn from(error: Error) -> Self {
        use std::io::ErrorKind;
        let kind = match &error {
            Error::NotFound(_) | Error::NoSuchBucket(_) | Error::StoreNotFound { .. } => {
                ErrorKind::NotFound
            }
            Error::Timeout(_) => ErrorKind::TimedOut,
            Error::AccessDenied(_) | Error::InvalidCredentials(_) => ErrorKind::PermissionDenied,
            Error::AlreadyExists(_) | Error::StoreAlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::Throttled(_) | Error::Conflict(_) => ErrorKind::ResourceBusy,
            Error::NotImplemented(_) | Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::InvalidConfig { .. } | Error::InvalidObjectKey { .. } => ErrorKind::InvalidInput,
            Error::CorruptData { .. } | Error::Blob { .. } => ErrorKind::InvalidData,
            Error::Io(io) => io.kind(),
            Error::Transport {
                source: Some(source),
                ..
            } => io_kind_in(source.as_ref()).unwrap_or(ErrorKind::Other),
            _ => ErrorKind::Other,
        };
        std::io::Error::new(kind, error)
    }
}

/// The kind of the first I/O error in `error`'s chain, looking into
/// `ureq::Error::Io` too (ureq errors have no `source()`).
fn io_kind_in(error: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        #[cfg(feature = "blocking")]
        if let Some(ureq::Error::Io(io)) = e.downcast_ref::<ureq::Error>() {
            return Some(io.kind());
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_action_location_and_code() {
        let mut ctx = ErrorContext::new(Action::GetObject, "bkt", Some("a/b"));
        ctx.status = Some(404);
        ctx.code = Some("NoSuchKey".into());
        ctx.request_id = Some("RID1".into());
        ctx.attempts = 3;
        let e = Error::NotFound(Box::new(ctx));
        assert_eq!(
            e.to_string(),
            "not found: GetObject, s3://bkt/a/b, status 404, code NoSuchKey, request id RID1, after 3 attempts"
        );
        assert!(e.is_not_found());
        assert!(!e.is_retryable());
        assert_eq!(e.context().unwrap().attempts, 3);
    }

    #[test]
    fn io_error_keeps_kind_and_error() {
        use std::io::ErrorKind;
        let c = || Box::new(ErrorContext::new(Action::GetObject, "b", Some("k")));
        let transport =
            |source: Option<Box<dyn std::error::Error + Send + Sync>>| Error::Transport {
                context: c(),
                message: "m".into(),
                source,
            };
        let reset = std::io::Error::new(ErrorKind::ConnectionReset, "reset");
        let cases = [
            (Error::NotFound(c()), ErrorKind::NotFound),
            (Error::NoSuchBucket(c()), ErrorKind::NotFound),
            (Error::Timeout(c()), ErrorKind::TimedOut),
            (Error::AccessDenied(c()), ErrorKind::PermissionDenied),
            (Error::InvalidCredentials(c()), ErrorKind::PermissionDenied),
            (Error::AlreadyExists(c()), ErrorKind::AlreadyExists),
            (Error::Throttled(c()), ErrorKind::ResourceBusy),
            (Error::NotImplemented(c()), ErrorKind::Unsupported),
            (Error::config("bucket", "x"), ErrorKind::InvalidInput),
            (
                Error::corrupt(ErrorContext::default(), "x"),
                ErrorKind::InvalidData,
            ),
            (Error::Unavailable(c()), ErrorKind::Other),
            (Error::PreconditionFailed(c()), ErrorKind::Other),
            (
                Error::Io(std::io::Error::from(ErrorKind::UnexpectedEof)),
                ErrorKind::UnexpectedEof,
            ),
            (transport(Some(Box::new(reset))), ErrorKind::ConnectionReset),
            (transport(None), ErrorKind::Other),
        ];
        for (error, kind) in cases {
            let text = error.to_string();
            let io = std::io::Error::from(error);
            assert_eq!(io.kind(), kind, "{text}");
            assert_eq!(io.to_string(), text);
            let inner = io.into_inner().unwrap().downcast::<Error>().unwrap();
            assert_eq!(inner.to_string(), text);
        }
    }

    #[cfg(feature = "blocking")]
    #[test]
    fn transport_source_is_kept_and_ureq_io_kinds_are_seen() {
        use std::error::Error as _;
        let ureq_io = ureq::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let e = Error::Transport {
            context: Box::default(),
            message: "cannot connect".into(),
            source: Some(Box::new(ureq_io)),
        };
        assert!(e.source().unwrap().downcast_ref::<ureq::Error>().is_some());
        let io = std::io::Error::from(e);
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn retryable_classes() {
        let c = || Box::new(ErrorContext::default());
        assert!(Error::Throttled(c()).is_retryable());
        assert!(Error::Unavailable(c()).is_retryable());
        assert!(Error::Timeout(c()).is_retryable());
        assert!(!Error::PreconditionFailed(c()).is_retryable());
        assert!(!Error::AccessDenied(c()).is_retryable());
        assert!(Error::config("bucket", "x").context().is_none());
    }
}
