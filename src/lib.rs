//! konserve-s3: durable key–value storage in Amazon S3 and S3-compatible
//! stores, with the API and on-bucket format of Clojure's konserve and
//! konserve-s3.
//!
//! # Layers
//!
//! | module | does | I/O |
//! | --- | --- | --- |
//! | [`blocking`] | [`S3Client`]: sends S3 requests with retries, statistics, tracing | yes (ureq) |
//! | [`s3`] | presigning ([`s3::S3Request`], [`s3::Signer`]), classification of answers, retry policy, redaction, statistics | no |
//! | [`config`] | [`config::S3Config`]: builder, JSON form, environment resolution | no |
//! | [`error`] | the one [`Error`] type | no |
//! | [`hasch`], [`value`] | konserve's EDN data model and key hashing | no |
//! | [`dev_server`] | a local SeaweedFS for tests and the quickstart | yes (process) |
//!
//! # Features
//!
//! - `blocking` (default): the blocking API on ureq; no async runtime in the
//!   dependency tree.
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

pub mod codec;
pub mod config;
pub mod dev_server;
pub mod error;
pub mod hasch;
pub mod layout;
pub mod meta;
pub mod path;
pub mod s3;
pub mod value;

pub use error::{Error, ErrorContext, Result};
#[cfg(feature = "blocking")]
mod http;

#[cfg(feature = "blocking")]
macro_rules! maybe_async_mode {
    ($($item:item)*) => { $( #[maybe_async::must_be_sync] $item )* };
}
#[cfg(feature = "blocking")]
macro_rules! mode_imports {
    () => {
        #[allow(unused_imports)]
        use crate::http::ureq_transport::{
            BodyReader, BodySource, UreqBody as TransportBody, UreqTransport as Transport,
            body_reader, chain, fill, read_all, reader_of, run_bounded,
        };
    };
}
/// The blocking API (default feature `blocking`): ureq, no async runtime.
#[cfg(feature = "blocking")]
#[path = "engine/mod.rs"]
pub mod blocking;
#[cfg(feature = "blocking")]
pub use blocking::S3Client;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
