//! Stores over a backing chosen at run time: [`AnyBacking`] and the
//! lifecycle of a [`StoreConfig`] (konserve's `{:backend … }` map), as
//! konserve's `konserve.store` multimethod dispatches on `:backend`.
//!
//! `Backing`'s methods return `impl Future`, which a trait object cannot, so
//! `Box<dyn Backing>` is not a type; [`AnyBacking`] is the enum of this
//! crate's backings instead, delegating every method, and [`AnyStore`] a
//! store over it. A program picks S3, a directory or memory from its
//! config without generics.
//!
//! | backend | exists when | create | delete |
//! |---|---|---|---|
//! | `:s3` | its marker object is in the bucket | the bucket too, then the marker | its objects (as the S3 `delete_store`) |
//! | `:file` | `:path` is a directory | the directory (parents too); an existing one is [`Error::StoreAlreadyExists`] | its `.ksv` blobs (and leftovers), then the directory if nothing else is in it |
//! | `:memory` | a store with its `:id` was created in this process (and this mode) and not deleted | registers it under its `:id`; without one, a fresh unshared store | unregisters it |
//!
//! For `:file` and `:memory`, [`Error::StoreAlreadyExists`] and
//! [`Error::StoreNotFound`] carry `file:<path>` or `memory` in their
//! `bucket` field and the config's id (nil when it has none), so one
//! `match` handles every backend.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use uuid::Uuid;

use super::backing::{
    Backing, BlobDeleteFailure, BlobStream, BlobVersion, ListedBlob, Revalidated, StoredBlob,
};
use super::file::FileBacking;
use super::io;
use super::lifecycle;
use super::memory::MemoryBacking;
use super::mode::{self, BodySource};
use super::s3_backing::S3Backing;
use super::tiered::TieredBacking;

mod boxed;
use super::store::Store;
use crate::Conditions;
use crate::config::{StoreConfig, StoreOptions, TieredConfig};
use crate::error::{Error, Result};
use crate::layout;
pub use boxed::BoxedBacking;

/// One of this crate's backings, chosen at run time; implements
/// [`Backing`] by delegating to the one it holds.
///
#[doc = mode::doc_example!("any_store")]
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AnyBacking {
    /// A store in S3.
    S3(S3Backing),
    /// A store in a directory.
    File(FileBacking),
    /// A store in memory.
    Memory(MemoryBacking),
    /// A tiered store: a frontend in front of a backend, each any backing.
    Tiered(TieredBacking<BoxedBacking, BoxedBacking>),
}

/// A store over a backing chosen at run time.
pub type AnyStore = Store<AnyBacking>;

impl AnyBacking {
    /// The S3 backing, if this is one (for its S3-only operations).
    pub fn as_s3(&self) -> Option<&S3Backing> {
        match self {
            AnyBacking::S3(b) => Some(b),
            _ => None,
        }
    }

    /// The file backing, if this is one.
    pub fn as_file(&self) -> Option<&FileBacking> {
        match self {
            AnyBacking::File(b) => Some(b),
            _ => None,
        }
    }

    /// The memory backing, if this is one.
    pub fn as_memory(&self) -> Option<&MemoryBacking> {
        match self {
            AnyBacking::Memory(b) => Some(b),
            _ => None,
        }
    }

    /// The tiered backing, if this is one (for `flush`, `sync`, …).
    pub fn as_tiered(&self) -> Option<&TieredBacking<BoxedBacking, BoxedBacking>> {
        match self {
            AnyBacking::Tiered(b) => Some(b),
            _ => None,
        }
    }
}

impl From<S3Backing> for AnyBacking {
    fn from(b: S3Backing) -> Self {
        AnyBacking::S3(b)
    }
}

impl From<FileBacking> for AnyBacking {
    fn from(b: FileBacking) -> Self {
        AnyBacking::File(b)
    }
}

impl From<TieredBacking<BoxedBacking, BoxedBacking>> for AnyBacking {
    fn from(b: TieredBacking<BoxedBacking, BoxedBacking>) -> Self {
        AnyBacking::Tiered(b)
    }
}

impl From<MemoryBacking> for AnyBacking {
    fn from(b: MemoryBacking) -> Self {
        AnyBacking::Memory(b)
    }
}

