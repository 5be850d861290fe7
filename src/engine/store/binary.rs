//! Binary values: `bassoc`, `bassoc_reader` (streamed, multipart on S3),
//! `bget` (streamed).

use bytes::Bytes;

use super::Backing;
use super::io;
use super::mode::{BodyReader, BodySource, chain, fill};
use super::write::{Outgoing, Settled, new_write_tag};
use super::{ApiOp, Current, Store, WriteEvent, blob_error};
use crate::codec::blob;
use crate::codec::{BlobHeader, CodecError, HEADER_LEN};
use crate::error::Result;
use crate::layout;
use crate::meta::{self, BlobType};
use crate::value::Value;

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

#[io(AFIT)]
impl<B: Backing> Store<B> {
    /// Stores raw bytes under `key` (`:type :binary`). Keeps the key's
    /// old metadata fields if it had any: one ranged GET and one PUT on S3.
    ///
    /// The value is not copied: on S3 the PUT sends header and metadata,
    /// then the value's own buffer, as one body; a backing that keeps
    /// blobs whole (memory, file) puts header and metadata in front of
    /// the value in place when it holds the only reference to a buffer
    /// (a `Vec<u8>`, or a `Bytes` made from one and not shared), and
    /// copies a shared or static one once. Write hooks, when any are
    /// registered, get a copy.
    ///
    /// # Errors
    /// Backing failures.
    pub async fn bassoc(&self, key: impl Into<Value>, bytes: impl Into<Bytes>) -> Result<()> {
        let key = key.into();
        let name = layout::blob_name(&key);
        let value: Bytes = bytes.into();
        let mut make = |current: Option<Current>| -> Result<(Outgoing, ())> {
            let meta = meta::updated(&key, BlobType::Binary, current.map(|c| c.meta));
            let prefix = self
                .inner
                .encoding
                .encode_binary_prefix(&meta)
                .map_err(|e| blob_error(&name, e))?;
            let head = Bytes::from(prefix);
            // A clone shares the value's buffer: once the backing drops
            // its own, the buffer is the value's alone again.
            Ok((
                Outgoing {
                    head,
                    tail: value.clone(),
                },
                (),
            ))
        };
        self.read_modify_write(&key, &name, true, &mut make, |_| None)
            .await?;
        let mut event = WriteEvent::new(ApiOp::Bassoc, key);
        if self.has_hooks() {
            event.value = Some(Value::Bytes(value.to_vec()));
        }
        drop(value);
        self.fire(event);
        Ok(())
    }

    /// Stores everything `reader` yields under `key` as a binary value,
    /// streaming it (multipart upload on S3 for large values) so it is
    /// never held in memory whole.
    ///
    /// With optimistic locking the write is conditional, but a reader
    /// cannot be replayed: a conflict is
    /// [`Error::OptimisticLockConflict`](crate::Error::OptimisticLockConflict) after one attempt.
    /// A lost answer to a write that landed is recognised as landed.
    ///
    /// # Errors
    /// Backing failures; the reader's I/O errors;
    /// [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown) after an
    /// unclear answer and another writer's write.
    pub async fn bassoc_reader(
        &self,
        key: impl Into<Value>,
        reader: &mut BodySource<'_>,
    ) -> Result<()> {
        let key = key.into();
        let name = layout::blob_name(&key);
        {
            let _guard = self.inner.locks.lock(&name).await;
            self.cache_take(&name);
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
            let tag = new_write_tag();
            let written = self
                .inner
                .backing
                .write_blob_stream_tagged(&name, prefix, reader, &conditions, &tag)
                .await;
            match written {
                Ok(()) => {}
                Err(e) if conditions.is_conditional() => {
                    let settled = self.settle(&key, &name, &tag, None, &conditions, e).await?;
                    if let Settled::NotLanded(e) = settled {
                        return Err(Self::exhausted(&key, 1, e));
                    }
                }
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
    /// Backing failures; [`Error::Blob`](crate::Error::Blob) for a malformed blob.
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
}
