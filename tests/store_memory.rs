//! The conformance suite on the in-memory backing, without and with
//! optimistic locking.

mod conformance;

use konserve_s3::blocking::{MemoryBacking, Store};

conformance_tests!(Store::new(MemoryBacking::new()));

mod with_optimistic_locking {
    use konserve_s3::blocking::{MemoryBacking, Store};
    use konserve_s3::codec::blob::Encoding;
    use konserve_s3::config::StoreOptions;

    use super::conformance;

    fn store() -> Store<MemoryBacking> {
        let options = StoreOptions {
            optimistic_locking_retries: 20,
            ..StoreOptions::default()
        };
        Store::with_options(MemoryBacking::new(), Encoding::default(), options)
    }

    crate::conformance_tests!(store());
}
