//! The conformance suite on the in-memory backing.

mod conformance;

use konserve_s3::blocking::{MemoryBacking, Store};

conformance_tests!(Store::new(MemoryBacking::new()));
