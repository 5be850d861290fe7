//! S3 tests that run in both modes: the request floor of every operation and
//! many writers with their own store handles (threads in the blocking mode,
//! concurrent futures on one multi-threaded runtime in the async mode).

#![allow(clippy::duplicate_mod)] // the suite is compiled once per mode

mod common;

#[cfg(feature = "blocking")]
macro_rules! suite_mode {
    ($($item:item)*) => { $( #[maybe_async::must_be_sync] $item )* };
}
#[cfg(feature = "blocking")]
macro_rules! suite_imports {
    () => {
        macro_rules! aw {
            ($e:expr) => {
                $e
            };
        }
        #[allow(unused_imports)]
        use konserve_s3::blocking::{DissocOptions, connect_store, create_store};

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
#[path = "s3_modes/suite.rs"]
mod blocking;

#[cfg(feature = "async")]
macro_rules! suite_mode {
    ($($item:item)*) => { $( #[maybe_async::must_be_async] $item )* };
}
#[cfg(feature = "async")]
macro_rules! suite_imports {
    () => {
        macro_rules! aw {
            ($e:expr) => {
                $e.await
            };
        }
        #[allow(unused_imports)]
        use konserve_s3::nonblocking::{DissocOptions, connect_store, create_store};

        /// Runs `n` copies of `f`'s future at once.
        async fn concurrently<F, Fut>(n: usize, f: F)
        where
            F: Fn() -> Fut,
            Fut: std::future::Future<Output = ()>,
        {
            futures_util::future::join_all((0..n).map(|_| f())).await;
        }
    };
}
#[cfg(feature = "async")]
#[path = "s3_modes/suite.rs"]
mod nonblocking;

#[cfg(feature = "blocking")]
#[test]
fn blocking_requests_per_operation_are_konserve_s3s_floor() {
    blocking::requests_per_operation_are_konserve_s3s_floor();
}

#[cfg(feature = "blocking")]
#[test]
fn blocking_many_writers_with_their_own_handles_lose_no_update() {
    blocking::many_writers_with_their_own_handles_lose_no_update();
}

#[cfg(feature = "async")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_requests_per_operation_are_konserve_s3s_floor() {
    nonblocking::requests_per_operation_are_konserve_s3s_floor().await;
}

#[cfg(feature = "async")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_many_writers_with_their_own_handles_lose_no_update() {
    nonblocking::many_writers_with_their_own_handles_lose_no_update().await;
}
