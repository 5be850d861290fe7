//! The async mode of the soak: its attribute, API and helpers.

use konserve_s3::nonblocking::{
    BinaryValue, S3Backing, S3Client, S3Store, Store, connect_store, create_store,
};
use maybe_async::must_be_async as io;

/// Runs `n` copies of `f`'s future at once.
async fn concurrently<F, Fut>(n: usize, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    futures_util::future::join_all((0..n).map(|_| f())).await;
}

/// Reads a binary value whole.
async fn read_binary(mut value: BinaryValue) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut value.reader, &mut out).await?;
    Ok(out)
}

const MODE: &str = "async";

#[path = "suite.rs"]
mod suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_soak_loses_and_doubles_no_acknowledged_write() {
    suite::fault_soak_loses_and_doubles_no_acknowledged_write().await;
}
