//! [`S3Client`]: S3 actions with retries, statistics and tracing.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::Conditions;
use crate::config::{
    CapabilityCache, Checksum, ConditionalWrites, ResolvedConfig, ResolvedCredentials, S3Config,
};
use crate::error::{Error, ErrorContext, Result};
use crate::http::{ResponseHead, TransportError};
use crate::retry::{Decision, RetryPolicy};
use crate::s3::capabilities::{self, Capabilities, IfMatchOn};
use crate::s3::classify::{FailedAnswer, S3ErrorBody, classify, classify_parsed, is_not_modified};
use crate::s3::request::Body;
use crate::s3::request::{BodyChecksum, ByteRange, CompletedPart, MAX_DELETE_BATCH};
use crate::s3::responses::{self, DeleteFailure, ListPage, ListedObject, MultipartUpload};
use crate::s3::stats::{Attempt, RequestStats, StatsSnapshot};
use crate::s3::{S3Request, Signer};

use super::credentials::{CredentialsProvider, DefaultCredentialsChain, Signing};
use super::io;
use super::mode::{self, BodyReader, Transport, TransportBody, body_reader, reader_of};

/// Facts about a stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// The ETag, quoted as the server sent it.
    pub etag: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// `Last-Modified`, as the server printed it.
    pub last_modified: Option<String>,
    /// The write tag this crate put on the object
    /// ([`S3Client::put_object_tagged`]); `None` for objects written
    /// without one (by Clojure's konserve, say).
    pub write_tag: Option<String>,
}

impl ObjectInfo {
    /// The facts an answer's head gives about the whole object.
    fn of(head: ResponseHead) -> Self {
        ObjectInfo {
            size: head.total_size(),
            etag: head.etag,
            last_modified: head.last_modified,
            write_tag: head.write_tag,
        }
    }
}

/// A fetched object (or byte range of one).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetObjectOutput {
    /// The bytes read.
    pub body: Bytes,
    /// The ETag.
    pub etag: Option<String>,
    /// The object's total size (for a ranged read, from `Content-Range`).
    pub total_size: Option<u64>,
}

struct Inner {
    /// Bucket, region, endpoint; signs with the credentials of `signing`.
    signer: Signer,
    signing: Signing,
    transport: Transport,
    retry: RetryPolicy,
    stats: RequestStats,
    request_spans: bool,
    /// `http.max-body-bytes`: the most a body read whole may hold.
    max_body: u64,
    /// Uploads (key, id) whose abort could not be sent or failed: aborted
    /// by the next cleanup.
    abandoned: Mutex<Vec<(String, String)>>,
    /// What the provider does with conditions, once known (probed, cached
    /// or assumed under `conditional-writes: on`).
    capabilities: OnceLock<Capabilities>,
    /// Whether a 500 answer to a conditional write means a lost race, as
    /// the probe's race run again found after such an answer (see
    /// [`S3Client::lost_race_answered_500`]).
    lost_race_500: OnceLock<bool>,
    /// `conditional-writes`: `auto` probes before the first write that
    /// needs the findings.
    conditional_writes: ConditionalWrites,
    /// `checksum`: what a `PutObject` body carries.
    checksum: Checksum,
    /// Set when the probe that `checksum: auto` asked for failed: its
    /// writes carry `Content-MD5` without asking again.
    checksum_probe_failed: OnceLock<()>,
    /// Where findings are cached, and under which key.
    capability_cache: CapabilityCache,
    cache_key: String,
    loopback: bool,
}

