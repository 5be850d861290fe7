//! [`S3Backing`]: a store's blobs as objects `<store-id>_<name>` in a bucket.

use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use super::backing::{
    Backing, BlobDeleteFailure, BlobStream, BlobVersion, ListedBlob, Revalidated, StoredBlob,
};
use super::client::S3Client;
use crate::Conditions;
use crate::error::{Error, Result};
use crate::layout;
use crate::s3::request::Body;
use crate::s3::request::{BodyChecksum, ByteRange, CompletedPart};

use super::io;
use super::mode::{self, BodySource, fill, run_bounded};

/// Smallest part S3 accepts in a multipart upload (except the last one).
pub const MIN_PART_SIZE: usize = 5 << 20;

/// How many parts of a multipart upload are sent at once. An upload holds at
/// most this many parts in memory (2 × 8 MiB with the default part size);
/// two in flight overlap hashing and sending one part with the server's
/// handling of the other (docs/benchmarks.md).
pub const PARTS_IN_FLIGHT: usize = 2;

/// Blobs of one store in an S3 bucket.
#[derive(Clone, Debug)]
pub struct S3Backing {
    client: S3Client,
    store_id: Uuid,
    prefix: String,
    part_size: usize,
}

impl S3Backing {
    /// The backing of store `store_id` through `client`.
    pub fn new(client: S3Client, store_id: Uuid) -> Self {
        S3Backing {
            prefix: layout::store_prefix(store_id),
            client,
            store_id,
            part_size: 8 << 20,
        }
    }

    /// Sets the part size of multipart uploads for large binary values
    /// (at least 5 MiB; default 8 MiB). Values smaller than one part are
    /// sent in a single PUT.
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(MIN_PART_SIZE);
        self
    }

    /// The client.
    pub fn client(&self) -> &S3Client {
        &self.client
    }

    /// The store id.
    pub fn store_id(&self) -> Uuid {
        self.store_id
    }

    fn object(&self, name: &str) -> String {
        let mut s = String::with_capacity(self.prefix.len() + name.len());
        s.push_str(&self.prefix);
        s.push_str(name);
        s
    }
}

/// Aborts a multipart upload when dropped armed: when the write that
/// started it is cancelled (its future dropped, in the async mode) or
/// unwinds before it has completed or aborted the upload itself.
struct UploadGuard {
    client: S3Client,
    armed: Option<(String, String)>,
}

impl UploadGuard {
    fn new(client: &S3Client, key: &str, upload_id: &str) -> Self {
        UploadGuard {
            client: client.clone(),
            armed: Some((key.to_owned(), upload_id.to_owned())),
        }
    }

    fn disarm(&mut self) {
        self.armed = None;
    }
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        if let Some((key, upload_id)) = self.armed.take() {
            abort_detached(self.client.clone(), key, upload_id);
        }
    }
}

/// Aborts an upload from a `Drop`: in the async mode on a task of the
/// current tokio runtime, in the blocking mode in place. An upload whose
/// abort cannot be started or fails is noted on the client for the next
/// [`S3Backing::cleanup_incomplete_uploads`].
#[io(AFIT)]
fn abort_detached(client: S3Client, key: String, upload_id: String) {
    let fallback = (client.clone(), key.clone(), upload_id.clone());
    let started = mode::spawn_detached(async move {
        // Whether the upload is gone (a value, not `()`, so that the
        // blocking mode's plain block is no unit argument).
        match client.abort_multipart_upload(&key, &upload_id).await {
            Ok(()) | Err(Error::NotFound(_)) => true,
            Err(_) => {
                client.remember_abandoned_upload(key, upload_id);
                false
            }
        }
    });
    if !started {
        let (client, key, upload_id) = fallback;
        client.remember_abandoned_upload(key, upload_id);
    }
}

