//! The async mode of the workload.

use konserve_s3::nonblocking::{S3Client, create_store};
use maybe_async::must_be_async as io;

#[path = "workload.rs"]
pub mod workload;
