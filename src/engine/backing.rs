//! The backing trait: where blobs live. konserve's backing-store idea — blobs
//! in, blobs out — with names relative to one store (`<uuid>.ksv`).

#[allow(unused_imports)] // used by the async mode only
use std::future::Future;

use bytes::Bytes;

use crate::Conditions;
use crate::error::Result;

use super::io;
use super::mode::{BodyReader, BodySource};

/// A blob as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    /// The bytes read (all of them, or the asked-for prefix).
    pub bytes: Bytes,
    /// The blob's total size, when known.
    pub total_size: Option<u64>,
    /// The blob's version tag (S3's ETag), when the backing has one.
    pub etag: Option<String>,
}

/// What a backing knows about the current version of a blob, for telling
/// after an unclear answer whether a write landed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobVersion {
    /// The version tag (S3's ETag), when the backing has one.
    pub etag: Option<String>,
    /// The write tag the blob was written with
    /// ([`Backing::write_blob_tagged`]), when the backing keeps them and
    /// the writer gave one.
    pub write_tag: Option<String>,
}

impl BlobVersion {
    /// A version with this ETag and write tag.
    pub fn new(etag: Option<String>, write_tag: Option<String>) -> Self {
        BlobVersion { etag, write_tag }
    }

    /// A version known by its ETag only.
    pub fn of_etag(etag: String) -> Self {
        BlobVersion::new(Some(etag), None)
    }
}

/// A blob as a listing names it ([`Backing::list_blobs_versioned`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedBlob {
    /// The store-relative name (`<uuid>.ksv`).
    pub name: String,
    /// The blob's version tag (S3's ETag) as the listing gave it; `None`
    /// when the backing's listing carries none.
    pub etag: Option<String>,
}

impl ListedBlob {
    /// A listed blob.
    pub fn new(name: String, etag: Option<String>) -> Self {
        ListedBlob { name, etag }
    }
}

/// Blobs [`Backing::delete_blobs_reporting`] left in place, and why.
#[derive(Debug)]
#[non_exhaustive]
pub struct BlobDeleteFailure {
    /// The store-relative names of the blobs not deleted.
    pub names: Vec<String>,
    /// Why.
    pub error: crate::Error,
}

impl BlobDeleteFailure {
    /// A failure to delete `names`.
    pub fn new(names: Vec<String>, error: crate::Error) -> Self {
        BlobDeleteFailure { names, error }
    }
}

/// The answer of [`Backing::read_blob_if_none_match`]: whether a blob still
/// is the version a reader holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revalidated {
    /// The blob is still that version; nothing was transferred (S3: one
    /// GET answered `304 Not Modified`, no body).
    Unchanged,
    /// The blob is another version now: here it is, whole.
    Changed(StoredBlob),
    /// The blob does not exist (any more).
    Missing,
}

/// The payload of a binary value being read: its bytes as a stream.
pub struct BlobStream {
    /// The blob from its first byte (header, metadata, then the raw value).
    pub reader: BodyReader,
    /// Total size of the blob, when known.
    pub total_size: Option<u64>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("total_size", &self.total_size)
            .finish_non_exhaustive()
    }
}

/// Where a store's blobs live.
///
/// Names are store-relative (`<uuid>.ksv`). Implementations must make each
/// [`Backing::write_blob`] visible atomically (readers see the old or the
/// new blob, never a mix). Multi-key operations are optional and must be
/// atomic when offered.
#[io(AFIT)]
pub trait Backing: Send + Sync {
    /// A short name for messages (`s3`, `memory`, …).
    fn kind(&self) -> &'static str;

    /// Reads a whole blob; `None` when it does not exist.
    fn read_blob(&self, name: &str) -> impl Future<Output = Result<Option<StoredBlob>>> + Send;

    /// Reads at least the first `len` bytes of a blob (fewer if it is
    /// shorter); `None` when it does not exist.
    fn read_blob_prefix(
        &self,
        name: &str,
        len: u64,
    ) -> impl Future<Output = Result<Option<StoredBlob>>> + Send;

    /// Like [`Backing::read_blob_prefix`], only if the blob's version tag is
    /// still `etag` (S3's `If-Match`); otherwise
    /// [`Error::PreconditionFailed`](crate::Error::PreconditionFailed). The
    /// default reads and compares the tag the read returns, which is right
    /// for any backing whose tag describes the bytes of the same read.
    fn read_blob_prefix_if_match(
        &self,
        name: &str,
        len: u64,
        etag: &str,
    ) -> impl Future<Output = Result<Option<StoredBlob>>> + Send {
        async move {
            match self.read_blob_prefix(name, len).await? {
                Some(b) if b.etag.as_deref() != Some(etag) => {
                    Err(crate::Error::precondition_failed(name))
                }
                other => Ok(other),
            }
        }
    }