fn missing_as_none<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[io(AFIT)]
impl S3Backing {
    /// Aborts this store's incomplete multipart uploads that were started
    /// more than `older_than` ago (all of them for [`Duration::ZERO`];
    /// an upload whose start the server does not report is kept unless
    /// `older_than` is zero), and every upload this handle failed to
    /// abort before (a cancelled write without a runtime to abort on, an
    /// abort that failed). Returns how many it aborted.
    ///
    /// An upload younger than `older_than` may belong to a write in
    /// progress, here or in another process: aborting it makes that write
    /// fail. Configure the bucket's `AbortIncompleteMultipartUpload`
    /// lifecycle rule as well (docs/consistency.md).
    ///
    #[doc = mode::doc_example!("cleanup_incomplete_uploads")]
    ///
    /// # Errors
    /// S3 failures of the listing, or the first abort that failed (the
    /// others are still tried).
    pub async fn cleanup_incomplete_uploads(&self, older_than: Duration) -> Result<usize> {
        let mut aborted = 0;
        let mut first_error = None;
        for (key, upload_id) in self.client.take_abandoned_uploads() {
            match self.abort_upload(&key, &upload_id).await {
                Ok(n) => aborted += n,
                Err(e) => {
                    self.client.remember_abandoned_upload(key, upload_id);
                    first_error.get_or_insert(e);
                }
            }
        }
        let cutoff = jiff::Timestamp::now().checked_sub(older_than).ok();
        let listed = self
            .client
            .list_multipart_uploads(Some(&self.prefix))
            .await?;
        for upload in listed {
            let old = older_than.is_zero()
                || matches!((upload.initiated, cutoff), (Some(t), Some(c)) if t <= c);
            if !old {
                continue;
            }
            match self.abort_upload(&upload.key, &upload.upload_id).await {
                Ok(n) => aborted += n,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(aborted),
        }
    }

    /// Aborts one upload: 1 when aborted, 0 when it was gone already.
    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<usize> {
        let aborted = self.client.abort_multipart_upload(key, upload_id).await;
        Ok(missing_as_none(aborted)?.map_or(0, |()| 1))
    }

    /// The first `len` bytes of blob `name` (at least one byte is asked
    /// for), under `conditions`.
    async fn read_prefix(
        &self,
        name: &str,
        len: u64,
        conditions: &Conditions,
    ) -> Result<Option<StoredBlob>> {
        let range = ByteRange {
            start: 0,
            end_inclusive: Some(len.max(1) - 1),
        };
        match self
            .client
            .get_object_if(&self.object(name), Some(range), conditions)
            .await
        {
            Ok(g) => Ok(Some(StoredBlob {
                total_size: g.total_size,
                etag: g.etag,
                bytes: g.body,
            })),
            Err(Error::NotFound(_)) => Ok(None),
            // 416: an empty object has no byte 0; read it whole.
            Err(Error::Rejected(c)) if c.status == Some(416) => self.read_blob(name).await,
            Err(e) => Err(e),
        }
    }

    /// Uploads `first` and the rest of `reader` as parts, up to
    /// [`PARTS_IN_FLIGHT`] at once: reads that many parts, sends them
    /// concurrently, and so on, so at most that many parts are held in
    /// memory. Every part but the last is exactly `part_size` long.
    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        first: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
        checksum: BodyChecksum,
    ) -> Result<()> {
        let mut etags: Vec<CompletedPart> = Vec::new();
        let mut pending = Some(first);
        let mut ended = false;
        loop {
            let mut batch: Vec<(usize, Vec<u8>)> = Vec::with_capacity(PARTS_IN_FLIGHT);
            if let Some(part) = pending.take() {
                batch.push((etags.len(), part));
            }
            while batch.len() < PARTS_IN_FLIGHT && !ended {
                let mut next = Vec::with_capacity(self.part_size);
                ended = fill(reader, &mut next, self.part_size).await?;
                if next.is_empty() {
                    ended = true;
                    break;
                }
                batch.push((etags.len() + batch.len(), next));
            }
            if batch.is_empty() {
                break;
            }
            let sent = run_bounded(
                batch,
                PARTS_IN_FLIGHT,
                |(done, part): (usize, Vec<u8>)| async move {
                    self.upload_part(key, upload_id, done, part, checksum).await
                },
            )
            .await;
            for etag in sent {
                etags.push(etag?);
            }
            if ended {
                break;
            }
        }
        self.client
            .complete_upload(key, upload_id, &etags, conditions)
            .await
    }

