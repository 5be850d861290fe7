//! The S3 protocol layer: pure code, no I/O. What it offers users of the raw
//! [`S3Client`](crate::blocking::S3Client): the [`Action`]s it performs, a
//! [`ByteRange`] for ranged reads, listing pages ([`ListPage`],
//! [`ListedObject`]) and request statistics ([`StatsSnapshot`]).
//!
//! Inside (crate-private): `request` describes one S3 action and presigns it
//! with rusty-s3; `classify` turns a status and an S3 XML error body into a
//! typed [`Error`](crate::Error), once; `object_key` validates the object
//! keys the crate builds; `redact` scrubs signatures and credentials out of
//! text; `stats` counts requests, bytes and latencies per action;
//! `responses` parses successful XML answers. The transport that sends a
//! signed request lives in each mode (`src/mode/`), so everything here is
//! testable without a network and shared by both modes.

pub(crate) mod capabilities;
pub(crate) mod classify;
pub(crate) mod object_key;
pub(crate) mod redact;
pub(crate) mod request;
pub(crate) mod responses;
pub(crate) mod stats;

pub use crate::action::Action;
pub use capabilities::{Capabilities, EtagForm, RaceOutcome, Support};
pub use request::ByteRange;
pub(crate) use request::{S3Request, SignedRequest, Signer};
pub use responses::{DeleteFailure, ListPage, ListedObject, MultipartUpload};
pub use stats::{ActionStats, StatsSnapshot};
