//! [`BoxedBacking`]: an [`AnyBacking`] as a tier of a tiered
//! [`AnyBacking`]. Its calls go through a trait object, which gives them
//! a type of their own: a tiered `AnyBacking` whose tiers were
//! `AnyBacking`s directly would have futures that contain themselves
//! (async), which no type can be.

use std::sync::Arc;

use bytes::Bytes;

use super::super::backing::{Backing, BlobStream, BlobVersion, Revalidated, StoredBlob};
use super::super::io;
use super::super::mode::{self, BodySource, Boxed};
use super::AnyBacking;
use crate::Conditions;
use crate::error::Result;

/// An [`AnyBacking`] in a tier of a tiered store opened from a
/// [`StoreConfig`](crate::config::StoreConfig) (`AnyBacking::Tiered`).
/// Clones share it.
#[derive(Clone, Debug)]
pub struct BoxedBacking(Arc<AnyBacking>);

impl BoxedBacking {
    /// `backing` as a tier.
    pub fn new(backing: AnyBacking) -> Self {
        BoxedBacking(Arc::new(backing))
    }

    /// The backing.
    pub fn get(&self) -> &AnyBacking {
        &self.0
    }

    fn dynamic(&self) -> &dyn DynBacking {
        &*self.0
    }
}

/// [`Backing`]'s I/O as boxed calls (object safe).
trait DynBacking: Send + Sync {
    fn dyn_read_blob<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<Option<StoredBlob>>>;
    fn dyn_read_blob_prefix<'a>(
        &'a self,
        name: &'a str,
        len: u64,
    ) -> Boxed<'a, Result<Option<StoredBlob>>>;
    fn dyn_read_blob_prefix_if_match<'a>(
        &'a self,
        name: &'a str,
        len: u64,
        etag: &'a str,
    ) -> Boxed<'a, Result<Option<StoredBlob>>>;
    fn dyn_read_blob_if_none_match<'a>(
        &'a self,
        name: &'a str,
        etag: &'a str,
    ) -> Boxed<'a, Result<Revalidated>>;
    fn dyn_read_blob_stream<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<Option<BlobStream>>>;
    fn dyn_write_blob<'a>(
        &'a self,
        name: &'a str,
        blob: Bytes,
        conditions: &'a Conditions,
        tag: Option<&'a str>,
    ) -> Boxed<'a, Result<()>>;
    fn dyn_write_blob_stream<'a, 'r: 'a>(
        &'a self,
        name: &'a str,
        prefix: Vec<u8>,
        reader: &'a mut BodySource<'r>,
        conditions: &'a Conditions,
        tag: Option<&'a str>,
    ) -> Boxed<'a, Result<()>>;
    fn dyn_blob_version<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<Option<BlobVersion>>>;
    fn dyn_blob_exists<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<bool>>;
    fn dyn_blob_etag<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<Option<String>>>;
    fn dyn_delete_blob<'a>(
        &'a self,
        name: &'a str,
        conditions: &'a Conditions,
    ) -> Boxed<'a, Result<()>>;
    fn dyn_delete_blobs<'a>(&'a self, names: &'a [String]) -> Boxed<'a, Result<()>>;
    fn dyn_list_blobs(&self) -> Boxed<'_, Result<Vec<String>>>;
    fn dyn_multi_write_blobs(&self, blobs: Vec<(String, Bytes)>) -> Boxed<'_, Result<()>>;
    fn dyn_multi_read_blobs<'a>(
        &'a self,
        names: &'a [String],
    ) -> Boxed<'a, Result<Vec<Option<Bytes>>>>;
    fn dyn_multi_delete_blobs<'a>(&'a self, names: &'a [String]) -> Boxed<'a, Result<Vec<bool>>>;
}

