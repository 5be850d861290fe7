//! Writes to one key: `assoc`, `assoc_in`, `update_in`, `dissoc`, and the
//! read-modify-write loop with optimistic locking under them.

use bytes::Bytes;

use super::Backing;
use super::io;
use super::mode::{MaybeSend, Transport};
use super::{ApiOp, Current, DissocOptions, Store, Version, WriteEvent, split_path};
use crate::Conditions;
use crate::conditions::md5_etag_of;
use crate::error::{Error, Result};
use crate::layout;
use crate::meta::{self, BlobType};
use crate::path;
use crate::value::Value;

/// How a conditional write turned out, after looking again if its answer
/// was unclear.
pub(super) enum Settled {
    /// The write is stored (answered so, or found after a lost answer).
    Landed,
    /// It did not land; the error says why (a conflict, or an unclear
    /// failure after which the key still held the version we read).
    NotLanded(Error),
}

/// The new top-level value of an update's result, for the cache.
fn new_top_level(out: &(Option<Value>, Value)) -> Option<&Value> {
    Some(&out.1)
}

/// A fresh random id for one write ([`Backing::write_blob_tagged`]).
pub(super) fn new_write_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A blob to write: one buffer (`tail`, `head` empty), or a head (header
/// and metadata) with a binary value behind it, sent back to back where
/// the backing can ([`Backing::write_blob_pieces_tagged`]).
pub(super) struct Outgoing {
    pub(super) head: Bytes,
    pub(super) tail: Bytes,
}

impl Outgoing {
    fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }
}

impl From<Bytes> for Outgoing {
    fn from(blob: Bytes) -> Self {
        Outgoing {
            head: Bytes::new(),
            tail: blob,
        }
    }
}

#[io(AFIT)]
impl<B: Backing> Store<B> {
    /// Writes `blob` to blob `name` of `key` under `conditions`, tagged as
    /// this one write, and settles an unclear failure ([`Store::settle`]).
    pub(super) async fn write_settled(
        &self,
        key: &Value,
        name: &str,
        blob: impl Into<Outgoing>,
        conditions: &Conditions,
    ) -> Result<Settled> {
        let blob = blob.into();
        let tag = new_write_tag();
        let backing = &self.inner.backing;
        let written = if blob.head.is_empty() {
            backing
                .write_blob_tagged(name, blob.tail.clone(), conditions, &tag)
                .await
        } else {
            let (head, tail) = (blob.head.clone(), blob.tail.clone());
            backing
                .write_blob_pieces_tagged(name, head, tail, conditions, &tag)
                .await
        };
        match written {
            Ok(()) => Ok(Settled::Landed),
            Err(e) if !conditions.is_conditional() => Err(e),
            Err(e) => {
                self.settle(key, name, &tag, Some(&blob), conditions, e)
                    .await
            }
        }
    }

    /// After a conditional write (tagged `tag`, of bytes `sent` when known,
    /// under `conditions`) failed: did it land anyway? Only an unclear
    /// failure is looked into — a transport error, a 5xx, or a refusal of a
    /// request the transport had to repeat after losing its connection
    /// (the first try may have landed, and the repeat is then refused
    /// because the blob is already ours). A first-try 412 or 409 is a
    /// plain conflict.
    ///
    /// Looking again (one HEAD), the write landed if the blob is ours (it
    /// carries our write tag; on a backing without tags, its ETag is the
    /// MD5 of our bytes), did not land if the blob is still the version
    /// we wrote over (the ETag of our `If-Match`, or still missing under
    /// `If-None-Match: *`), and otherwise may have landed and been written
    /// over since: [`Error::OutcomeUnknown`], never a repeat, which could
    /// apply an update twice.
    pub(super) async fn settle(
        &self,
        key: &Value,
        name: &str,
        tag: &str,
        sent: Option<&Outgoing>,
        conditions: &Conditions,
        error: Error,
    ) -> Result<Settled> {
        // Unclear: a failure that could be transient (the request may
        // have been applied), or a refusal of a repeated request.
        let ambiguous = match &error {
            e if e.is_retryable() => true,
            Error::PreconditionFailed(c) | Error::Conflict(c) => c.attempts > 1,
            _ => return Err(error),
        };
        if !ambiguous {
            return Ok(Settled::NotLanded(error));
        }
        let unknown = |cause: Error| Error::OutcomeUnknown {
            key: key.to_string(),
            cause: Box::new(cause),
        };
        let version = match self.inner.backing.blob_version(name).await {
            Ok(version) => version,
            Err(_) => return Err(unknown(error)),
        };
        let ours = match &version {
            None => false,
            Some(v) if self.inner.backing.keeps_write_tags() => v.write_tag.as_deref() == Some(tag),
            // Hashed only here, on the rare unclear path: a blob's ETag
            // is the MD5 of its bytes.
            Some(v) => sent.is_some_and(|b| {
                v.etag.as_deref() == Some(md5_etag_of(&[&b.head, &b.tail]).as_str())
            }),
        };
        if ours {
            return Ok(Settled::Landed);
        }
        let unchanged = match &version {
            None => conditions.if_none_match.as_deref() == Some("*"),
            Some(v) => v.etag.is_some() && v.etag == conditions.if_match,
        };
        if unchanged {
            Ok(Settled::NotLanded(error))
        } else {
            Err(unknown(error))
        }
    }

