//! Configuration: [`S3Config`], its builder, its JSON form, and resolution
//! against the environment.
//!
//! The JSON form accepts the names of the Clojure konserve-s3 spec:
//!
//! ```json
//! {
//!   "backend": "s3",
//!   "bucket": "my-bucket",
//!   "id": "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10",
//!   "region": "us-east-1",
//!   "access-key": "…", "secret": "…", "session-token": "…",
//!   "endpoint-override": {"protocol": "http", "hostname": "127.0.0.1", "port": 8333, "path": ""},
//!   "path-style": true,
//!   "x-ray?": false,
//!   "config": {"optimistic-locking-retries": 0},
//!   "http": {"connect-timeout-ms": 5000, "response-timeout-ms": 30000, "io-timeout-ms": 30000,
//!            "max-idle-connections-per-host": 64, "presign-expiry-secs": 900},
//!   "retry": {"max-attempts": 6, "initial-backoff-ms": 50, "max-backoff-ms": 5000, "total-budget-ms": 60000}
//! }
//! ```
//!
//! `endpoint` (a URL string) may be given instead of `endpoint-override`;
//! `path-style-access?` is accepted as an alias of `path-style`. Unknown keys
//! are errors, so a typo does not silently fall back to a default; the error
//! names the key it most likely meant (`store-id`: did you mean `id`?).
//!
//! Resolution ([`S3Config::resolve`]) fills what the config leaves open from
//! the environment: credentials from `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, the region from
//! `AWS_REGION` / `AWS_DEFAULT_REGION` (else `us-east-1`), the endpoint from
//! `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` (else AWS's regional endpoint).
//! Path-style addressing is on by default for IP-address and `localhost`
//! endpoints and for bucket names with dots, off otherwise.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use url::Url;
use uuid::Uuid;

pub use crate::cache::CacheOptions;
use crate::codec::SegmentCap;
pub use crate::codec::blob::{Compressor, Encoding, Encryptor, Serializer};
pub use crate::credentials::chain::Source as CredentialsSource;
pub use crate::credentials::{Credentials, CredentialsReport, Environment, Secret, SourceOutcome};
use crate::error::{Error, Result};
pub use crate::retry::RetryPolicy;
pub use crate::tiered::{ReadPolicy, SyncStrategy, TieredOptions, WriteFailure, WritePolicy};

mod store_config;
pub use store_config::{StoreConfig, TIERED_JOURNAL_FILE, TieredConfig};

/// Longest accepted HTTP timeout (`http.*-timeout-ms`): 1 hour.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Longest accepted backoff ceiling (`retry.*-backoff-ms`,
/// `config.optimistic-locking-*backoff-ms`): 5 minutes.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Longest accepted `retry.total-budget-ms`: 1 day.
pub const MAX_RETRY_BUDGET: Duration = Duration::from_secs(86_400);
/// Largest accepted `config.keys-parallelism`.
pub const MAX_KEYS_PARALLELISM: usize = 1024;
/// Largest accepted `http.max-idle-connections-per-host`.
pub const MAX_IDLE_CONNECTIONS: usize = 4096;
/// Largest accepted `config.optimistic-locking-retries`.
pub const MAX_LOCKING_RETRIES: u32 = 1000;
/// Largest accepted `retry.max-attempts`.
pub const MAX_ATTEMPTS: u32 = 100;

/// Whether the provider's conditional writes (`If-Match`, `If-None-Match`)
/// are used and trusted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionalWrites {
    /// With optimistic locking on, probe the provider once at connect (write
    /// a random key twice with `If-None-Match: *`, expect 200 then 412) and
    /// refuse to connect if it ignores or rejects conditional writes.
    #[default]
    Auto,
    /// Trust the provider without probing.
    On,
    /// Never send conditional headers. Optimistic locking cannot be on.
    Off,
}

/// How the body of each `PutObject`, and of each part of a store's
/// multipart upload (a `bassoc_reader` value larger than one part), is
/// protected in flight (`config.checksum`): the provider recomputes the
/// checksum and refuses a body that does not match, so a byte flipped
/// between this process and the bucket never lands (a refused part is sent
/// again, like the whole `PutObject`).
///
/// A multipart upload keeps one choice for all its parts: under `crc32c`
/// its `CreateMultipartUpload` declares `x-amz-checksum-algorithm: CRC32C`,
/// each `UploadPart` carries the part's `x-amz-checksum-crc32c` and the
/// `CompleteMultipartUpload` lists it next to the part's ETag (S3's
/// `COMPOSITE` type); under `crc64nvme` the same with CRC-64/NVME and
/// `x-amz-checksum-type: FULL_OBJECT`, the only type AWS supports for it;
/// under `md5` each part carries `Content-MD5`; under `none`, nothing.
///
/// ```
/// use konserve_s3::config::{Checksum, S3Config};
///
/// let config = S3Config::from_json(r#"{"bucket": "my-bucket", "config": {"checksum": "crc32c"}}"#)?;
/// assert_eq!(config.store.checksum, Checksum::Crc32c);
/// # Ok::<(), konserve_s3::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checksum {
    /// `x-amz-checksum-crc32c` where the capability probe saw the provider
    /// check it (else `crc64nvme` where that is checked), `Content-MD5`
    /// otherwise, and where nothing was probed (`conditional-writes: on`
    /// or `off`, or a probe that could not run). A CRC costs a small
    /// fraction of MD5's CPU (hardware instructions). A store runs the
    /// probe before its first write unless the findings are known (cached
    /// per endpoint, see [`CapabilityCache`]); a bare `S3Client` uses them
    /// once it knows them (after [`capabilities`] or a conditional write)
    /// and sends `Content-MD5` until then. The parts of a multipart upload
    /// carry the same CRC where the probe also saw it checked on
    /// `UploadPart` (the `part_checksum` finding of
    /// [`Capabilities`](crate::s3::Capabilities)), `Content-MD5` otherwise.
    ///
    /// [`capabilities`]: crate::blocking::S3Client::capabilities
    #[default]
    Auto,
    /// `x-amz-checksum-crc32c` (CRC-32C, hardware-accelerated), always.
    Crc32c,
    /// `x-amz-checksum-crc64nvme` (CRC-64/NVME, AWS's default), always.
    Crc64nvme,
    /// `Content-MD5`, always: the one every S3-compatible server knows.
    Md5,
    /// No checksum on `PutObject` nor on parts. A body corrupted in flight
    /// (past TCP's and TLS's own checks) would land.
    None,
}

/// Where the findings of the capability probe
/// ([`S3Client::capabilities`](crate::blocking::S3Client::capabilities))
/// are kept, so that connecting again does not probe again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapabilityCache {
    /// In a file per endpoint under the user's cache directory (kept for
    /// a day) for remote endpoints; in the process for loopback ones,
    /// where another server may take the same port next.
    #[default]
    Auto,
    /// In a file per endpoint under `$KONSERVE_S3_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/konserve-s3`, else `~/.cache/konserve-s3`, kept for a
    /// day: a short-lived script probes once a day, not on every run.
    Disk,
    /// In the process only.
    Process,
    /// Nowhere: every client probes (once).
    Off,
}

