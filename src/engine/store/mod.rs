//! [`Store`]: konserve's key–value API over any [`Backing`].

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, RwLock};

use bytes::{Buf, Bytes};

use super::backing::{Backing, ListedBlob, Revalidated};
use crate::Conditions;
use crate::cache::{CacheOptions, CacheStats, Cached, ValueCache};
use crate::codec::blob::{self, Encoding};
use crate::codec::{BlobHeader, CodecError};
use crate::config::StoreOptions;
use crate::error::{Error, Result};
use crate::layout::{self, BlobKind};
use crate::meta::{self, BlobType};
use crate::retry::RetryPolicy;
use crate::value::{Map, Set, Value};

mod binary;
mod log;
mod multi;
mod typed;
mod write;

pub use binary::BinaryValue;
use write::Settled;

use super::io;
use super::mode::{self, KeyLocks, run_bounded};

/// How many bytes a metadata read fetches first (header and metadata
/// usually fit; a larger metadata segment costs a second read).
const META_PREFIX: u64 = 4096;

/// How many times a metadata read starts over when the blob changed between
/// its first read and the second, conditional one. Each attempt asks for at
/// least as much as the largest metadata seen, so writers alternating sizes
/// settle in one more read.
const META_READ_ATTEMPTS: u32 = 8;

/// konserve's write-hook events (`:api-op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiOp {
    /// `assoc`
    Assoc,
    /// `assoc-in`
    AssocIn,
    /// `update-in` (and `update`)
    UpdateIn,
    /// `dissoc` (only when the key existed)
    Dissoc,
    /// `bassoc`
    Bassoc,
    /// `multi-assoc`
    MultiAssoc,
}

impl ApiOp {
    /// The keyword name konserve uses.
    pub fn name(self) -> &'static str {
        match self {
            ApiOp::Assoc => "assoc",
            ApiOp::AssocIn => "assoc-in",
            ApiOp::UpdateIn => "update-in",
            ApiOp::Dissoc => "dissoc",
            ApiOp::Bassoc => "bassoc",
            ApiOp::MultiAssoc => "multi-assoc",
        }
    }
}

/// What a write hook is told after a successful write.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WriteEvent {
    /// The operation.
    pub api_op: ApiOp,
    /// The top-level key (`nil` for `multi-assoc`).
    pub key: Value,
    /// The whole path, for `assoc-in` and `update-in`.
    pub key_vec: Option<Vec<Value>>,
    /// The new (top-level) value; `None` for `dissoc`, and for `bassoc` from
    /// a reader.
    pub value: Option<Value>,
    /// The old top-level value, for `update-in`.
    pub old_value: Option<Value>,
    /// Caller metadata given to `assoc`.
    pub meta: Option<Value>,
    /// The pairs of a `multi-assoc`, in order.
    pub kvs: Option<Vec<(Value, Value)>>,
}

impl WriteEvent {
    fn new(api_op: ApiOp, key: Value) -> Self {
        WriteEvent {
            api_op,
            key,
            key_vec: None,
            value: None,
            old_value: None,
            meta: None,
            kvs: None,
        }
    }

    /// The event as konserve's map (`{:api-op :assoc :key k :value v …}`).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert(Value::keyword("api-op"), Value::keyword(self.api_op.name()));
        if self.api_op != ApiOp::MultiAssoc {
            m.insert(Value::keyword("key"), self.key.clone());
        }
        if let Some(kv) = &self.key_vec {
            m.insert(Value::keyword("key-vec"), Value::Vector(kv.clone()));
        }
        if let Some(v) = &self.value {
            m.insert(Value::keyword("value"), v.clone());
        }
        if let Some(v) = &self.old_value {
            m.insert(Value::keyword("old-value"), v.clone());
        }
        if let Some(v) = &self.meta {
            m.insert(Value::keyword("meta"), v.clone());
        }
        if let Some(kvs) = &self.kvs {
            let pairs = kvs
                .iter()
                .map(|(k, v)| Value::Vector(vec![k.clone(), v.clone()]))
                .collect();
            m.insert(Value::keyword("kvs"), Value::Vector(pairs));
        }
        Value::Map(m)
    }
}