impl DynBacking for AnyBacking {
    fn dyn_read_blob<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<Option<StoredBlob>>> {
        mode::boxed(self.read_blob(name))
    }
    fn dyn_read_blob_prefix<'a>(
        &'a self,
        name: &'a str,
        len: u64,
    ) -> Boxed<'a, Result<Option<StoredBlob>>> {
        mode::boxed(self.read_blob_prefix(name, len))
    }
    fn dyn_read_blob_prefix_if_match<'a>(
        &'a self,
        name: &'a str,
        len: u64,
        etag: &'a str,
    ) -> Boxed<'a, Result<Option<StoredBlob>>> {
        mode::boxed(self.read_blob_prefix_if_match(name, len, etag))
    }
    fn dyn_read_blob_if_none_match<'a>(
        &'a self,
        name: &'a str,
        etag: &'a str,
    ) -> Boxed<'a, Result<Revalidated>> {
        mode::boxed(self.read_blob_if_none_match(name, etag))
    }
    fn dyn_read_blob_stream<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<Option<BlobStream>>> {
        mode::boxed(self.read_blob_stream(name))
    }
    fn dyn_write_blob<'a>(
        &'a self,
        name: &'a str,
        blob: Bytes,
        conditions: &'a Conditions,
        tag: Option<&'a str>,
    ) -> Boxed<'a, Result<()>> {
        match tag {
            Some(tag) => mode::boxed(self.write_blob_tagged(name, blob, conditions, tag)),
            None => mode::boxed(self.write_blob(name, blob, conditions)),
        }
    }
    fn dyn_write_blob_stream<'a, 'r: 'a>(
        &'a self,
        name: &'a str,
        prefix: Vec<u8>,
        reader: &'a mut BodySource<'r>,
        conditions: &'a Conditions,
        tag: Option<&'a str>,
    ) -> Boxed<'a, Result<()>> {
        match tag {
            Some(tag) => {
                mode::boxed(self.write_blob_stream_tagged(name, prefix, reader, conditions, tag))
            }
            None => mode::boxed(self.write_blob_stream(name, prefix, reader, conditions)),
        }
    }
    fn dyn_blob_version<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<Option<BlobVersion>>> {
        mode::boxed(self.blob_version(name))
    }
    fn dyn_blob_exists<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<bool>> {
        mode::boxed(self.blob_exists(name))
    }
    fn dyn_blob_etag<'a>(&'a self, name: &'a str) -> Boxed<'a, Result<Option<String>>> {
        mode::boxed(self.blob_etag(name))
    }
    fn dyn_delete_blob<'a>(
        &'a self,
        name: &'a str,
        conditions: &'a Conditions,
    ) -> Boxed<'a, Result<()>> {
        mode::boxed(self.delete_blob(name, conditions))
    }
    fn dyn_delete_blobs<'a>(&'a self, names: &'a [String]) -> Boxed<'a, Result<()>> {
        mode::boxed(self.delete_blobs(names))
    }
    fn dyn_list_blobs(&self) -> Boxed<'_, Result<Vec<String>>> {
        mode::boxed(self.list_blobs())
    }
    fn dyn_multi_write_blobs(&self, blobs: Vec<(String, Bytes)>) -> Boxed<'_, Result<()>> {
        mode::boxed(self.multi_write_blobs(blobs))
    }
    fn dyn_multi_read_blobs<'a>(
        &'a self,
        names: &'a [String],
    ) -> Boxed<'a, Result<Vec<Option<Bytes>>>> {
        mode::boxed(self.multi_read_blobs(names))
    }
    fn dyn_multi_delete_blobs<'a>(&'a self, names: &'a [String]) -> Boxed<'a, Result<Vec<bool>>> {
        mode::boxed(self.multi_delete_blobs(names))
    }
}

#[io(AFIT)]
impl Backing for BoxedBacking {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }

    async fn read_blob(&self, name: &str) -> Result<Option<StoredBlob>> {
        self.dynamic().dyn_read_blob(name).await
    }

    async fn read_blob_prefix(&self, name: &str, len: u64) -> Result<Option<StoredBlob>> {
        self.dynamic().dyn_read_blob_prefix(name, len).await
    }

    async fn read_blob_prefix_if_match(
        &self,
        name: &str,
        len: u64,
        etag: &str,
    ) -> Result<Option<StoredBlob>> {
        self.dynamic()
            .dyn_read_blob_prefix_if_match(name, len, etag)
            .await
    }

    async fn read_blob_if_none_match(&self, name: &str, etag: &str) -> Result<Revalidated> {
        self.dynamic().dyn_read_blob_if_none_match(name, etag).await
    }

    async fn read_blob_stream(&self, name: &str) -> Result<Option<BlobStream>> {
        self.dynamic().dyn_read_blob_stream(name).await
    }

    async fn write_blob(&self, name: &str, blob: Bytes, conditions: &Conditions) -> Result<()> {
        self.dynamic()
            .dyn_write_blob(name, blob, conditions, None)
            .await
    }

    async fn write_blob_stream(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
    ) -> Result<()> {
        self.dynamic()
            .dyn_write_blob_stream(name, prefix, reader, conditions, None)
            .await
    }

    fn keeps_write_tags(&self) -> bool {
        self.0.keeps_write_tags()
    }

    async fn write_blob_tagged(
        &self,
        name: &str,
        blob: Bytes,
        conditions: &Conditions,
        tag: &str,
    ) -> Result<()> {
        self.dynamic()
            .dyn_write_blob(name, blob, conditions, Some(tag))
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
        self.dynamic()
            .dyn_write_blob_stream(name, prefix, reader, conditions, Some(tag))
            .await
    }

    async fn blob_version(&self, name: &str) -> Result<Option<BlobVersion>> {
        self.dynamic().dyn_blob_version(name).await
    }

    async fn blob_exists(&self, name: &str) -> Result<bool> {
        self.dynamic().dyn_blob_exists(name).await
    }

    async fn blob_etag(&self, name: &str) -> Result<Option<String>> {
        self.dynamic().dyn_blob_etag(name).await
    }

    async fn delete_blob(&self, name: &str, conditions: &Conditions) -> Result<()> {
        self.dynamic().dyn_delete_blob(name, conditions).await
    }

    async fn delete_blobs(&self, names: &[String]) -> Result<()> {
        self.dynamic().dyn_delete_blobs(names).await
    }

    async fn list_blobs(&self) -> Result<Vec<String>> {
        self.dynamic().dyn_list_blobs().await
    }

    fn supports_multi_key(&self) -> bool {
        self.0.supports_multi_key()
    }

    async fn multi_write_blobs(&self, blobs: Vec<(String, Bytes)>) -> Result<()> {
        self.dynamic().dyn_multi_write_blobs(blobs).await
    }

    async fn multi_read_blobs(&self, names: &[String]) -> Result<Vec<Option<Bytes>>> {
        self.dynamic().dyn_multi_read_blobs(names).await
    }

    async fn multi_delete_blobs(&self, names: &[String]) -> Result<Vec<bool>> {
        self.dynamic().dyn_multi_delete_blobs(names).await
    }
}