/// Options of the konserve store (the spec's `config` map).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct StoreOptions {
    /// konserve's `:encoding`: serializer, compressor and encryptor of new
    /// blobs (and the AES key for reading encrypted ones). Default: boring
    /// (CBOR), no compression, no encryption.
    pub encoding: Encoding,
    /// konserve's `optimistic-locking-retries`: 0 (default) is off; with n > 0
    /// every read-modify-write writes conditionally (`If-Match` on the ETag it
    /// read, `If-None-Match: *` for a new key) and, on a conflict, re-reads
    /// and re-applies its function up to n more times.
    pub optimistic_locking_retries: u32,
    /// Whether conditional writes are used; see [`ConditionalWrites`].
    pub conditional_writes: ConditionalWrites,
    /// Where the probe's findings are cached; see [`CapabilityCache`].
    pub capability_cache: CapabilityCache,
    /// The checksum each `PutObject` body carries; see [`Checksum`].
    pub checksum: Checksum,
    /// Backoff ceiling before the first optimistic-locking retry, in
    /// milliseconds (full jitter, doubling). Default 10.
    #[serde(
        rename = "optimistic-locking-backoff-ms",
        with = "crate::retry::millis"
    )]
    pub locking_backoff: Duration,
    /// Largest backoff ceiling between optimistic-locking retries, in
    /// milliseconds. Default 1000.
    #[serde(
        rename = "optimistic-locking-max-backoff-ms",
        with = "crate::retry::millis"
    )]
    pub locking_max_backoff: Duration,
    /// How many metadata reads `Store::keys` keeps in flight.
    /// Each listed key costs one small ranged GET; with a round trip of `r`
    /// and `n` in flight, `keys` reads about `n / r` keys per second until
    /// the server is the limit. Raise it for a distant endpoint (S3 serves
    /// thousands of GETs per second per prefix); it also sets the threads
    /// the blocking API starts for it. Default 16, at least 1.
    pub keys_parallelism: usize,
    /// The largest metadata segment read, stored and once decoded
    /// (decompressed, as values in memory, or through references), in
    /// bytes. A larger one is
    /// [`CodecError::TooLarge`](crate::error::CodecError::TooLarge) before
    /// more is allocated; `Store::keys` holds at most `keys_parallelism`
    /// of these at once. Default 4 MiB (konserve's metadata is a small map).
    pub max_metadata_bytes: u64,
    /// The largest EDN value segment read, stored and once decoded, in
    /// bytes (binary values are not decoded and have no cap). Default 1 GiB.
    pub max_value_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            encoding: Encoding::default(),
            optimistic_locking_retries: 0,
            conditional_writes: ConditionalWrites::Auto,
            capability_cache: CapabilityCache::Auto,
            checksum: Checksum::Auto,
            locking_backoff: Duration::from_millis(10),
            locking_max_backoff: Duration::from_secs(1),
            keys_parallelism: 16,
            max_metadata_bytes: SegmentCap::METADATA.limit,
            max_value_bytes: SegmentCap::VALUE.limit,
        }
    }
}

impl StoreOptions {
    /// Whether optimistic locking is on.
    pub fn locking(&self) -> bool {
        self.optimistic_locking_retries > 0
    }

    /// The cap of metadata segments.
    pub(crate) fn metadata_cap(&self) -> SegmentCap {
        SegmentCap::METADATA.with_limit(self.max_metadata_bytes)
    }

    /// The cap of value segments.
    pub(crate) fn value_cap(&self) -> SegmentCap {
        SegmentCap::VALUE.with_limit(self.max_value_bytes)
    }
}

/// HTTP transport settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct HttpOptions {
    /// Time to establish a connection. Default 5 s.
    #[serde(rename = "connect-timeout-ms", with = "crate::retry::millis")]
    pub connect_timeout: Duration,
    /// Time from sending a request to receiving the answer's head. Default 30 s.
    #[serde(rename = "response-timeout-ms", with = "crate::retry::millis")]
    pub response_timeout: Duration,
    /// Longest stall of a single read or write of a body, so large streamed
    /// bodies have no overall limit but a dead peer is noticed. Default 30 s.
    #[serde(rename = "io-timeout-ms", with = "crate::retry::millis")]
    pub io_timeout: Duration,
    /// Idle connections kept per host; size it to the store's parallelism.
    /// Default 64.
    pub max_idle_connections_per_host: usize,
    /// Lifetime of each presigned URL, in seconds (S3 accepts 1 s to 7 days).
    /// Every attempt is signed afresh. Default 900.
    #[serde(rename = "presign-expiry-secs", with = "secs")]
    pub presign_expiry: Duration,
    /// The largest answer body read whole into memory, in bytes: an answer
    /// that declares more (or sends more without declaring a length) is
    /// refused before it is read, so a broken or hostile server cannot make
    /// the client hold an endless body. Streamed reads (`bget`) are not
    /// limited. Default 1088 MiB (a value of up to 1 GiB, the default
    /// `config.max-value-bytes`, with its metadata); at least 1024.
    pub max_body_bytes: u64,
}

/// The default `http.max-body-bytes`.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1088 << 20;

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(30),
            max_idle_connections_per_host: 64,
            presign_expiry: Duration::from_secs(900),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

/// Configuration of an S3-backed konserve store (or of a bare client).
///
/// Build it with [`S3Config::builder`] or parse the JSON form with
/// [`S3Config::from_json`]; both validate. `Debug` never shows the secret or
/// the session token.
///
/// ```
/// use konserve_s3::config::S3Config;
/// let config = S3Config::builder()
///     .bucket("my-bucket")
///     .id("4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10".parse().unwrap())
///     .endpoint("http://127.0.0.1:8333")
///     .credentials("access", "secret")
///     .build()
///     .unwrap();
/// assert!(!format!("{config:?}").contains("\"secret\""));
/// let resolved = config.resolve().unwrap();
/// assert!(resolved.path_style); // an IP endpoint
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3Config {
    /// The bucket (validated by S3's naming rules).
    pub bucket: String,
    /// The store id: prefix of every object of the store. Required for a store,
    /// not for bucket-level operations.
    pub id: Option<Uuid>,
    /// Signing region; `None` → environment, else `us-east-1`. `"auto"` is
    /// accepted (Cloudflare R2).
    pub region: Option<String>,
    /// Static credentials; `None` → AWS's default chain (environment,
    /// web identity, profile, container, instance metadata; see
    /// `DefaultCredentialsChain` in either mode).
    pub credentials: Option<Credentials>,
    /// Unsigned requests (public buckets): JSON `"credentials": "anonymous"`.
    pub anonymous: bool,
    /// Endpoint URL (`http(s)://host[:port][/path]`); `None` → environment,
    /// else AWS.
    pub endpoint: Option<Url>,
    /// Path-style (`host/bucket/key`) instead of virtual-host addressing;
    /// `None` → automatic (see the module docs).
    pub path_style: Option<bool>,
    /// konserve-s3's `x-ray?`: emit a `tracing` span per S3 request.
    pub request_spans: bool,
    /// Store options (the spec's `config` map).
    pub store: StoreOptions,
    /// HTTP transport settings.
    pub http: HttpOptions,
    /// Retry policy for transient failures.
    pub retry: RetryPolicy,
}

