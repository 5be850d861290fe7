//! The engine: everything that does I/O, written once in async style and
//! compiled per mode (see `lib.rs`): `konserve_s3::blocking` strips the
//! `async` with `maybe_async::must_be_sync` and sends with ureq;
//! `konserve_s3::nonblocking` keeps it and sends with reqwest.

mode_exports!();

mod backing;
mod client;
mod file;
mod lifecycle;
mod memory;
mod s3_backing;
mod store;

pub use backing::{Backing, BlobStream, StoredBlob};
pub use client::{GetObjectOutput, ObjectInfo, S3Client};
pub use file::FileBacking;
pub use lifecycle::{
    S3Store, connect_store, create_store, delete_bucket, delete_store, list_stores, release_store,
    store_exists,
};
pub use memory::MemoryBacking;
pub use s3_backing::S3Backing;
pub use store::{ApiOp, BinaryValue, DissocOptions, Store, Version, WriteEvent};
