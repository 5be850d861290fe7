//! [`Store`]: konserve's key–value API over any [`Backing`].

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::backing::Backing;
use crate::codec::blob::{self, Encoding};
use crate::codec::{BlobHeader, CodecError, HEADER_LEN};
use crate::config::StoreOptions;
use crate::error::{Error, Result};
use crate::layout::{self, BlobKind};
use crate::meta::{self, BlobType};
use crate::path;
use crate::s3::Conditions;
use crate::s3::request::md5_etag;
use crate::s3::retry::RetryPolicy;
use crate::value::{Map, Set, Value, from_value, to_value};

use super::io;
use super::mode::{
    self, BodyReader, BodySource, KeyLocks, MaybeSend, Transport, chain, fill, run_bounded,
};

/// How many bytes a metadata read fetches first (header and metadata
/// usually fit; a larger metadata segment costs a second read).
const META_PREFIX: u64 = 4096;

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

/// Old and new value of an update, with the caller's typed new value.
type TypedUpdate<T> = (Option<Value>, Value, T);

/// How a failed conditional write turned out after looking again.
enum Settled {
    /// The write had landed after all (its answer was lost).
    Landed,
    /// It did not land; the error says why (a conflict, or a transport
    /// failure before the write).
    NotLanded(Error),
}

/// A binary value being read by [`Store::bget`].
pub struct BinaryValue {
    /// The value's bytes, streamed.
    pub reader: BodyReader,
    /// The value's size in bytes.
    pub size: u64,
}

impl std::fmt::Debug for BinaryValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinaryValue")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

struct Inner<B> {
    backing: B,
    encoding: Encoding,
    options: StoreOptions,
    locks: KeyLocks,
    hooks: RwLock<BTreeMap<String, Hook>>,
}

