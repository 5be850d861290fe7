//! The engine: everything that does I/O, written once in async style and
//! compiled per mode. Its parent module (`src/blocking.rs` or
//! `src/nonblocking.rs`) brings two names into scope, which every engine
//! file imports from `super`: `io`, the maybe-async attribute put on each
//! I/O item (`must_be_sync` strips `async`/`.await`, `must_be_async` keeps
//! them), and `mode`, the mode's transport, streams, locks and parallelism
//! (`src/mode/<mode>/`).

use super::{io, mode};

pub use mode::{BodyReader, BodySource, MaybeSend};

pub mod any;
mod backing;
mod client;
#[cfg(feature = "conformance")]
pub mod conformance;
mod credentials;
mod file;
pub mod gc;
mod lifecycle;
mod memory;
mod probe;
mod s3_backing;
mod store;
mod tiered;

pub use crate::cache::CacheStats;
pub use crate::tiered::SyncReport;
pub use any::{AnyBacking, AnyStore, BoxedBacking};
pub use backing::{
    Backing, BlobDeleteFailure, BlobStream, BlobVersion, ListedBlob, Revalidated, StoredBlob,
};
pub use client::{GetObjectOutput, ObjectInfo, S3Client};
pub use credentials::{CredentialsProvider, DefaultCredentialsChain};
pub use file::FileBacking;
pub use lifecycle::{
    S3Store, cleanup_incomplete_uploads, connect_or_create, connect_store, create_store,
    delete_bucket, delete_store, list_stores, release_store, store_exists,
};
pub use memory::MemoryBacking;
pub use s3_backing::S3Backing;
pub use store::{ApiOp, BinaryValue, CachedStore, DissocOptions, Store, Version, WriteEvent};
pub use tiered::{TieredBacking, TieredStore};
