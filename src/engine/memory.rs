//! [`MemoryBacking`]: blobs in a process-local map, for users' tests and as
//! the reference backing of the conformance suite. Multi-key operations are
//! atomic (one lock over the whole map).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;

use super::backing::{Backing, BlobStream, StoredBlob};
use crate::Conditions;
use crate::conditions::md5_etag;
use crate::error::{Error, Result};

use super::io;
use super::mode::{self, BodySource, read_all, reader_of};

/// Blobs in memory. Clones share the same blobs.
///
#[doc = mode::doc_example!("memory_backing")]
#[derive(Clone, Debug, Default)]
pub struct MemoryBacking {
    blobs: Arc<Mutex<BTreeMap<String, Entry>>>,
}

/// A blob, and its ETag once something asked for it (hashing a blob on
/// every read would cost more than the read).
#[derive(Debug)]
struct Entry {
    bytes: Bytes,
    etag: OnceLock<String>,
}

impl Entry {
    fn new(bytes: Bytes) -> Self {
        Entry {
            bytes,
            etag: OnceLock::new(),
        }
    }

    fn etag(&self) -> String {
        self.etag.get_or_init(|| md5_etag(&self.bytes)).clone()
    }
}

impl MemoryBacking {
    /// An empty backing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `conditions` against the current blob, as S3 would.
    fn check(blobs: &BTreeMap<String, Entry>, name: &str, conditions: &Conditions) -> Result<()> {
        if !conditions.is_conditional() {
            // Nothing to compare: skip hashing the current blob.
            return Ok(());
        }
        let current = blobs.get(name).map(Entry::etag);
        if conditions.hold_for(current.as_deref()) {
            Ok(())
        } else {
            Err(Error::precondition_failed(name))
        }
    }

    fn blobs(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        // A panic while holding the lock cannot leave a half-written map: every
        // mutation is a single insert or remove.
        self.blobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[io(AFIT)]
impl Backing for MemoryBacking {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn read_blob(&self, name: &str) -> Result<Option<StoredBlob>> {
        Ok(self.blobs().get(name).map(|b| StoredBlob {
            bytes: b.bytes.clone(),
            total_size: Some(b.bytes.len() as u64),
            etag: Some(b.etag()),
        }))
    }

    async fn read_blob_prefix(&self, name: &str, len: u64) -> Result<Option<StoredBlob>> {
        Ok(self.blobs().get(name).map(|b| {
            let n = usize::try_from(len)
                .unwrap_or(usize::MAX)
                .min(b.bytes.len());
            StoredBlob {
                bytes: b.bytes.slice(..n),
                total_size: Some(b.bytes.len() as u64),
                etag: Some(b.etag()),
            }
        }))
    }

    async fn read_blob_stream(&self, name: &str) -> Result<Option<BlobStream>> {
        Ok(self
            .blobs()
            .get(name)
            .map(|b| b.bytes.clone())
            .map(|b| BlobStream {
                total_size: Some(b.len() as u64),
                reader: reader_of(b),
            }))
    }

    async fn write_blob(&self, name: &str, blob: Bytes, conditions: &Conditions) -> Result<()> {
        let mut blobs = self.blobs();
        Self::check(&blobs, name, conditions)?;
        blobs.insert(name.to_owned(), Entry::new(blob));
        Ok(())
    }

    async fn write_blob_stream(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
    ) -> Result<()> {
        let mut all = prefix;
        read_all(reader, &mut all).await?;
        let mut blobs = self.blobs();
        Self::check(&blobs, name, conditions)?;
        blobs.insert(name.to_owned(), Entry::new(Bytes::from(all)));
        Ok(())
    }

    async fn blob_exists(&self, name: &str) -> Result<bool> {
        Ok(self.blobs().contains_key(name))
    }

    async fn blob_etag(&self, name: &str) -> Result<Option<String>> {
        Ok(self.blobs().get(name).map(Entry::etag))
    }

    async fn delete_blob(&self, name: &str, conditions: &Conditions) -> Result<()> {
        let mut blobs = self.blobs();
        if conditions.is_conditional() {
            Self::check(&blobs, name, conditions)?;
        }
        blobs.remove(name);
        Ok(())
    }

    async fn delete_blobs(&self, names: &[String]) -> Result<()> {
        let mut blobs = self.blobs();
        for n in names {
            blobs.remove(n);
        }
        Ok(())
    }

    async fn list_blobs(&self) -> Result<Vec<String>> {
        Ok(self.blobs().keys().cloned().collect())
    }

    fn supports_multi_key(&self) -> bool {
        true
    }

    async fn multi_write_blobs(&self, blobs: Vec<(String, Bytes)>) -> Result<()> {
        let mut map = self.blobs();
        for (name, blob) in blobs {
            map.insert(name, Entry::new(blob));
        }
        Ok(())
    }

    async fn multi_read_blobs(&self, names: &[String]) -> Result<Vec<Option<Bytes>>> {
        let map = self.blobs();
        Ok(names
            .iter()
            .map(|n| map.get(n).map(|b| b.bytes.clone()))
            .collect())
    }

    async fn multi_delete_blobs(&self, names: &[String]) -> Result<Vec<bool>> {
        let mut map = self.blobs();
        Ok(names.iter().map(|n| map.remove(n).is_some()).collect())
    }
}