#[io(AFIT)]
impl Backing for AnyBacking {
    fn kind(&self) -> &'static str {
        match self {
            AnyBacking::S3(b) => b.kind(),
            AnyBacking::File(b) => b.kind(),
            AnyBacking::Memory(b) => b.kind(),
            AnyBacking::Tiered(b) => b.kind(),
        }
    }

    async fn read_blob(&self, name: &str) -> Result<Option<StoredBlob>> {
        match self {
            AnyBacking::S3(b) => b.read_blob(name).await,
            AnyBacking::File(b) => b.read_blob(name).await,
            AnyBacking::Memory(b) => b.read_blob(name).await,
            AnyBacking::Tiered(b) => b.read_blob(name).await,
        }
    }

    async fn read_blob_prefix(&self, name: &str, len: u64) -> Result<Option<StoredBlob>> {
        match self {
            AnyBacking::S3(b) => b.read_blob_prefix(name, len).await,
            AnyBacking::File(b) => b.read_blob_prefix(name, len).await,
            AnyBacking::Memory(b) => b.read_blob_prefix(name, len).await,
            AnyBacking::Tiered(b) => b.read_blob_prefix(name, len).await,
        }
    }

    async fn read_blob_prefix_if_match(
        &self,
        name: &str,
        len: u64,
        etag: &str,
    ) -> Result<Option<StoredBlob>> {
        match self {
            AnyBacking::S3(b) => b.read_blob_prefix_if_match(name, len, etag).await,
            AnyBacking::File(b) => b.read_blob_prefix_if_match(name, len, etag).await,
            AnyBacking::Memory(b) => b.read_blob_prefix_if_match(name, len, etag).await,
            AnyBacking::Tiered(b) => b.read_blob_prefix_if_match(name, len, etag).await,
        }
    }

    async fn read_blob_if_none_match(&self, name: &str, etag: &str) -> Result<Revalidated> {
        match self {
            AnyBacking::S3(b) => b.read_blob_if_none_match(name, etag).await,
            AnyBacking::File(b) => b.read_blob_if_none_match(name, etag).await,
            AnyBacking::Memory(b) => b.read_blob_if_none_match(name, etag).await,
            AnyBacking::Tiered(b) => b.read_blob_if_none_match(name, etag).await,
        }
    }

    async fn read_blob_stream(&self, name: &str) -> Result<Option<BlobStream>> {
        match self {
            AnyBacking::S3(b) => b.read_blob_stream(name).await,
            AnyBacking::File(b) => b.read_blob_stream(name).await,
            AnyBacking::Memory(b) => b.read_blob_stream(name).await,
            AnyBacking::Tiered(b) => b.read_blob_stream(name).await,
        }
    }

    async fn write_blob(&self, name: &str, blob: Bytes, conditions: &Conditions) -> Result<()> {
        match self {
            AnyBacking::S3(b) => b.write_blob(name, blob, conditions).await,
            AnyBacking::File(b) => b.write_blob(name, blob, conditions).await,
            AnyBacking::Memory(b) => b.write_blob(name, blob, conditions).await,
            AnyBacking::Tiered(b) => b.write_blob(name, blob, conditions).await,
        }
    }

    async fn write_blob_stream(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
    ) -> Result<()> {
        match self {
            AnyBacking::S3(b) => b.write_blob_stream(name, prefix, reader, conditions).await,
            AnyBacking::File(b) => b.write_blob_stream(name, prefix, reader, conditions).await,
            AnyBacking::Memory(b) => b.write_blob_stream(name, prefix, reader, conditions).await,
            AnyBacking::Tiered(b) => b.write_blob_stream(name, prefix, reader, conditions).await,
        }
    }

    fn keeps_write_tags(&self) -> bool {
        match self {
            AnyBacking::S3(b) => b.keeps_write_tags(),
            AnyBacking::File(b) => b.keeps_write_tags(),
            AnyBacking::Memory(b) => b.keeps_write_tags(),
            AnyBacking::Tiered(b) => b.keeps_write_tags(),
        }
    }

    async fn write_blob_tagged(
        &self,
        name: &str,
        blob: Bytes,
        conditions: &Conditions,
        tag: &str,
    ) -> Result<()> {
        match self {
            AnyBacking::S3(b) => b.write_blob_tagged(name, blob, conditions, tag).await,
            AnyBacking::File(b) => b.write_blob_tagged(name, blob, conditions, tag).await,
            AnyBacking::Memory(b) => b.write_blob_tagged(name, blob, conditions, tag).await,
            AnyBacking::Tiered(b) => b.write_blob_tagged(name, blob, conditions, tag).await,
        }
    }

    async fn write_blob_pieces_tagged(
        &self,
        name: &str,
        head: Bytes,
        tail: Bytes,
        conditions: &Conditions,
        tag: &str,
    ) -> Result<()> {
        match self {
            AnyBacking::S3(b) => {
                b.write_blob_pieces_tagged(name, head, tail, conditions, tag)
                    .await
            }
            AnyBacking::File(b) => {
                b.write_blob_pieces_tagged(name, head, tail, conditions, tag)
                    .await
            }
            AnyBacking::Memory(b) => {
                b.write_blob_pieces_tagged(name, head, tail, conditions, tag)
                    .await
            }
            AnyBacking::Tiered(b) => {
                b.write_blob_pieces_tagged(name, head, tail, conditions, tag)
                    .await
            }
        }
    }

    async fn write_blob_stream_tagged(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
        tag: &str,
    ) -> Result<()> {
        match self {
            AnyBacking::S3(b) => {
                b.write_blob_stream_tagged(name, prefix, reader, conditions, tag)
                    .await
            }
            AnyBacking::File(b) => {
                b.write_blob_stream_tagged(name, prefix, reader, conditions, tag)
                    .await
            }
            AnyBacking::Memory(b) => {
                b.write_blob_stream_tagged(name, prefix, reader, conditions, tag)
                    .await
            }
            AnyBacking::Tiered(b) => {
                b.write_blob_stream_tagged(name, prefix, reader, conditions, tag)
                    .await
            }
        }
    }

    async fn blob_version(&self, name: &str) -> Result<Option<BlobVersion>> {
        match self {
            AnyBacking::S3(b) => b.blob_version(name).await,
            AnyBacking::File(b) => b.blob_version(name).await,
            AnyBacking::Memory(b) => b.blob_version(name).await,
            AnyBacking::Tiered(b) => b.blob_version(name).await,
        }
    }

    async fn blob_exists(&self, name: &str) -> Result<bool> {
        match self {
            AnyBacking::S3(b) => b.blob_exists(name).await,
            AnyBacking::File(b) => b.blob_exists(name).await,
            AnyBacking::Memory(b) => b.blob_exists(name).await,
            AnyBacking::Tiered(b) => b.blob_exists(name).await,
        }
    }

    async fn blob_etag(&self, name: &str) -> Result<Option<String>> {
        match self {
            AnyBacking::S3(b) => b.blob_etag(name).await,
            AnyBacking::File(b) => b.blob_etag(name).await,
            AnyBacking::Memory(b) => b.blob_etag(name).await,
            AnyBacking::Tiered(b) => b.blob_etag(name).await,
        }
    }

    async fn delete_blob(&self, name: &str, conditions: &Conditions) -> Result<()> {
        match self {
            AnyBacking::S3(b) => b.delete_blob(name, conditions).await,
            AnyBacking::File(b) => b.delete_blob(name, conditions).await,
            AnyBacking::Memory(b) => b.delete_blob(name, conditions).await,
            AnyBacking::Tiered(b) => b.delete_blob(name, conditions).await,
        }
    }

    async fn delete_blobs(&self, names: &[String]) -> Result<()> {
        match self {
            AnyBacking::S3(b) => b.delete_blobs(names).await,
            AnyBacking::File(b) => b.delete_blobs(names).await,
            AnyBacking::Memory(b) => b.delete_blobs(names).await,
            AnyBacking::Tiered(b) => b.delete_blobs(names).await,
        }
    }

    async fn list_blobs(&self) -> Result<Vec<String>> {
        match self {
            AnyBacking::S3(b) => b.list_blobs().await,
            AnyBacking::File(b) => b.list_blobs().await,
            AnyBacking::Memory(b) => b.list_blobs().await,
            AnyBacking::Tiered(b) => b.list_blobs().await,
        }
    }

    async fn list_blobs_versioned(&self) -> Result<Vec<ListedBlob>> {
        match self {
            AnyBacking::S3(b) => b.list_blobs_versioned().await,
            AnyBacking::File(b) => b.list_blobs_versioned().await,
            AnyBacking::Memory(b) => b.list_blobs_versioned().await,
            AnyBacking::Tiered(b) => b.list_blobs_versioned().await,
        }
    }

    async fn delete_blobs_reporting(&self, names: &[String]) -> Vec<BlobDeleteFailure> {
        match self {
            AnyBacking::S3(b) => b.delete_blobs_reporting(names).await,
            AnyBacking::File(b) => b.delete_blobs_reporting(names).await,
            AnyBacking::Memory(b) => b.delete_blobs_reporting(names).await,
            AnyBacking::Tiered(b) => b.delete_blobs_reporting(names).await,
        }
    }

    fn supports_multi_key(&self) -> bool {
        match self {
            AnyBacking::S3(b) => b.supports_multi_key(),
            AnyBacking::File(b) => b.supports_multi_key(),
            AnyBacking::Memory(b) => b.supports_multi_key(),
            AnyBacking::Tiered(b) => b.supports_multi_key(),
        }
    }

    async fn multi_write_blobs(&self, blobs: Vec<(String, Bytes)>) -> Result<()> {
        match self {
            AnyBacking::S3(b) => b.multi_write_blobs(blobs).await,
            AnyBacking::File(b) => b.multi_write_blobs(blobs).await,
            AnyBacking::Memory(b) => b.multi_write_blobs(blobs).await,
            AnyBacking::Tiered(b) => b.multi_write_blobs(blobs).await,
        }
    }

    async fn multi_read_blobs(&self, names: &[String]) -> Result<Vec<Option<Bytes>>> {
        match self {
            AnyBacking::S3(b) => b.multi_read_blobs(names).await,
            AnyBacking::File(b) => b.multi_read_blobs(names).await,
            AnyBacking::Memory(b) => b.multi_read_blobs(names).await,
            AnyBacking::Tiered(b) => b.multi_read_blobs(names).await,
        }
    }

    async fn multi_delete_blobs(&self, names: &[String]) -> Result<Vec<bool>> {
        match self {
            AnyBacking::S3(b) => b.multi_delete_blobs(names).await,
            AnyBacking::File(b) => b.multi_delete_blobs(names).await,
            AnyBacking::Memory(b) => b.multi_delete_blobs(names).await,
            AnyBacking::Tiered(b) => b.multi_delete_blobs(names).await,
        }
    }
}

