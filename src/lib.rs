//! konserve-s3: durable key–value storage in Amazon S3 and S3-compatible stores.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dev_server;
