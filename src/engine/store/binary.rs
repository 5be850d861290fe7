//! Binary values: `bassoc`, `bassoc_reader` (streamed, multipart on S3),
//! `bget` (streamed).

use bytes::Bytes;

use super::Backing;
use super::io;
use super::mode::{BodyReader, BodySource, chain, fill};
use super::write::{Settled, new_write_tag};
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
    /// A `Vec<u8>` (or a `Bytes` made from one and not shared) becomes the
    /// stored blob's buffer: header and metadata go in front of the value
    /// in place, so the value is not copied (on the memory backing the
    /// store then holds the only copy). A shared or static `Bytes` is
    /// copied once. Write hooks, when any are registered, get a copy.
    ///
    /// # Errors
    /// Backing failures.
    pub async fn bassoc(&self, key: impl Into<Value>, bytes: impl Into<Bytes>) -> Result<()> {
        let key = key.into();
        let name = layout::blob_name(&key);
        // The value, then the blob of the last attempt (prefix ‖ value)
        // with the length of its prefix, for a retry to reuse in place.
        let mut buffer: Bytes = bytes.into();
        let mut prefix_len = 0;
        let mut make = |current: Option<Current>| -> Result<(Bytes, usize)> {
            let meta = meta::updated(&key, BlobType::Binary, current.map(|c| c.meta));
            let prefix = self
                .inner
                .encoding
                .encode_binary_prefix(&meta)
                .map_err(|e| blob_error(&name, e))?;
            let blob = with_prefix(std::mem::take(&mut buffer), prefix_len, prefix.as_slice());
            prefix_len = prefix.len();
            // A clone shares the buffer; once the backing drops its own
            // (a conflict), the retry takes the buffer back uncopied.
            buffer = blob.clone();
            Ok((blob, prefix_len))
        };
        let value_at = self
            .read_modify_write(&key, &name, true, &mut make, |_| None)
            .await?;
        let mut event = WriteEvent::new(ApiOp::Bassoc, key);
        if self.has_hooks() {
            event.value = Some(Value::Bytes(buffer[value_at..].to_vec()));
        }
        drop(buffer);
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

/// `blob` with its first `old_prefix` bytes replaced by `prefix`, in
/// `blob`'s own buffer when it is the only owner of one (no copy of the
/// rest, and no more memory than the new prefix needs), otherwise in a
/// new one.
fn with_prefix(blob: Bytes, old_prefix: usize, prefix: &[u8]) -> Bytes {
    let mut buf = Vec::from(blob);
    // Exactly what the longer prefix needs, not the doubling `splice`
    // would ask for.
    buf.reserve_exact(prefix.len().saturating_sub(old_prefix));
    buf.splice(..old_prefix, prefix.iter().copied());
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_prefix_puts_the_prefix_in_front_in_the_values_own_buffer() {
        let mut value = Vec::with_capacity(1000 + 64);
        value.extend((0..1000u32).map(|i| i as u8));
        let expected_value = value.clone();
        let at = value.as_ptr();
        let blob = with_prefix(Bytes::from(value), 0, b"HEADER+META");
        assert_eq!(blob.as_ptr(), at, "the value's buffer was not reused");
        assert_eq!(&blob[..11], b"HEADER+META");
        assert_eq!(&blob[11..], &expected_value[..]);

        // A retry with a shorter, then a longer prefix, still in place.
        let blob = with_prefix(blob, 11, b"HM");
        assert_eq!(blob.as_ptr(), at);
        assert_eq!(&blob[..2], b"HM");
        assert_eq!(&blob[2..], &expected_value[..]);
        let blob = with_prefix(blob, 2, &[9; 40]);
        assert_eq!(&blob[..40], &[9; 40]);
        assert_eq!(&blob[40..], &expected_value[..]);
    }

    #[test]
    fn with_prefix_leaves_a_shared_buffer_alone() {
        let shared = Bytes::from(vec![1u8, 2, 3]);
        let blob = with_prefix(shared.clone(), 0, b"P");
        assert_eq!(&blob[..], b"P\x01\x02\x03");
        assert_eq!(&shared[..], [1, 2, 3]);
        let fixed = with_prefix(Bytes::from_static(b"abc"), 0, b"P");
        assert_eq!(&fixed[..], b"Pabc");
    }
}