/// A client for one bucket: presigns with rusty-s3, sends, classifies,
/// retries transient failures, counts every attempt.
///
/// Cheap to clone (shared connection pool and statistics).
///
#[doc = mode::doc_example!("s3_client")]
#[derive(Clone)]
pub struct S3Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("signer", &self.inner.signer)
            .field("credentials", &self.inner.signing)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl S3Client {
    /// A client for the bucket of `config`, resolved against the environment.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] as [`S3Config::resolve`] reports.
    pub fn new(config: &S3Config) -> Result<Self> {
        Self::from_resolved(&config.resolve()?)
    }

    /// A client from an already resolved configuration.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the endpoint cannot address the bucket.
    pub fn from_resolved(config: &ResolvedConfig) -> Result<Self> {
        Self::with_signing(config, |signer| match &config.credentials {
            ResolvedCredentials::Static(c) => Signing::fixed(c.clone()),
            ResolvedCredentials::Anonymous => Signing::anonymous(signer),
            _ => Signing::with_provider(mode::share(
                DefaultCredentialsChain::new().with_region(config.region.clone()),
            )),
        })
    }

    /// A client for the bucket of `config` that signs with what
    /// `provider` gives (the configuration's credentials are not used).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] as [`S3Config::resolve`] reports.
    pub fn with_credentials_provider<P: CredentialsProvider + 'static>(
        config: &S3Config,
        provider: P,
    ) -> Result<Self> {
        let shared = mode::share(provider);
        Self::with_signing(&config.resolve()?, |_| Signing::with_provider(shared))
    }

    fn with_signing(
        config: &ResolvedConfig,
        signing: impl FnOnce(&Signer) -> Signing,
    ) -> Result<Self> {
        // The bucket's signer, without credentials: each attempt signs with
        // a copy that carries the current ones.
        let signer = Signer::new(
            config.endpoint.clone(),
            config.path_style,
            &config.bucket,
            &config.region,
            &crate::credentials::Credentials::new("", ""),
            config.http.presign_expiry,
        )?
        .with_credentials(None);
        let signing = signing(&signer);
        let known = OnceLock::new();
        if config.conditional_writes == ConditionalWrites::On {
            let _ = known.set(Capabilities::assumed());
        }
        let loopback = match config.endpoint.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
            None => false,
        };
        Ok(S3Client {
            inner: Arc::new(Inner {
                signer,
                signing,
                transport: Transport::new(&config.http),
                retry: config.retry,
                stats: RequestStats::default(),
                request_spans: config.request_spans,
                max_body: config.http.max_body_bytes,
                abandoned: Mutex::new(Vec::new()),
                capabilities: known,
                lost_race_500: OnceLock::new(),
                conditional_writes: config.conditional_writes,
                checksum: config.checksum,
                checksum_probe_failed: OnceLock::new(),
                capability_cache: config.capability_cache,
                cache_key: capabilities::cache_key(
                    config.endpoint.as_str(),
                    config.path_style,
                    &config.region,
                ),
                loopback,
            }),
        })
    }

    /// Tells the client what the provider does instead of probing it: for a
    /// provider you know (say, Ceph RGW 16, whose `If-Match` needs the
    /// unquoted ETag: `if_match: Some(EtagForm::Unquoted)`). Returns the
    /// findings back as `Err` when the client knows some already (probed or
    /// assumed), which stay.
    ///
    /// ```
    /// use konserve_s3::config::S3Config;
    /// use konserve_s3::s3::{Capabilities, EtagForm, Support};
    /// # use konserve_s3::blocking::S3Client;
    ///
    /// let config = S3Config::builder()
    ///     .bucket("my-bucket")
    ///     .endpoint("http://127.0.0.1:7480")
    ///     .credentials("access", "secret")
    ///     .build()?;
    /// let client = S3Client::new(&config)?;
    /// let mut rgw = Capabilities::assumed();
    /// rgw.if_match = Some(EtagForm::Unquoted);
    /// rgw.conditional_delete = Support::Ignored;
    /// assert!(client.assume_capabilities(rgw).is_ok());
    /// assert_eq!(client.known_capabilities().unwrap().if_match, Some(EtagForm::Unquoted));
    /// # Ok::<(), konserve_s3::Error>(())
    /// ```
    ///
    /// # Errors
    /// `caps`, when the client knows its findings already.
    pub fn assume_capabilities(&self, caps: Capabilities) -> std::result::Result<(), Capabilities> {
        self.inner.capabilities.set(caps)
    }

    /// The provider's capabilities if this client knows them already
    /// (probed, found in the cache, or assumed under
    /// `conditional-writes: on`), without sending anything.
    pub fn known_capabilities(&self) -> Option<&Capabilities> {
        self.inner.capabilities.get()
    }

    /// The bucket this client addresses.
    pub fn bucket(&self) -> &str {
        self.inner.signer.bucket()
    }

    /// Request statistics so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// Zeroes the request statistics.
    pub fn reset_stats(&self) {
        self.inner.stats.reset();
    }

    /// Notes an upload whose abort could not be sent or failed, for
    /// the next cleanup.
    pub(crate) fn remember_abandoned_upload(&self, key: String, upload_id: String) {
        let mut list = self
            .inner
            .abandoned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        list.push((key, upload_id));
    }

    /// Takes the uploads noted by [`S3Client::remember_abandoned_upload`].
    pub(crate) fn take_abandoned_uploads(&self) -> Vec<(String, String)> {
        let mut list = self
            .inner
            .abandoned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *list)
    }

    fn context(&self, req: &S3Request) -> ErrorContext {
        ErrorContext::new(req.action(), self.bucket(), req.key())
    }
}

/// The body of a successful answer: read, or left for the caller to stream.
enum Payload {
    Read(Bytes),
    Stream(TransportBody),
}

/// What one attempt produced.
enum AttemptResult {
    Done(Box<ResponseHead>, Payload),
    Failed(Error, bool),
}

/// Whether `err` is a 403 without an S3 code to a HEAD (HEAD answers have
/// no body), which [`S3Client::explain_bare_403`] asks about.
fn is_bare_head_403(req: &S3Request, err: &Error) -> bool {
    matches!(
        req.action(),
        crate::s3::Action::HeadObject | crate::s3::Action::HeadBucket
    ) && matches!(err, Error::AccessDenied(c) if c.status == Some(403) && c.code.is_none())
}

/// Says in words what a credentials error or a refusal means, naming the
/// access key abbreviated (never the secret), and what to do.
fn credentials_hint(err: &mut Error, signer: &Signer) {
    let key = signer
        .access_key_hint()
        .map_or_else(|| "(unsigned requests)".to_owned(), |k| format!("`{k}`"));
    let (code, bucket) = match err.context() {
        Some(c) => (
            c.code.clone().unwrap_or_default(),
            c.bucket.clone().unwrap_or_default(),
        ),
        None => return,
    };
    let hint = match (&*err, code.as_str()) {
        (Error::InvalidCredentials(_), "SignatureDoesNotMatch") => format!(
            "the secret key does not match the access key {key}: set the secret key \
             that belongs to it"
        ),
        (Error::InvalidCredentials(_), "InvalidAccessKeyId") => format!(
            "the server does not know the access key {key}: check the access key id, \
             and that the endpoint is the one it belongs to"
        ),
        (Error::InvalidCredentials(_), "ExpiredToken" | "TokenRefreshRequired") => {
            format!("the session credentials of access key {key} have expired: renew them")
        }
        (Error::AccessDenied(c), "AccessDenied") => {
            use crate::s3::Action::*;
            let what = match c.action {
                Some(GetObject | HeadObject | HeadBucket | ListObjectsV2) | None => {
                    "read".to_owned()
                }
                Some(action) => format!("do {action} in"),
            };
            format!(
                "these credentials (access key {key}) may not {what} bucket `{bucket}`: \
                 grant them that right, or use credentials that have it"
            )
        }
        _ => {
            let message = err
                .context()
                .and_then(|c| c.message.clone())
                .unwrap_or_default();
            match crate::s3::classify::region_hint(&code, &message) {
                Some(hint) => hint,
                None => return,
            }
        }
    };
    if let Some(c) = err.context_mut() {
        c.hint = Some(hint);
    }
}

