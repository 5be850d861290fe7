//! The conformance suite on the in-memory backing, in both modes, without and
//! with optimistic locking.

mod conformance;

use konserve_s3::config::StoreOptions;

fn locking() -> StoreOptions {
    StoreOptions {
        optimistic_locking_retries: 20,
        ..StoreOptions::default()
    }
}

mod plain {
    use super::*;

    conformance_tests!(
        blocking: konserve_s3::blocking::Store::new(konserve_s3::blocking::MemoryBacking::new()),
        nonblocking: konserve_s3::nonblocking::Store::new(konserve_s3::nonblocking::MemoryBacking::new()),
    );
}

mod with_optimistic_locking {
    use super::*;

    conformance_tests!(
        blocking: konserve_s3::blocking::Store::with_options(
            konserve_s3::blocking::MemoryBacking::new(),
            locking()
        ),
        nonblocking: konserve_s3::nonblocking::Store::with_options(
            konserve_s3::nonblocking::MemoryBacking::new(),
            locking()
        ),
    );
}