    /// One `PutObject` of a store's blob: the capability probe first, once,
    /// under `checksum: auto`, so that it carries the checksum the provider
    /// checks.
    async fn put(
        &self,
        key: &str,
        blob: Body,
        conditions: &Conditions,
        tag: Option<&str>,
    ) -> Result<()> {
        self.client.learn_capabilities().await;
        self.client
            .put(key, blob, conditions, tag)
            .await
            .map(|_| ())
    }

    /// `prefix` and the rest of `reader` as one object: a single PUT when
    /// it fits one part, else a multipart upload; tagged with `tag` if any.
    async fn stream(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
        tag: Option<&str>,
    ) -> Result<()> {
        let key = self.object(name);
        let mut first = prefix;
        let wanted = self.part_size.max(first.len());
        let ended = fill(reader, &mut first, wanted).await?;
        if ended {
            return self
                .put(&key, Bytes::from(first).into(), conditions, tag)
                .await;
        }
        // Under `checksum: auto` the parts carry what the probe found
        // checked on `UploadPart`: learn it first, and keep the choice for
        // the whole upload (declared by its create, listed by its complete).
        self.client.learn_capabilities().await;
        let checksum = self.client.part_checksum();
        let upload_id = self.client.create_upload(&key, tag, checksum).await?;
        // From here on the upload is aborted on every way out but a
        // successful Complete: an error (below), a cancelled future or an
        // unwinding panic (the guard).
        let mut guard = UploadGuard::new(&self.client, &key, &upload_id);
        let result = self
            .upload_parts(&key, &upload_id, first, reader, conditions, checksum)
            .await;
        if let Err(e) = result {
            // Free the parts; the original error is what matters. After
            // a Complete whose outcome is unclear the upload may be gone
            // already (NoSuchUpload), which is fine.
            let aborted = self.client.abort_multipart_upload(&key, &upload_id).await;
            guard.disarm();
            if let Err(abort_error) = aborted
                && !abort_error.is_not_found()
            {
                self.client.remember_abandoned_upload(key, upload_id);
            }
            return Err(e);
        }
        guard.disarm();
        Ok(())
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        done: usize,
        part: Vec<u8>,
        checksum: BodyChecksum,
    ) -> Result<CompletedPart> {
        let number = u16::try_from(done + 1)
            .ok()
            .filter(|n| *n <= 10_000)
            .ok_or(Error::Unsupported {
                operation: "bassoc",
                reason: "more than 10000 parts: raise the part size".into(),
            })?;
        self.client
            .send_part(key, upload_id, number, Bytes::from(part), checksum)
            .await
    }
}

