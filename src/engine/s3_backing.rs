//! [`S3Backing`]: a store's blobs as objects `<store-id>_<name>` in a bucket.

use bytes::Bytes;
use uuid::Uuid;

use super::backing::{Backing, BlobStream, BlobVersion, StoredBlob};
use super::client::S3Client;
use crate::Conditions;
use crate::error::{Error, Result};
use crate::layout;
use crate::s3::request::ByteRange;

use super::io;
use super::mode::{BodySource, fill, run_bounded};

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

fn missing_as_none<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[io(AFIT)]
impl S3Backing {
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
    ) -> Result<()> {
        let mut etags: Vec<String> = Vec::new();
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
                    self.upload_part(key, upload_id, done, part).await
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
            .complete_multipart_upload(key, upload_id, &etags, conditions)
            .await
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
                .client
                .put(&key, Bytes::from(first), conditions, tag)
                .await
                .map(|_| ());
        }
        let upload_id = self.client.create_upload(&key, tag).await?;
        match self
            .upload_parts(&key, &upload_id, first, reader, conditions)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => {
                // Free the parts; the original error is what matters.
                let _ = self.client.abort_multipart_upload(&key, &upload_id).await;
                Err(e)
            }
        }
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        done: usize,
        part: Vec<u8>,
    ) -> Result<String> {
        let number = u16::try_from(done + 1)
            .ok()
            .filter(|n| *n <= 10_000)
            .ok_or(Error::Unsupported {
                operation: "bassoc",
                reason: "more than 10000 parts: raise the part size",
            })?;
        self.client
            .upload_part(key, upload_id, number, Bytes::from(part))
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
        let range = ByteRange {
            start: 0,
            end_inclusive: Some(len.max(1) - 1),
        };
        match self
            .client
            .get_object(&self.object(name), Some(range))
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

    async fn read_blob_stream(&self, name: &str) -> Result<Option<BlobStream>> {
        let got = missing_as_none(self.client.get_object_stream(&self.object(name)).await)?;
        Ok(got.map(|(info, body)| BlobStream {
            total_size: info.size,
            reader: body,
        }))
    }

    async fn write_blob(&self, name: &str, blob: Bytes, conditions: &Conditions) -> Result<()> {
        self.client
            .put(&self.object(name), blob, conditions, None)
            .await
            .map(|_| ())
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
        self.client
            .put(&self.object(name), blob, conditions, Some(tag))
            .await
            .map(|_| ())
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
        match self.client.head_object(&self.object(name)).await {
            Ok(info) => Ok(Some(BlobVersion::new(info.etag, info.write_tag))),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
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

    async fn list_blobs(&self) -> Result<Vec<String>> {
        let listed = self.client.list_objects(Some(&self.prefix)).await?;
        Ok(listed
            .into_iter()
            .filter_map(|o| o.key.strip_prefix(&self.prefix).map(str::to_owned))
            .filter(|n| n != layout::MARKER_NAME)
            .collect())
    }
}