/// Builder of [`S3Config`].
#[derive(Clone, Debug, Default)]
pub struct S3ConfigBuilder {
    bucket: Option<String>,
    id: Option<Uuid>,
    region: Option<String>,
    credentials: Option<Credentials>,
    anonymous: bool,
    endpoint: Option<String>,
    path_style: Option<bool>,
    request_spans: bool,
    store: StoreOptions,
    http: HttpOptions,
    retry: RetryPolicy,
}

impl S3ConfigBuilder {
    /// The bucket (required).
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }
    /// The store id.
    pub fn id(mut self, id: Uuid) -> Self {
        self.id = Some(id);
        self
    }
    /// The signing region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
    /// Static credentials.
    pub fn credentials(mut self, access_key: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::new(access_key, secret));
        self
    }
    /// Static credentials with a session token, or any [`Credentials`].
    pub fn credentials_full(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }
    /// Unsigned requests, for public buckets (no credentials looked for).
    pub fn anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }
    /// The endpoint URL.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }
    /// Force path-style (`true`) or virtual-host (`false`) addressing.
    pub fn path_style(mut self, path_style: bool) -> Self {
        self.path_style = Some(path_style);
        self
    }
    /// Emit a `tracing` span per request.
    pub fn request_spans(mut self, on: bool) -> Self {
        self.request_spans = on;
        self
    }
    /// konserve's `optimistic-locking-retries`.
    pub fn optimistic_locking_retries(mut self, retries: u32) -> Self {
        self.store.optimistic_locking_retries = retries;
        self
    }
    /// Whether conditional writes are used (default: probe when locking is on).
    pub fn conditional_writes(mut self, mode: ConditionalWrites) -> Self {
        self.store.conditional_writes = mode;
        self
    }
    /// Where the capability probe's findings are kept (default
    /// [`CapabilityCache::Auto`]).
    pub fn capability_cache(mut self, cache: CapabilityCache) -> Self {
        self.store.capability_cache = cache;
        self
    }
    /// The checksum each `PutObject` body carries (default
    /// [`Checksum::Auto`]).
    pub fn checksum(mut self, checksum: Checksum) -> Self {
        self.store.checksum = checksum;
        self
    }
    /// How many metadata reads `keys` keeps in flight (default 16; see
    /// [`StoreOptions::keys_parallelism`]).
    pub fn keys_parallelism(mut self, in_flight: usize) -> Self {
        self.store.keys_parallelism = in_flight;
        self
    }
    /// All store options at once.
    pub fn store_options(mut self, options: StoreOptions) -> Self {
        self.store = options;
        self
    }
    /// HTTP settings.
    pub fn http(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }
    /// Retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn build(self) -> Result<S3Config> {
        let bucket = self
            .bucket
            .ok_or_else(|| Error::config("bucket", "missing"))?;
        let endpoint = self.endpoint.as_deref().map(parse_endpoint).transpose()?;
        let config = S3Config {
            bucket,
            id: self.id,
            region: self.region,
            credentials: self.credentials,
            anonymous: self.anonymous,
            endpoint,
            path_style: self.path_style,
            request_spans: self.request_spans,
            store: self.store,
            http: self.http,
            retry: self.retry,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Everything the client needs, with environment fallbacks applied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedConfig {
    /// Endpoint URL.
    pub endpoint: Url,
    /// Path-style addressing.
    pub path_style: bool,
    /// Signing region.
    pub region: String,
    /// Bucket.
    pub bucket: String,
    /// Where signing credentials come from.
    pub credentials: ResolvedCredentials,
    /// Tracing spans on.
    pub request_spans: bool,
    /// HTTP settings.
    pub http: HttpOptions,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Whether conditional writes are probed, trusted or off.
    pub conditional_writes: ConditionalWrites,
    /// Where the probe's findings are cached.
    pub capability_cache: CapabilityCache,
    /// The checksum each `PutObject` body carries.
    pub checksum: Checksum,
}

/// Where a client's signing credentials come from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolvedCredentials {
    /// These, from the configuration or `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`.
    Static(Credentials),
    /// None: requests are sent unsigned.
    Anonymous,
    /// The rest of AWS's default chain (web identity, profile, container,
    /// instance metadata), asked at the first request.
    DefaultChain,
}

impl S3Config {
    /// A builder.
    pub fn builder() -> S3ConfigBuilder {
        S3ConfigBuilder::default()
    }

    /// The store id, which a store requires.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] (field `id`) when it is missing.
    pub fn store_id(&self) -> Result<Uuid> {
        self.id
            .ok_or_else(|| Error::config("id", "missing: a store needs a UUID id"))
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        validate_bucket_name(&self.bucket)?;
        if let Some(region) = &self.region {
            validate_region(region)?;
        }
        if let Some(c) = &self.credentials {
            validate_credentials(c, ["access-key", "secret", "session-token"])?;
            if self.anonymous {
                return Err(Error::config(
                    "credentials",
                    "\"anonymous\" together with access-key / secret: give one",
                ));
            }
        }
        let h = &self.http;
        for (field, d) in [
            ("http.connect-timeout-ms", h.connect_timeout),
            ("http.response-timeout-ms", h.response_timeout),
            ("http.io-timeout-ms", h.io_timeout),
        ] {
            if d.is_zero() || d > MAX_TIMEOUT {
                return Err(Error::config(
                    field,
                    format!(
                        "must be between 1 and {} ms (1 hour)",
                        MAX_TIMEOUT.as_millis()
                    ),
                ));
            }
        }
        if !(1..=MAX_IDLE_CONNECTIONS).contains(&h.max_idle_connections_per_host) {
            return Err(Error::config(
                "http.max-idle-connections-per-host",
                format!("must be between 1 and {MAX_IDLE_CONNECTIONS}"),
            ));
        }
        if h.max_body_bytes < 1024 {
            return Err(Error::config(
                "http.max-body-bytes",
                "must be at least 1024 (S3's error answers must fit)",
            ));
        }
        let secs = h.presign_expiry.as_secs();
        if !(1..=604_800).contains(&secs) {
            return Err(Error::config(
                "http.presign-expiry-secs",
                "must be between 1 and 604800 (7 days)",
            ));
        }
        if self.store.locking() && self.store.conditional_writes == ConditionalWrites::Off {
            return Err(Error::config(
                "config.conditional-writes",
                "optimistic locking (optimistic-locking-retries > 0) needs conditional writes; \
                 \"off\" would lose updates silently",
            ));
        }
        if self.store.optimistic_locking_retries > MAX_LOCKING_RETRIES {
            return Err(Error::config(
                "config.optimistic-locking-retries",
                format!("must be at most {MAX_LOCKING_RETRIES}"),
            ));
        }
        for (field, d) in [
            (
                "config.optimistic-locking-backoff-ms",
                self.store.locking_backoff,
            ),
            (
                "config.optimistic-locking-max-backoff-ms",
                self.store.locking_max_backoff,
            ),
            ("retry.initial-backoff-ms", self.retry.initial_backoff),
            ("retry.max-backoff-ms", self.retry.max_backoff),
        ] {
            if d > MAX_BACKOFF {
                return Err(Error::config(
                    field,
                    format!("must be at most {} ms (5 minutes)", MAX_BACKOFF.as_millis()),
                ));
            }
        }
        if self.store.locking_backoff > self.store.locking_max_backoff {
            return Err(Error::config(
                "config.optimistic-locking-backoff-ms",
                "must not exceed optimistic-locking-max-backoff-ms",
            ));
        }
        if !(1..=MAX_KEYS_PARALLELISM).contains(&self.store.keys_parallelism) {
            return Err(Error::config(
                "config.keys-parallelism",
                format!("must be between 1 and {MAX_KEYS_PARALLELISM}"),
            ));
        }
        for cap in [self.store.metadata_cap(), self.store.value_cap()] {
            if cap.limit < 64 {
                return Err(Error::config(cap.setting, "must be at least 64 bytes"));
            }
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.retry.max_attempts) {
            return Err(Error::config(
                "retry.max-attempts",
                format!("must be between 1 (the first attempt only) and {MAX_ATTEMPTS}"),
            ));
        }
        if self.retry.initial_backoff > self.retry.max_backoff {
            return Err(Error::config(
                "retry.initial-backoff-ms",
                "must not exceed retry.max-backoff-ms",
            ));
        }
        if self.retry.total_budget > MAX_RETRY_BUDGET {
            return Err(Error::config(
                "retry.total-budget-ms",
                format!(
                    "must be at most {} ms (1 day)",
                    MAX_RETRY_BUDGET.as_millis()
                ),
            ));
        }
        Ok(())
    }

