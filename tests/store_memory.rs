//! The conformance suite on the in-memory backing, in both modes, without and
//! with optimistic locking.

use konserve_s3::config::StoreOptions;

fn locking() -> StoreOptions {
    StoreOptions {
        optimistic_locking_retries: 20,
        ..StoreOptions::default()
    }
}

#[cfg(feature = "blocking")]
fn blocking_store(
    options: StoreOptions,
) -> konserve_s3::blocking::Store<konserve_s3::blocking::MemoryBacking> {
    konserve_s3::blocking::Store::with_options(konserve_s3::blocking::MemoryBacking::new(), options)
}

#[cfg(feature = "async")]
fn async_store(
    options: StoreOptions,
) -> konserve_s3::nonblocking::Store<konserve_s3::nonblocking::MemoryBacking> {
    konserve_s3::nonblocking::Store::with_options(
        konserve_s3::nonblocking::MemoryBacking::new(),
        options,
    )
}

mod plain {
    use super::*;

    #[cfg(feature = "blocking")]
    konserve_s3::conformance_tests!(blocking: blocking_store(StoreOptions::default()));
    #[cfg(feature = "async")]
    konserve_s3::conformance_tests!(nonblocking: async_store(StoreOptions::default()));
}

mod with_optimistic_locking {
    use super::*;

    #[cfg(feature = "blocking")]
    konserve_s3::conformance_tests!(blocking: blocking_store(locking()));
    #[cfg(feature = "async")]
    konserve_s3::conformance_tests!(nonblocking: async_store(locking()));
}
