//! Shared test harness: one real S3 server per test binary, one bucket per test.
//!
//! The server is the one named by `KONSERVE_S3_TEST_ENDPOINT` (with
//! `KONSERVE_S3_TEST_ACCESS_KEY` / `KONSERVE_S3_TEST_SECRET_KEY`, and
//! optionally `KONSERVE_S3_TEST_REGION`), or else a SeaweedFS started here
//! (installed on first use) that exits with the test process. A missing
//! server is a test failure, never a skip.
#![allow(dead_code)]

pub mod fault_proxy;

use std::sync::OnceLock;

use konserve_s3::S3Client;
use konserve_s3::config::RetryPolicy;
use konserve_s3::config::{HttpOptions, S3Config};
use konserve_s3_dev::SeaweedFs;

/// Where the test server is and how to sign for it.
#[derive(Clone, Debug)]
pub struct TestServer {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

enum Server {
    External(TestServer),
    Local(SeaweedFs, TestServer),
}

fn start() -> Server {
    if let Ok(endpoint) = std::env::var("KONSERVE_S3_TEST_ENDPOINT") {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("KONSERVE_S3_TEST_ENDPOINT is set, so {name} must be set too")
            })
        };
        return Server::External(TestServer {
            endpoint,
            access_key: var("KONSERVE_S3_TEST_ACCESS_KEY"),
            secret_key: var("KONSERVE_S3_TEST_SECRET_KEY"),
            region: std::env::var("KONSERVE_S3_TEST_REGION").unwrap_or_else(|_| "us-east-1".into()),
        });
    }
    let server = SeaweedFs::start().unwrap_or_else(|e| {
        panic!("no S3 test server: {e}\n(set KONSERVE_S3_TEST_ENDPOINT to use a running one)")
    });
    let info = TestServer {
        endpoint: server.endpoint().to_owned(),
        access_key: server.access_key().to_owned(),
        secret_key: server.secret_key().to_owned(),
        region: server.region().to_owned(),
    };
    Server::Local(server, info)
}

/// The test server of this test binary (started on first use).
pub fn server() -> &'static TestServer {
    static SERVER: OnceLock<Server> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Server::External(info) | Server::Local(_, info) => info,
    }
}

/// A fresh, unique bucket name.
pub fn bucket_name(tag: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t-{tag}-{}", &id[..16])
}

/// A config for `bucket` on the test server (fast retries for tests).
pub fn config_for(bucket: &str, endpoint: &str) -> S3Config {
    let s = server();
    S3Config::builder()
        .bucket(bucket)
        .endpoint(endpoint)
        .region(s.region.clone())
        .credentials(s.access_key.clone(), s.secret_key.clone())
        .retry(RetryPolicy {
            max_attempts: 4,
            initial_backoff: std::time::Duration::from_millis(10),
            max_backoff: std::time::Duration::from_millis(100),
            total_budget: std::time::Duration::from_secs(20),
        })
        .http(HttpOptions::default())
        .build()
        .expect("valid test config")
}

/// A client for a new bucket that exists (created here).
pub fn fresh_bucket(tag: &str) -> S3Client {
    let client = S3Client::new(&config_for(&bucket_name(tag), &server().endpoint)).unwrap();
    assert!(client.create_bucket().expect("create test bucket"));
    client
}

/// Collects everything a logger writes (a `tracing` subscriber's writer, an
/// env_logger pipe).
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
