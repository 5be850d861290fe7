//! The async API (feature `async`): konserve's store, its lifecycle and the
//! raw S3 client as `async fn`s, on reqwest and tokio. Use it from async code
//! (a tokio service, say); every future is `Send`, so it runs on a
//! multi-threaded runtime and in `tokio::spawn`. The names and behaviour are
//! those of [`konserve_s3::blocking`](crate::blocking): one engine is
//! compiled for both, so the modes cannot drift apart.
//!
//! What you will use most: [`connect_or_create`] / [`create_store`] /
//! [`connect_store`] on an [`S3Config`](crate::config::S3Config), then the
//! [`Store`]'s `get`, `assoc`, `update_in`, `keys`, … (each one `.await`ed);
//! [`any`] opens a store whose backing (S3, a directory, memory) a
//! configuration chooses at run time.
//!
//! # Example
//!
//! In memory (for tests; the S3 store has the same API):
//!
//! ```
//! use konserve_s3::nonblocking::{MemoryBacking, Store};
//! use konserve_s3::value::Value;
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), konserve_s3::Error> {
//!     let store = Store::new(MemoryBacking::new());
//!     store.assoc("greeting", Value::from("hello")).await?;
//!     assert_eq!(store.get("greeting").await?, Some(Value::from("hello")));
//!     Ok(())
//! }
//! ```
//!
//! (How it is built: the engine in `src/engine/` is compiled here with
//! `maybe_async::must_be_async`; what differs between the modes lives in
//! `src/mode/nonblocking/`. See docs/architecture.md.)

/// The attribute that keeps the engine's async items async.
use maybe_async::must_be_async as io;

/// Transport, streams, locks and concurrency of this mode.
use crate::mode::nonblocking as mode;

#[path = "engine/mod.rs"]
mod engine;

pub use engine::*;
