//! konserve-s3: durable key–value storage in Amazon S3 and S3-compatible
//! stores, with the API and on-bucket format of Clojure's konserve and
//! konserve-s3.
//!
//! # The public API
//!
//! | module | what for |
//! | --- | --- |
//! | [`blocking`] | konserve's API: `Store`, the `Backing` trait and its S3, file and memory backings, the store lifecycle (`create_store`, `connect_store`, …), the value cache (`Store::cached`, konserve.cache), tiered stores (`TieredBacking`, konserve.tiered), the raw [`S3Client`]; HTTP on ureq, no async runtime (feature `blocking`, default) |
//! | `nonblocking` | the same, as `async fn`s on reqwest and tokio; every future is `Send` (feature `async`) |
//! | [`config`] | [`config::S3Config`] (builder, JSON form, environment), store options, the encodings, credentials, retry policy |
//! | [`error`] | the one [`Error`] type, its [`ErrorContext`], and the codec and path errors it carries |
//! | [`gc`] | garbage collection: sweep options and report, the write clock, the in-process guard (the sweep itself: `blocking::gc::sweep`) |
//! | [`value`], [`hasch`] | konserve's EDN data model and its key hashing |
//! | [`s3`] | what the raw S3 client takes and gives: actions, byte ranges, listings, statistics |
//! | [`Conditions`] | conditional writes (`If-Match`, `If-None-Match`), as every backing honours them |
//!
//! # Layers
//!
//! Top to bottom on a write; pure code apart from I/O (see
//! `docs/architecture.md`):
//!
//! | layer | folder | I/O |
//! | --- | --- | --- |
//! | engine: konserve's semantics, locking, lifecycle, the backings, the S3 client's retries | `src/engine/`, compiled once per mode by `src/blocking.rs` and `src/nonblocking.rs` | yes |
//! | mode: transport, streams, locks, bounded parallelism | `src/mode/blocking/`, `src/mode/nonblocking/` | yes |
//! | S3 protocol: presigning, classification, redaction, statistics | `src/s3/` | no |
//! | codec: blob header, boring CBOR, Fressian, clj-cbor, LZ4, zstd, AES | `src/codec/` | no |
//! | konserve's layout, metadata, paths; values and hashing | `src/layout.rs`, `src/meta.rs`, `src/path.rs`, `src/value/`, `src/hasch.rs` | no |
//! | base types: config, credentials, conditions, retry policy, actions, errors | `src/config.rs`, `src/credentials/`, `src/conditions.rs`, `src/retry.rs`, `src/action.rs`, `src/error.rs` | no |
//!
//! # Features
//!
//! - `blocking` (default): the blocking API on ureq ([`blocking`], its
//!   [`S3Client`] also at the crate root); no async runtime in the dependency
//!   tree.
//! - `async`: the same API, async, on reqwest and tokio (`nonblocking`);
//!   every future is `Send`. The features are additive.
//! - `conformance`: konserve's compliance suite for your own `Backing`
//!   (`blocking::conformance`, `nonblocking::conformance`,
//!   `conformance_tests!`).
//!
//! # Example
//!
//! A konserve store in a bucket, opened (and created the first time) from
//! its configuration; values are EDN [`value::Value`]s or, through serde,
//! your own types:
//!
//! ```no_run
//! use konserve_s3::blocking::connect_or_create;
//! use konserve_s3::config::S3Config;
//! use konserve_s3::value::Value;
//!
//! fn main() -> Result<(), konserve_s3::Error> {
//!     let config = S3Config::builder()
//!         .bucket("my-bucket")
//!         .id("4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10".parse().expect("a UUID"))
//!         .endpoint("http://127.0.0.1:8333") // omit for AWS
//!         .build()?;
//!     let store = connect_or_create(&config)?;
//!     store.assoc(Value::keyword("greeting"), "hello")?;
//!     let (_, visits) = store.update(Value::keyword("visits"), |n| {
//!         Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
//!     })?;
//!     println!("{:?}, visit {visits}", store.get(Value::keyword("greeting"))?);
//!     Ok(())
//! }
//! ```
//!
//! The raw S3 client ([`S3Client`]) is there too, for what konserve does
//! not cover.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
// The engine is included once per mode on purpose (see `blocking.rs`).
#![allow(clippy::duplicate_mod)]
// Built with neither mode, the crate is its pure layers alone (values, key
// hashing, config): the S3 protocol layer below the engine is compiled but
// has no caller.
#![cfg_attr(
    not(any(feature = "blocking", feature = "async")),
    allow(dead_code, unused_imports)
)]

mod action;
mod cache;
mod conditions;
pub mod config;
mod credentials;
pub mod error;
pub mod gc;
pub mod hasch;
mod retry;
pub mod s3;
mod tiered;
pub mod value;

/// Whole konserve blobs as bytes, for tools that inspect, verify, copy or
/// re-encode a store blob by blob (the `konserve-s3` command-line tool)
/// through a backing's raw reads and writes
/// (`blocking::Backing::read_blob` / `write_blob`): the [`BlobFormat`](blob::BlobFormat) a
/// blob's header names, and [`Encoding::decode_blob`](config::Encoding::decode_blob) /
/// [`Encoding::encode_blob`](config::Encoding::encode_blob) for a whole blob
/// (header, metadata, value). A store's own reads and writes never need
/// these.
pub mod blob {
    pub use crate::codec::blob::{BlobBody, BlobFormat, DecodedBlob};
}

#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(feature = "async")]
pub mod nonblocking;

// Below the public API: blob encoding, konserve's object names and metadata,
// paths into values (see `internals`).
mod codec;
mod layout;
mod meta;
mod path;

/// Unstable internals for this crate's own tests, fuzzers and benchmark
/// (feature `internals`): no stability promise, not for users.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    /// The blob codecs.
    pub mod codec {
        pub use crate::codec::*;
    }
    /// konserve's object names.
    pub mod layout {
        pub use crate::layout::*;
    }
    /// konserve's metadata.
    pub mod meta {
        pub use crate::meta::*;
    }
    /// Paths into values.
    pub mod path {
        pub use crate::path::*;
    }
    /// The S3 layer's insides.
    pub mod s3 {
        /// Presigned requests.
        pub mod request {
            pub use crate::conditions::md5_etag;
            pub use crate::s3::request::*;
        }
        /// Classification of answers.
        pub mod classify {
            pub use crate::s3::classify::*;
        }
        /// Object-key validation.
        pub mod object_key {
            pub use crate::s3::object_key::*;
        }
        /// Redaction.
        pub mod redact {
            pub use crate::s3::redact::*;
        }
    }
}

#[cfg(any(feature = "blocking", feature = "async"))]
mod http;
#[cfg(any(feature = "blocking", feature = "async"))]
mod mode;

#[cfg(feature = "blocking")]
pub use blocking::S3Client;
pub use conditions::Conditions;
pub use error::{Error, ErrorContext, Result};
/// The `uuid` crate's UUID, which names stores (`S3Config::id`, the gc
/// guard's store ids): re-exported so that a program needs no `uuid`
/// dependency of its own to make or parse one.
pub use uuid::Uuid;

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

/// The README's examples, compiled as doctests. They are whole programs
/// (no hidden lines, checked by tests/docs_snippets.rs), one of them async,
/// so they need both APIs.
#[cfg(all(doctest, feature = "blocking", feature = "async"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// docs/gc.md's example, compiled as a doctest.
#[cfg(all(doctest, feature = "blocking"))]
#[doc = include_str!("../docs/gc.md")]
struct GcDocDoctests;
