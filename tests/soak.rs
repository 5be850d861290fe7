//! Fault soak in both modes: several writers, each with its own store
//! handle, run every operation (assoc, update_in on shared counters, dissoc,
//! bassoc, multipart bassoc_reader, get, keys) through the fault proxy while
//! about one request in ten meets a fault of one of six kinds; a ledger of
//! acknowledged writes is then checked through a clean connection.
//!
//! Bounded for CI (a few hundred operations per mode); set
//! `KONSERVE_S3_SOAK_OPS` (operations per mode) for a longer run by hand and
//! `KONSERVE_S3_SOAK_SEED` to replay one. The figures are printed to stderr
//! (`cargo test --test soak -- --nocapture`).
//!
//! `soak/suite.rs` is written once in async style and compiled per mode, as
//! `tests/s3_modes.rs` does.

#![allow(clippy::duplicate_mod)] // the suite is compiled once per mode

mod common;

#[cfg(feature = "blocking")]
#[path = "soak/blocking.rs"]
mod blocking;

#[cfg(feature = "async")]
#[path = "soak/nonblocking.rs"]
mod nonblocking;
