//! The default credential chain against real servers, in both modes:
//! moto's STS, `credential_process`, the shared files, local IMDSv2 /
//! container / SSO servers that follow AWS's protocols, stores on
//! SeaweedFS signed by each source, refresh during a long-running store,
//! and no secret in any error, `Debug` output or log line.
//!
//! `credentials/suite.rs` is written once in async style and compiled per
//! mode, as `tests/s3_modes.rs` does.

#![allow(clippy::duplicate_mod)] // the suite is compiled once per mode

mod common;

#[path = "credentials/local_server.rs"]
mod local_server;

#[path = "credentials/support.rs"]
mod support;

#[cfg(feature = "blocking")]
#[path = "credentials/blocking.rs"]
mod blocking;

#[cfg(feature = "async")]
#[path = "credentials/nonblocking.rs"]
mod nonblocking;
