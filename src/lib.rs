//! konserve-s3: durable key–value storage in Amazon S3 and S3-compatible
//! stores, with the API and on-bucket format of Clojure's konserve and
//! konserve-s3.
//!
//! # Layers
//!
//! | module | does | I/O |
//! | --- | --- | --- |
//! | [`blocking`] | [`S3Client`], `Store`, the store lifecycle: S3 requests with retries, statistics, tracing; konserve's API | yes (ureq) |
//! | `nonblocking` | the same, async (feature `async`) | yes (reqwest) |
//! | [`s3`] | presigning ([`s3::S3Request`], [`s3::Signer`]), classification of answers, retry policy, redaction, statistics | no |
//! | [`config`] | [`config::S3Config`]: builder, JSON form, environment resolution | no |
//! | [`error`] | the one [`Error`] type | no |
//! | [`hasch`], [`value`] | konserve's EDN data model and key hashing | no |
//!
//! # Features
//!
//! - `blocking` (default): the blocking API on ureq ([`blocking`], also at
//!   the crate root); no async runtime in the dependency tree.
//! - `async`: the same API, async, on reqwest and tokio (`nonblocking`);
//!   every future is `Send`. The features are additive.
//!
//! # Example
//!
//! ```no_run
//! use konserve_s3::{S3Client, config::S3Config, s3::Conditions};
//!
//! let config = S3Config::builder()
//!     .bucket("my-bucket")
//!     .endpoint("http://127.0.0.1:8333")
//!     .credentials("access", "secret")
//!     .build()?;
//! let s3 = S3Client::new(&config)?;
//! s3.create_bucket()?;
//! s3.put_object("greeting", b"hello".to_vec(), &Conditions::if_absent())?;
//! assert_eq!(s3.get_object("greeting", None)?.body, b"hello");
//! # Ok::<(), konserve_s3::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// The engine is included once per mode on purpose (see below).
#![allow(clippy::duplicate_mod)]

pub mod codec;
pub mod config;
pub mod error;
pub mod hasch;
pub mod layout;
pub mod meta;
pub mod path;
pub mod s3;
pub mod value;

pub use error::{Error, ErrorContext, Result};
#[cfg(any(feature = "blocking", feature = "async"))]
mod http;
#[cfg(any(feature = "blocking", feature = "async"))]
mod mode;

// One engine source (`src/engine/`), compiled once per mode. Before each
// inclusion, three small macros say what the mode is: the maybe-async
// attribute applied to the engine's I/O items, the names the engine imports
// from its mode (transport, byte streams, locks, bounded concurrency), and
// what it re-exports. A later `macro_rules!` of the same name shadows the
// earlier one for the code after it, so each inclusion sees its own mode and
// both features can be on at once.

#[cfg(feature = "blocking")]
macro_rules! maybe_async_mode {
    ($($item:item)*) => { $( #[maybe_async::must_be_sync] $item )* };
}
#[cfg(feature = "blocking")]
macro_rules! mode_imports {
    () => {
        #[allow(unused_imports)]
        use crate::mode::blocking::{
            BodyReader, BodySource, KeyLocks, MaybeSend, Transport, TransportBody, body_reader,
            chain, fill, read_all, reader_of, run_bounded,
        };
    };
}
#[cfg(feature = "blocking")]
macro_rules! mode_exports {
    () => {
        pub use crate::mode::blocking::{BodyReader, BodySource, MaybeSend};
    };
}
/// The blocking API (default feature `blocking`): ureq, no async runtime.
#[cfg(feature = "blocking")]
#[path = "engine/mod.rs"]
pub mod blocking;

#[cfg(feature = "async")]
macro_rules! maybe_async_mode {
    ($($item:item)*) => { $( #[maybe_async::must_be_async(AFIT)] $item )* };
}
#[cfg(feature = "async")]
macro_rules! mode_imports {
    () => {
        #[allow(unused_imports)]
        use crate::mode::nonblocking::{
            BodyReader, BodySource, KeyLocks, MaybeSend, Transport, TransportBody, body_reader,
            chain, fill, read_all, reader_of, run_bounded,
        };
    };
}
#[cfg(feature = "async")]
macro_rules! mode_exports {
    () => {
        pub use crate::mode::nonblocking::{BodyReader, BodySource, MaybeSend};
    };
}
/// The async API (feature `async`): the same engine on reqwest and tokio.
/// Every future is `Send`.
#[cfg(feature = "async")]
#[path = "engine/mod.rs"]
pub mod nonblocking;

#[cfg(feature = "blocking")]
pub use blocking::S3Client;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