type Hook = Arc<dyn Fn(&WriteEvent) + Send + Sync>;

/// The version of a stored value (S3's ETag), from [`Store::get_versioned`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version(String);

impl Version {
    /// The version tag as the backing gave it (a quoted ETag on S3).
    pub fn etag(&self) -> &str {
        &self.0
    }
}

/// Options of [`Store::dissoc_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DissocOptions {
    /// Delete without checking that the key exists first (one request
    /// instead of two); the result is then always `true`.
    pub ignore_existence: bool,
    /// Delete only if the value is still this version (`If-Match`);
    /// otherwise [`Error::PreconditionFailed`].
    pub if_unchanged: Option<Version>,
}

impl DissocOptions {
    /// `ignore_existence` on.
    pub fn ignore_existence() -> Self {
        DissocOptions {
            ignore_existence: true,
            if_unchanged: None,
        }
    }

    /// Delete-if-unchanged: only if the value is still `version`.
    pub fn if_unchanged(version: Version) -> Self {
        DissocOptions {
            ignore_existence: true,
            if_unchanged: Some(version),
        }
    }
}

/// A blob read for a read-modify-write.
struct Current {
    meta: Value,
    /// The value (`None` when only the metadata was read).
    value: Option<Value>,
    etag: Option<String>,
}

struct Inner<B> {
    backing: B,
    encoding: Encoding,
    options: StoreOptions,
    locks: KeyLocks,
    hooks: RwLock<BTreeMap<String, Hook>>,
    /// The metadata `keys` read, by blob name, with the version tag of the
    /// read (equal to the listing's): reused while a listing shows the same
    /// tag. Only names of the latest listing stay. Kept encoded (the blob's
    /// header and metadata, about a tenth of the decoded map's memory) and
    /// decoded again on a hit.
    metas: Mutex<HashMap<String, (String, Bytes)>>,
    cache: Option<ValueCache>,
}

/// Whether two version tags name the same version: S3 sends ETags quoted,
/// some servers list them bare or weak (`W/"…"`).
fn same_etag(a: &str, b: &str) -> bool {
    let bare = |t: &str| {
        let t = t.strip_prefix("W/").unwrap_or(t);
        t.trim_matches('"').to_owned()
    };
    !a.is_empty() && bare(a) == bare(b)
}

/// konserve's `konserve.cache`: a [`Store`] made with [`Store::cached`]
/// (or [`Store::with_options_and_cache`]), which keeps an LRU of decoded
/// values. It is the same type: every operation is there, and the cache
/// is used by those konserve's cache covers.
///
/// - `get`, `get_in` (and the typed `get_as`, `get_in_as`) and `exists`
///   read through the cache; a key found missing is cached as missing.
/// - `assoc`, `assoc_in`, `update_in`, `update`, `dissoc` write to the
///   backing first, then update the key's entry (if it was cached) or drop
///   it; `update_in` always reads the backing, never the cache, so it
///   loses no other writer's update.
/// - `append`/`log`, `bassoc`/`bget`, `get_meta`, `keys` and the multi-key
///   operations pass through (writes among them drop the key's entry).
///
/// Without [`CacheOptions::revalidate`] a hit trusts the cache, as
/// konserve does: right when this store is the only writer. With it every
/// hit asks the backing whether the blob changed (S3: `If-None-Match`,
/// `304` and no body), for stores that other processes write. See
/// docs/cache.md.
pub type CachedStore<B> = Store<B>;

/// A konserve store over a [`Backing`].
///
/// Keys and values are EDN [`Value`]s; anything that converts into a
/// `Value` (`&str`, integers, [`Uuid`](uuid::Uuid), keywords, …) can be passed as a key.
/// The `*_as` methods take and return plain Rust types through serde.
///
/// Cheap to clone: clones share the backing, locks and hooks.
///
/// A write that is cancelled — its future dropped before it finished, in
/// the async mode — may still have landed: what was sent is not unsent.
/// Read the value back to know. The parts of a large binary value's
/// multipart upload are aborted when its write is cancelled or fails
/// (docs/consistency.md, "Large binary values").
///
#[doc = mode::doc_example!("store")]
pub struct Store<B> {
    inner: Arc<Inner<B>>,
}

