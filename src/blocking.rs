//! The blocking API (default feature `blocking`): konserve's store, its
//! lifecycle and the raw S3 client as plain functions that return when the
//! work is done. Use it from ordinary code (a CLI, a build tool, threads); no
//! async runtime is involved or even compiled in (HTTP on ureq). The async
//! twin is `konserve_s3::nonblocking` (feature `async`), with the same names
//! and behaviour.
//!
//! What you will use most: [`connect_or_create`] / [`create_store`] /
//! [`connect_store`] on an [`S3Config`](crate::config::S3Config), then the
//! [`Store`]'s `get`, `assoc`, `update_in`, `keys`, …; [`any`] opens a store
//! whose backing (S3, a directory, memory) a configuration chooses at run
//! time; [`FileBacking`] reads and writes Clojure's konserve filestores.
//!
//! # Example
//!
//! In memory (for tests; the S3 store has the same API):
//!
//! ```
//! use konserve_s3::blocking::{MemoryBacking, Store};
//! use konserve_s3::value::Value;
//!
//! fn main() -> Result<(), konserve_s3::Error> {
//!     let store = Store::new(MemoryBacking::new());
//!     store.assoc("greeting", Value::from("hello"))?;
//!     assert_eq!(store.get("greeting")?, Some(Value::from("hello")));
//!     Ok(())
//! }
//! ```
//!
//! (How it is built: the engine in `src/engine/` is written once in async
//! style and compiled here with `maybe_async::must_be_sync`, which strips
//! `async` and `.await`; what differs between the modes lives in
//! `src/mode/blocking/`. See docs/architecture.md.)

/// The attribute that turns the engine's async items into this mode's code.
use maybe_async::must_be_sync as io;

/// Transport, streams, locks and parallelism of this mode.
use crate::mode::blocking as mode;

#[path = "engine/mod.rs"]
mod engine;

pub use engine::*;
