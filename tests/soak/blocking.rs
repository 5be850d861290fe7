//! The blocking mode of the soak: its attribute, API and helpers.

use konserve_s3::blocking::{
    BinaryValue, S3Backing, S3Client, S3Store, Store, connect_store, create_store,
};
use maybe_async::must_be_sync as io;

/// Runs `n` copies of `f` at once (threads).
fn concurrently<F: Fn() + Sync>(n: usize, f: F) {
    std::thread::scope(|s| {
        for _ in 0..n {
            s.spawn(&f);
        }
    });
}

/// Reads a binary value whole.
fn read_binary(mut value: BinaryValue) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut value.reader, &mut out)?;
    Ok(out)
}

const MODE: &str = "blocking";

#[path = "suite.rs"]
mod suite;

#[test]
fn fault_soak_loses_and_doubles_no_acknowledged_write() {
    suite::fault_soak_loses_and_doubles_no_acknowledged_write();
}