/// The memory stores of this process (and mode) with an id: konserve's
/// memory-store registry.
static MEMORY_STORES: Mutex<BTreeMap<Uuid, MemoryBacking>> = Mutex::new(BTreeMap::new());

fn memory_stores() -> MutexGuard<'static, BTreeMap<Uuid, MemoryBacking>> {
    // Every mutation is a single insert or remove.
    MEMORY_STORES.lock().unwrap_or_else(PoisonError::into_inner)
}

fn any_store(backing: impl Into<AnyBacking>, options: &StoreOptions) -> AnyStore {
    Store::with_options(backing.into(), options.clone())
}

fn s3_as_any(store: lifecycle::S3Store) -> AnyStore {
    any_store(store.backing().clone(), store.options())
}

fn file_place(path: &Path) -> String {
    format!("file:{}", path.display())
}

/// Whether `path` is a directory (a missing path is not).
fn is_dir(path: &Path) -> Result<bool> {
    match fs::metadata(path) {
        Ok(m) => Ok(m.is_dir()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Creates the store of `config` (see the module docs for what that is per
/// backend).
///
/// # Errors
/// [`Error::StoreAlreadyExists`] when it is there already; as the S3
/// [`create_store`](super::create_store) for `:s3`; [`Error::Io`] when a
/// directory cannot be created.
#[io(AFIT)]
pub async fn create_store(config: &StoreConfig) -> Result<AnyStore> {
    match config {
        StoreConfig::S3(c) => Ok(s3_as_any(lifecycle::create_store(c).await?)),
        StoreConfig::File { path, id, options } => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent)?;
            }
            match fs::create_dir(path) {
                Ok(()) => Ok(any_store(FileBacking::new(path), options)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(Error::StoreAlreadyExists {
                        bucket: file_place(path),
                        id: id.unwrap_or_default(),
                    })
                }
                Err(e) => Err(e.into()),
            }
        }
        StoreConfig::Memory { id, options } => {
            let backing = MemoryBacking::new();
            if let Some(id) = id {
                let mut stores = memory_stores();
                if stores.contains_key(id) {
                    return Err(Error::StoreAlreadyExists {
                        bucket: "memory".to_owned(),
                        id: *id,
                    });
                }
                stores.insert(*id, backing.clone());
            }
            Ok(any_store(backing, options))
        }
        StoreConfig::Tiered(t) => {
            // The backend is the store; the frontend, a cache of it, may be
            // there already (a directory left from before).
            let backend = create_store_boxed(&t.backend).await?;
            let frontend = open_frontend(t).await?;
            tiered_store(t, frontend, backend)
        }
    }
}

// The lifecycle of a tiered config's tiers recurses; a boxed call has a
// type of its own, so the async functions' futures stay finite.
fn create_store_boxed(config: &StoreConfig) -> mode::Boxed<'_, Result<AnyStore>> {
    mode::boxed(create_store(config))
}