impl<B> Clone for Store<B> {
    fn clone(&self) -> Self {
        Store {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<B: std::fmt::Debug> std::fmt::Debug for Store<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backing", &self.inner.backing)
            .field("encoding", &self.inner.encoding)
            .finish_non_exhaustive()
    }
}

fn blob_error(name: &str, source: CodecError) -> Error {
    Error::Blob {
        blob: name.to_owned(),
        source,
    }
}

/// The top-level key and the rest of a path.
fn split_path(path: &[Value]) -> Result<(&Value, &[Value])> {
    path.split_first().ok_or(Error::Unsupported {
        operation: "empty key path",
        reason: "a path needs at least the top-level key".into(),
    })
}

impl<B: Backing> Store<B> {
    /// A store over `backing`, writing new blobs with boring (CBOR), no
    /// compression, no encryption.
    pub fn new(backing: B) -> Self {
        Self::with_encoding(backing, Encoding::default())
    }

    /// A store over `backing` writing new blobs with `encoding`.
    pub fn with_encoding(backing: B, encoding: Encoding) -> Self {
        Self::with_options(
            backing,
            StoreOptions {
                encoding,
                ..StoreOptions::default()
            },
        )
    }

    /// A store over `backing` with store options: encoding of new blobs
    /// ([`StoreOptions::encoding`]) and optimistic locking
    /// ([`StoreOptions::optimistic_locking_retries`]).
    ///
    #[doc = mode::doc_example!("store_with_options")]
    pub fn with_options(backing: B, options: StoreOptions) -> Self {
        Self::build(backing, options, None)
    }

    /// A store over `backing` with a cache of decoded values
    /// ([`CachedStore`], konserve's `konserve.cache`).
    ///
    #[doc = mode::doc_example!("cached_store")]
    pub fn cached(backing: B, cache: CacheOptions) -> Self {
        Self::build(backing, StoreOptions::default(), Some(cache))
    }

    /// [`Store::with_options`] with a cache of decoded values
    /// ([`CachedStore`]).
    pub fn with_options_and_cache(backing: B, options: StoreOptions, cache: CacheOptions) -> Self {
        Self::build(backing, options, Some(cache))
    }

    fn build(backing: B, options: StoreOptions, cache: Option<CacheOptions>) -> Self {
        Store {
            inner: Arc::new(Inner {
                backing,
                encoding: options.encoding.clone(),
                options,
                locks: KeyLocks::default(),
                hooks: RwLock::new(BTreeMap::new()),
                metas: Mutex::new(HashMap::new()),
                cache: cache.map(ValueCache::new),
            }),
        }
    }

    /// The cache's counters (hits, revalidated hits, misses, …); `None`
    /// for a store without a cache.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.inner.cache.as_ref().map(ValueCache::stats)
    }

    /// Drops the cached entry of blob `name`, if any; whether there was
    /// one. Called with the key's lock held by every write.
    fn cache_take(&self, name: &str) -> bool {
        self.inner.cache.as_ref().is_some_and(|c| c.remove(name))
    }

    /// After a write of `value` (blob of `size` bytes) to `name` that
    /// landed, with the key's lock held: re-caches it if the key was
    /// cached before the write (`was_cached`, from [`Store::cache_take`]),
    /// as konserve does. A revalidating cache does not know the new
    /// blob's version tag, so it leaves the key out.
    fn cache_written(&self, name: &str, was_cached: bool, value: Option<&Value>, size: usize) {
        let Some(cache) = &self.inner.cache else {
            return;
        };
        if let Some(value) = value
            && was_cached
            && !cache.revalidating()
        {
            let entry = Cached::Present {
                value: value.clone(),
                etag: None,
            };
            cache.insert(name, entry, size as u64);
        }
    }

    /// The store options.
    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    /// Conditions for writing over `current` (`None`: the key is missing):
    /// none without locking; `If-Match` on its version, or `If-None-Match: *`
    /// for a new key, with locking.
    fn conditions_for(&self, current: Option<&Current>) -> Result<Conditions> {
        if !self.inner.options.locking() {
            return Ok(Conditions::NONE);
        }
        match current {
            None => Ok(Conditions::if_absent()),
            Some(Current {
                etag: Some(etag), ..
            }) => Ok(Conditions::if_match(etag.clone())),
            Some(_) => Err(Error::Unsupported {
                operation: "optimistic locking",
                reason: "the backing returned no version tag (ETag) for the value".into(),
            }),
        }
    }

