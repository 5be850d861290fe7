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

/// What the test server does with conditional writes, checksums and
/// listings (probed once per test binary, in a bucket of its own).
pub fn capabilities() -> &'static konserve_s3::s3::Capabilities {
    static CAPS: OnceLock<konserve_s3::s3::Capabilities> = OnceLock::new();
    CAPS.get_or_init(|| {
        fresh_bucket("caps")
            .capabilities()
            .expect("the capability probe runs on every test server")
    })
}

/// The test server's name: `KONSERVE_S3_TEST_PROVIDER`, else what its
/// `Server` header says, else "SeaweedFS" (the local default).
pub fn provider() -> String {
    if let Ok(p) = std::env::var("KONSERVE_S3_TEST_PROVIDER")
        && !p.is_empty()
    {
        return p;
    }
    if std::env::var("KONSERVE_S3_TEST_ENDPOINT").is_err() {
        return "SeaweedFS".into();
    }
    capabilities()
        .server
        .clone()
        .unwrap_or_else(|| "the test server".into())
}

/// Records that `test` does not apply on this server because it lacks
/// `capability`: printed, and appended to `KONSERVE_S3_NA_FILE` (default
/// `target/tmp/not-applicable.txt`) so the run can list every such test at
/// its end. Never a silent pass: the caller asserts what the store
/// guarantees instead (a clear refusal) before calling this.
pub fn not_applicable(test: &str, capability: &str) {
    use std::io::Write;
    let line = format!("not applicable on {}: {test}: {capability}\n", provider());
    eprint!("{line}");
    let path = std::env::var_os("KONSERVE_S3_NA_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("not-applicable.txt")
        });
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("the not-applicable list is writable");
    f.write_all(line.as_bytes())
        .expect("the not-applicable list is writable");
}

/// How optimistic locking can be tested on the test server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockingOnServer {
    /// Safe: tests connect with `conditional-writes: auto` (probed) and
    /// assert exact outcomes under concurrency.
    Safe,
    /// Not safe here, for the reason given: the probe refused it (and a
    /// store with locking was checked to be refused with that reason), or
    /// `KONSERVE_S3_TEST_CAS_NOT_ATOMIC` declares what no short probe sees
    /// reliably (moto checks `If-Match`, then writes without a lock). Tests
    /// run with `conditional-writes: on`, assert what still holds, and are
    /// listed as not applicable for the rest.
    Unsafe(String),
}

/// See [`LockingOnServer`] (decided once per test binary).
pub fn locking_on_server() -> &'static LockingOnServer {
    static DECIDED: OnceLock<LockingOnServer> = OnceLock::new();
    DECIDED.get_or_init(|| {
        if let Err(why) = capabilities().locking_verdict() {
            let bucket = bucket_name("refusal");
            let mut config = config_for(&bucket, &server().endpoint);
            config.id = Some(uuid::Uuid::new_v4());
            config.store.optimistic_locking_retries = 5;
            match konserve_s3::blocking::create_store(&config) {
                Err(konserve_s3::Error::Unsupported { reason, .. }) => {
                    assert!(reason.contains(why.as_ref()), "{reason}");
                }
                other => panic!(
                    "locking on a provider that cannot do it safely was not refused: {other:?}"
                ),
            }
            return LockingOnServer::Unsafe(format!("optimistic locking is refused: {why}"));
        }
        match std::env::var("KONSERVE_S3_TEST_CAS_NOT_ATOMIC") {
            Ok(why) if !why.is_empty() => LockingOnServer::Unsafe(why),
            _ => LockingOnServer::Safe,
        }
    })
}

/// The `conditional-writes` mode tests with locking use here: `auto` where
/// locking is safe, `on` (trusted, no probe) where it is not.
pub fn locking_mode() -> &'static str {
    match locking_on_server() {
        LockingOnServer::Safe => "auto",
        LockingOnServer::Unsafe(_) => "on",
    }
}

/// `--features …` for building an example that needs `required`: the
/// features this test binary was built with (plus `required`), so that cargo
/// reuses the library it built rather than compiling it again.
pub fn cargo_feature_args(required: &str) -> Vec<String> {
    let mut features: Vec<&str> = vec![required];
    for (on, name) in [
        (cfg!(feature = "blocking"), "blocking"),
        (cfg!(feature = "async"), "async"),
        (cfg!(feature = "conformance"), "conformance"),
        (cfg!(feature = "internals"), "internals"),
    ] {
        if on && !features.contains(&name) {
            features.push(name);
        }
    }
    vec!["--features".into(), features.join(",")]
}

/// The path of this crate's example `name`, built once per test binary
/// (with `features`, plus the features this test binary has) into the
/// test's own target directory: a separate program to run as another
/// process.
pub fn example_binary(name: &'static str, features: &'static str) -> std::path::PathBuf {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static BUILT: OnceLock<Mutex<HashMap<&'static str, std::path::PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    built
        .entry(name)
        .or_insert_with(|| {
            let deps = std::env::current_exe().unwrap();
            let profile_dir = deps.parent().unwrap().parent().unwrap();
            let target_dir = profile_dir.parent().unwrap();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "--quiet", "--example", name])
                .args(cargo_feature_args(features))
                .env("CARGO_TARGET_DIR", target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("running cargo to build the example");
            assert!(status.success(), "building the {name} example failed");
            let bin = profile_dir.join("examples").join(name);
            assert!(bin.exists(), "no {name} example at {}", bin.display());
            bin
        })
        .clone()
}
