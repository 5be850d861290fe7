//! The engine: everything that does I/O, written once in async style and
//! compiled per mode (see `lib.rs`): [`crate::blocking`] strips the `async`
//! with `maybe_async::must_be_sync` and sends with ureq.

mod client;

pub use client::{GetObjectOutput, ObjectInfo, S3Client};