    /// The wait before optimistic-locking retry number `attempt` (from 1):
    /// capped exponential backoff with full jitter.
    fn locking_backoff(&self, attempt: u32) -> std::time::Duration {
        let o = &self.inner.options;
        RetryPolicy {
            initial_backoff: o.locking_backoff,
            max_backoff: o.locking_max_backoff,
            ..RetryPolicy::default()
        }
        .backoff(attempt.saturating_sub(1), fastrand::f64())
    }

    /// The error after the last attempt of a read-modify-write.
    fn exhausted(key: &Value, attempts: u32, last: Error) -> Error {
        match last {
            Error::PreconditionFailed(_) | Error::Conflict(_) => Error::OptimisticLockConflict {
                key: key.to_string(),
                attempts,
            },
            other => other,
        }
    }

    /// The backing.
    pub fn backing(&self) -> &B {
        &self.inner.backing
    }

    /// How many keys are locked or waited for right now (0 when idle).
    pub fn locked_keys(&self) -> usize {
        self.inner.locks.len()
    }

    /// Registers `hook` under `id` (replacing any hook of that id). Hooks run
    /// synchronously after every successful write; a panicking hook is
    /// contained and does not undo or fail the write.
    pub fn add_write_hook(
        &self,
        id: impl Into<String>,
        hook: impl Fn(&WriteEvent) + Send + Sync + 'static,
    ) {
        self.inner
            .hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.into(), Arc::new(hook));
    }

    /// Removes the hook `id`; whether there was one.
    pub fn remove_write_hook(&self, id: &str) -> bool {
        self.inner
            .hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id)
            .is_some()
    }

    /// Whether any write hook is registered (so that an event's copy of a
    /// large value is made only for a hook to see).
    fn has_hooks(&self) -> bool {
        !self
            .inner
            .hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }

    /// [`Store::fire`] of the event `make` builds, built only when a hook
    /// is registered: without hooks, a write copies nothing for them.
    fn fire_with(&self, make: impl FnOnce() -> WriteEvent) {
        if self.has_hooks() {
            self.fire(make());
        }
    }

    fn fire(&self, event: WriteEvent) {
        let hooks: Vec<Hook> = self
            .inner
            .hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for hook in hooks {
            if catch_unwind(AssertUnwindSafe(|| hook(&event))).is_err() {
                tracing::warn!(api_op = event.api_op.name(), "a write hook panicked");
            }
        }
    }

    /// Tells the write hooks that `key` was deleted (by a sweep).
    pub(crate) fn fire_deleted(&self, key: Value) {
        // Deleted behind the store's back (a gc sweep): no cached value of
        // it may outlive it.
        self.cache_take(&layout::blob_name(&key));
        self.fire(WriteEvent::new(ApiOp::Dissoc, key));
    }

    fn require_multi_key(&self, operation: &'static str) -> Result<()> {
        if self.inner.backing.supports_multi_key() {
            Ok(())
        } else {
            Err(Error::Unsupported {
                operation,
                reason: "konserve requires multi-key operations to be atomic, and this backing cannot make them so".into(),
            })
        }
    }

    fn encode_edn(&self, name: &str, meta: &Value, value: &Value) -> Result<Bytes> {
        self.inner
            .encoding
            .encode_edn_blob(meta, value)
            .map(Bytes::from)
            .map_err(|e| blob_error(name, e))
    }

    /// Header, metadata and value of a whole blob. A binary value takes
    /// the blob's buffer when nothing else holds it (moved to its start,
    /// not copied into a new one).
    fn decode_whole(&self, name: &str, bytes: Bytes) -> Result<(BlobHeader, Value, Value)> {
        let enc = &self.inner.encoding;
        let (header, meta) = enc
            .decode_meta_capped(&bytes, self.inner.options.metadata_cap())
            .map_err(|e| blob_error(name, e))?;
        let value = if BlobType::of_meta(&meta) == Some(BlobType::Binary) {
            let at = bytes.len()
                - blob::binary_value(&header, &bytes)
                    .map_err(|e| blob_error(name, e))?
                    .len();
            let mut value = bytes;
            value.advance(at);
            Value::Bytes(Vec::from(value))
        } else {
            enc.decode_value_capped(&header, &bytes, self.inner.options.value_cap())
                .map_err(|e| blob_error(name, e))?
        };
        Ok((header, meta, value))
    }
}