fn connect_store_boxed(config: &StoreConfig) -> mode::Boxed<'_, Result<AnyStore>> {
    mode::boxed(connect_store(config))
}

fn store_exists_boxed(config: &StoreConfig) -> mode::Boxed<'_, Result<bool>> {
    mode::boxed(store_exists(config))
}

fn delete_store_boxed(config: &StoreConfig) -> mode::Boxed<'_, Result<()>> {
    mode::boxed(delete_store(config))
}

/// The frontend store of `t`: connected if it exists, else created.
#[io(AFIT)]
async fn open_frontend(t: &TieredConfig) -> Result<AnyStore> {
    if store_exists_boxed(&t.frontend).await? {
        connect_store_boxed(&t.frontend).await
    } else {
        create_store_boxed(&t.frontend).await
    }
}

/// The tiered store of `t` over the stores of its two tiers.
fn tiered_store(t: &TieredConfig, frontend: AnyStore, backend: AnyStore) -> Result<AnyStore> {
    let tiered = TieredBacking::new(
        BoxedBacking::new(frontend.backing().clone()),
        BoxedBacking::new(backend.backing().clone()),
        t.resolved_options(),
    )?;
    Ok(any_store(AnyBacking::Tiered(tiered), &t.options))
}

/// Connects to the existing store of `config`.
///
/// # Errors
/// [`Error::StoreNotFound`] when it does not exist; [`Error::InvalidConfig`]
/// (field `id`) for a memory config without an id (there is nothing to
/// connect to); as the S3 [`connect_store`](super::connect_store) for `:s3`.
#[io(AFIT)]
pub async fn connect_store(config: &StoreConfig) -> Result<AnyStore> {
    match config {
        StoreConfig::S3(c) => Ok(s3_as_any(lifecycle::connect_store(c).await?)),
        StoreConfig::File { path, id, options } => {
            if is_dir(path)? {
                Ok(any_store(FileBacking::new(path), options))
            } else {
                Err(Error::StoreNotFound {
                    bucket: file_place(path),
                    id: id.unwrap_or_default(),
                })
            }
        }
        StoreConfig::Memory { id, options } => {
            let id = id.ok_or_else(|| {
                Error::config(
                    "id",
                    "missing: a memory store is found by its id; give :id to connect to one \
                     created earlier in this process",
                )
            })?;
            let found = memory_stores().get(&id).cloned();
            match found {
                Some(backing) => Ok(any_store(backing, options)),
                None => Err(Error::StoreNotFound {
                    bucket: "memory".to_owned(),
                    id,
                }),
            }
        }
        StoreConfig::Tiered(t) => {
            // konserve: the frontend may be new (a cache), the backend must
            // exist.
            let backend = connect_store_boxed(&t.backend).await?;
            let frontend = open_frontend(t).await?;
            let store = tiered_store(t, frontend, backend)?;
            if let (Some(strategy), Some(tiered)) = (t.sync_on_connect, store.backing().as_tiered())
            {
                tiered.sync(strategy).await?;
            }
            Ok(store)
        }
    }
}