/// A konserve store over a [`Backing`].
///
/// Keys and values are EDN [`Value`]s; anything that converts into a
/// `Value` (`&str`, integers, [`Uuid`], keywords, …) can be passed as a key.
/// The `*_as` methods take and return plain Rust types through serde.
///
/// Cheap to clone: clones share the backing, locks and hooks.
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
        reason: "a path needs at least the top-level key",
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
        Store {
            inner: Arc::new(Inner {
                backing,
                encoding: options.encoding.clone(),
                options,
                locks: KeyLocks::default(),
                hooks: RwLock::new(BTreeMap::new()),
            }),
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
                reason: "the backing returned no version tag (ETag) for the value",
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

    fn require_multi_key(&self, operation: &'static str) -> Result<()> {
        if self.inner.backing.supports_multi_key() {
            Ok(())
        } else {
            Err(Error::Unsupported {
                operation,
                reason: "konserve requires multi-key operations to be atomic, and this backing cannot make them so",
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

    fn decode_whole(&self, name: &str, bytes: &[u8]) -> Result<(BlobHeader, Value, Value)> {
        let enc = &self.inner.encoding;
        let (header, meta) = enc.decode_meta(bytes).map_err(|e| blob_error(name, e))?;
        let value = if BlobType::of_meta(&meta) == Some(BlobType::Binary) {
            Value::Bytes(
                blob::binary_value(&header, bytes)
                    .map_err(|e| blob_error(name, e))?
                    .to_vec(),
            )
        } else {
            enc.decode_value(&header, bytes)
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
                let (_, meta, value) = self.decode_whole(name, &blob.bytes)?;
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

    /// The metadata and version of a blob from a prefix read (a second,
    /// exact read when the metadata is larger than the prefix).
    async fn read_meta_current(&self, name: &str) -> Result<Option<Current>> {
        let Some(first) = self
            .inner
            .backing
            .read_blob_prefix(name, META_PREFIX)
            .await?
        else {
            return Ok(None);
        };
        let header = BlobHeader::parse(&first.bytes).map_err(|e| blob_error(name, e))?;
        let needed = blob::value_offset(&header) as u64;
        let read = if (first.bytes.len() as u64) < needed
            && first.total_size.is_none_or(|t| t >= needed)
        {
            match self.inner.backing.read_blob_prefix(name, needed).await? {
                Some(b) => b,
                None => return Ok(None),
            }
        } else {
            first
        };
        let (_, meta) = self
            .inner
            .encoding
            .decode_meta(&read.bytes)
            .map_err(|e| blob_error(name, e))?;
        Ok(Some(Current {
            meta,
            value: None,
            etag: read.etag,
        }))
    }

    /// The metadata of a blob, `None` when missing.
    async fn read_meta_of(&self, name: &str) -> Result<Option<Value>> {
        Ok(self.read_meta_current(name).await?.map(|c| c.meta))
    }

    /// After a conditional write failed: did it land anyway? Only an
    /// unclear failure is looked into — a transport error, a 5xx, or a
    /// refusal of a request the transport had to repeat after losing its
    /// connection (the first try may have landed, and the repeat is then
    /// refused because the blob is already ours). A first-try 412 or 409
    /// is a plain conflict. Our blob's version is the MD5 of its bytes.
    async fn settle(&self, name: &str, sent: &[u8], error: Error) -> Result<Settled> {
        let ambiguous = match &error {
            Error::Transport { .. }
            | Error::Timeout(_)
            | Error::Unavailable(_)
            | Error::Throttled(_) => true,
            Error::PreconditionFailed(c) | Error::Conflict(c) => c.attempts > 1,
            _ => return Err(error),
        };
        if !ambiguous {
            return Ok(Settled::NotLanded(error));
        }
        match self.inner.backing.blob_etag(name).await? {
            // Hashed only here, on the rare ambiguous path: a blob's
            // ETag is the MD5 of its bytes.
            Some(etag) if etag == md5_etag(sent) => Ok(Settled::Landed),
            _ => Ok(Settled::NotLanded(error)),
        }
    }

    /// A read-modify-write of blob `name` under the key's lock: `make`
    /// turns what is stored (`None`: missing) into the blob to write and
    /// a result. With optimistic locking the write is conditional and,
    /// on a conflict, the blob is re-read and `make` runs again, up to
    /// the configured retries, with backoff in between.
    async fn read_modify_write<T, F>(
        &self,
        key: &Value,
        name: &str,
        meta_only: bool,
        make: &mut F,
    ) -> Result<T>
    where
        F: FnMut(Option<&Current>) -> Result<(Bytes, T)> + MaybeSend,
    {
        let locking = self.inner.options.locking();
        let max_attempts = if locking {
            self.inner
                .options
                .optimistic_locking_retries
                .saturating_add(1)
        } else {
            1
        };
        let _guard = self.inner.locks.lock(name).await;
        let mut attempt = 1;
        loop {
            let current = if meta_only {
                self.read_meta_current(name).await?
            } else {
                self.read_current(name).await?
            };
            let (blob, out) = make(current.as_ref())?;
            let conditions = self.conditions_for(current.as_ref())?;
            let error = match self
                .inner
                .backing
                .write_blob(name, blob.clone(), &conditions)
                .await
            {
                Ok(()) => return Ok(out),
                Err(e) if !conditions.is_conditional() => return Err(e),
                Err(e) => e,
            };
            match self.settle(name, &blob, error).await? {
                Settled::Landed => return Ok(out),
                Settled::NotLanded(e) if attempt >= max_attempts => {
                    return Err(Self::exhausted(key, attempt, e));
                }
                Settled::NotLanded(e) => {
                    tracing::debug!(
                        key = %key,
                        attempt,
                        error = %e,
                        "optimistic lock conflict, retrying"
                    );
                    Transport::sleep(self.locking_backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Whether `key` exists (one HEAD on S3).
    ///
    /// # Errors
    /// Backing failures.
    pub async fn exists(&self, key: impl Into<Value>) -> Result<bool> {
        let name = layout::blob_name(&key.into());
        let _guard = self.inner.locks.lock(&name).await;
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
        Ok(self.read_entry(&name).await?.map(|(_, v)| v))
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

    /// Stores `value` under `key`, replacing what was there, with fresh
    /// metadata. One PUT on S3 (the old value is not read).
    ///
    /// # Errors
    /// Backing failures.
    pub async fn assoc(&self, key: impl Into<Value>, value: impl Into<Value>) -> Result<()> {
        let (key, value) = (key.into(), value.into());
        self.overwrite(&key, &value, None).await?;
        let mut event = WriteEvent::new(ApiOp::Assoc, key);
        event.value = Some(value);
        self.fire(event);
        Ok(())
    }

    /// [`Store::assoc`] with caller metadata (a map) merged under the
    /// built metadata, e.g. `{:immutable? true}`.
    ///
    /// # Errors
    /// As [`Store::assoc`].
    pub async fn assoc_with_meta(
        &self,
        key: impl Into<Value>,
        value: impl Into<Value>,
        meta: Value,
    ) -> Result<()> {
        let (key, value) = (key.into(), value.into());
        self.overwrite(&key, &value, Some(&meta)).await?;
        let mut event = WriteEvent::new(ApiOp::Assoc, key);
        event.value = Some(value);
        event.meta = Some(meta);
        self.fire(event);
        Ok(())
    }

    /// Writes `value` with fresh metadata, without reading the old blob.
    async fn overwrite(&self, key: &Value, value: &Value, extra: Option<&Value>) -> Result<()> {
        let name = layout::blob_name(key);
        let meta = meta::fresh(key, BlobType::Edn, extra);
        let blob = self.encode_edn(&name, &meta, value)?;
        let _guard = self.inner.locks.lock(&name).await;
        self.inner
            .backing
            .write_blob(&name, blob, &Conditions::NONE)
            .await
    }

    /// `assoc-in`: with a one-element path, an overwrite like
    /// [`Store::assoc`] (returns `(None, value)`); with a longer path, a
    /// read-modify-write of the top-level value (returns old and new
    /// top-level values).
    ///
    /// # Errors
    /// Backing failures; [`Error::Path`] when the path cannot be followed.
    pub async fn assoc_in(&self, path: &[Value], value: Value) -> Result<(Option<Value>, Value)> {
        let (top, rest) = split_path(path)?;
        let result = if rest.is_empty() {
            self.overwrite(top, &value, None).await?;
            (None, value)
        } else {
            let mut new = Some(value);
            self.rmw(top, rest, &mut |_| new.take().unwrap_or(Value::Nil))
                .await?
        };
        let mut event = WriteEvent::new(ApiOp::AssocIn, top.clone());
        event.key_vec = Some(path.to_vec());
        event.value = Some(result.1.clone());
        self.fire(event);
        Ok(result)
    }

    /// `update-in`: applies `f` to the value at `path` (`None` where
    /// missing) and stores the result; returns the old and new
    /// *top-level* values. One GET and one PUT on S3.
    ///
    /// `f` may run more than once when optimistic locking retries.
    ///
    /// # Errors
    /// Backing failures; [`Error::Path`].
    pub async fn update_in(
        &self,
        path: &[Value],
        mut f: impl FnMut(Option<Value>) -> Value + MaybeSend,
    ) -> Result<(Option<Value>, Value)> {
        let (top, rest) = split_path(path)?;
        let result = self.rmw(top, rest, &mut f).await?;
        let mut event = WriteEvent::new(ApiOp::UpdateIn, top.clone());
        event.key_vec = Some(path.to_vec());
        event.old_value = result.0.clone();
        event.value = Some(result.1.clone());
        self.fire(event);
        Ok(result)
    }

    /// `update`: [`Store::update_in`] of the top-level value.
    ///
    /// # Errors
    /// As [`Store::update_in`].
    pub async fn update(
        &self,
        key: impl Into<Value>,
        f: impl FnMut(Option<Value>) -> Value + MaybeSend,
    ) -> Result<(Option<Value>, Value)> {
        self.update_in(&[key.into()], f).await
    }

    /// Read-modify-write of the top-level value.
    async fn rmw<F>(&self, top: &Value, rest: &[Value], f: &mut F) -> Result<(Option<Value>, Value)>
    where
        F: FnMut(Option<Value>) -> Value + MaybeSend,
    {
        let name = layout::blob_name(top);
        let mut make = |current: Option<&Current>| -> Result<(Bytes, (Option<Value>, Value))> {
            let old = current.map(|c| c.value.clone().unwrap_or(Value::Nil));
            let new = if rest.is_empty() {
                f(old.clone())
            } else {
                path::update_in(old.clone().unwrap_or(Value::Nil), rest, &mut *f)?
            };
            let meta = meta::updated(top, BlobType::Edn, current.map(|c| c.meta.clone()));
            let blob = self.encode_edn(&name, &meta, &new)?;
            Ok((blob, (old, new)))
        };
        self.read_modify_write(top, &name, false, &mut make).await
    }

    /// Deletes `key`; whether it existed. Two requests on S3 (HEAD,
    /// DELETE); see [`Store::dissoc_with`] for one.
    ///
    /// # Errors
    /// Backing failures.
    pub async fn dissoc(&self, key: impl Into<Value>) -> Result<bool> {
        self.dissoc_with(key, DissocOptions::default()).await
    }

    /// [`Store::dissoc`] with options.
    ///
    /// # Errors
    /// Backing failures.
    pub async fn dissoc_with(&self, key: impl Into<Value>, options: DissocOptions) -> Result<bool> {
        let key = key.into();
        let name = layout::blob_name(&key);
        let existed = {
            let _guard = self.inner.locks.lock(&name).await;
            let existed = options.ignore_existence || self.inner.backing.blob_exists(&name).await?;
            if existed {
                let conditions = match &options.if_unchanged {
                    Some(v) => Conditions::if_match(v.etag()),
                    None => Conditions::NONE,
                };
                self.inner.backing.delete_blob(&name, &conditions).await?;
            }
            existed
        };
        if existed {
            self.fire(WriteEvent::new(ApiOp::Dissoc, key));
        }
        Ok(existed)
    }

    /// The value of `key` with its version, for a later
    /// [`DissocOptions::if_unchanged`]; `None` when missing. One GET.
    ///
    /// # Errors
    /// As [`Store::get`].
    pub async fn get_versioned(&self, key: impl Into<Value>) -> Result<Option<(Value, Version)>> {
        let name = layout::blob_name(&key.into());
        let _guard = self.inner.locks.lock(&name).await;
        Ok(self.read_current(&name).await?.and_then(|c| {
            let etag = c.etag?;
            Some((c.value.unwrap_or(Value::Nil), Version(etag)))
        }))
    }

    /// Stores raw bytes under `key` (`:type :binary`). Keeps the key's
    /// old metadata fields if it had any: one ranged GET and one PUT on S3.
    ///
    /// # Errors
    /// Backing failures.
    pub async fn bassoc(&self, key: impl Into<Value>, bytes: impl Into<Bytes>) -> Result<()> {
        let key = key.into();
        let bytes = bytes.into();
        let name = layout::blob_name(&key);
        let mut make = |current: Option<&Current>| -> Result<(Bytes, ())> {
            let meta = meta::updated(&key, BlobType::Binary, current.map(|c| c.meta.clone()));
            let mut blob = self
                .inner
                .encoding
                .encode_binary_prefix(&meta)
                .map_err(|e| blob_error(&name, e))?;
            blob.extend_from_slice(&bytes);
            Ok((Bytes::from(blob), ()))
        };
        self.read_modify_write(&key, &name, true, &mut make).await?;
        let mut event = WriteEvent::new(ApiOp::Bassoc, key);
        event.value = Some(Value::Bytes(bytes.to_vec()));
        self.fire(event);
        Ok(())
    }

    /// Stores everything `reader` yields under `key` as a binary value,
    /// streaming it (multipart upload on S3 for large values) so it is
    /// never held in memory whole.
    ///
    /// With optimistic locking the write is conditional, but a reader
    /// cannot be replayed: a conflict is
    /// [`Error::OptimisticLockConflict`] after one attempt.
    ///
    /// # Errors
    /// Backing failures; the reader's I/O errors.
    pub async fn bassoc_reader(
        &self,
        key: impl Into<Value>,
        reader: &mut BodySource<'_>,
    ) -> Result<()> {
        let key = key.into();
        let name = layout::blob_name(&key);
        {
            let _guard = self.inner.locks.lock(&name).await;
            let current = self.read_meta_current(&name).await?;
            let meta = meta::updated(
                &key,
                BlobType::Binary,
                current.as_ref().map(|c| c.meta.clone()),
            );
            let conditions = self.conditions_for(current.as_ref())?;
            let prefix = self
                .inner
                .encoding
                .encode_binary_prefix(&meta)
                .map_err(|e| blob_error(&name, e))?;
            match self
                .inner
                .backing
                .write_blob_stream(&name, prefix, reader, &conditions)
                .await
            {
                Ok(()) => {}
                Err(e) if conditions.is_conditional() => return Err(Self::exhausted(&key, 1, e)),
                Err(e) => return Err(e),
            }
        }
        self.fire(WriteEvent::new(ApiOp::Bassoc, key));
        Ok(())
    }

    /// The binary value of `key` as a stream with its size; `None` when
    /// missing. One GET on S3; the value is not held in memory.
    ///
    /// # Errors
    /// Backing failures; [`Error::Blob`] for a malformed blob.
    pub async fn bget(&self, key: impl Into<Value>) -> Result<Option<BinaryValue>> {
        let name = layout::blob_name(&key.into());
        let _guard = self.inner.locks.lock(&name).await;
        let Some(mut stream) = self.inner.backing.read_blob_stream(&name).await? else {
            return Ok(None);
        };
        let mut head = Vec::with_capacity(HEADER_LEN);
        fill(&mut *stream.reader, &mut head, HEADER_LEN).await?;
        let header = BlobHeader::parse(&head).map_err(|e| blob_error(&name, e))?;
        let offset = blob::value_offset(&header);
        fill(&mut *stream.reader, &mut head, offset).await?;
        if head.len() < offset {
            return Err(blob_error(
                &name,
                CodecError::Truncated("blob ends inside its metadata".into()),
            ));
        }
        let total = match stream.total_size {
            Some(t) => t,
            None => {
                return Err(blob_error(
                    &name,
                    CodecError::Malformed("size unknown".into()),
                ));
            }
        };
        let mut already = head.split_off(offset);
        let size = total.saturating_sub(offset as u64);
        let reader: BodyReader = if already.is_empty() {
            stream.reader
        } else {
            already.shrink_to_fit();
            chain(already, stream.reader)
        };
        Ok(Some(BinaryValue { reader, size }))
    }

    /// The metadata maps of every key of the store (append-log element
    /// blobs included, as konserve returns them). On S3: one listing per
    /// 1000 blobs under the store's prefix, then metadata reads with a
    /// bounded number in flight.
    ///
    /// # Errors
    /// Backing failures; [`Error::Blob`] for a blob whose metadata cannot
    /// be decoded (blobs deleted meanwhile are skipped).
    pub async fn keys(&self) -> Result<Set> {
        let names: Vec<String> = self
            .inner
            .backing
            .list_blobs()
            .await?
            .into_iter()
            .filter(|n| layout::blob_kind(n) == Some(BlobKind::Value))
            .collect();
        let metas = run_bounded(
            names,
            self.inner.options.keys_parallelism.max(1),
            |name: String| async move { self.read_meta_of(&name).await },
        )
        .await;
        let mut out = Set::new();
        for meta in metas {
            if let Some(m) = meta? {
                out.insert(m);
            }
        }
        Ok(out)
    }

    /// Appends `elem` to the append log at `key`; returns the log's first
    /// element id (`None` on the first append) and the new element's id.
    ///
    /// # Errors
    /// [`Error::NotAnAppendLog`] when `key` holds something else; backing
    /// failures.
    pub async fn append(&self, key: impl Into<Value>, elem: Value) -> Result<(Option<Uuid>, Uuid)> {
        let key = key.into();
        let head_name = layout::blob_name(&key);
        let max_attempts = if self.inner.options.locking() {
            self.inner
                .options
                .optimistic_locking_retries
                .saturating_add(1)
        } else {
            1
        };
        let _guard = self.inner.locks.lock(&head_name).await;
        let mut attempt = 1;
        loop {
            let error = match self.try_append(&key, &head_name, &elem).await? {
                Ok(ids) => return Ok(ids),
                Err(e) => e,
            };
            if attempt >= max_attempts {
                return Err(Self::exhausted(&key, attempt, error));
            }
            Transport::sleep(self.locking_backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// One attempt at an append. The element is committed once the old
    /// last element links to it (a conditional write); moving the head
    /// to it afterwards is best effort, since a later append that finds
    /// the head behind the chain moves it forward first ("helping").
    /// The inner error is a conflict with another writer (after removing
    /// this attempt's element); the outer one any other failure.
    async fn try_append(
        &self,
        key: &Value,
        head_name: &str,
        elem: &Value,
    ) -> Result<std::result::Result<(Option<Uuid>, Uuid), Error>> {
        let head = self.read_current(head_name).await?;
        let ids = match &head {
            None => None,
            Some(c) => Some(log_ids(key, c.value.as_ref().unwrap_or(&Value::Nil))?),
        };
        let head_meta = meta::updated(
            key,
            BlobType::AppendLog,
            head.as_ref().map(|c| c.meta.clone()),
        );
        let head_conditions = self.conditions_for(head.as_ref())?;
        let head_blob = |last: Uuid, first: Uuid| {
            let value = Value::Vector(vec![
                Value::keyword("append-log"),
                Value::Uuid(last),
                Value::Uuid(first),
            ]);
            self.encode_edn(head_name, &head_meta, &value)
        };
        // The old last element, which must have no successor yet.
        let last = match ids {
            None => None,
            Some((last, first)) => {
                let last_name = layout::blob_name(&Value::Uuid(last));
                let current = self.read_current(&last_name).await?.ok_or_else(|| {
                    blob_error(
                        &last_name,
                        CodecError::Malformed("append log element is missing".into()),
                    )
                })?;
                let next = current
                    .value
                    .as_ref()
                    .and_then(|v| v.get(&Value::keyword("next")))
                    .and_then(Value::as_uuid);
                if let Some(next) = next {
                    // The head is behind the chain: move it forward, try again.
                    let blob = head_blob(next, first)?;
                    let _ = self
                        .inner
                        .backing
                        .write_blob(head_name, blob, &head_conditions)
                        .await;
                    return Ok(Err(Error::Conflict(Box::default())));
                }
                Some((last_name, current, first))
            }
        };
        let new_id = Uuid::new_v4();
        let element = Value::map([
            (Value::keyword("next"), Value::Nil),
            (Value::keyword("elem"), elem.clone()),
        ]);
        let elem_name = layout::blob_name(&Value::Uuid(new_id));
        let elem_meta = meta::fresh(key, BlobType::AppendLog, None);
        let blob = self.encode_edn(&elem_name, &elem_meta, &element)?;
        self.inner
            .backing
            .write_blob(&elem_name, blob, &Conditions::NONE)
            .await?;
        let first = match last {
            None => {
                // The first element: creating the head commits it.
                let blob = head_blob(new_id, new_id)?;
                if let Err(e) = self
                    .inner
                    .backing
                    .write_blob(head_name, blob.clone(), &head_conditions)
                    .await
                {
                    if !head_conditions.is_conditional() {
                        return Err(e);
                    }
                    if let Settled::NotLanded(e) = self.settle(head_name, &blob, e).await? {
                        self.inner
                            .backing
                            .delete_blob(&elem_name, &Conditions::NONE)
                            .await?;
                        return Ok(Err(e));
                    }
                }
                return Ok(Ok((None, new_id)));
            }
            Some((last_name, current, first)) => {
                let old_value = current.value.clone().unwrap_or(Value::Nil);
                let linked =
                    path::assoc_in(old_value, &[Value::keyword("next")], Value::Uuid(new_id))?;
                let last_meta = meta::updated(key, BlobType::AppendLog, Some(current.meta.clone()));
                let blob = self.encode_edn(&last_name, &last_meta, &linked)?;
                let conditions = self.conditions_for(Some(&current))?;
                if let Err(e) = self
                    .inner
                    .backing
                    .write_blob(&last_name, blob.clone(), &conditions)
                    .await
                {
                    if !conditions.is_conditional() {
                        return Err(e);
                    }
                    if let Settled::NotLanded(e) = self.settle(&last_name, &blob, e).await? {
                        self.inner
                            .backing
                            .delete_blob(&elem_name, &Conditions::NONE)
                            .await?;
                        return Ok(Err(e));
                    }
                }
                first
            }
        };
        // Committed. Point the head at the new element; if someone got
        // there first, they have moved it already or the next append will.
        let blob = head_blob(new_id, first)?;
        match self
            .inner
            .backing
            .write_blob(head_name, blob, &head_conditions)
            .await
        {
            Err(e) if !head_conditions.is_conditional() => return Err(e),
            Err(e) => {
                tracing::debug!(
                    key = %key,
                    error = %e,
                    "append log head left behind; the next append moves it"
                )
            }
            Ok(()) => {}
        }
        Ok(Ok((Some(first), new_id)))
    }

    /// The elements of the append log at `key`, in order; `None` when
    /// missing.
    ///
    /// # Errors
    /// [`Error::NotAnAppendLog`]; backing failures.
    pub async fn log(&self, key: impl Into<Value>) -> Result<Option<Vec<Value>>> {
        let key = key.into();
        let Some(head) = self.get(key.clone()).await? else {
            return Ok(None);
        };
        let (_, first) = log_ids(&key, &head)?;
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(id) = next {
            let name = layout::blob_name(&Value::Uuid(id));
            let Some((_, element)) = self.read_entry(&name).await? else {
                return Err(blob_error(
                    &name,
                    CodecError::Malformed("append log element is missing".into()),
                ));
            };
            out.push(
                element
                    .get(&Value::keyword("elem"))
                    .cloned()
                    .unwrap_or(Value::Nil),
            );
            next = element
                .get(&Value::keyword("next"))
                .and_then(Value::as_uuid);
            if out.len() > 100_000_000 {
                return Err(blob_error(
                    &name,
                    CodecError::Malformed("append log has a cycle".into()),
                ));
            }
        }
        Ok(Some(out))
    }

    /// Folds `f` over the append log at `key`, starting from `init`
    /// (`init` when the log is missing).
    ///
    /// # Errors
    /// As [`Store::log`].
    pub async fn reduce_log<A>(
        &self,
        key: impl Into<Value>,
        init: A,
        f: impl FnMut(A, Value) -> A,
    ) -> Result<A> {
        Ok(self
            .log(key)
            .await?
            .unwrap_or_default()
            .into_iter()
            .fold(init, f))
    }

    /// konserve's `multi-get`: the values of the keys that exist, read at
    /// one point in time.
    ///
    /// # Errors
    /// [`Error::Unsupported`] on backings without atomic multi-key
    /// operations (S3).
    pub async fn multi_get(&self, keys: &[Value]) -> Result<BTreeMap<Value, Value>> {
        self.require_multi_key("multi-get")?;
        let names: Vec<String> = keys.iter().map(layout::blob_name).collect();
        let blobs = self.inner.backing.multi_read_blobs(&names).await?;
        let mut out = BTreeMap::new();
        for ((key, name), blob) in keys.iter().zip(&names).zip(blobs) {
            if let Some(bytes) = blob {
                let (_, _, value) = self.decode_whole(name, &bytes)?;
                out.insert(key.clone(), value);
            }
        }
        Ok(out)
    }

    /// konserve's `multi-assoc`: writes all pairs atomically, in order
    /// (a later pair wins for a repeated key), with fresh metadata;
    /// `meta` gives caller metadata per key. Returns `{key true}`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] on S3.
    pub async fn multi_assoc(
        &self,
        kvs: Vec<(Value, Value)>,
        meta: Option<BTreeMap<Value, Value>>,
    ) -> Result<BTreeMap<Value, bool>> {
        self.require_multi_key("multi-assoc")?;
        let mut blobs = Vec::with_capacity(kvs.len());
        let mut out = BTreeMap::new();
        for (key, value) in &kvs {
            let name = layout::blob_name(key);
            let extra = meta.as_ref().and_then(|m| m.get(key));
            let m = meta::fresh(key, BlobType::Edn, extra);
            blobs.push((name.clone(), self.encode_edn(&name, &m, value)?));
            out.insert(key.clone(), true);
        }
        self.inner.backing.multi_write_blobs(blobs).await?;
        let mut event = WriteEvent::new(ApiOp::MultiAssoc, Value::Nil);
        event.kvs = Some(kvs);
        event.meta = meta.map(Value::Map);
        self.fire(event);
        Ok(out)
    }

    /// konserve's `multi-dissoc`: deletes all keys atomically; tells for
    /// each whether it existed.
    ///
    /// # Errors
    /// [`Error::Unsupported`] on S3.
    pub async fn multi_dissoc(&self, keys: &[Value]) -> Result<BTreeMap<Value, bool>> {
        self.require_multi_key("multi-dissoc")?;
        let names: Vec<String> = keys.iter().map(layout::blob_name).collect();
        let existed = self.inner.backing.multi_delete_blobs(&names).await?;
        Ok(keys.iter().cloned().zip(existed).collect())
    }

    /// The value of `key` as a `T` (through serde).
    ///
    /// # Errors
    /// As [`Store::get`]; [`Error::Value`] when it is not a `T`.
    pub async fn get_as<T: DeserializeOwned>(&self, key: impl Into<Value>) -> Result<Option<T>> {
        match self.get(key).await? {
            None => Ok(None),
            Some(v) => Ok(Some(from_value(v)?)),
        }
    }

    /// The value at `path` as a `T`.
    ///
    /// # Errors
    /// As [`Store::get_in`]; [`Error::Value`].
    pub async fn get_in_as<T: DeserializeOwned>(&self, path: &[Value]) -> Result<Option<T>> {
        match self.get_in(path).await? {
            None => Ok(None),
            Some(v) => Ok(Some(from_value(v)?)),
        }
    }

    /// Stores a `T` (struct fields become keyword keys).
    ///
    /// # Errors
    /// As [`Store::assoc`]; [`Error::Value`].
    pub async fn assoc_as<T: Serialize + ?Sized>(
        &self,
        key: impl Into<Value>,
        value: &T,
    ) -> Result<()> {
        self.assoc(key, to_value(value)?).await
    }

    /// Updates a `T` in place: `f` gets the old value (`None` when
    /// missing) and returns the new one; returns both. `f` may run more
    /// than once when optimistic locking retries.
    ///
    /// # Errors
    /// As [`Store::update`]; [`Error::Value`] when the stored value is not
    /// a `T` (nothing is written then).
    pub async fn update_as<T: Serialize + DeserializeOwned + MaybeSend>(
        &self,
        key: impl Into<Value>,
        mut f: impl FnMut(Option<T>) -> T + MaybeSend,
    ) -> Result<(Option<T>, T)> {
        let key = key.into();
        let name = layout::blob_name(&key);
        let mut make = |current: Option<&Current>| -> Result<(Bytes, TypedUpdate<T>)> {
            let old = current.map(|c| c.value.clone().unwrap_or(Value::Nil));
            let old_t: Option<T> = old.clone().map(from_value).transpose()?;
            let new_t = f(old_t);
            let new = to_value(&new_t)?;
            let meta = meta::updated(&key, BlobType::Edn, current.map(|c| c.meta.clone()));
            let blob = self.encode_edn(&name, &meta, &new)?;
            Ok((blob, (old, new, new_t)))
        };
        let (old, new, new_t) = self
            .read_modify_write(&key, &name, false, &mut make)
            .await?;
        let old_t: Option<T> = old.clone().map(from_value).transpose()?;
        let mut event = WriteEvent::new(ApiOp::UpdateIn, key.clone());
        event.key_vec = Some(vec![key]);
        event.old_value = old;
        event.value = Some(new);
        self.fire(event);
        Ok((old_t, new_t))
    }
}

/// `(last-id, first-id)` of an append-log head `[:append-log last first]`.
fn log_ids(key: &Value, head: &Value) -> Result<(Uuid, Uuid)> {
    let not_log = || Error::NotAnAppendLog {
        key: key.to_string(),
    };
    let items = head.as_seq().ok_or_else(not_log)?;
    match items {
        [tag, last, first] if *tag == Value::keyword("append-log") => Ok((
            last.as_uuid().ok_or_else(not_log)?,
            first.as_uuid().ok_or_else(not_log)?,
        )),
        _ => Err(not_log()),
    }
}