#[io(AFIT)]
impl<B: Backing> Store<B> {
    /// Metadata, value and version of a blob, `None` when missing.
    async fn read_current(&self, name: &str) -> Result<Option<Current>> {
        match self.inner.backing.read_blob(name).await? {
            None => Ok(None),
            Some(blob) => {
                let (_, meta, value) = self.decode_whole(name, blob.bytes)?;
                Ok(Some(Current {
                    meta,
                    value: Some(value),
                    etag: blob.etag,
                }))
            }
        }
    }

    /// Metadata and value of a blob, `None` when missing.
    async fn read_entry(&self, name: &str) -> Result<Option<(Value, Value)>> {
        Ok(self
            .read_current(name)
            .await?
            .map(|c| (c.meta, c.value.unwrap_or(Value::Nil))))
    }

    /// The metadata and version of a blob from a prefix read, and when the
    /// metadata is larger than the prefix a second read of exactly header
    /// and metadata, only of the version the first read saw (`If-Match`).
    /// When the blob changed in between, starts over (asking for at least
    /// the larger size), at most [`META_READ_ATTEMPTS`] times.
    async fn read_meta_current(&self, name: &str) -> Result<Option<Current>> {
        Ok(self
            .read_meta_prefix(name)
            .await?
            .map(|(current, _)| current))
    }

    /// [`Store::read_meta_current`], with the blob's header and encoded
    /// metadata (a copy of just those bytes: what `keys` caches, a tenth of
    /// the decoded map's size).
    async fn read_meta_prefix(&self, name: &str) -> Result<Option<(Current, Bytes)>> {
        let backing = &self.inner.backing;
        let cap = self.inner.options.metadata_cap();
        let mut want = META_PREFIX;
        for _ in 0..META_READ_ATTEMPTS {
            let Some(first) = backing.read_blob_prefix(name, want).await? else {
                return Ok(None);
            };
            let header = BlobHeader::parse(&first.bytes).map_err(|e| blob_error(name, e))?;
            cap.check(header.meta_size.into())
                .map_err(|e| blob_error(name, e))?;
            let needed = blob::value_offset(&header) as u64;
            let short = (first.bytes.len() as u64) < needed;
            let read = if short && first.total_size.is_none_or(|t| t >= needed) {
                want = want.max(needed);
                let second = match first.etag.as_deref() {
                    Some(etag) => backing.read_blob_prefix_if_match(name, needed, etag).await,
                    None => backing.read_blob_prefix(name, needed).await,
                };
                match second {
                    Ok(Some(b)) if BlobHeader::parse(&b.bytes).ok() == Some(header) => b,
                    // Another version (or, without version tags, another
                    // metadata size): start over.
                    Ok(Some(_)) | Err(Error::PreconditionFailed(_)) => continue,
                    Ok(None) => return Ok(None),
                    Err(e) => return Err(e),
                }
            } else {
                first
            };
            let (_, meta) = self
                .inner
                .encoding
                .decode_meta_capped(&read.bytes, cap)
                .map_err(|e| blob_error(name, e))?;
            let prefix = read.bytes.get(..needed as usize).unwrap_or(&read.bytes);
            let prefix = Bytes::copy_from_slice(prefix);
            let current = Current {
                meta,
                value: None,
                etag: read.etag,
            };
            return Ok(Some((current, prefix)));
        }
        Err(Error::BlobKeptChanging {
            blob: name.to_owned(),
            attempts: META_READ_ATTEMPTS,
        })
    }

    /// The metadata of a blob, `None` when missing.
    async fn read_meta_of(&self, name: &str) -> Result<Option<Value>> {
        Ok(self.read_meta_current(name).await?.map(|c| c.meta))
    }

