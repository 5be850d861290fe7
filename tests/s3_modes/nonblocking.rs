//! The async mode of the suite: its attribute, API and `concurrently`.

use konserve_s3::nonblocking::{DissocOptions, S3Store, connect_store, create_store};
use maybe_async::must_be_async as io;

/// Runs `n` copies of `f`'s future at once.
async fn concurrently<F, Fut>(n: usize, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    futures_util::future::join_all((0..n).map(|_| f())).await;
}

#[path = "suite.rs"]
mod suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_operation_are_konserve_s3s_floor() {
    suite::requests_per_operation_are_konserve_s3s_floor().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_with_their_own_handles_lose_no_update() {
    suite::many_writers_with_their_own_handles_lose_no_update().await;
}