impl S3Client {
    /// The error for a request that got no answer: the transport's words,
    /// after the host and port it tried to reach (a DNS failure in
    /// virtual-hosted style adds the fix: path-style addressing); `true`
    /// when the connection was lost (repeated once at once).
    fn transport_error(&self, ctx: ErrorContext, e: TransportError) -> (Error, bool) {
        let signer = &self.inner.signer;
        let authority = signer.authority();
        let lost = matches!(e, TransportError::ConnectionLost(_));
        let connect = matches!(e, TransportError::Connect(_));
        let said = |m: &str| {
            let dns = crate::http::is_dns_failure(m);
            let mut text = if connect || dns {
                format!("could not connect to {authority}: {m}")
            } else {
                format!("{authority}: {m}")
            };
            if dns {
                let host = authority.rsplit_once(':').map_or(&*authority, |(h, _)| h);
                if signer.is_virtual_hosted() {
                    text.push_str(&format!(
                        " (the bucket-prefixed host `{host}` does not resolve: set \
                         `path-style: true` for this endpoint)"
                    ));
                } else {
                    text.push_str(&format!(
                        " (the host `{host}` does not resolve: check the endpoint)"
                    ));
                }
            }
            text
        };
        let err = match e {
            TransportError::Timeout(m) => {
                let mut ctx = ctx;
                ctx.message = Some(said(&m.message));
                Error::Timeout(Box::new(ctx))
            }
            TransportError::ConnectionLost(m)
            | TransportError::Connect(m)
            | TransportError::Other(m) => Error::Transport {
                context: Box::new(ctx),
                message: said(&m.message),
                source: m.source,
            },
        };
        (err, lost)
    }
}

impl S3Client {
    /// The error for an answer whose body is over `http.max-body-bytes`
    /// (`declared`: the length it announced, if any).
    fn too_large(&self, req: &S3Request, declared: Option<u64>) -> Error {
        let max = self.inner.max_body;
        let size = declared.map_or_else(
            || format!("more than {max} bytes without declaring a length"),
            |n| format!("{n} bytes"),
        );
        Error::corrupt(
            self.context(req),
            format!(
                "the answer's body is {size}, over http.max-body-bytes ({max}): \
                 raise it if your values are that large"
            ),
        )
    }
}