    /// Whether `key` exists (one HEAD on S3).
    ///
    /// # Errors
    /// Backing failures.
    pub async fn exists(&self, key: impl Into<Value>) -> Result<bool> {
        let name = layout::blob_name(&key.into());
        let _guard = self.inner.locks.lock(&name).await;
        if let Some(cache) = &self.inner.cache
            && !cache.revalidating()
        {
            match cache.lookup(&name) {
                Some(entry) => {
                    cache.hit();
                    return Ok(matches!(entry, Cached::Present { .. }));
                }
                None => cache.miss(),
            }
        }
        self.inner.backing.blob_exists(&name).await
    }

    /// The value of `key`, `None` when missing (a stored `nil` is
    /// `Some(Value::Nil)`). One GET on S3.
    ///
    /// # Errors
    /// Backing failures; [`Error::Blob`] for a blob that cannot be decoded.
    pub async fn get(&self, key: impl Into<Value>) -> Result<Option<Value>> {
        let name = layout::blob_name(&key.into());
        let _guard = self.inner.locks.lock(&name).await;
        match &self.inner.cache {
            Some(cache) => self.get_cached(cache, &name).await,
            None => Ok(self.read_entry(&name).await?.map(|(_, v)| v)),
        }
    }

    /// [`Store::get`] through the cache, with the key's lock held.
    async fn get_cached(&self, cache: &ValueCache, name: &str) -> Result<Option<Value>> {
        let backing = &self.inner.backing;
        let read = match cache.lookup(name) {
            Some(Cached::Present { value, .. }) if !cache.revalidating() => {
                cache.hit();
                return Ok(Some(value));
            }
            Some(Cached::Missing) if !cache.revalidating() => {
                cache.hit();
                return Ok(None);
            }
            Some(Cached::Present {
                value,
                etag: Some(etag),
            }) => match backing.read_blob_if_none_match(name, &etag).await? {
                Revalidated::Unchanged => {
                    cache.revalidated_hit();
                    return Ok(Some(value));
                }
                Revalidated::Changed(blob) => Some(blob),
                Revalidated::Missing => None,
            },
            // Not cached, or a revalidating cache's entry without a version
            // to ask about (a missing key has none): read.
            _ => backing.read_blob(name).await?,
        };
        cache.miss();
        match read {
            None => {
                cache.insert(name, Cached::Missing, 0);
                Ok(None)
            }
            Some(blob) => {
                let size = blob.bytes.len() as u64;
                let (_, _, value) = self.decode_whole(name, blob.bytes)?;
                let entry = Cached::Present {
                    value: value.clone(),
                    etag: blob.etag,
                };
                cache.insert(name, entry, size);
                Ok(Some(value))
            }
        }
    }

    /// The value at `path` (top-level key first, then a path inside the
    /// value, as Clojure's `get-in`); `None` when the key or any level of
    /// the path is missing.
    ///
    /// # Errors
    /// As [`Store::get`]; an empty path is [`Error::Unsupported`].
    pub async fn get_in(&self, path: &[Value]) -> Result<Option<Value>> {
        let (top, rest) = split_path(path)?;
        Ok(self
            .get(top.clone())
            .await?
            .and_then(|v| v.get_in(rest).cloned()))
    }

    /// The value at `path`, or `default` when missing.
    ///
    /// # Errors
    /// As [`Store::get_in`].
    pub async fn get_in_or(&self, path: &[Value], default: Value) -> Result<Value> {
        Ok(self.get_in(path).await?.unwrap_or(default))
    }

    /// The metadata of `key` (`{:key … :type … :last-write …}`), `None`
    /// when missing. One ranged GET on S3.
    ///
    /// # Errors
    /// As [`Store::get`].
    pub async fn get_meta(&self, key: impl Into<Value>) -> Result<Option<Value>> {
        let name = layout::blob_name(&key.into());
        let _guard = self.inner.locks.lock(&name).await;
        self.read_meta_of(&name).await
    }

