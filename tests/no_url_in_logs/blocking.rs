//! The blocking mode of the workload.

use konserve_s3::blocking::{S3Client, create_store};
use maybe_async::must_be_sync as io;

#[path = "workload.rs"]
pub mod workload;