    /// Reads a whole blob only if its version tag is no longer `etag`
    /// (S3's `If-None-Match: <etag>`, answered `304 Not Modified` without
    /// a body when it still is). The default reads the blob and compares
    /// the tag, which is right for any backing whose reads are local;
    /// [`S3Backing`](super::S3Backing) sends the conditional GET, so a
    /// revalidated cache hit costs one request and no body.
    fn read_blob_if_none_match(
        &self,
        name: &str,
        etag: &str,
    ) -> impl Future<Output = Result<Revalidated>> + Send {
        async move {
            Ok(match self.read_blob(name).await? {
                None => Revalidated::Missing,
                Some(b) if b.etag.as_deref() == Some(etag) => Revalidated::Unchanged,
                Some(b) => Revalidated::Changed(b),
            })
        }
    }

    /// Reads a blob as a stream; `None` when it does not exist.
    fn read_blob_stream(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<BlobStream>>> + Send;

    /// Writes a whole blob, replacing any previous one, if `conditions`
    /// hold (`If-Match: <etag>`: only over that version; `If-None-Match:
    /// *`: only if there is none).
    ///
    /// A failed condition is [`Error::PreconditionFailed`](crate::Error::PreconditionFailed)
    /// (or [`Error::Conflict`](crate::Error::Conflict) for a concurrent
    /// conditional write in flight).
    fn write_blob(
        &self,
        name: &str,
        blob: Bytes,
        conditions: &Conditions,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Writes `prefix` followed by everything `reader` yields as one blob,
    /// without holding the whole value in memory where the backing can;
    /// conditions as for [`Backing::write_blob`].
    fn write_blob_stream(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Whether this backing keeps the write tag of
    /// [`Backing::write_blob_tagged`] and reports it in
    /// [`Backing::blob_version`]. A backing that does not can only tell a
    /// write by its bytes, which two writers may happen to share; it must
    /// then never give an unclear answer to a conditional write (local
    /// backings don't).
    fn keeps_write_tags(&self) -> bool {
        false
    }

    /// [`Backing::write_blob`], tagging the blob with `tag`, a random id
    /// of this one write, where the backing keeps such tags
    /// ([`Backing::keeps_write_tags`]; the default ignores it).
    fn write_blob_tagged(
        &self,
        name: &str,
        blob: Bytes,
        conditions: &Conditions,
        tag: &str,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            let _ = tag;
            self.write_blob(name, blob, conditions).await
        }
    }

    /// [`Backing::write_blob_tagged`] of `head` followed by `tail` as one
    /// blob (a binary value behind its header and metadata). A backing
    /// that can send the two back to back (S3: one PUT whose body is both)
    /// need not copy the tail behind the head; the default joins them, in
    /// the tail's own buffer when nothing else holds it.
    fn write_blob_pieces_tagged(
        &self,
        name: &str,
        head: Bytes,
        tail: Bytes,
        conditions: &Conditions,
        tag: &str,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            let blob = joined(head, tail);
            self.write_blob_tagged(name, blob, conditions, tag).await
        }
    }

    /// [`Backing::write_blob_stream`], tagging the blob with `tag` as
    /// [`Backing::write_blob_tagged`] does.
    fn write_blob_stream_tagged(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
        tag: &str,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            let _ = tag;
            self.write_blob_stream(name, prefix, reader, conditions)
                .await
        }
    }

    /// The current version of a blob (ETag and write tag); `None` when it
    /// does not exist. The default asks [`Backing::blob_etag`].
    fn blob_version(&self, name: &str) -> impl Future<Output = Result<Option<BlobVersion>>> + Send {
        async move { Ok(self.blob_etag(name).await?.map(BlobVersion::of_etag)) }
    }

    /// Whether a blob exists.
    fn blob_exists(&self, name: &str) -> impl Future<Output = Result<bool>> + Send;

    /// The version tag of a blob; `None` when it does not exist (or the
    /// backing has no tags).
    fn blob_etag(&self, name: &str) -> impl Future<Output = Result<Option<String>>> + Send;