    /// The metadata maps of every key of the store (append-log element
    /// blobs included, as konserve returns them). On S3: one listing per
    /// 1000 blobs under the store's prefix, then metadata reads with
    /// [`StoreOptions::keys_parallelism`] in flight, each holding at most
    /// [`StoreOptions::max_metadata_bytes`] of metadata while it decodes.
    ///
    /// Repeated calls on one `Store` (and its clones) read again only what
    /// changed: the metadata read before is kept with the blob's ETag, and
    /// reused while the listing shows the same ETag, so `keys` on an
    /// unchanged store of n keys costs ⌈n/1000⌉ listings and nothing else;
    /// new and rewritten blobs are read, deleted ones drop out. A backing
    /// whose listing carries no version tags
    /// ([`Backing::list_blobs_versioned`]; the file and memory backings,
    /// where a read is cheap) reads every blob each time. The cache holds
    /// one metadata map per key of the latest listing (what the returned
    /// set holds too).
    ///
    /// Concurrent writers do not make it fail: a blob rewritten while its
    /// metadata is read is read again, and blobs deleted meanwhile are
    /// skipped.
    ///
    /// # Errors
    /// Backing failures. [`Error::Blob`] for a blob whose metadata cannot
    /// be decoded, whose metadata is larger than `max_metadata_bytes`
    /// ([`CodecError::TooLarge`]), or whose metadata is not konserve's map
    /// with `:key`, `:type` and `:last-write` ([`CodecError::NotMetadata`]):
    /// such a blob is not konserve's, and `keys` names it rather than
    /// return something that is not a key's metadata.
    pub async fn keys(&self) -> Result<Set> {
        let mut out = Set::new();
        for (name, meta) in self.blob_metas().await? {
            if let Some(m) = meta? {
                meta::check_shape(&m).map_err(|e| blob_error(&name, e))?;
                out.insert(m);
            }
        }
        Ok(out)
    }

    /// The metadata of every value blob of the store, by blob name (`None`
    /// for a blob deleted since the listing): from the cache where the
    /// listing shows the version read before, else read (and cached when
    /// the read saw the listed version). A failure of the listing is the
    /// outer error; a failure to read one blob's metadata is that blob's.
    pub(crate) async fn blob_metas(&self) -> Result<Vec<(String, Result<Option<Value>>)>> {
        let listed: Vec<ListedBlob> = self
            .inner
            .backing
            .list_blobs_versioned()
            .await?
            .into_iter()
            .filter(|b| layout::blob_kind(&b.name) == Some(BlobKind::Value))
            .collect();
        let mut out = Vec::with_capacity(listed.len());
        let mut to_read = Vec::new();
        {
            let mut cache = self
                .inner
                .metas
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut kept = HashMap::with_capacity(cache.len().min(listed.len()));
            let cap = self.inner.options.metadata_cap();
            for blob in listed {
                let hit = blob.etag.as_deref().and_then(|listed_etag| {
                    let (etag, prefix) = cache.remove(&blob.name)?;
                    same_etag(&etag, listed_etag).then_some((etag, prefix))
                });
                let decoded = hit.and_then(|(etag, prefix)| {
                    let (_, meta) = self.inner.encoding.decode_meta_capped(&prefix, cap).ok()?;
                    Some((etag, prefix, meta))
                });
                match decoded {
                    Some((etag, prefix, meta)) => {
                        out.push((blob.name.clone(), Ok(Some(meta))));
                        kept.insert(blob.name, (etag, prefix));
                    }
                    None => to_read.push(blob),
                }
            }
            // Names no longer listed (deleted blobs) drop out here.
            *cache = kept;
        }
        let read = run_bounded(
            to_read,
            self.inner.options.keys_parallelism.max(1),
            |blob: ListedBlob| async move {
                let current = self.read_meta_prefix(&blob.name).await;
                (blob, current)
            },
        )
        .await;
        let mut fresh = Vec::new();
        for (blob, current) in read {
            let meta = current.map(|c| {
                c.map(|(c, prefix)| {
                    if let (Some(read), Some(listed)) = (&c.etag, &blob.etag)
                        && same_etag(read, listed)
                    {
                        fresh.push((blob.name.clone(), (read.clone(), prefix)));
                    }
                    c.meta
                })
            });
            out.push((blob.name, meta));
        }
        if !fresh.is_empty() {
            self.inner
                .metas
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(fresh);
        }
        Ok(out)
    }
}