/// Connects to the store of `config`, creating it the first time (when
/// another process or task creates it in between, connects to that one).
///
#[doc = mode::doc_example!("any_connect_or_create")]
///
/// # Errors
/// As [`connect_store`] and [`create_store`].
#[io(AFIT)]
pub async fn connect_or_create(config: &StoreConfig) -> Result<AnyStore> {
    if let StoreConfig::Memory { id: None, .. } = config {
        return create_store(config).await;
    }
    match connect_store(config).await {
        Err(Error::StoreNotFound { .. } | Error::NoSuchBucket(_)) => {
            match create_store(config).await {
                Err(Error::StoreAlreadyExists { .. }) => connect_store(config).await,
                other => other,
            }
        }
        other => other,
    }
}

/// Whether the store of `config` exists (a memory config without an id
/// names no store: `false`).
///
/// # Errors
/// As the S3 [`store_exists`](super::store_exists); [`Error::Io`] when a
/// directory cannot be inspected.
#[io(AFIT)]
pub async fn store_exists(config: &StoreConfig) -> Result<bool> {
    match config {
        StoreConfig::S3(c) => lifecycle::store_exists(c).await,
        StoreConfig::File { path, .. } => is_dir(path),
        StoreConfig::Memory { id, .. } => {
            Ok(id.is_some_and(|id| memory_stores().contains_key(&id)))
        }
        // konserve: a tiered store exists when its backend does.
        StoreConfig::Tiered(t) => store_exists_boxed(&t.backend).await,
    }
}