    /// Parses and validates the JSON form (see the module docs).
    ///
    /// ```
    /// use konserve_s3::{config::S3Config, Error};
    /// let c = S3Config::from_json(r#"{"bucket": "b-1", "id": "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10",
    ///   "endpoint-override": {"protocol": "http", "hostname": "localhost", "port": 9000},
    ///   "config": {"optimistic-locking-retries": 5}}"#).unwrap();
    /// assert_eq!(c.endpoint.unwrap().as_str(), "http://localhost:9000/");
    /// assert_eq!(c.store.optimistic_locking_retries, 5);
    /// let err = S3Config::from_json(r#"{"bucket": "b-1", "id": "nope"}"#).unwrap_err();
    /// assert!(matches!(err, Error::InvalidConfig { ref field, .. } if field == "id"));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field: unknown keys, wrong types,
    /// a non-UUID `id`, an invalid bucket name, an unknown protocol, …
    pub fn from_json(json: &str) -> Result<S3Config> {
        let map: Map<String, Json> = serde_json::from_str(json)
            .map_err(|e| Error::config("(document)", format!("not a JSON object: {e}")))?;
        let mut b = S3Config::builder();
        let mut endpoint: Option<String> = None;
        let mut access_key: Option<String> = None;
        let mut secret: Option<String> = None;
        let mut token: Option<String> = None;
        for (key, value) in map {
            match key.as_str() {
                "backend" => {
                    let v: String = field(&key, value)?;
                    if v != "s3" && v != ":s3" {
                        return Err(Error::config(
                            "backend",
                            format!("expected \"s3\", got {v:?}"),
                        ));
                    }
                }
                "bucket" => b.bucket = Some(field(&key, value)?),
                "id" => {
                    let s: String = field(&key, value)?;
                    let id = Uuid::parse_str(s.trim_start_matches("#uuid ").trim_matches('"'))
                        .map_err(|e| Error::config("id", format!("not a UUID: {e}")))?;
                    b.id = Some(id);
                }
                "region" => b.region = Some(field(&key, value)?),
                "access-key" => access_key = Some(field(&key, value)?),
                "secret" => secret = Some(field(&key, value)?),
                "session-token" => token = field(&key, value)?,
                "credentials" => {
                    let v: String = field(&key, value)?;
                    if v != "anonymous" && v != ":anonymous" {
                        return Err(Error::config(
                            "credentials",
                            format!(
                                "{v:?}: the only value is \"anonymous\" (give keys as access-key / secret)"
                            ),
                        ));
                    }
                    b.anonymous = true;
                }
                "endpoint" => {
                    if endpoint.is_some() {
                        return Err(Error::config(
                            "endpoint",
                            "give endpoint or endpoint-override, not both",
                        ));
                    }
                    endpoint = Some(field(&key, value)?);
                }
                "endpoint-override" => {
                    if endpoint.is_some() {
                        return Err(Error::config(
                            "endpoint-override",
                            "give endpoint or endpoint-override, not both",
                        ));
                    }
                    let o: EndpointOverride = nested(&key, value)?;
                    endpoint = Some(o.to_url_string()?);
                }
                "path-style" | "path-style-access?" | "path-style?" => {
                    b.path_style = Some(field(&key, value)?);
                }
                "x-ray?" | "x-ray" => b.request_spans = field(&key, value)?,
                "config" => b.store = nested(&key, value)?,
                "http" => b.http = nested(&key, value)?,
                "retry" => b.retry = nested(&key, value)?,
                other => return Err(unknown_key(other.to_owned(), other, JSON_KEYS)),
            }
        }
        match (access_key, secret) {
            (Some(a), Some(s)) => {
                let mut c = Credentials::new(a, s);
                if let Some(t) = token {
                    c = c.with_session_token(t);
                }
                b.credentials = Some(c);
            }
            (Some(_), None) => {
                return Err(Error::config("secret", "access-key given without secret"));
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    "access-key",
                    "secret given without access-key",
                ));
            }
            (None, None) if token.is_some() => {
                return Err(Error::config(
                    "session-token",
                    "given without access-key and secret",
                ));
            }
            (None, None) => {}
        }
        b.endpoint = endpoint;
        b.build()
    }

    /// Resolves against the process environment (see the module docs).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`]: a bad environment value, region `auto`
    /// without an endpoint. Missing credentials are no error here: the
    /// default chain looks for them at the first request.
    pub fn resolve(&self) -> Result<ResolvedConfig> {
        self.resolve_with(|name| std::env::var(name).ok())
    }

    /// Resolves against the variables that `env` returns (tests pass a map).
    ///
    /// # Errors
    /// As [`S3Config::resolve`].
    pub fn resolve_with(&self, env: impl Fn(&str) -> Option<String>) -> Result<ResolvedConfig> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let profile = profile_settings(&env);
        let region = match &self.region {
            Some(r) => r.clone(),
            None => match env("AWS_REGION")
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .or_else(|| profile.region.clone())
            {
                Some(r) => {
                    validate_region(&r).map_err(|_| {
                        Error::config(
                            "region",
                            format!(
                                "AWS_REGION/AWS_DEFAULT_REGION/the profile's region {r:?} is not a region name"
                            ),
                        )
                    })?;
                    r
                }
                None => "us-east-1".to_owned(),
            },
        };
        let credentials = match &self.credentials {
            _ if self.anonymous => ResolvedCredentials::Anonymous,
            Some(c) => ResolvedCredentials::Static(c.clone()),
            None => match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
                (Some(a), Some(s)) => {
                    let c = Credentials::new(a, s);
                    let c = match env("AWS_SESSION_TOKEN") {
                        Some(t) => c.with_session_token(t),
                        None => c,
                    };
                    validate_credentials(
                        &c,
                        [
                            "AWS_ACCESS_KEY_ID",
                            "AWS_SECRET_ACCESS_KEY",
                            "AWS_SESSION_TOKEN",
                        ],
                    )?;
                    ResolvedCredentials::Static(c)
                }
                _ => ResolvedCredentials::DefaultChain,
            },
        };
        let endpoint = match &self.endpoint {
            Some(e) => e.clone(),
            None => match env("AWS_ENDPOINT_URL_S3")
                .or_else(|| env("AWS_ENDPOINT_URL"))
                .or_else(|| profile.endpoint.clone())
            {
                Some(e) => parse_endpoint(&e)?,
                None if region == "auto" => {
                    return Err(Error::config(
                        "endpoint",
                        "region \"auto\" (Cloudflare R2) needs an endpoint",
                    ));
                }
                None => parse_endpoint(&format!("https://s3.{region}.amazonaws.com"))?,
            },
        };
        let path_style = self
            .path_style
            .unwrap_or_else(|| default_path_style(&endpoint, &self.bucket));
        Ok(ResolvedConfig {
            endpoint,
            path_style,
            region,
            bucket: self.bucket.clone(),
            credentials,
            request_spans: self.request_spans,
            http: self.http,
            retry: self.retry,
            conditional_writes: self.store.conditional_writes,
            capability_cache: self.store.capability_cache,
            checksum: self.store.checksum,
        })
    }
}

