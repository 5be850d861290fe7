//! The blocking mode of the suite: its attribute, API and `concurrently`.

use konserve_s3::blocking::{DissocOptions, S3Store, connect_store, create_store};
use maybe_async::must_be_sync as io;

/// Runs `n` copies of `f` at once (threads).
fn concurrently<F: Fn() + Sync>(n: usize, f: F) {
    std::thread::scope(|s| {
        for _ in 0..n {
            s.spawn(&f);
        }
    });
}

#[path = "suite.rs"]
mod suite;

#[test]
fn requests_per_operation_are_konserve_s3s_floor() {
    suite::requests_per_operation_are_konserve_s3s_floor();
}

#[test]
fn many_writers_with_their_own_handles_lose_no_update() {
    suite::many_writers_with_their_own_handles_lose_no_update();
}