#[io(AFIT)]
impl Backing for S3Backing {
    fn kind(&self) -> &'static str {
        "s3"
    }

    async fn read_blob(&self, name: &str) -> Result<Option<StoredBlob>> {
        let got = missing_as_none(self.client.get_object(&self.object(name), None).await)?;
        Ok(got.map(|g| StoredBlob {
            total_size: g.total_size,
            etag: g.etag,
            bytes: g.body,
        }))
    }

    async fn read_blob_prefix(&self, name: &str, len: u64) -> Result<Option<StoredBlob>> {
        self.read_prefix(name, len, &Conditions::NONE).await
    }

    async fn read_blob_if_none_match(&self, name: &str, etag: &str) -> Result<Revalidated> {
        let got = self
            .client
            .get_object_if_none_match(&self.object(name), etag)
            .await;
        Ok(match missing_as_none(got)? {
            None => Revalidated::Missing,
            Some(None) => Revalidated::Unchanged,
            Some(Some(g)) => Revalidated::Changed(StoredBlob {
                total_size: g.total_size,
                etag: g.etag,
                bytes: g.body,
            }),
        })
    }

    async fn read_blob_prefix_if_match(
        &self,
        name: &str,
        len: u64,
        etag: &str,
    ) -> Result<Option<StoredBlob>> {
        self.read_prefix(name, len, &Conditions::if_match(etag))
            .await
    }

    async fn read_blob_stream(&self, name: &str) -> Result<Option<BlobStream>> {
        let got = missing_as_none(self.client.get_object_stream(&self.object(name)).await)?;
        Ok(got.map(|(info, body)| BlobStream {
            total_size: info.size,
            reader: body,
        }))
    }

    async fn write_blob(&self, name: &str, blob: Bytes, conditions: &Conditions) -> Result<()> {
        self.put(&self.object(name), blob.into(), conditions, None)
            .await
    }

    async fn write_blob_stream(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
    ) -> Result<()> {
        self.stream(name, prefix, reader, conditions, None).await
    }

    fn keeps_write_tags(&self) -> bool {
        true
    }

    async fn write_blob_tagged(
        &self,
        name: &str,
        blob: Bytes,
        conditions: &Conditions,
        tag: &str,
    ) -> Result<()> {
        self.put(&self.object(name), blob.into(), conditions, Some(tag))
            .await
    }

    async fn write_blob_pieces_tagged(
        &self,
        name: &str,
        head: Bytes,
        tail: Bytes,
        conditions: &Conditions,
        tag: &str,
    ) -> Result<()> {
        let body = Body::chained(head, tail);
        self.put(&self.object(name), body, conditions, Some(tag))
            .await
    }

    async fn write_blob_stream_tagged(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
        tag: &str,
    ) -> Result<()> {
        self.stream(name, prefix, reader, conditions, Some(tag))
            .await
    }

    async fn blob_version(&self, name: &str) -> Result<Option<BlobVersion>> {
        let info = missing_as_none(self.client.head_object(&self.object(name)).await)?;
        Ok(info.map(|info| BlobVersion::new(info.etag, info.write_tag)))
    }

    async fn blob_exists(&self, name: &str) -> Result<bool> {
        self.client.object_exists(&self.object(name)).await
    }

    async fn blob_etag(&self, name: &str) -> Result<Option<String>> {
        Ok(self.blob_version(name).await?.and_then(|v| v.etag))
    }

    async fn delete_blob(&self, name: &str, conditions: &Conditions) -> Result<()> {
        self.client
            .delete_object(&self.object(name), conditions)
            .await
    }

    async fn delete_blobs(&self, names: &[String]) -> Result<()> {
        let keys: Vec<String> = names.iter().map(|n| self.object(n)).collect();
        self.client.delete_objects(&keys).await
    }

    async fn delete_blobs_reporting(&self, names: &[String]) -> Vec<BlobDeleteFailure> {
        let keys: Vec<String> = names.iter().map(|n| self.object(n)).collect();
        self.client
            .delete_objects_reporting(&keys)
            .await
            .into_iter()
            .map(|f| {
                let names = f
                    .keys
                    .iter()
                    .map(|k| k.strip_prefix(&self.prefix).unwrap_or(k).to_owned())
                    .collect();
                BlobDeleteFailure::new(names, f.error)
            })
            .collect()
    }

    async fn list_blobs(&self) -> Result<Vec<String>> {
        Ok(self
            .list_blobs_versioned()
            .await?
            .into_iter()
            .map(|b| b.name)
            .collect())
    }

    async fn list_blobs_versioned(&self) -> Result<Vec<ListedBlob>> {
        let listed = self.client.list_objects(Some(&self.prefix)).await?;
        Ok(listed
            .into_iter()
            .filter_map(|o| {
                let name = o.key.strip_prefix(&self.prefix)?.to_owned();
                (name != layout::MARKER_NAME).then(|| ListedBlob::new(name, o.etag))
            })
            .collect())
    }
}
