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
// The engine is included once per mode on purpose (see `blocking.rs`).
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

#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(feature = "async")]
pub mod nonblocking;

#[cfg(feature = "blocking")]
pub use blocking::S3Client;

/// One `#[test]` per conformance property and mode, each on a fresh store
/// (feature `conformance`).
///
/// `blocking:` takes an expression that makes a fresh
/// `konserve_s3::blocking::Store`; `nonblocking:` one that makes a fresh
/// `konserve_s3::nonblocking::Store` (it may `.await`; the tests are
/// `#[tokio::test]`s, so the calling crate needs tokio with the `macros` and
/// `rt-multi-thread` features). Give either or both; each mode's tests land
/// in a module of its own (`blocking_mode`, `async_mode`).
///
/// # Example
///
/// ```
/// // tests/my_backing.rs
/// konserve_s3::conformance_tests!(
///     blocking: konserve_s3::blocking::Store::new(konserve_s3::blocking::MemoryBacking::new()),
/// );
/// # fn main() {}
/// ```
#[cfg(feature = "conformance")]
#[macro_export]
macro_rules! conformance_tests {
    (blocking: $blocking:expr, nonblocking: $async:expr $(,)?) => {
        $crate::conformance_tests!(blocking: $blocking);
        $crate::conformance_tests!(nonblocking: $async);
    };
    ($mode:ident: $make:expr $(,)?) => {
        $crate::conformance_tests!(@each $mode; $make;
            fresh_key_is_absent,
            assoc_then_exists_and_get,
            assoc_in_with_one_element_path_overwrites,
            get_in_default_on_missing_key,
            update_in_on_a_top_level_key,
            nested_assoc_in_updates_inside_the_map,
            nested_update_in,
            dissoc_reports_existence,
            binary_values,
            keys_returns_exactly_the_metadata,
            append_log_in_order,
            get_meta_of_a_log,
            write_hooks,
            typed_values,
            concurrent_updates_in_one_process_lose_nothing,
            multi_key_operations,
        );
    };
    (@each blocking; $make:expr; $($name:ident,)*) => {
        mod blocking_mode {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    let store = $make;
                    $crate::blocking::conformance::$name(&store);
                }
            )*
        }
    };
    (@each nonblocking; $make:expr; $($name:ident,)*) => {
        mod async_mode {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = $make;
                    $crate::nonblocking::conformance::$name(&store).await;
                }
            )*
        }
    };
}

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
