//! The async API (feature `async`): the same operations as
//! `konserve_s3::blocking`, as `async fn`s on reqwest and tokio. Every future is
//! `Send`, so it runs on a multi-threaded runtime and in `tokio::spawn`.
//!
//! The engine (`src/engine/`) is compiled here with
//! `maybe_async::must_be_async`; what differs between the modes lives in
//! `src/mode/nonblocking/`.
//!
//! # Example
//!
//! ```
//! use konserve_s3::nonblocking::{MemoryBacking, Store};
//! use konserve_s3::value::Value;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), konserve_s3::Error> {
//! let store = Store::new(MemoryBacking::new());
//! store.assoc("greeting", Value::from("hello")).await?;
//! assert_eq!(store.get("greeting").await?, Some(Value::from("hello")));
//! # Ok(())
//! # }
//! ```

/// The attribute that keeps the engine's async items async.
use maybe_async::must_be_async as io;

/// Transport, streams, locks and concurrency of this mode.
use crate::mode::nonblocking as mode;

#[path = "engine/mod.rs"]
mod engine;

pub use engine::*;
