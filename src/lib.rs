//! konserve-s3: durable key–value storage in Amazon S3 and S3-compatible stores.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod config;
pub mod dev_server;
pub mod error;
pub mod hasch;
pub mod s3;
pub mod value;

pub use error::{Error, ErrorContext, Result};
mod http;

#[cfg(feature = "blocking")]
macro_rules! maybe_async_mode {
    ($($item:item)*) => { $( #[maybe_async::must_be_sync] $item )* };
}
#[cfg(feature = "blocking")]
macro_rules! mode_transport {
    () => {
        crate::http::ureq_transport::UreqTransport
    };
}
/// The blocking API (default feature `blocking`): ureq, no async runtime.
#[cfg(feature = "blocking")]
#[path = "engine/mod.rs"]
pub mod blocking;
#[cfg(feature = "blocking")]
pub use blocking::S3Client;
