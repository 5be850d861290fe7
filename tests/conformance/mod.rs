//! konserve's compliance properties, run against every backing in both modes.
//!
//! `suite.rs` is written once in async style and compiled twice, as the
//! library's engine is: `conformance::blocking` (async stripped) and
//! `conformance::nonblocking`. `conformance_tests!` stamps out one test per
//! property and mode for a backing.
#![allow(dead_code)]
#![allow(clippy::duplicate_mod)] // the suite is compiled once per mode

#[cfg(feature = "blocking")]
macro_rules! suite_mode {
    ($($item:item)*) => { $( #[maybe_async::must_be_sync] $item )* };
}
#[cfg(feature = "blocking")]
macro_rules! suite_imports {
    () => {
        /// `.await` in the async mode, nothing here (maybe-async does not see
        /// into macro arguments such as `assert!`'s).
        macro_rules! aw {
            ($e:expr) => {
                $e
            };
        }

        #[allow(unused_imports)]
        use std::io::Read;

        #[allow(unused_imports)]
        use konserve_s3::blocking::{Backing, DissocOptions, Store, WriteEvent};

        /// Runs `n` copies of `f` at once (threads).
        fn concurrently<F: Fn() + Sync>(n: usize, f: F) {
            std::thread::scope(|s| {
                for _ in 0..n {
                    s.spawn(&f);
                }
            });
        }
    };
}
#[cfg(feature = "blocking")]
#[path = "suite.rs"]
pub mod blocking;

#[cfg(feature = "async")]
macro_rules! suite_mode {
    ($($item:item)*) => { $( #[maybe_async::must_be_async] $item )* };
}
#[cfg(feature = "async")]
macro_rules! suite_imports {
    () => {
        /// `.await`.
        macro_rules! aw {
            ($e:expr) => {
                $e.await
            };
        }

        #[allow(unused_imports)]
        use tokio::io::AsyncReadExt;

        #[allow(unused_imports)]
        use konserve_s3::nonblocking::{Backing, DissocOptions, Store, WriteEvent};

        /// Runs `n` copies of `f`'s future at once (concurrent futures).
        async fn concurrently<F, Fut>(n: usize, f: F)
        where
            F: Fn() -> Fut,
            Fut: std::future::Future<Output = ()>,
        {
            let mut all = Vec::new();
            for _ in 0..n {
                all.push(f());
            }
            futures_util::future::join_all(all).await;
        }
    };
}
#[cfg(feature = "async")]
#[path = "suite.rs"]
pub mod nonblocking;

/// One test per property and mode, each on a fresh store: `$blocking` makes
/// one with the blocking API, `$async` (an expression that may `.await`) with
/// the async API.
#[macro_export]
macro_rules! conformance_tests {
    (blocking: $blocking:expr, nonblocking: $async:expr $(,)?) => {
        $crate::conformance_tests!(@each $blocking; $async;
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
    (@each $blocking:expr; $async:expr; $($name:ident,)*) => {
        #[cfg(feature = "blocking")]
        mod blocking_mode {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    let store = $blocking;
                    conformance::blocking::$name(&store);
                }
            )*
        }
        #[cfg(feature = "async")]
        mod async_mode {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = $async;
                    conformance::nonblocking::$name(&store).await;
                }
            )*
        }
    };
}
