//! S3 tests that run in both modes: the request floor of every operation and
//! many writers with their own store handles (threads in the blocking mode,
//! concurrent futures on one multi-threaded runtime in the async mode).
//!
//! `s3_modes/suite.rs` is written once in async style and compiled per mode,
//! as the library's engine is: each mode's module below brings into scope
//! the maybe-async attribute (`io`), the mode's API and `concurrently`; the
//! suite imports them from `super`.

#![allow(clippy::duplicate_mod)] // the suite is compiled once per mode

mod common;

#[cfg(feature = "blocking")]
#[path = "s3_modes/blocking.rs"]
mod blocking;

#[cfg(feature = "async")]
#[path = "s3_modes/nonblocking.rs"]
mod nonblocking;