/// Deletes the store of `config`; deleting a missing store succeeds. A
/// file store loses its blobs (`.ksv`, and `.ksv.new` / `.ksv.backup`
/// leftovers); its directory is removed when nothing else is in it, and
/// files that are not the store's are never touched.
///
/// # Errors
/// As the S3 [`delete_store`](super::delete_store); [`Error::Io`] when a
/// file cannot be removed.
#[io(AFIT)]
pub async fn delete_store(config: &StoreConfig) -> Result<()> {
    match config {
        StoreConfig::S3(c) => lifecycle::delete_store(c).await,
        StoreConfig::File { path, .. } => {
            if !is_dir(path)? {
                return Ok(());
            }
            for entry in fs::read_dir(path)? {
                let entry = entry?;
                let name = entry.file_name();
                let ours = name.to_str().and_then(layout::blob_kind).is_some();
                if ours && entry.file_type()?.is_file() {
                    match fs::remove_file(entry.path()) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                        _ => {}
                    }
                }
            }
            match fs::remove_dir(path) {
                Err(e)
                    if e.kind() != std::io::ErrorKind::NotFound
                        && e.kind() != std::io::ErrorKind::DirectoryNotEmpty =>
                {
                    Err(e.into())
                }
                _ => Ok(()),
            }
        }
        StoreConfig::Memory { id, .. } => {
            if let Some(id) = id {
                memory_stores().remove(id);
            }
            Ok(())
        }
        StoreConfig::Tiered(t) => {
            // konserve's owns-backend?: under :frontend-only the backend is
            // another peer's, and only this store's frontend goes.
            if t.tiered.write_policy.owns_backend() {
                delete_store_boxed(&t.backend).await?;
            }
            // The write-behind journal: this config's, and the default one in
            // a file frontend's directory (another policy may have left it).
            let mut journals: Vec<std::path::PathBuf> =
                t.resolved_options().journal.into_iter().collect();
            if let StoreConfig::File { path, .. } = &t.frontend {
                journals.push(path.join(crate::config::TIERED_JOURNAL_FILE));
            }
            for journal in journals {
                let mut staging = journal.as_os_str().to_owned();
                staging.push(".new");
                for file in [journal, staging.into()] {
                    match fs::remove_file(&file) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(e.into());
                        }
                        _ => {}
                    }
                }
            }
            delete_store_boxed(&t.frontend).await
        }
    }
}
