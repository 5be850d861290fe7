//! The blocking API (default feature `blocking`): every operation returns
//! when it is done; HTTP on ureq, no async runtime in the dependency tree.
//!
//! The engine (`src/engine/`) is written once, in async style, and compiled
//! here with `maybe_async::must_be_sync`, which strips `async` and `.await`;
//! `konserve_s3::nonblocking` compiles the same files as async code. What differs
//! between the modes (transport, byte streams, locks, bounded parallelism)
//! lives in `src/mode/blocking/`.
//!
//! # Example
//!
//! ```
//! use konserve_s3::blocking::{MemoryBacking, Store};
//! use konserve_s3::value::Value;
//!
//! let store = Store::new(MemoryBacking::new());
//! store.assoc("greeting", Value::from("hello"))?;
//! assert_eq!(store.get("greeting")?, Some(Value::from("hello")));
//! # Ok::<(), konserve_s3::Error>(())
//! ```

/// The attribute that turns the engine's async items into this mode's code.
use maybe_async::must_be_sync as io;

/// Transport, streams, locks and parallelism of this mode.
use crate::mode::blocking as mode;

#[path = "engine/mod.rs"]
mod engine;

pub use engine::*;