/// What the profile (`AWS_PROFILE`, else `default`) of the shared files
/// says about S3: its `region` and endpoint (`services` section or
/// `endpoint_url`). Unreadable files count as absent here; the credential
/// chain reports them.
#[derive(Default)]
struct ProfileSettings {
    region: Option<String>,
    endpoint: Option<String>,
}

fn profile_settings(env: &dyn Fn(&str) -> Option<String>) -> ProfileSettings {
    use crate::credentials::profile;
    let vars = [
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "HOME",
        "USERPROFILE",
    ];
    let env = crate::credentials::Environment::from_pairs(
        vars.iter().filter_map(|v| env(v).map(|value| (*v, value))),
    );
    let read = |p: &std::path::Path| std::fs::read_to_string(p);
    let Ok(Some(profiles)) = profile::load(&env, &read) else {
        return ProfileSettings::default();
    };
    let (name, _) = env.profile();
    ProfileSettings {
        region: profile::region(&profiles, &name),
        endpoint: profile::endpoint_url(&profiles, &name, "s3"),
    }
}

fn field<T: serde::de::DeserializeOwned>(name: &str, value: Json) -> Result<T> {
    serde_json::from_value(value).map_err(|e| serde_error(name.to_owned(), &e))
}

/// The top-level keys of the JSON form, for "did you mean" (keep in step
/// with the `match` of [`S3Config::from_json`]).
const JSON_KEYS: &[&str] = &[
    "backend",
    "bucket",
    "id",
    "region",
    "access-key",
    "secret",
    "session-token",
    "credentials",
    "endpoint",
    "endpoint-override",
    "path-style",
    "path-style-access?",
    "x-ray?",
    "config",
    "http",
    "retry",
];

/// Names people give keys of the JSON form, from other tools' configs.
const KEY_ALIASES: &[(&str, &str)] = &[
    ("store-id", "id"),
    ("uuid", "id"),
    ("access-key-id", "access-key"),
    ("aws-access-key-id", "access-key"),
    ("secret-key", "secret"),
    ("secret-access-key", "secret"),
    ("aws-secret-access-key", "secret"),
    ("endpoint-url", "endpoint"),
    ("force-path-style", "path-style"),
];