    /// Deletes a blob (deleting a missing blob succeeds) if `conditions`
    /// hold.
    fn delete_blob(
        &self,
        name: &str,
        conditions: &Conditions,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Deletes many blobs.
    fn delete_blobs(&self, names: &[String]) -> impl Future<Output = Result<()>> + Send;

    /// Deletes many blobs as [`Backing::delete_blobs`] does, but goes on
    /// past failures and tells which blobs are left and why; empty when
    /// every blob is gone. The default deletes one blob at a time; S3
    /// sends one `DeleteObjects` per 1000 blobs and reports the keys the
    /// server names in its answer.
    fn delete_blobs_reporting(
        &self,
        names: &[String],
    ) -> impl Future<Output = Vec<BlobDeleteFailure>> + Send {
        async move {
            let mut failures = Vec::new();
            for name in names {
                if let Err(e) = self.delete_blob(name, &Conditions::NONE).await {
                    failures.push(BlobDeleteFailure::new(vec![name.clone()], e));
                }
            }
            failures
        }
    }

    /// The names of all blobs of the store (the marker excluded).
    fn list_blobs(&self) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// The blobs of the store with the version tag the listing gives for
    /// each, where it gives one (S3's `ListObjectsV2` does, at no extra
    /// cost). [`Store::keys`](super::Store::keys) reuses the metadata it
    /// read before for a blob whose listed tag is unchanged. The default
    /// lists names only ([`Backing::list_blobs`]), so nothing is reused.
    fn list_blobs_versioned(&self) -> impl Future<Output = Result<Vec<ListedBlob>>> + Send {
        async move {
            Ok(self
                .list_blobs()
                .await?
                .into_iter()
                .map(|name| ListedBlob::new(name, None))
                .collect())
        }
    }

    /// Whether this backing offers atomic multi-key operations.
    fn supports_multi_key(&self) -> bool {
        false
    }

    /// Writes all blobs atomically (all or none).
    fn multi_write_blobs(
        &self,
        blobs: Vec<(String, Bytes)>,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            let _ = blobs;
            Err(crate::Error::Unsupported {
                operation: "multi-key write",
                reason: "this backing cannot write several blobs atomically".into(),
            })
        }
    }

    /// Reads several blobs at one point in time; `None` for missing ones.
    fn multi_read_blobs(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Bytes>>>> + Send {
        async move {
            let _ = names;
            Err(crate::Error::Unsupported {
                operation: "multi-key read",
                reason: "this backing cannot read several blobs atomically".into(),
            })
        }
    }

    /// Deletes several blobs atomically; tells for each whether it existed.
    fn multi_delete_blobs(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<bool>>> + Send {
        async move {
            let _ = names;
            Err(crate::Error::Unsupported {
                operation: "multi-key delete",
                reason: "this backing cannot delete several blobs atomically".into(),
            })
        }
    }
}

/// `head` ‖ `tail` in one buffer: `tail`'s own when it is the only owner
/// of one (the head goes in front; no copy of the tail into a new buffer,
/// and no more memory than the head needs), otherwise a new one.
pub(crate) fn joined(head: Bytes, tail: Bytes) -> Bytes {
    if head.is_empty() {
        return tail;
    }
    let mut buf = Vec::from(tail);
    // Exactly what the head needs, not the doubling `splice` would ask for.
    buf.reserve_exact(head.len());
    buf.splice(..0, head.iter().copied());
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_puts_the_head_in_front_in_the_tails_own_buffer() {
        let mut value = Vec::with_capacity(1000);
        value.extend((0..1000u32).map(|i| i as u8));
        let expected = value.clone();
        let blob = joined(Bytes::from_static(b"HEADER+META"), Bytes::from(value));
        assert_eq!(&blob[..11], b"HEADER+META");
        assert_eq!(&blob[11..], &expected[..]);
        assert_eq!(joined(Bytes::new(), Bytes::from_static(b"v")), &b"v"[..]);
    }

    #[test]
    fn joined_leaves_a_shared_tail_alone() {
        let shared = Bytes::from(vec![1u8, 2, 3]);
        let blob = joined(Bytes::from_static(b"P"), shared.clone());
        assert_eq!(&blob[..], b"P\x01\x02\x03");
        assert_eq!(&shared[..], [1, 2, 3]);
        let fixed = joined(Bytes::from_static(b"P"), Bytes::from_static(b"abc"));
        assert_eq!(&fixed[..], b"Pabc");
    }
}