    /// A read-modify-write of blob `name` under the key's lock: `make`
    /// turns what is stored (`None`: missing) into the blob to write and
    /// a result. With optimistic locking the write is conditional and,
    /// on a conflict, the blob is re-read and `make` runs again, up to
    /// the configured retries, with backoff in between.
    ///
    /// The key's cache entry is dropped before the write and, once the
    /// write landed, replaced by the value `cached` finds in the result
    /// (`None`: left out), still under the key's lock.
    pub(super) async fn read_modify_write<T, F, O>(
        &self,
        key: &Value,
        name: &str,
        meta_only: bool,
        make: &mut F,
        cached: fn(&T) -> Option<&Value>,
    ) -> Result<T>
    where
        F: FnMut(Option<Current>) -> Result<(O, T)> + MaybeSend,
        O: Into<Outgoing>,
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
        let was_cached = self.cache_take(name);
        let mut attempt = 1;
        loop {
            let current = if meta_only {
                self.read_meta_current(name).await?
            } else {
                self.read_current(name).await?
            };
            let conditions = self.conditions_for(current.as_ref())?;
            let (blob, out) = make(current)?;
            let blob = blob.into();
            let size = blob.len();
            match self.write_settled(key, name, blob, &conditions).await? {
                Settled::Landed => {
                    self.cache_written(name, was_cached, cached(&out), size);
                    return Ok(out);
                }
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
    pub(super) async fn overwrite(
        &self,
        key: &Value,
        value: &Value,
        extra: Option<&Value>,
    ) -> Result<()> {
        let name = layout::blob_name(key);
        let meta = meta::fresh(key, BlobType::Edn, extra);
        let blob = self.encode_edn(&name, &meta, value)?;
        let size = blob.len();
        let _guard = self.inner.locks.lock(&name).await;
        let was_cached = self.cache_take(&name);
        self.inner
            .backing
            .write_blob(&name, blob, &Conditions::NONE)
            .await?;
        self.cache_written(&name, was_cached, Some(value), size);
        Ok(())
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
            self.update_value_at(top, rest, &mut |_| new.take().unwrap_or(Value::Nil))
                .await?
        };
        self.fire_with(|| {
            let mut event = WriteEvent::new(ApiOp::AssocIn, top.clone());
            event.key_vec = Some(path.to_vec());
            event.value = Some(result.1.clone());
            event
        });
        Ok(result)
    }

    /// `update-in`: applies `f` to the value at `path` (`None` where
    /// missing) and stores the result; returns the old and new
    /// *top-level* values. One GET and one PUT on S3.
    ///
    /// `f` may run more than once when optimistic locking retries, but
    /// never again once its result may be stored.
    ///
    /// # Errors
    /// Backing failures; [`Error::Path`]; with optimistic locking,
    /// [`Error::OptimisticLockConflict`] (nothing stored) or, after an
    /// unclear answer and another writer's write, [`Error::OutcomeUnknown`]
    /// (stored or not).
    pub async fn update_in(
        &self,
        path: &[Value],
        mut f: impl FnMut(Option<Value>) -> Value + MaybeSend,
    ) -> Result<(Option<Value>, Value)> {
        let (top, rest) = split_path(path)?;
        let result = self.update_value_at(top, rest, &mut f).await?;
        self.fire_with(|| {
            let mut event = WriteEvent::new(ApiOp::UpdateIn, top.clone());
            event.key_vec = Some(path.to_vec());
            event.old_value = result.0.clone();
            event.value = Some(result.1.clone());
            event
        });
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

    /// Applies `f` to the value at `rest` inside the top-level value `top`
    /// (the whole value when `rest` is empty), as one read-modify-write.
    pub(super) async fn update_value_at<F>(
        &self,
        top: &Value,
        rest: &[Value],
        f: &mut F,
    ) -> Result<(Option<Value>, Value)>
    where
        F: FnMut(Option<Value>) -> Value + MaybeSend,
    {
        let name = layout::blob_name(top);
        let mut make = |current: Option<Current>| -> Result<(Bytes, (Option<Value>, Value))> {
            // The stored value is moved, not copied: one copy goes to `f`,
            // the other is returned.
            let (old, old_meta) = match current {
                Some(c) => (Some(c.value.unwrap_or(Value::Nil)), Some(c.meta)),
                None => (None, None),
            };
            let new = if rest.is_empty() {
                f(old.clone())
            } else {
                path::update_in(old.clone().unwrap_or(Value::Nil), rest, &mut *f)?
            };
            let meta = meta::updated(top, BlobType::Edn, old_meta);
            let blob = self.encode_edn(&name, &meta, &new)?;
            Ok((blob, (old, new)))
        };
        self.read_modify_write(top, &name, false, &mut make, new_top_level)
            .await
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
            self.cache_take(&name);
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
}