/// The error for `key` (at `field`, its full path), unknown among `known`:
/// the key it most likely means, or the keys there are.
fn unknown_key(field: String, key: &str, known: &[&str]) -> Error {
    let reason = match did_you_mean(key, known) {
        Some(k) => format!("unknown key: did you mean `{k}`?"),
        None => format!(
            "unknown key: the keys here are {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Error::config(field, reason)
}

/// The known key that `key` most likely means: the same after `_` → `-`,
/// case, `:` and `?` are set aside; a known alias; a last `-` part that
/// is a key (`store-id`); the one key it begins (`host`); else the
/// nearest by edit distance, if near.
fn did_you_mean<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let norm = |k: &str| {
        k.trim_start_matches(':')
            .trim_end_matches('?')
            .to_ascii_lowercase()
            .replace('_', "-")
    };
    let key = norm(key);
    let find = |want: &str| known.iter().copied().find(|k| norm(k) == want);
    if let Some(k) = find(&key) {
        return Some(k);
    }
    if let Some(k) = KEY_ALIASES
        .iter()
        .find(|(alias, _)| *alias == key)
        .and_then(|(_, k)| find(k))
    {
        return Some(k);
    }
    if let Some(k) = key.rsplit_once('-').and_then(|(_, last)| find(last)) {
        return Some(k);
    }
    // A key cut short (`host` for `hostname`): when only one key starts so.
    let mut longer = known.iter().copied().filter(|k| norm(k).starts_with(&key));
    if let (Some(k), None) = (longer.next(), longer.next())
        && key.len() >= 3
    {
        return Some(k);
    }
    known
        .iter()
        .copied()
        .map(|k| (edit_distance(&key, &norm(k)), k))
        .filter(|(d, _)| *d <= (key.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// serde's error for the value at `field` (its full path), in this
/// crate's words: an unknown key gets a "did you mean", a number of the
/// wrong form says what number is wanted.
fn serde_error(field: String, e: &serde_json::Error) -> Error {
    let text = e.to_string();
    // serde: "unknown field `x`, expected one of `a`, `b`" (or "expected
    // `a` or `b`", or "there are no fields").
    if let Some(rest) = text.strip_prefix("unknown field `")
        && let Some((key, expected)) = rest.split_once('`')
    {
        let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        return unknown_key(field, key, &known);
    }
    let wanted = [
        ("expected u8", 255u64),
        ("expected u16", u64::from(u16::MAX)),
        ("expected u32", u64::from(u32::MAX)),
        ("expected u64", u64::MAX),
        ("expected usize", usize::MAX as u64),
    ]
    .into_iter()
    .find(|(w, _)| text.ends_with(w));
    let reason = match wanted {
        Some((w, max)) => {
            let quoted = if text.starts_with("invalid type: string") {
                ", without quotes"
            } else {
                ""
            };
            format!(
                "{}expected a whole number from 0 to {max}{quoted}",
                &text[..text.len() - w.len()]
            )
        }
        None => text,
    };
    Error::config(field, reason)
}

/// A map-valued setting (`config`, `http`, `retry`, `endpoint-override`);
/// an error names the key inside it (`config.keys-parallelism`), found by
/// reading each key on its own (every field of these maps has a default).
fn nested<T: serde::de::DeserializeOwned>(name: &str, value: Json) -> Result<T> {
    let Json::Object(map) = &value else {
        return field(name, value);
    };
    let whole = serde_json::from_value::<T>(value.clone());
    whole.map_err(|e| {
        for (key, v) in map {
            let one = Json::Object(Map::from_iter([(key.clone(), v.clone())]));
            if let Err(e) = serde_json::from_value::<T>(one) {
                return serde_error(format!("{name}.{key}"), &e);
            }
        }
        serde_error(name.to_owned(), &e)
    })
}

/// konserve-s3's `endpoint-override` map.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointOverride {
    protocol: Option<String>,
    hostname: Option<String>,
    port: Option<u16>,
    path: Option<String>,
}

impl EndpointOverride {
    fn to_url_string(&self) -> Result<String> {
        let protocol = self
            .protocol
            .as_deref()
            .unwrap_or("https")
            .trim_start_matches(':');
        if protocol != "http" && protocol != "https" {
            return Err(Error::config(
                "endpoint-override.protocol",
                format!("unknown protocol {protocol:?}: use \"http\" or \"https\""),
            ));
        }
        let host = self
            .hostname
            .as_deref()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::config("endpoint-override.hostname", "missing"))?;
        if let Some(ch) = host
            .chars()
            .find(|&ch| ch.is_control() || ch.is_whitespace() || "/?#@\\%".contains(ch))
        {
            return Err(Error::config(
                "endpoint-override.hostname",
                format!(
                    "{host:?} is not a host name: it contains {ch:?}; \
                     give the path in endpoint-override.path and the port in endpoint-override.port"
                ),
            ));
        }
        if self.port == Some(0) {
            return Err(Error::config(
                "endpoint-override.port",
                "port 0 is not a port: give 1 to 65535, or leave it out for the protocol's default",
            ));
        }
        let mut s = format!("{protocol}://{host}");
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        if let Some(path) = self.path.as_deref().filter(|p| !p.is_empty()) {
            if !path.starts_with('/') {
                s.push('/');
            }
            s.push_str(path);
        }
        Ok(s)
    }
}

fn parse_endpoint(s: &str) -> Result<Url> {
    let url = Url::parse(s).map_err(|e| Error::config("endpoint", format!("{s:?}: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(Error::config(
            "endpoint",
            format!("unknown protocol {:?}: use http or https", url.scheme()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config("endpoint", "no host"));
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(Error::config(
            "endpoint",
            "must not carry user info, a query string or a #fragment",
        ));
    }
    if url.port() == Some(0) {
        return Err(Error::config(
            "endpoint",
            "port 0 is not a port: give 1 to 65535, or none for the scheme's default",
        ));
    }
    Ok(url)
}

/// Checks credentials; `fields` name the access key, the secret and the
/// token as the user gave them. Messages never show the secret or the token.
fn validate_credentials(c: &Credentials, fields: [&str; 3]) -> Result<()> {
    let [access_key, secret, token] = fields;
    if c.access_key.is_empty() {
        return Err(Error::config(access_key, "empty"));
    }
    if let Some(i) = c
        .access_key
        .find(|ch: char| ch.is_control() || ch.is_whitespace())
    {
        return Err(Error::config(
            access_key,
            format!(
                "contains whitespace or a control character at byte {i}; \
                 copy the access key id without line breaks or spaces"
            ),
        ));
    }
    if c.secret.expose().is_empty() {
        return Err(Error::config(secret, "empty"));
    }
    let texts = [(secret, Some(&c.secret)), (token, c.session_token.as_ref())];
    for (field, value) in texts {
        if let Some(i) = value.and_then(|v| {
            v.expose()
                .find(|ch: char| ch.is_control() || ch.is_whitespace())
        }) {
            return Err(Error::config(
                field,
                format!(
                    "contains whitespace or a control character at byte {i}; \
                     copy it without line breaks or spaces"
                ),
            ));
        }
    }
    Ok(())
}

fn default_path_style(endpoint: &Url, bucket: &str) -> bool {
    let host = endpoint.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>().is_ok()
        || host == "localhost"
        || host.ends_with(".localhost")
        || bucket.contains('.')
}

fn validate_region(region: &str) -> Result<()> {
    if region.is_empty()
        || region.len() > 64
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(Error::config(
            "region",
            format!("{region:?} is not a region name (lowercase letters, digits, `-`)"),
        ));
    }
    Ok(())
}

/// Checks a bucket name against S3's rules for general-purpose buckets.
///
/// ```
/// use konserve_s3::config::validate_bucket_name;
/// assert!(validate_bucket_name("my-bucket.v2").is_ok());
/// assert!(validate_bucket_name("My_Bucket").is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidConfig`] (field `bucket`) saying which rule is broken.
pub fn validate_bucket_name(name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::config("bucket", format!("{name:?}: {why}")));
    if name.len() < 3 || name.len() > 63 {
        return bad("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("only lowercase letters, digits, `.` and `-` are allowed");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return bad("must begin and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return bad("must not contain `..`, `.-` or `-.`");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("must not be formatted as an IP address");
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return bad("uses a prefix reserved by S3");
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return bad("uses a suffix reserved by S3");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_listed_json_key_is_accepted() {
        for key in super::JSON_KEYS {
            let json = format!(r#"{{"bucket": "b-1", "{key}": null}}"#);
            if let Err(Error::InvalidConfig { field, reason }) = S3Config::from_json(&json) {
                assert!(
                    !reason.starts_with("unknown key"),
                    "{key}: {field}: {reason}"
                );
            }
        }
    }

    use std::collections::HashMap;

    use super::*;

    fn field_of(e: Error) -> String {
        match e {
            Error::InvalidConfig { field, .. } => field,
            other => panic!("not a config error: {other}"),
        }
    }

    #[test]
    fn bucket_rules() {
        for ok in ["abc", "a-b.c", "123", "my-bucket-2024", &"a".repeat(63)] {
            validate_bucket_name(ok).unwrap();
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Abc",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a b",
        ] {
            assert_eq!(
                field_of(validate_bucket_name(bad).unwrap_err()),
                "bucket",
                "{bad}"
            );
        }
    }

    #[test]
    fn json_names_the_bad_field() {
        let cases = [
            (r#"{"bucket": "Bad_Name"}"#, "bucket"),
            (r#"{"bucket": "ok-b", "id": "zzz"}"#, "id"),
            (r#"{"bucket": "ok-b", "id": 5}"#, "id"),
            (
                r#"{"bucket": "ok-b", "endpoint-override": {"protocol": "ftp", "hostname": "h"}}"#,
                "endpoint-override.protocol",
            ),
            (
                r#"{"bucket": "ok-b", "endpoint-override": {"protocol": "http"}}"#,
                "endpoint-override.hostname",
            ),
            (r#"{"bucket": "ok-b", "endpoint": "ftp://x"}"#, "endpoint"),
            (r#"{"bucket": "ok-b", "endpoint": "not a url"}"#, "endpoint"),
            (
                r#"{"bucket": "ok-b", "config": {"optimistic-locking-retries": -1}}"#,
                "config.optimistic-locking-retries",
            ),
            (r#"{"bucket": "ok-b", "bukket": "x"}"#, "bukket"),
            (r#"{"bucket": "ok-b", "access-key": "a"}"#, "secret"),
            (r#"{"bucket": "ok-b", "region": "US East"}"#, "region"),
            (
                r#"{"bucket": "ok-b", "http": {"connect-timeout-ms": 0}}"#,
                "http.connect-timeout-ms",
            ),
            (
                r#"{"bucket": "ok-b", "retry": {"max-attempts": 0}}"#,
                "retry.max-attempts",
            ),
            (
                r#"{"bucket": "ok-b", "config": {"keys-parallelism": 0}}"#,
                "config.keys-parallelism",
            ),
            (
                r#"{"id": "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10"}"#,
                "bucket",
            ),
            (r#"[1]"#, "(document)"),
        ];
        for (json, expected) in cases {
            let err = S3Config::from_json(json).unwrap_err();
            assert_eq!(field_of(err), expected, "{json}");
        }
    }

    #[test]
    fn json_accepts_the_clojure_spec() {
        let c = S3Config::from_json(
            r##"{"backend": "s3", "bucket": "konserve-test", "id": "#uuid \"4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10\"",
                "region": "auto", "access-key": "AK", "secret": "SK", "session-token": "ST",
                "endpoint-override": {"protocol": ":https", "hostname": "acct.r2.cloudflarestorage.com", "path": "x"},
                "path-style-access?": false, "x-ray?": true,
                "config": {"optimistic-locking-retries": 10, "conditional-writes": "on", "optimistic-locking-backoff-ms": 5, "keys-parallelism": 48},
                "retry": {"max-attempts": 3}}"##,
        )
        .unwrap();
        assert_eq!(
            c.id.unwrap().to_string(),
            "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10"
        );
        assert_eq!(
            c.endpoint.as_ref().unwrap().as_str(),
            "https://acct.r2.cloudflarestorage.com/x"
        );
        assert_eq!(c.region.as_deref(), Some("auto"));
        assert_eq!(c.path_style, Some(false));
        assert!(c.request_spans);
        assert_eq!(c.store.optimistic_locking_retries, 10);
        assert_eq!(c.store.conditional_writes, ConditionalWrites::On);
        assert_eq!(c.store.locking_backoff, Duration::from_millis(5));
        assert_eq!(c.store.locking_max_backoff, Duration::from_secs(1));
        assert_eq!(c.store.keys_parallelism, 48);
        assert_eq!(c.retry.max_attempts, 3);
        let creds = c.credentials.as_ref().unwrap();
        assert_eq!(creds.session_token.as_ref().unwrap().expose(), "ST");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("SK") && !dbg.contains("ST"), "{dbg}");
        let r = c.resolve_with(|_| None).unwrap();
        assert_eq!(r.region, "auto");
        assert!(!r.path_style);
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("\"SK\"") && !dbg.contains("\"ST\""), "{dbg}");
    }

    #[test]
    fn environment_fills_the_gaps() {
        let env: HashMap<&str, &str> = HashMap::from([
            ("AWS_ACCESS_KEY_ID", "ENVAK"),
            ("AWS_SECRET_ACCESS_KEY", "ENVSK"),
            ("AWS_SESSION_TOKEN", "ENVST"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://localhost:9000"),
        ]);
        let c = S3Config::builder().bucket("b-1").build().unwrap();
        let r = c
            .resolve_with(|k| env.get(k).map(|v| v.to_string()))
            .unwrap();
        let ResolvedCredentials::Static(creds) = &r.credentials else {
            panic!("{r:?}")
        };
        assert_eq!(creds.access_key, "ENVAK");
        assert_eq!(creds.session_token.as_ref().unwrap().expose(), "ENVST");
        assert_eq!(r.region, "eu-west-1");
        assert_eq!(r.endpoint.as_str(), "http://localhost:9000/");
        assert!(r.path_style);
        // AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL, AWS_REGION over AWS_DEFAULT_REGION.
        let env2: HashMap<&str, &str> = HashMap::from([
            ("AWS_ACCESS_KEY_ID", "A"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://localhost:9000"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9001"),
        ]);
        let r = c
            .resolve_with(|k| env2.get(k).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(r.region, "us-west-2");
        assert_eq!(r.endpoint.port(), Some(9001));
        // Nothing at all: AWS, us-east-1, virtual host, the default chain.
        let r = c.resolve_with(|_| None).unwrap();
        assert_eq!(r.credentials, ResolvedCredentials::DefaultChain);
        assert_eq!(r.region, "us-east-1");
        let c = S3Config::builder()
            .bucket("b-1")
            .credentials("a", "s")
            .build()
            .unwrap();
        let r = c.resolve_with(|_| None).unwrap();
        assert_eq!(r.endpoint.as_str(), "https://s3.us-east-1.amazonaws.com/");
        assert!(!r.path_style);
        let c = S3Config::builder()
            .bucket("b.dotted")
            .credentials("a", "s")
            .build()
            .unwrap();
        assert!(c.resolve_with(|_| None).unwrap().path_style);
        let c = S3Config::builder()
            .bucket("b-1")
            .region("auto")
            .credentials("a", "s")
            .build()
            .unwrap();
        assert_eq!(field_of(c.resolve_with(|_| None).unwrap_err()), "endpoint");
    }

    /// Settings that make no sense are refused, through the builder and the
    /// JSON form alike, with the full path of the field and its bound.
    #[test]
    fn nonsense_values_are_refused_with_their_full_path() {
        let ok = || S3Config::builder().bucket("ok-b");
        let http = |f: fn(&mut HttpOptions)| {
            let mut h = HttpOptions::default();
            f(&mut h);
            ok().http(h)
        };
        let store = |f: fn(&mut StoreOptions)| {
            let mut o = StoreOptions::default();
            f(&mut o);
            ok().store_options(o)
        };
        let retry = |f: fn(&mut RetryPolicy)| {
            let mut r = RetryPolicy::default();
            f(&mut r);
            ok().retry(r)
        };
        let max = u64::MAX;
        let cases: Vec<(S3ConfigBuilder, String, &str, &str)> = vec![
            (
                http(|h| h.connect_timeout = Duration::from_millis(u64::MAX)),
                format!(r#""http": {{"connect-timeout-ms": {max}}}"#),
                "http.connect-timeout-ms",
                "3600000",
            ),
            (
                http(|h| h.response_timeout = Duration::from_secs(3601)),
                r#""http": {"response-timeout-ms": 3601000}"#.into(),
                "http.response-timeout-ms",
                "1 hour",
            ),
            (
                http(|h| h.io_timeout = Duration::from_millis(u64::MAX)),
                format!(r#""http": {{"io-timeout-ms": {max}}}"#),
                "http.io-timeout-ms",
                "1 hour",
            ),
            (
                http(|h| h.max_body_bytes = 10),
                r#""http": {"max-body-bytes": 10}"#.into(),
                "http.max-body-bytes",
                "1024",
            ),
            (
                http(|h| h.max_idle_connections_per_host = usize::MAX),
                format!(r#""http": {{"max-idle-connections-per-host": {max}}}"#),
                "http.max-idle-connections-per-host",
                "4096",
            ),
            (
                store(|o| o.keys_parallelism = 1_000_000_000),
                r#""config": {"keys-parallelism": 1000000000}"#.into(),
                "config.keys-parallelism",
                "1024",
            ),
            (
                store(|o| o.optimistic_locking_retries = u32::MAX),
                format!(
                    r#""config": {{"optimistic-locking-retries": {}}}"#,
                    u32::MAX
                ),
                "config.optimistic-locking-retries",
                "1000",
            ),
            (
                store(|o| {
                    o.locking_backoff = Duration::from_millis(u64::MAX);
                    o.locking_max_backoff = Duration::from_millis(u64::MAX);
                }),
                format!(
                    r#""config": {{"optimistic-locking-backoff-ms": {max}, "optimistic-locking-max-backoff-ms": {max}}}"#
                ),
                "config.optimistic-locking-backoff-ms",
                "5 minutes",
            ),
            (
                retry(|r| r.initial_backoff = Duration::from_millis(u64::MAX)),
                format!(r#""retry": {{"initial-backoff-ms": {max}}}"#),
                "retry.initial-backoff-ms",
                "300000",
            ),
            (
                retry(|r| r.max_backoff = Duration::from_millis(u64::MAX)),
                format!(r#""retry": {{"max-backoff-ms": {max}}}"#),
                "retry.max-backoff-ms",
                "5 minutes",
            ),
            (
                retry(|r| {
                    r.initial_backoff = Duration::from_secs(10);
                    r.max_backoff = Duration::from_secs(1);
                }),
                r#""retry": {"initial-backoff-ms": 10000, "max-backoff-ms": 1000}"#.into(),
                "retry.initial-backoff-ms",
                "retry.max-backoff-ms",
            ),
            (
                retry(|r| r.total_budget = huge_budget()),
                format!(r#""retry": {{"total-budget-ms": {max}}}"#),
                "retry.total-budget-ms",
                "1 day",
            ),
            (
                retry(|r| r.max_attempts = u32::MAX),
                format!(r#""retry": {{"max-attempts": {}}}"#, u32::MAX),
                "retry.max-attempts",
                "100",
            ),
            (
                ok().endpoint("http://127.0.0.1:8333/#frag"),
                r#""endpoint": "http://127.0.0.1:8333/#frag""#.into(),
                "endpoint",
                "fragment",
            ),
            (
                ok().endpoint("http://127.0.0.1:0"),
                r#""endpoint": "http://127.0.0.1:0""#.into(),
                "endpoint",
                "port 0",
            ),
            (
                ok().credentials("AK\nID", "secret"),
                r#""access-key": "AK\nID", "secret": "s""#.into(),
                "access-key",
                "control character",
            ),
            (
                ok().credentials("AK ID", "secret"),
                r#""access-key": "AK ID", "secret": "s""#.into(),
                "access-key",
                "whitespace",
            ),
            (
                ok().credentials("AKID", "sec\u{7f}ret"),
                r#""access-key": "AKID", "secret": "sec\u007fret""#.into(),
                "secret",
                "control character",
            ),
            (
                ok().credentials_full(Credentials::new("AKID", "s").with_session_token("to\rken")),
                r#""access-key": "AKID", "secret": "s", "session-token": "to\rken""#.into(),
                "session-token",
                "control character",
            ),
        ];
        for (builder, json, path, bound) in cases {
            for err in [
                builder.build().unwrap_err(),
                S3Config::from_json(&format!(r#"{{"bucket": "ok-b", {json}}}"#)).unwrap_err(),
            ] {
                let text = err.to_string();
                assert!(text.contains(bound), "{path}: {text}");
                assert!(!text.contains("sec\u{7f}ret") && !text.contains("to\rken"));
                assert_eq!(field_of(err), path, "{json}");
            }
        }
        // `endpoint-override` parts are named by their own path.
        for (json, path) in [
            (
                r#"{"protocol": "http", "hostname": "a/b", "port": 9000}"#,
                "endpoint-override.hostname",
            ),
            (
                r#"{"protocol": "http", "hostname": "a#b"}"#,
                "endpoint-override.hostname",
            ),
            (
                r#"{"protocol": "http", "hostname": "h", "port": 0}"#,
                "endpoint-override.port",
            ),
            (
                r#"{"protocol": "http", "hostname": "h", "port": 70000}"#,
                "endpoint-override.port",
            ),
        ] {
            let json = format!(r#"{{"bucket": "ok-b", "endpoint-override": {json}}}"#);
            let err = S3Config::from_json(&json).unwrap_err();
            assert_eq!(field_of(err), path, "{json}");
        }
        // A bad value inside a map names its key, not the map.
        let err = S3Config::from_json(r#"{"bucket": "ok-b", "config": {"keys-parallelism": -1}}"#)
            .unwrap_err();
        assert_eq!(field_of(err), "config.keys-parallelism");
        let err = S3Config::from_json(r#"{"bucket": "ok-b", "http": {"bogus": 1}}"#).unwrap_err();
        assert_eq!(field_of(err), "http.bogus");
        // Environment credentials are checked as well, by their variable.
        let c = S3Config::builder().bucket("ok-b").build().unwrap();
        let env = HashMap::from([
            ("AWS_ACCESS_KEY_ID", "AK\nID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        let err = c
            .resolve_with(|k| env.get(k).map(|v| v.to_string()))
            .unwrap_err();
        assert_eq!(field_of(err), "AWS_ACCESS_KEY_ID");
        // The bounds themselves are accepted.
        let h = HttpOptions {
            connect_timeout: MAX_TIMEOUT,
            ..HttpOptions::default()
        };
        let o = StoreOptions {
            keys_parallelism: MAX_KEYS_PARALLELISM,
            ..StoreOptions::default()
        };
        ok().http(h).store_options(o).build().unwrap();
    }

    fn huge_budget() -> Duration {
        Duration::from_millis(u64::MAX)
    }

    #[test]
    fn store_id_is_required_for_stores() {
        let c = S3Config::builder().bucket("b-1").build().unwrap();
        assert_eq!(field_of(c.store_id().unwrap_err()), "id");
    }

    #[test]
    fn anonymous_access() {
        let c = S3Config::from_json(r#"{"bucket": "b-1", "credentials": "anonymous"}"#).unwrap();
        assert!(c.anonymous);
        let env = HashMap::from([("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S")]);
        let r = c
            .resolve_with(|k| env.get(k).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(r.credentials, ResolvedCredentials::Anonymous);
        let err = S3Config::from_json(r#"{"bucket": "b-1", "credentials": "static"}"#).unwrap_err();
        assert_eq!(field_of(err), "credentials");
        let err = S3Config::from_json(
            r#"{"bucket": "b-1", "credentials": "anonymous", "access-key": "a", "secret": "s"}"#,
        )
        .unwrap_err();
        assert_eq!(field_of(err), "credentials");
        assert!(
            S3Config::builder()
                .bucket("b-1")
                .anonymous()
                .build()
                .unwrap()
                .anonymous
        );
    }

    #[test]
    fn the_profile_feeds_region_and_endpoint() {
        let dir = std::env::temp_dir().join(format!("konserve-s3-cfg-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config");
        std::fs::write(
            &config,
            "[default]\nregion = eu-central-1\n[profile dev]\nregion = ap-east-1\nservices = local\n\
             [services local]\ns3 =\n  endpoint_url = http://127.0.0.1:7777\n",
        )
        .unwrap();
        let c = S3Config::builder().bucket("b-1").build().unwrap();
        let path = config.display().to_string();
        let env = HashMap::from([("AWS_CONFIG_FILE", path.as_str()), ("HOME", "/nonexistent")]);
        let r = c
            .resolve_with(|k| env.get(k).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(r.region, "eu-central-1");
        assert_eq!(
            r.endpoint.as_str(),
            "https://s3.eu-central-1.amazonaws.com/"
        );
        let mut env = env.clone();
        env.insert("AWS_PROFILE", "dev");
        let r = c
            .resolve_with(|k| env.get(k).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(r.region, "ap-east-1");
        assert_eq!(r.endpoint.as_str(), "http://127.0.0.1:7777/");
        // The environment wins over the profile.
        env.insert("AWS_REGION", "us-west-1");
        let r = c
            .resolve_with(|k| env.get(k).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(r.region, "us-west-1");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
