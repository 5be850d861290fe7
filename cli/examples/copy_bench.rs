//! How fast `konserve-s3 copy` moves 10 000 keys, against the same copy
//! written as a plain program over the library (sequential, and on
//! threads). Starts its own SeaweedFS; run in release mode:
//!
//! ```sh
//! cargo build --release -p konserve-s3-cli
//! cargo run --release -p konserve-s3-cli --example copy_bench [KEYS]
//! ```
//!
//! Prints keys/s for: CLI S3→S3, CLI S3→filestore, CLI filestore→S3, and
//! the library program S3→S3 with 1 and 8 threads.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use konserve_s3::Conditions;
use konserve_s3::blocking::{Backing, S3Store, connect_or_create};
use konserve_s3::config::S3Config;
use konserve_s3::value::Value;
use konserve_s3_dev::SeaweedFs;
use uuid::Uuid;

fn config(server: &SeaweedFs, bucket: &str) -> S3Config {
    S3Config::builder()
        .bucket(bucket)
        .id(Uuid::new_v4())
        .endpoint(server.endpoint())
        .region(server.region())
        .credentials(server.access_key(), server.secret_key())
        .build()
        .expect("a valid config")
}

fn url(c: &S3Config) -> String {
    format!("s3://{}/{}", c.bucket, c.id.expect("an id"))
}

/// The CLI binary next to this example (target/release/konserve-s3).
fn cli_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let dir = exe.parent().and_then(|p| p.parent()).expect("target dir");
    let bin = dir.join("konserve-s3");
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release -p konserve-s3-cli first",
        bin.display()
    );
    bin
}

fn cli_copy(server: &SeaweedFs, src: &str, dst: &str, keys: usize) -> f64 {
    let started = Instant::now();
    let out = Command::new(cli_binary())
        .args(["copy", "--json", "--jobs", "8", src, dst])
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .env("AWS_ACCESS_KEY_ID", server.access_key())
        .env("AWS_SECRET_ACCESS_KEY", server.secret_key())
        .env("AWS_REGION", server.region())
        .output()
        .expect("the CLI runs");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(summary["copied"].as_u64(), Some(keys as u64), "{summary}");
    keys as f64 / secs
}

/// The copy as a user would write it over the library: list the source's
/// blobs, read each and write it to the destination, on `threads` threads.
fn library_copy(src: &S3Store, dst: &S3Store, threads: usize) -> f64 {
    let started = Instant::now();
    let names = src.backing().list_blobs().expect("listing");
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some(name) = names.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Some(blob) = src.backing().read_blob(name).expect("read") {
                        dst.backing()
                            .write_blob(name, blob.bytes, &Conditions::NONE)
                            .expect("write");
                    }
                }
            });
        }
    });
    names.len() as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let keys: usize = std::env::args()
        .nth(1)
        .map_or(10_000, |n| n.parse().expect("KEYS is a number"));
    let server = SeaweedFs::start().expect("SeaweedFS");
    let src_config = config(&server, "bench-src");
    let src = connect_or_create(&src_config).expect("source store");
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= keys {
                        break;
                    }
                    let value: Value = format!(
                        "{{:id {i} :name \"user-{i}\" :tags #{{:a :b}} :score {}.5}}",
                        i % 97
                    )
                    .parse()
                    .expect("EDN");
                    src.assoc(Value::from(i as i64), value).expect("assoc");
                }
            });
        }
    });
    println!(
        "populated {keys} keys in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let dir = std::env::temp_dir().join(format!("konserve-copy-bench-{}", Uuid::new_v4()));
    let file_url = format!("file://{}", dir.display());
    let s3_to_s3 = cli_copy(
        &server,
        &url(&src_config),
        &url(&config(&server, "bench-dst")),
        keys,
    );
    let s3_to_file = cli_copy(&server, &url(&src_config), &file_url, keys);
    let file_to_s3 = cli_copy(
        &server,
        &file_url,
        &url(&config(&server, "bench-dst")),
        keys,
    );
    println!("konserve-s3 copy --jobs 8, S3 -> S3:        {s3_to_s3:>7.0} keys/s");
    println!("konserve-s3 copy --jobs 8, S3 -> file:      {s3_to_file:>7.0} keys/s");
    println!("konserve-s3 copy --jobs 8, file -> S3:      {file_to_s3:>7.0} keys/s");
    for threads in [1, 8] {
        let dst = connect_or_create(&config(&server, "bench-dst")).expect("destination");
        let rate = library_copy(&src, &dst, threads);
        println!("library program, {threads} thread(s), S3 -> S3: {rate:>7.0} keys/s");
    }
    let _ = std::fs::remove_dir_all(dir);
}