#[io(AFIT)]
impl S3Client {
    /// One attempt: sign, send, read the body (unless `stream` and the
    /// answer is a success), classify.
    async fn attempt(&self, req: &S3Request, number: u32, stream: bool) -> AttemptResult {
        let inner = &self.inner;
        let signer = match inner.signing.signer(&inner.signer).await {
            Ok(signer) => signer,
            Err(e) => return AttemptResult::Failed(e, false),
        };
        let adapted;
        let req = match inner.capabilities.get() {
            Some(caps) if !req.is_probe() => match req.in_etag_form(caps) {
                Some(r) => {
                    adapted = r;
                    &adapted
                }
                None => req,
            },
            _ => req,
        };
        let signed = signer.sign(req);
        let span = if inner.request_spans {
            tracing::info_span!(
                "s3_request",
                action = %req.action(),
                bucket = %self.bucket(),
                key = req.key().unwrap_or(""),
                attempt = number,
                status = tracing::field::Empty,
                bytes_sent = signed.body.as_ref().map_or(0, Body::len),
                bytes_received = tracing::field::Empty,
                latency_ms = tracing::field::Empty,
            )
        } else {
            tracing::Span::none()
        };
        let started = Instant::now();
        let sent = signed.body.as_ref().map_or(0, |b| b.len() as u64);
        let outcome = match inner.transport.send(&signed).await {
            Ok((head, body)) if stream && head.is_success() => {
                Ok(Ok((head, Payload::Stream(body))))
            }
            Ok((head, _)) if head.content_length.is_some_and(|n| n > inner.max_body) => {
                Ok(Err(self.too_large(req, head.content_length)))
            }
            Ok((head, body)) => match body.read_all(inner.max_body).await {
                Ok(Some(bytes)) => Ok(Ok((head, Payload::Read(bytes)))),
                Ok(None) => Ok(Err(self.too_large(req, None))),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let latency = started.elapsed();
        let result = match outcome {
            Ok(Ok((head, Payload::Stream(body)))) => {
                span.record("status", head.status);
                AttemptResult::Done(Box::new(head), Payload::Stream(body))
            }
            Ok(Ok((head, Payload::Read(bytes)))) => {
                span.record("status", head.status);
                span.record("bytes_received", bytes.len());
                let not_modified = is_not_modified(
                    head.status,
                    req.action(),
                    req.conditions().if_none_match.is_some(),
                );
                if head.is_success() || not_modified {
                    AttemptResult::Done(Box::new(head), Payload::Read(bytes))
                } else {
                    let err = classify(
                        self.context(req),
                        FailedAnswer {
                            status: head.status,
                            request_id_header: head.request_id.as_deref(),
                            body: &bytes,
                            had_if_match: req.conditions().if_match.is_some(),
                        },
                    );
                    AttemptResult::Failed(err, false)
                }
            }
            Ok(Err(err)) => AttemptResult::Failed(err, false),
            Err(e) => {
                let (err, lost) = self.transport_error(self.context(req), e);
                AttemptResult::Failed(err, lost)
            }
        };
        let result = match result {
            AttemptResult::Failed(mut err, lost) => {
                // Server text was redacted by name when classified; a secret
                // quoted without its parameter name is caught here.
                err.map_server_text(|t| signer.redact_secrets(t));
                credentials_hint(&mut err, &signer);
                AttemptResult::Failed(err, lost)
            }
            done => done,
        };
        span.record("latency_ms", latency.as_secs_f64() * 1000.0);
        let (failed, received) = match &result {
            AttemptResult::Done(_, Payload::Read(b)) => (false, b.len() as u64),
            AttemptResult::Done(head, Payload::Stream(_)) => {
                (false, head.content_length.unwrap_or(0))
            }
            // A 404 to a read of a key, or to asking whether the bucket
            // exists, is an answer ("not there"), not a failure.
            AttemptResult::Failed(Error::NotFound(_), _) => (false, 0),
            AttemptResult::Failed(Error::NoSuchBucket(_), _)
                if req.action() == crate::s3::Action::HeadBucket =>
            {
                (false, 0)
            }
            AttemptResult::Failed(..) => (true, 0),
        };
        inner.stats.record(Attempt {
            action: req.action(),
            is_retry: number > 1,
            failed,
            bytes_sent: sent,
            bytes_received: received,
            latency,
        });
        result
    }

    /// A 403 to a HEAD has no body, so no S3 code says whether the secret
    /// is wrong, the access key unknown, or the credentials lack the right:
    /// one GET that needs the same right as the HEAD (the object's first
    /// byte for `HeadObject`, a listing of one key for `HeadBucket`) asks,
    /// and its code, message and hint replace the bare 403's. The error
    /// keeps the HEAD's action, bucket and key; if the GET says nothing
    /// more, the HEAD's error stays as it was.
    async fn explain_bare_403(&self, head: &S3Request, err: Error) -> Error {
        let follow_up = match (head.action(), head.key()) {
            (crate::s3::Action::HeadObject, Some(key)) => {
                let first_byte = ByteRange {
                    start: 0,
                    end_inclusive: Some(0),
                };
                match S3Request::get_object(key, Some(first_byte)) {
                    Ok(r) => r,
                    Err(_) => return err,
                }
            }
            (crate::s3::Action::HeadBucket, _) => S3Request::list_objects_v2(None, None, Some(1)),
            _ => return err,
        };
        let found = match self.attempt(&follow_up, 1, false).await {
            AttemptResult::Failed(found, _) => found,
            AttemptResult::Done(..) => return err,
        };
        let Some(said) = found.context().filter(|c| c.code.is_some()).cloned() else {
            return err;
        };
        let mut ctx = err.context().cloned().unwrap_or_default();
        ctx.code = said.code;
        ctx.message = said.message;
        ctx.request_id = said.request_id.or(ctx.request_id);
        ctx.hint = said.hint;
        let ctx = Box::new(ctx);
        match found {
            Error::InvalidCredentials(_) => Error::InvalidCredentials(ctx),
            Error::AccessDenied(_) => Error::AccessDenied(ctx),
            Error::NoSuchBucket(_) => Error::NoSuchBucket(ctx),
            _ => err,
        }
    }

    /// Sends `req` with retries and returns the successful answer's head
    /// and body.
    ///
    /// Transient failures of requests that are safe to repeat are retried
    /// per the [`RetryPolicy`]; a request whose connection was lost is
    /// repeated once at once whatever its method (a pooled connection the
    /// server had closed). Every attempt is signed afresh.
    ///
    /// # Errors
    /// The classified [`Error`] of the last attempt, with the number of
    /// attempts in its context.
    pub(crate) async fn execute(&self, req: &S3Request) -> Result<(ResponseHead, Bytes)> {
        match self.execute_with(req, false).await? {
            (head, Payload::Read(bytes)) => Ok((head, bytes)),
            (head, Payload::Stream(body)) => {
                let bytes = body
                    .read_all(self.inner.max_body)
                    .await
                    .map_err(|e| self.transport_error(self.context(req), e).0)?;
                match bytes {
                    Some(bytes) => Ok((head, bytes)),
                    None => Err(self.too_large(req, None)),
                }
            }
        }
    }

    /// Reads an object as a stream: retries cover getting the answer's
    /// head; the body is the caller's to read.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist, and any other failure.
    pub async fn get_object_stream(&self, key: &str) -> Result<(ObjectInfo, BodyReader)> {
        let req = S3Request::get_object(key, None)?;
        let (head, body) = match self.execute_with(&req, true).await? {
            (head, Payload::Stream(body)) => (head, body_reader(body)),
            (head, Payload::Read(bytes)) => (head, reader_of(bytes)),
        };
        Ok((ObjectInfo::of(head), body))
    }

    async fn execute_with(&self, req: &S3Request, stream: bool) -> Result<(ResponseHead, Payload)> {
        let policy = self.inner.retry;
        let started = Instant::now();
        let mut attempt = 1;
        let mut lost_connection_retried = false;
        loop {
            match self.attempt(req, attempt, stream).await {
                AttemptResult::Done(head, payload) => return Ok((*head, payload)),
                AttemptResult::Failed(mut err, lost) => {
                    let decision = if lost && !lost_connection_retried {
                        lost_connection_retried = true;
                        Decision::RetryAfter(Duration::ZERO)
                    } else {
                        policy.decide(
                            &err,
                            req.is_safe_to_repeat(),
                            attempt,
                            started.elapsed(),
                            fastrand::f64(),
                        )
                    };
                    match decision {
                        Decision::RetryAfter(wait) => {
                            if self.inner.request_spans {
                                tracing::debug!(
                                    action = %req.action(),
                                    attempt,
                                    wait_ms = wait.as_millis() as u64,
                                    error = %err,
                                    "retrying S3 request"
                                );
                            }
                            if !wait.is_zero() {
                                Transport::sleep(wait).await;
                            }
                            attempt += 1;
                        }
                        Decision::GiveUp => {
                            if let Some(ctx) = err.context_mut() {
                                ctx.attempts = attempt;
                            }
                            if is_bare_head_403(req, &err) {
                                let explained = self.explain_bare_403(req, err).await;
                                return Err(explained);
                            }
                            return Err(err);
                        }
                    }
                }
            }
        }
    }

    /// What the provider behind this client's endpoint does with
    /// conditional writes, checksums and listings: known already, or from
    /// the cache (see [`CapabilityCache`]), or found out now by the probe
    /// (about 30 requests on throwaway objects under
    /// `.konserve-s3-probe/`, removed at the end; ~50 ms on loopback). The
    /// findings are logged once (`tracing`, level INFO) and kept.
    ///
    /// The client uses them by itself: it sends `If-Match` in the ETag form
    /// the provider matches, refuses a conditional DELETE the provider
    /// would ignore, and checks the ETag before a conditional
    /// `CompleteMultipartUpload` the provider would not check.
    ///
    #[doc = mode::doc_example!("capabilities")]
    ///
    /// # Errors
    /// Failures of the probe's requests that say nothing about conditions
    /// (access denied, no such bucket, transient failures beyond the retry
    /// policy).
    pub async fn capabilities(&self) -> Result<Capabilities> {
        let inner = &self.inner;
        if let Some(c) = inner.capabilities.get() {
            return Ok(c.clone());
        }
        let cached = super::probe::cached(&inner.cache_key, inner.capability_cache, inner.loopback);
        let caps = match cached {
            Some(c) => {
                tracing::debug!(endpoint = %inner.cache_key, "S3 provider capabilities from the cache: {}", c.summary());
                c
            }
            None => {
                let c = super::probe::run(self).await?;
                tracing::info!(endpoint = %inner.cache_key, "S3 provider capabilities: {}", c.summary());
                super::probe::remember(
                    &inner.cache_key,
                    &c,
                    inner.capability_cache,
                    inner.loopback,
                );
                c
            }
        };
        let _ = inner.capabilities.set(caps);
        Ok(inner
            .capabilities
            .get()
            .cloned()
            .unwrap_or_else(Capabilities::assumed))
    }

    /// The capabilities `req` must be sent with, probing first if needed
    /// (`None`: sent as it is: it needs none, or `conditional-writes` is
    /// `off`).
    async fn capabilities_for(&self, req: &S3Request) -> Result<Option<Capabilities>> {
        if !req.needs_capabilities() {
            return Ok(None);
        }
        match (self.inner.capabilities.get(), self.inner.conditional_writes) {
            (Some(c), _) => Ok(Some(c.clone())),
            (None, ConditionalWrites::Auto) => Ok(Some(self.capabilities().await?)),
            (None, _) => Ok(None),
        }
    }

    /// Whether a 500 answer to a conditional PUT means that the write lost
    /// a race and did not land on this provider (Ceph RGW answers so when
    /// two writes pass the `If-Match` check together). Where the probe's
    /// race saw such answers, yes. Where it saw none but its rounds were
    /// exclusive, they may all have been serialized (under load, or with
    /// writers started one after another), so the first such answer runs
    /// the race again, with more rounds, once per client; a finding of
    /// 500s is then kept in the capability cache too. Anywhere else, no:
    /// the write's outcome stays unclear.
    async fn lost_race_answered_500(&self, caps: &Capabilities) -> bool {
        if caps.server_error_means_lost_race() {
            return true;
        }
        if !caps.race.is_some_and(|r| r.is_exclusive()) {
            return false;
        }
        if let Some(known) = self.inner.lost_race_500.get() {
            return *known;
        }
        // Another client in this process (or, with a disk cache, another
        // process) may have run the race again already.
        if super::probe::cached(
            &self.inner.cache_key,
            self.inner.capability_cache,
            self.inner.loopback,
        )
        .is_some_and(|c| c.server_error_means_lost_race())
        {
            let _ = self.inner.lost_race_500.set(true);
            return true;
        }
        let outcome = match super::probe::race_again(self, caps).await {
            Ok(outcome) => outcome,
            Err(e) => {
                // Asked again on the next such answer.
                tracing::debug!(error = %e, "could not run the race again");
                return false;
            }
        };
        let mut learned = caps.clone();
        learned.race = Some(outcome);
        let yes = learned.server_error_means_lost_race();
        tracing::info!(
            endpoint = %self.inner.cache_key,
            rounds = outcome.rounds,
            server_errors = outcome.server_errors,
            "a conditional write was answered 500; the race run again {}",
            if yes {
                "shows such writes lost a race and did not land"
            } else {
                "saw no lost race answered 500"
            }
        );
        if yes {
            super::probe::remember(
                &self.inner.cache_key,
                &learned,
                self.inner.capability_cache,
                self.inner.loopback,
            );
        }
        let _ = self.inner.lost_race_500.set(yes);
        yes
    }

    /// `req` with its body's checksum chosen ([`Self::body_checksum`]) and
    /// computed, once for all its attempts.
    pub(crate) fn with_body_checksum(&self, req: S3Request) -> S3Request {
        if !req.body_checksum_pending() || req.is_probe() {
            return req;
        }
        req.with_body_checksum(self.body_checksum())
    }

    /// The checksum a `PutObject` body carries: as configured, or under
    /// `checksum: auto` the one the provider checks, as far as the
    /// client knows its capabilities ([`Self::learn_capabilities`]);
    /// `Content-MD5` until then, and where nothing was probed.
    fn body_checksum(&self) -> BodyChecksum {
        match self.inner.checksum {
            Checksum::Md5 => BodyChecksum::Md5,
            Checksum::Crc32c => BodyChecksum::Crc32c,
            Checksum::Crc64nvme => BodyChecksum::Crc64nvme,
            Checksum::None => BodyChecksum::None,
            Checksum::Auto => self
                .inner
                .capabilities
                .get()
                .map_or(BodyChecksum::Md5, Capabilities::body_checksum),
        }
    }

    /// The checksum every part of a store's multipart upload carries: as
    /// configured, or under `checksum: auto` the one the probe saw checked
    /// on `UploadPart` (the `PutObject` one where the multipart form is
    /// checked too, else `Content-MD5`); `Content-MD5` where nothing was
    /// probed.
    pub(crate) fn part_checksum(&self) -> BodyChecksum {
        match self.inner.checksum {
            Checksum::Auto => self
                .inner
                .capabilities
                .get()
                .map_or(BodyChecksum::Md5, Capabilities::part_checksum),
            _ => self.body_checksum(),
        }
    }

    /// Before a store's first write under `checksum: auto` (and
    /// `conditional-writes: auto`): learns the provider's capabilities
    /// (from the cache, or by probing once), so that writes carry the
    /// cheapest checksum it checks. A probe that fails (say, no right to
    /// write `.konserve-s3-probe/`) is not an error here: writes carry
    /// `Content-MD5`, and the probe is not tried again for checksums.
    pub(crate) async fn learn_capabilities(&self) {
        let inner = &self.inner;
        if inner.checksum != Checksum::Auto
            || inner.conditional_writes != ConditionalWrites::Auto
            || inner.capabilities.get().is_some()
            || inner.checksum_probe_failed.get().is_some()
        {
            return;
        }
        if let Err(e) = self.capabilities().await {
            tracing::debug!(error = %e, "capability probe failed; writes carry Content-MD5");
            let _ = inner.checksum_probe_failed.set(());
        }
    }

    /// Sends `req` once with its signature replaced by zeros and returns
    /// the answer's status: whether the provider checks signatures at all
    /// (the capability probe).
    /// `None` when requests go unsigned (anonymous access).
    pub(crate) async fn send_with_forged_signature(&self, req: &S3Request) -> Result<Option<u16>> {
        let signer = self.inner.signing.signer(&self.inner.signer).await?;
        let mut signed = signer.sign(req);
        if !signed
            .url
            .query_pairs()
            .any(|(k, _)| k == "X-Amz-Signature")
        {
            return Ok(None);
        }
        let pairs: Vec<(String, String)> = signed
            .url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "X-Amz-Signature" {
                    "0".repeat(64)
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        signed.url.query_pairs_mut().clear().extend_pairs(pairs);
        match self.inner.transport.send(&signed).await {
            Ok((head, _)) => Ok(Some(head.status)),
            Err(e) => Err(self.transport_error(self.context(req), e).0),
        }
    }

    /// Whether the bucket exists (`HeadBucket`).
    ///
    /// # Errors
    /// Any error but "no such bucket".
    pub async fn bucket_exists(&self) -> Result<bool> {
        match self.execute(&S3Request::head_bucket()).await {
            Ok(_) => Ok(true),
            Err(Error::NoSuchBucket(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates the bucket; `Ok(false)` if this account already owns it.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] when someone else owns the name, and any
    /// other failure.
    pub async fn create_bucket(&self) -> Result<bool> {
        // Ceph RGW and moto answer a PUT of a bucket the account owns with
        // 200: ask first. (Two creators racing may both see `true`.)
        match self.bucket_exists().await {
            Ok(true) => return Ok(false),
            Ok(false) | Err(Error::AccessDenied(_)) => {}
            Err(e) => return Err(e),
        }
        let req = S3Request::create_bucket(self.inner.signer.region());
        match self.execute(&req).await {
            Ok(_) => Ok(true),
            Err(Error::AlreadyExists(c))
                if c.code.as_deref() == Some("BucketAlreadyOwnedByYou") =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes the (empty) bucket.
    ///
    /// # Errors
    /// [`Error::NoSuchBucket`], [`Error::Rejected`] with code
    /// `BucketNotEmpty`, …
    pub async fn delete_bucket(&self) -> Result<()> {
        self.execute(&S3Request::delete_bucket()).await.map(|_| ())
    }

    /// Stores `body` under `key`, with optional conditions. Returns the
    /// new ETag when the server sends one.
    ///
    /// # Errors
    /// [`Error::PreconditionFailed`] when a condition does not hold, and
    /// any other failure.
    pub async fn put_object(
        &self,
        key: &str,
        body: impl Into<Bytes>,
        conditions: &Conditions,
    ) -> Result<Option<String>> {
        self.put(key, Body::from(body.into()), conditions, None)
            .await
    }

    /// [`S3Client::put_object`] that also tags the object with `tag`
    /// (user metadata `x-amz-meta-konserve-write`, reported back by
    /// [`S3Client::head_object`] as [`ObjectInfo::write_tag`]): the way to
    /// tell this write from a byte-identical one after an unclear answer.
    ///
    /// # Errors
    /// As [`S3Client::put_object`].
    pub async fn put_object_tagged(
        &self,
        key: &str,
        body: impl Into<Bytes>,
        conditions: &Conditions,
        tag: &str,
    ) -> Result<Option<String>> {
        self.put(key, Body::from(body.into()), conditions, Some(tag))
            .await
    }

    /// `PutObject`, tagged with `tag` if any.
    pub(crate) async fn put(
        &self,
        key: &str,
        body: Body,
        conditions: &Conditions,
        tag: Option<&str>,
    ) -> Result<Option<String>> {
        let mut req = S3Request::put_object_body(key, body)?.with_conditions(conditions.clone());
        if let Some(tag) = tag {
            req = req.with_write_tag(tag);
        }
        let req = self.with_body_checksum(req);
        let caps = self.capabilities_for(&req).await?;
        if let Some(caps) = &caps
            && conditions.if_match.is_some()
            && let Some(refusal) = caps.unchecked_if_match(IfMatchOn::Put)
        {
            return Err(refusal);
        }
        let (head, _) = match self.execute(&req).await {
            Ok(answer) => answer,
            Err(e) => {
                let first_500 = e
                    .context()
                    .is_some_and(|c| c.status == Some(500) && c.attempts == 1);
                if conditions.if_match.is_some()
                    && first_500
                    && let Some(caps) = &caps
                    && self.lost_race_answered_500(caps).await
                {
                    // A refused condition: this provider answers a
                    // conditional write that lost a race with 500, and
                    // such writes do not land.
                    let mut ctx = e.context().cloned().unwrap_or_default();
                    ctx.message = Some(format!(
                        "{} (a 500 answer to a conditional write that lost a race on this provider)",
                        ctx.message.unwrap_or_default()
                    ));
                    return Err(Error::PreconditionFailed(Box::new(ctx)));
                }
                return Err(e);
            }
        };
        Ok(head.etag)
    }

    /// Reads an object, or a byte range of it.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist, and any other failure.
    pub async fn get_object(&self, key: &str, range: Option<ByteRange>) -> Result<GetObjectOutput> {
        self.get_object_if(key, range, &Conditions::NONE).await
    }

    /// Reads an object, or a byte range of it, if `conditions` hold
    /// (`If-Match`: only that version).
    ///
    /// # Errors
    /// [`Error::PreconditionFailed`] when a condition does not hold (also
    /// for an `If-Match` on a missing object), [`Error::NotFound`] when it
    /// does not exist, and any other failure.
    pub async fn get_object_if(
        &self,
        key: &str,
        range: Option<ByteRange>,
        conditions: &Conditions,
    ) -> Result<GetObjectOutput> {
        let req = S3Request::get_object(key, range)?.with_conditions(conditions.clone());
        let (head, body) = self.execute(&req).await?;
        if let Some(expected) = head.content_length
            && expected != body.len() as u64
        {
            return Err(Error::corrupt(
                self.context(&req),
                format!(
                    "body has {} bytes, Content-Length said {expected}",
                    body.len()
                ),
            ));
        }
        Ok(GetObjectOutput {
            total_size: head.total_size(),
            etag: head.etag,
            body,
        })
    }

    /// Reads a whole object only if its ETag is no longer `etag`
    /// (`If-None-Match: <etag>`): `None` when the server answers `304 Not
    /// Modified` (the object is still that version; no body was sent).
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist, and any other failure.
    pub async fn get_object_if_none_match(
        &self,
        key: &str,
        etag: &str,
    ) -> Result<Option<GetObjectOutput>> {
        let conditions = Conditions {
            if_none_match: Some(etag.to_owned()),
            ..Conditions::NONE
        };
        let req = S3Request::get_object(key, None)?.with_conditions(conditions);
        let (head, body) = self.execute(&req).await?;
        if head.status == 304 {
            return Ok(None);
        }
        if let Some(expected) = head.content_length
            && expected != body.len() as u64
        {
            return Err(Error::corrupt(
                self.context(&req),
                format!(
                    "body has {} bytes, Content-Length said {expected}",
                    body.len()
                ),
            ));
        }
        Ok(Some(GetObjectOutput {
            total_size: head.total_size(),
            etag: head.etag,
            body,
        }))
    }

    /// Metadata of an object (`HeadObject`).
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist, and any other failure.
    pub async fn head_object(&self, key: &str) -> Result<ObjectInfo> {
        let (head, _) = self.execute(&S3Request::head_object(key)?).await?;
        Ok(ObjectInfo::of(head))
    }

    /// Whether an object exists (`HeadObject`).
    ///
    /// # Errors
    /// Any failure but "not found".
    pub async fn object_exists(&self, key: &str) -> Result<bool> {
        match self.head_object(key).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes an object (deleting a missing object succeeds, as in S3).
    /// With `If-Match` in `conditions` it deletes only that version.
    ///
    /// # Errors
    /// [`Error::PreconditionFailed`] for a failed condition, and any other
    /// failure.
    pub async fn delete_object(&self, key: &str, conditions: &Conditions) -> Result<()> {
        let req = S3Request::delete_object(key)?.with_conditions(conditions.clone());
        if let Some(caps) = self.capabilities_for(&req).await?
            && let Some(refusal) = caps.unchecked_if_match(IfMatchOn::Delete)
        {
            return Err(refusal);
        }
        self.execute(&req).await.map(|_| ())
    }

    /// Deletes many objects with `DeleteObjects`, in batches of 1000.
    /// Every batch is tried; every key the server reports as failed makes
    /// the call fail.
    ///
    /// # Errors
    /// The first failure [`S3Client::delete_objects_reporting`] reports:
    /// a batch's request failure, or the classified per-key error of the
    /// first key that could not be deleted (with that key in the context).
    pub async fn delete_objects<S: AsRef<str>>(&self, keys: &[S]) -> Result<()> {
        match self.delete_objects_reporting(keys).await.into_iter().next() {
            Some(failure) => Err(failure.error),
            None => Ok(()),
        }
    }

    /// Deletes many objects with `DeleteObjects`, in batches of 1000 (one
    /// request each), going on past failures: returns what was left in
    /// place and why, one [`DeleteFailure`] per key the server reported
    /// (its `<Error>` entries, classified) and one per batch whose request
    /// failed as a whole (after the retry policy). Empty when every key is
    /// gone (deleting a missing key succeeds).
    pub async fn delete_objects_reporting<S: AsRef<str>>(&self, keys: &[S]) -> Vec<DeleteFailure> {
        let mut failures = Vec::new();
        for batch in keys.chunks(MAX_DELETE_BATCH) {
            let whole = |error| DeleteFailure {
                keys: batch.iter().map(|k| k.as_ref().to_owned()).collect(),
                error,
            };
            let req = match S3Request::delete_objects(batch) {
                Ok(req) => req,
                Err(e) => {
                    failures.push(whole(e));
                    continue;
                }
            };
            let body = match self.execute(&req).await {
                Ok((_, body)) => body,
                Err(e) => {
                    failures.push(whole(e));
                    continue;
                }
            };
            let reported = match responses::parse_delete_failures(&body, &self.context(&req)) {
                Ok(reported) => reported,
                Err(e) => {
                    failures.push(whole(e));
                    continue;
                }
            };
            for (key, code, message) in reported {
                let mut ctx = self.context(&req);
                ctx.key = Some(key.clone());
                let fields = S3ErrorBody {
                    code: Some(code),
                    message: Some(message),
                    request_id: None,
                };
                failures.push(DeleteFailure {
                    keys: vec![key],
                    error: classify_parsed(ctx, 400, fields, None, false),
                });
            }
        }
        failures
    }

    /// One page of `ListObjectsV2` under `prefix`.
    ///
    /// # Errors
    /// Any failure; [`Error::CorruptData`] for an unparseable answer.
    pub async fn list_page(
        &self,
        prefix: Option<&str>,
        continuation_token: Option<&str>,
        max_keys: Option<usize>,
    ) -> Result<ListPage> {
        let req = S3Request::list_objects_v2(prefix, continuation_token, max_keys);
        let (_, body) = self.execute(&req).await?;
        responses::parse_list_page(&body, &self.context(&req))
    }

    /// Every object under `prefix`, following continuation tokens.
    ///
    /// # Errors
    /// As [`S3Client::list_page`].
    pub async fn list_objects(&self, prefix: Option<&str>) -> Result<Vec<ListedObject>> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page(prefix, token.as_deref(), None).await?;
            all.extend(page.objects);
            match page.next_continuation_token {
                Some(t) if Some(&t) != token.as_ref() => token = Some(t),
                _ => return Ok(all),
            }
        }
    }

    /// Copies `source_key` to `key` within the bucket (server side).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a missing source, and any other failure
    /// (also one S3 reports inside a 200 answer).
    pub async fn copy_object(&self, source_key: &str, key: &str) -> Result<()> {
        let req = S3Request::copy_object(source_key, key)?;
        let (_, body) = self.execute(&req).await?;
        responses::check_embedded_error(&body, &self.context(&req))
    }

    /// Starts a multipart upload; returns its upload id.
    ///
    /// # Errors
    /// Any failure.
    pub async fn create_multipart_upload(&self, key: &str) -> Result<String> {
        self.create_upload(key, None, BodyChecksum::Md5).await
    }

    /// [`S3Client::create_multipart_upload`] whose object, once completed,
    /// carries the write tag `tag` (as [`S3Client::put_object_tagged`]).
    ///
    /// # Errors
    /// Any failure.
    pub async fn create_multipart_upload_tagged(&self, key: &str, tag: &str) -> Result<String> {
        self.create_upload(key, Some(tag), BodyChecksum::Md5).await
    }

    /// `CreateMultipartUpload`, tagged with `tag` if any, whose parts
    /// carry `checksum` (declared here where S3 wants it declared).
    pub(crate) async fn create_upload(
        &self,
        key: &str,
        tag: Option<&str>,
        checksum: BodyChecksum,
    ) -> Result<String> {
        let mut req = S3Request::create_multipart_upload(key)?.declaring_part_checksum(checksum);
        if let Some(tag) = tag {
            req = req.with_write_tag(tag);
        }
        let (_, body) = self.execute(&req).await?;
        responses::parse_upload_id(&body, &self.context(&req))
    }

    /// Uploads part `part_number` (from 1) with its `Content-MD5`; returns
    /// the part's ETag. (The multipart uploads of a store's writes carry
    /// the checksum `config.checksum` chooses.)
    ///
    /// # Errors
    /// Any failure; [`Error::CorruptData`] if the answer has no ETag.
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u16,
        body: impl Into<Bytes>,
    ) -> Result<String> {
        self.send_part(key, upload_id, part_number, body.into(), BodyChecksum::Md5)
            .await
            .map(|part| part.etag)
    }

    /// `UploadPart` carrying `checksum` of the part, computed once for all
    /// attempts (on the shared bytes, not a copy); returns the part as
    /// `CompleteMultipartUpload` lists it.
    pub(crate) async fn send_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u16,
        body: Bytes,
        checksum: BodyChecksum,
    ) -> Result<CompletedPart> {
        let req =
            S3Request::upload_part(key, upload_id, part_number, body)?.with_body_checksum(checksum);
        let (head, _) = self.execute(&req).await?;
        let etag = head
            .etag
            .ok_or_else(|| Error::corrupt(self.context(&req), "UploadPart answer has no ETag"))?;
        let checksum = checksum
            .xml_element()
            .zip(req.flexible_checksum())
            .map(|(element, value)| (element, value.to_owned()));
        Ok(CompletedPart { etag, checksum })
    }

    /// Completes a multipart upload from its parts' ETags, in order. The
    /// answer's ETag is not used (some servers leave it empty): HEAD the
    /// object when it is needed.
    ///
    /// Transient failures (5xx, throttling, timeouts, transport errors) are
    /// retried with the same conditions, as the [`RetryPolicy`] allows: the
    /// upload id makes a repeat harmless (see
    /// [`S3Request::is_safe_to_repeat`]).
    ///
    /// # Errors
    /// Any failure, also one reported inside a 200 answer. A failure after
    /// a repeat may hide an earlier attempt that landed: a 412 then comes
    /// as [`Error::PreconditionFailed`] with `attempts > 1`, and so does a
    /// `NoSuchUpload` (the upload is gone, most likely completed by that
    /// attempt), so that the caller checks the object before believing it.
    pub async fn complete_multipart_upload<S: AsRef<str>>(
        &self,
        key: &str,
        upload_id: &str,
        part_etags: &[S],
        conditions: &Conditions,
    ) -> Result<()> {
        let parts: Vec<CompletedPart> = part_etags
            .iter()
            .map(|etag| CompletedPart {
                etag: etag.as_ref().to_owned(),
                checksum: None,
            })
            .collect();
        self.complete_upload(key, upload_id, &parts, conditions)
            .await
    }

    /// [`S3Client::complete_multipart_upload`] listing each part's
    /// checksum next to its ETag (as an upload that declared a checksum
    /// algorithm must).
    pub(crate) async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        conditions: &Conditions,
    ) -> Result<()> {
        let mut req =
            S3Request::complete_parts(key, upload_id, parts)?.with_conditions(conditions.clone());
        let caps = self.capabilities_for(&req).await?;
        if let Some(caps) = caps
            && ((conditions.if_match.is_some() && !caps.complete_if_match.is_honoured())
                || (conditions.if_none_match.is_some()
                    && !caps.complete_if_none_match.is_honoured()))
        {
            // The provider would complete whatever the object is now:
            // check the conditions just before, and send none. What lands
            // between the HEAD and the Complete (one round trip) is
            // overwritten: docs/providers.md.
            let current = match self.head_object(key).await {
                Ok(info) => info.etag,
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            };
            if !conditions.hold_for(current.as_deref()) {
                let mut ctx = self.context(&req);
                ctx.message = Some(format!(
                    "the object changed before the upload completed (checked by HEAD: {} \
                     does not check conditions on CompleteMultipartUpload)",
                    caps.provider()
                ));
                return Err(Error::PreconditionFailed(Box::new(ctx)));
            }
            req = req.with_conditions(Conditions::NONE);
        }
        let (_, body) = match self.execute(&req).await {
            Ok(answer) => answer,
            // Settling (does the object carry our multipart ETag now?) is
            // the caller's: store/write.rs `settle` treats a repeated 412 as
            // unclear.
            Err(Error::NotFound(c))
                if c.attempts > 1 && c.code.as_deref() == Some("NoSuchUpload") =>
            {
                return Err(Error::PreconditionFailed(c));
            }
            Err(e) => return Err(e),
        };
        responses::check_embedded_error(&body, &self.context(&req))
    }

    /// Abandons a multipart upload and frees its parts.
    ///
    /// # Errors
    /// Any failure.
    pub async fn abort_multipart_upload(&self, key: &str, upload_id: &str) -> Result<()> {
        let req = S3Request::abort_multipart_upload(key, upload_id)?;
        self.execute(&req).await.map(|_| ())
    }

    /// Every multipart upload in progress under `prefix` (all of the bucket
    /// for `None`), following the key and upload-id markers.
    ///
    /// # Errors
    /// Any failure; [`Error::CorruptData`] for an unparseable answer.
    pub async fn list_multipart_uploads(
        &self,
        prefix: Option<&str>,
    ) -> Result<Vec<MultipartUpload>> {
        let mut all = Vec::new();
        let mut marker: Option<(String, String)> = None;
        loop {
            let req = S3Request::list_multipart_uploads(
                prefix,
                marker.as_ref().map(|m| m.0.as_str()),
                marker.as_ref().map(|m| m.1.as_str()),
            );
            let (_, body) = self.execute(&req).await?;
            let page = responses::parse_uploads_page(&body, &self.context(&req))?;
            all.extend(page.uploads);
            match page.next {
                Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
                _ => return Ok(all),
            }
        }
    }
}
