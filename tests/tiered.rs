//! konserve.tiered: the conformance suite on `Store<TieredBacking>` in every
//! write policy with memory, file and S3 tiers (both modes), and
//! write-behind's promises: a backend that fails and recovers, flush,
//! back-pressure, and a restart with writes still queued.

mod common;

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{bucket_name, config_for, server};
use konserve_s3::Error;
use konserve_s3::config::{ReadPolicy, StoreOptions, SyncStrategy, TieredOptions, WritePolicy};
use konserve_s3::value::Value;
use uuid::Uuid;

/// A fresh directory, removed (best effort) when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        TempDir(std::env::temp_dir().join(format!("konserve-s3-tiered-{}", Uuid::new_v4())))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store with the directories it needs; derefs to the store.
struct Held<S> {
    store: S,
    _dirs: Vec<TempDir>,
}

impl<S> Deref for Held<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.store
    }
}

fn locking() -> StoreOptions {
    StoreOptions {
        optimistic_locking_retries: 20,
        ..StoreOptions::default()
    }
}

/// One bucket for this binary; each store gets its own id in it.
fn shared_bucket() -> &'static str {
    static BUCKET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUCKET.get_or_init(|| {
        let name = bucket_name("tiered");
        let client = konserve_s3::S3Client::new(&config_for(&name, &server().endpoint)).unwrap();
        client.create_bucket().unwrap();
        name
    })
}

fn s3_config() -> konserve_s3::config::S3Config {
    let mut c = config_for(shared_bucket(), &server().endpoint);
    c.id = Some(Uuid::new_v4());
    c
}

mod blocking_stores {
    use super::*;
    use konserve_s3::blocking::{
        FileBacking, MemoryBacking, S3Backing, S3Client, Store, TieredBacking,
    };

    pub fn s3() -> S3Backing {
        let c = s3_config();
        S3Backing::new(S3Client::new(&c).unwrap(), c.id.unwrap())
    }

    pub fn memory_memory(
        policy: WritePolicy,
        options: StoreOptions,
    ) -> Store<TieredBacking<MemoryBacking, MemoryBacking>> {
        let tiered = TieredBacking::new(
            MemoryBacking::new(),
            MemoryBacking::new(),
            TieredOptions::new(policy),
        )
        .unwrap();
        Store::with_options(tiered, options)
    }

    pub fn file_s3(policy: WritePolicy) -> Held<Store<TieredBacking<FileBacking, S3Backing>>> {
        let dir = TempDir::new();
        let frontend = FileBacking::create(dir.path()).unwrap();
        let options = TieredOptions::new(policy).journal(dir.path().join("pending.journal"));
        let tiered = TieredBacking::new(frontend, s3(), options).unwrap();
        Held {
            store: Store::new(tiered),
            _dirs: vec![dir],
        }
    }

    pub fn s3_file(policy: WritePolicy) -> Held<Store<TieredBacking<S3Backing, FileBacking>>> {
        let dir = TempDir::new();
        let backend = FileBacking::create(dir.path()).unwrap();
        let tiered = TieredBacking::new(s3(), backend, TieredOptions::new(policy)).unwrap();
        Held {
            store: Store::new(tiered),
            _dirs: vec![dir],
        }
    }
}

#[cfg(feature = "async")]
mod async_stores {
    use super::*;
    use konserve_s3::nonblocking::{
        FileBacking, MemoryBacking, S3Backing, S3Client, Store, TieredBacking,
    };

    pub fn memory_memory(
        policy: WritePolicy,
        options: StoreOptions,
    ) -> Store<TieredBacking<MemoryBacking, MemoryBacking>> {
        let tiered = TieredBacking::new(
            MemoryBacking::new(),
            MemoryBacking::new(),
            TieredOptions::new(policy),
        )
        .unwrap();
        Store::with_options(tiered, options)
    }

    pub fn file_s3(policy: WritePolicy) -> Held<Store<TieredBacking<FileBacking, S3Backing>>> {
        let dir = TempDir::new();
        let frontend = FileBacking::create(dir.path()).unwrap();
        let c = s3_config();
        let backend = S3Backing::new(S3Client::new(&c).unwrap(), c.id.unwrap());
        let options = TieredOptions::new(policy).journal(dir.path().join("pending.journal"));
        let tiered = TieredBacking::new(frontend, backend, options).unwrap();
        Held {
            store: Store::new(tiered),
            _dirs: vec![dir],
        }
    }
}

/// The suite on memory in front of memory, each policy, both modes, with
/// and without optimistic locking.
mod memory_memory {
    use super::*;

    macro_rules! policy {
        ($module:ident, $policy:expr) => {
            mod $module {
                use super::*;
                mod plain {
                    use super::*;
                    konserve_s3::conformance_tests!(
                        blocking: blocking_stores::memory_memory($policy, StoreOptions::default())
                    );
                    #[cfg(feature = "async")]
                    konserve_s3::conformance_tests!(
                        nonblocking: async_stores::memory_memory($policy, StoreOptions::default())
                    );
                }
                mod with_optimistic_locking {
                    use super::*;
                    konserve_s3::conformance_tests!(
                        blocking: blocking_stores::memory_memory($policy, locking())
                    );
                    #[cfg(feature = "async")]
                    konserve_s3::conformance_tests!(
                        nonblocking: async_stores::memory_memory($policy, locking())
                    );
                }
            }
        };
    }

    policy!(write_through, WritePolicy::WriteThrough);
    policy!(write_behind, WritePolicy::WriteBehind);
    policy!(write_around, WritePolicy::WriteAround);
    policy!(frontend_only, WritePolicy::FrontendOnly);
}

/// The suite on a directory in front of S3 (the intended use), each
/// policy; both modes for write-through and write-behind.
mod file_s3 {
    use super::*;

    mod write_through {
        use super::*;
        konserve_s3::conformance_tests!(blocking: blocking_stores::file_s3(WritePolicy::WriteThrough));
        #[cfg(feature = "async")]
        konserve_s3::conformance_tests!(nonblocking: async_stores::file_s3(WritePolicy::WriteThrough));
    }
    mod write_behind {
        use super::*;
        konserve_s3::conformance_tests!(blocking: blocking_stores::file_s3(WritePolicy::WriteBehind));
        #[cfg(feature = "async")]
        konserve_s3::conformance_tests!(nonblocking: async_stores::file_s3(WritePolicy::WriteBehind));
    }
    mod write_around {
        use super::*;
        konserve_s3::conformance_tests!(blocking: blocking_stores::file_s3(WritePolicy::WriteAround));
    }
    mod frontend_only {
        use super::*;
        konserve_s3::conformance_tests!(blocking: blocking_stores::file_s3(WritePolicy::FrontendOnly));
    }
}

/// S3 in the frontend, a directory behind it: any backing in either place.
mod s3_file {
    use super::*;
    konserve_s3::conformance_tests!(blocking: blocking_stores::s3_file(WritePolicy::WriteThrough));
}

// ---------------------------------------------------------------------------
// Write-behind with a backend that fails and recovers.

mod flaky {
    use super::*;
    use bytes::Bytes;
    use konserve_s3::Conditions;
    use konserve_s3::blocking::{Backing, BlobStream, MemoryBacking, StoredBlob};

    /// A memory backing whose writes fail while `down` is set; counts the
    /// writes that landed.
    #[derive(Clone, Default)]
    pub struct Flaky {
        pub inner: MemoryBacking,
        pub down: Arc<AtomicBool>,
        pub landed: Arc<AtomicUsize>,
    }

    impl Flaky {
        fn check(&self) -> konserve_s3::Result<()> {
            if self.down.load(Ordering::SeqCst) {
                Err(Error::Io(std::io::Error::other(
                    "the backend is down (test)",
                )))
            } else {
                Ok(())
            }
        }
    }

    impl Backing for Flaky {
        fn kind(&self) -> &'static str {
            "flaky"
        }
        fn read_blob(&self, name: &str) -> konserve_s3::Result<Option<StoredBlob>> {
            self.inner.read_blob(name)
        }
        fn read_blob_prefix(
            &self,
            name: &str,
            len: u64,
        ) -> konserve_s3::Result<Option<StoredBlob>> {
            self.inner.read_blob_prefix(name, len)
        }
        fn read_blob_stream(&self, name: &str) -> konserve_s3::Result<Option<BlobStream>> {
            self.inner.read_blob_stream(name)
        }
        fn write_blob(&self, name: &str, blob: Bytes, c: &Conditions) -> konserve_s3::Result<()> {
            self.check()?;
            self.inner.write_blob(name, blob, c)?;
            self.landed.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn write_blob_stream(
            &self,
            name: &str,
            prefix: Vec<u8>,
            reader: &mut (dyn std::io::Read + Send + '_),
            c: &Conditions,
        ) -> konserve_s3::Result<()> {
            self.check()?;
            self.inner.write_blob_stream(name, prefix, reader, c)?;
            self.landed.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn blob_exists(&self, name: &str) -> konserve_s3::Result<bool> {
            self.inner.blob_exists(name)
        }
        fn blob_etag(&self, name: &str) -> konserve_s3::Result<Option<String>> {
            self.inner.blob_etag(name)
        }
        fn delete_blob(&self, name: &str, c: &Conditions) -> konserve_s3::Result<()> {
            self.check()?;
            self.inner.delete_blob(name, c)
        }
        fn delete_blobs(&self, names: &[String]) -> konserve_s3::Result<()> {
            self.check()?;
            self.inner.delete_blobs(names)
        }
        fn list_blobs(&self) -> konserve_s3::Result<Vec<String>> {
            self.inner.list_blobs()
        }
    }
}

use flaky::Flaky;
use konserve_s3::blocking::{FileBacking, MemoryBacking, Store, TieredBacking};

fn fast_retries(policy: WritePolicy) -> TieredOptions {
    TieredOptions::new(policy).retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
}

#[test]
fn write_behind_survives_a_backend_outage_and_flush_reports_it() {
    let backend = Flaky::default();
    backend.down.store(true, Ordering::SeqCst);
    let options = fast_retries(WritePolicy::WriteBehind).queue_capacity(2);
    let tiered = TieredBacking::new(MemoryBacking::new(), backend.clone(), options).unwrap();
    let store = Store::new(tiered.clone());
    store.assoc("a", 1).unwrap();
    store.assoc("b", 2).unwrap();
    // Written, and readable (from the frontend) while the backend is down.
    assert_eq!(store.get("a").unwrap(), Some(Value::from(1)));
    let err = tiered.flush().unwrap_err();
    let Error::WriteBehindPending { pending, failures } = &err else {
        panic!("not a write-behind error: {err}");
    };
    assert_eq!(*pending, 2);
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures[0].error.contains("down"), "{}", failures[0]);
    assert!(err.to_string().contains("have not reached it"), "{err}");
    assert_eq!(tiered.queue_depth(), 2);
    assert_eq!(backend.landed.load(Ordering::SeqCst), 0);

    // A third blob waits for room (back-pressure); the queued ones do not.
    let third_done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, done) = (store.clone(), Arc::clone(&third_done));
        std::thread::spawn(move || {
            store.assoc("c", 3).unwrap();
            done.store(true, Ordering::SeqCst);
        })
    };
    store.assoc("a", 10).unwrap(); // already queued: no wait
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !third_done.load(Ordering::SeqCst),
        "a write of a new blob must wait while the queue is full"
    );

    // The backend recovers: everything arrives, the latest version of each.
    backend.down.store(false, Ordering::SeqCst);
    writer.join().unwrap();
    assert!(third_done.load(Ordering::SeqCst));
    tiered.flush().unwrap();
    assert_eq!(tiered.queue_depth(), 0);
    assert!(tiered.failures().is_empty());
    let behind = Store::new(backend.inner.clone());
    assert_eq!(behind.get("a").unwrap(), Some(Value::from(10)));
    assert_eq!(behind.get("b").unwrap(), Some(Value::from(2)));
    assert_eq!(behind.get("c").unwrap(), Some(Value::from(3)));

    // A deletion travels the same way.
    store.dissoc("b").unwrap();
    tiered.flush().unwrap();
    assert_eq!(behind.get("b").unwrap(), None);
}

#[test]
fn a_restart_sends_the_writes_queued_before_it() {
    let dir = TempDir::new();
    let journal = dir.path().join("pending.journal");
    let backend = Flaky::default();
    // The backend holds "gone", which this run deletes.
    Store::new(backend.inner.clone()).assoc("gone", 0).unwrap();
    backend.down.store(true, Ordering::SeqCst);
    {
        let frontend = FileBacking::create(dir.path()).unwrap();
        let options = fast_retries(WritePolicy::WriteBehind).journal(&journal);
        let tiered = TieredBacking::new(frontend, backend.clone(), options).unwrap();
        let store = Store::new(tiered.clone());
        store.assoc("kept", 1).unwrap();
        store.dissoc("gone").unwrap();
        assert!(tiered.flush().is_err());
        assert_eq!(tiered.queue_depth(), 2);
        // The process stops here, its writes still queued.
    }
    let text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");

    backend.down.store(false, Ordering::SeqCst);
    let frontend = FileBacking::new(dir.path());
    let options = fast_retries(WritePolicy::WriteBehind).journal(&journal);
    let tiered = TieredBacking::new(frontend, backend.clone(), options).unwrap();
    assert!(tiered.queue_depth() <= 2);
    tiered.flush().unwrap();
    assert_eq!(tiered.queue_depth(), 0);
    let behind = Store::new(backend.inner.clone());
    assert_eq!(behind.get("kept").unwrap(), Some(Value::from(1)));
    assert_eq!(behind.get("gone").unwrap(), None);
    let text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(text.lines().count(), 1, "only the header is left: {text}");
    // The journal is no key of the store.
    let keys = Store::new(tiered).keys().unwrap();
    assert_eq!(keys.len(), 1);
}

#[test]
fn a_garbled_journal_is_a_clear_error() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path()).unwrap();
    let journal = dir.path().join("pending.journal");
    std::fs::write(&journal, "not a journal\n").unwrap();
    let options = TieredOptions::new(WritePolicy::WriteBehind).journal(&journal);
    let err = TieredBacking::new(MemoryBacking::new(), MemoryBacking::new(), options).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("pending.journal") && text.contains("move it away"),
        "{text}"
    );
}

#[test]
fn write_through_with_a_failing_backend_fails_and_leaves_the_frontend_alone() {
    let backend = Flaky::default();
    let frontend = MemoryBacking::new();
    let tiered = TieredBacking::new(
        frontend.clone(),
        backend.clone(),
        fast_retries(WritePolicy::WriteThrough),
    )
    .unwrap();
    let store = Store::new(tiered);
    store.assoc("k", 1).unwrap();
    backend.down.store(true, Ordering::SeqCst);
    assert!(store.assoc("k", 2).is_err());
    // Neither tier took the failed write.
    assert_eq!(Store::new(frontend).get("k").unwrap(), Some(Value::from(1)));
    assert_eq!(store.get("k").unwrap(), Some(Value::from(1)));
}

#[test]
fn reads_fill_the_frontend_and_policies_route_writes() {
    let (frontend, backend) = (MemoryBacking::new(), MemoryBacking::new());
    let (front, back) = (Store::new(frontend.clone()), Store::new(backend.clone()));
    back.assoc("only-behind", 7).unwrap();

    let through = Store::new(
        TieredBacking::new(frontend.clone(), backend.clone(), TieredOptions::default()).unwrap(),
    );
    assert_eq!(through.get("only-behind").unwrap(), Some(Value::from(7)));
    assert_eq!(
        front.get("only-behind").unwrap(),
        Some(Value::from(7)),
        "a backend hit fills the frontend"
    );
    through.assoc("t", 1).unwrap();
    assert_eq!(
        (front.get("t").unwrap(), back.get("t").unwrap()),
        (Some(1.into()), Some(1.into()))
    );

    let around = Store::new(
        TieredBacking::new(
            frontend.clone(),
            backend.clone(),
            TieredOptions::new(WritePolicy::WriteAround),
        )
        .unwrap(),
    );
    around.assoc("t", 2).unwrap();
    assert_eq!(
        front.get("t").unwrap(),
        None,
        "write-around drops the frontend's copy"
    );
    assert_eq!(back.get("t").unwrap(), Some(2.into()));

    let cache = Store::new(
        TieredBacking::new(
            frontend.clone(),
            backend.clone(),
            TieredOptions::new(WritePolicy::FrontendOnly),
        )
        .unwrap(),
    );
    cache.assoc("t", 3).unwrap();
    cache.dissoc("only-behind").unwrap();
    assert_eq!(
        back.get("t").unwrap(),
        Some(2.into()),
        "frontend-only never writes the backend"
    );
    assert_eq!(back.get("only-behind").unwrap(), Some(7.into()));

    let frontend_reads = Store::new(
        TieredBacking::new(
            MemoryBacking::new(),
            backend.clone(),
            TieredOptions::default().read_policy(ReadPolicy::FrontendOnly),
        )
        .unwrap(),
    );
    assert_eq!(frontend_reads.get("only-behind").unwrap(), None);
}

#[test]
fn write_through_conflicts_are_decided_by_the_backend() {
    // Another writer changes the backend behind the frontend's back; an
    // update through the tiered store must see it, not lose it.
    let (frontend, backend) = (MemoryBacking::new(), MemoryBacking::new());
    let tiered = TieredBacking::new(frontend, backend.clone(), TieredOptions::default()).unwrap();
    let store = Store::with_options(tiered, locking());
    store.assoc("n", 1).unwrap();
    Store::new(backend.clone()).assoc("n", 100).unwrap();
    let (_, new) = store
        .update("n", |n| {
            Value::from(n.and_then(|n| n.as_i64()).unwrap() + 1)
        })
        .unwrap();
    assert_eq!(new, Value::from(101));
    assert_eq!(
        Store::new(backend).get("n").unwrap(),
        Some(Value::from(101))
    );
}

#[test]
fn sync_strategies_and_sync_of_keys() {
    let (frontend, backend) = (MemoryBacking::new(), MemoryBacking::new());
    let back = Store::new(backend.clone());
    for (k, v) in [("a", 1), ("b", 2), ("c", 3)] {
        back.assoc(k, v).unwrap();
    }
    Store::new(frontend.clone()).assoc("a", 100).unwrap();
    let tiered = TieredBacking::new(
        frontend.clone(),
        backend.clone(),
        TieredOptions::default().read_policy(ReadPolicy::FrontendOnly),
    )
    .unwrap();
    let report = tiered.sync(SyncStrategy::PopulateMissing).unwrap();
    assert_eq!(
        (report.synced, report.frontend_blobs, report.backend_blobs),
        (2, 1, 3)
    );
    let front = Store::new(frontend.clone());
    assert_eq!(
        front.get("a").unwrap(),
        Some(100.into()),
        "populate-missing keeps what is there"
    );
    assert_eq!(front.get("c").unwrap(), Some(3.into()));
    let report = tiered.sync(SyncStrategy::Full).unwrap();
    assert_eq!(report.synced, 3);
    assert_eq!(front.get("a").unwrap(), Some(1.into()));
    back.assoc("d", 4).unwrap();
    let copied = tiered
        .sync_keys(&[Value::from("d"), Value::from("absent")])
        .unwrap();
    assert_eq!(copied, 1);
    assert_eq!(front.get("d").unwrap(), Some(4.into()));
}

// ---------------------------------------------------------------------------
// Tiered stores from a config (`any`), as konserve's `{:backend :tiered …}`.

fn tiered_edn(front: &Path, s3: &konserve_s3::config::S3Config, policy: &str) -> String {
    let id = s3.id.unwrap();
    let s = server();
    format!(
        r#"{{:backend :tiered :id #uuid "{id}" :write-policy :{policy} :sync-on-connect :populate-missing
            :frontend-config {{:backend :file :path "{}" :id #uuid "{id}"}}
            :backend-config {{:backend :s3 :bucket "{}" :id #uuid "{id}" :region "{}"
                              :endpoint "{}" :access-key "{}" :secret "{}"}}}}"#,
        front.display(),
        s3.bucket,
        s.region,
        s.endpoint,
        s.access_key,
        s.secret_key,
    )
}

#[test]
fn a_tiered_config_opens_syncs_and_deletes_as_konserve_does() {
    use konserve_s3::blocking::any;
    use konserve_s3::config::StoreConfig;
    let s3 = s3_config();
    let dir = TempDir::new();
    let front = dir.path().join("front");
    let config = StoreConfig::from_edn(&tiered_edn(&front, &s3, "write-behind")).unwrap();
    let store = any::connect_or_create(&config).unwrap();
    store.assoc("k", 1).unwrap();
    let tiered = store.backing().as_tiered().unwrap();
    assert!(
        front
            .join(konserve_s3::config::TIERED_JOURNAL_FILE)
            .exists(),
        "write-behind over a file frontend keeps its journal in the directory"
    );
    tiered.flush().unwrap();
    // The backend, opened on its own, has it.
    let StoreConfig::Tiered(t) = &config else {
        unreachable!()
    };
    let backend = any::connect_store(&t.backend).unwrap();
    assert_eq!(backend.get("k").unwrap(), Some(Value::from(1)));
    backend.assoc("from-elsewhere", 2).unwrap();
    drop(store);

    // Reconnecting syncs what the frontend lacks (populate-missing).
    let store = any::connect_store(&config).unwrap();
    let frontend = any::connect_store(&t.frontend).unwrap();
    assert_eq!(
        frontend.get("from-elsewhere").unwrap(),
        Some(Value::from(2))
    );
    assert!(any::store_exists(&config).unwrap());
    drop(store);

    // :frontend-only does not own the backend: deleting deletes the cache.
    let cache_config = StoreConfig::from_edn(&tiered_edn(&front, &s3, "frontend-only")).unwrap();
    any::delete_store(&cache_config).unwrap();
    assert!(!front.exists(), "the frontend's directory is gone");
    assert_eq!(backend.get("k").unwrap(), Some(Value::from(1)));
    // Any other policy owns it: both go.
    let store = any::connect_store(&config).unwrap();
    drop(store);
    any::delete_store(&config).unwrap();
    assert!(!any::store_exists(&t.backend).unwrap());
}

#[cfg(feature = "async")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiered_config_in_the_async_api() {
    use konserve_s3::config::StoreConfig;
    use konserve_s3::nonblocking::any;
    let s3 = s3_config();
    let dir = TempDir::new();
    let config =
        StoreConfig::from_edn(&tiered_edn(&dir.path().join("front"), &s3, "write-behind")).unwrap();
    let store = any::connect_or_create(&config).await.unwrap();
    store.assoc("k", 1).await.unwrap();
    store.backing().as_tiered().unwrap().flush().await.unwrap();
    let StoreConfig::Tiered(t) = &config else {
        unreachable!()
    };
    let backend = any::connect_store(&t.backend).await.unwrap();
    assert_eq!(backend.get("k").await.unwrap(), Some(Value::from(1)));
    any::delete_store(&config).await.unwrap();
}

/// The suite on a tiered store opened from a config (`AnyBacking::Tiered`,
/// whose tiers are `BoxedBacking`s), both modes.
mod from_config {
    use konserve_s3::config::StoreConfig;

    fn config() -> StoreConfig {
        StoreConfig::from_edn(
            "{:backend :tiered :write-policy :write-behind
              :frontend-config {:backend :memory} :backend-config {:backend :memory}}",
        )
        .unwrap()
    }

    konserve_s3::conformance_tests!(
        blocking: konserve_s3::blocking::any::create_store(&config()).unwrap()
    );
    #[cfg(feature = "async")]
    konserve_s3::conformance_tests!(
        nonblocking: konserve_s3::nonblocking::any::create_store(&config()).await.unwrap()
    );
}

/// Write-behind in the async API with S3 behind a fault proxy: every PUT
/// fails (500) until the proxy is cleared; flush reports it, then sends.
#[cfg(feature = "async")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_behind_async_against_a_failing_then_recovering_s3() {
    use common::fault_proxy::{Fault, FaultProxy, Matcher, Rule};
    use konserve_s3::nonblocking::{MemoryBacking, S3Backing, S3Client, Store, TieredBacking};
    let proxy = FaultProxy::start(&server().endpoint);
    let mut through_proxy = config_for(shared_bucket(), &proxy.endpoint());
    let id = Uuid::new_v4();
    through_proxy.id = Some(id);
    let backend = S3Backing::new(S3Client::new(&through_proxy).unwrap(), id);
    let options = fast_retries(WritePolicy::WriteBehind);
    let tiered = TieredBacking::new(MemoryBacking::new(), backend, options).unwrap();
    let store = Store::new(tiered.clone());
    proxy.push(Rule::new(
        Matcher::method("PUT"),
        usize::MAX,
        Fault::Status {
            status: 500,
            code: "InternalError".into(),
        },
    ));
    store.assoc("k", 1).await.unwrap();
    let err = tiered.flush().await.unwrap_err();
    assert!(
        matches!(&err, Error::WriteBehindPending { pending: 1, failures } if failures.len() == 1),
        "{err}"
    );
    assert_eq!(store.get("k").await.unwrap(), Some(Value::from(1)));
    proxy.clear();
    tiered.flush().await.unwrap();
    let mut direct = s3_config();
    direct.id = Some(id);
    let behind = Store::new(S3Backing::new(S3Client::new(&direct).unwrap(), id));
    assert_eq!(behind.get("k").await.unwrap(), Some(Value::from(1)));
}

/// A frontend hit costs the backend nothing; a miss is one GET, after which
/// the frontend answers.
#[test]
fn a_frontend_hit_sends_no_request_to_s3() {
    use konserve_s3::blocking::{S3Backing, S3Client};
    let config = s3_config();
    let id = config.id.unwrap();
    let client = S3Client::new(&config).unwrap();
    Store::new(S3Backing::new(client.clone(), id))
        .assoc("k", 1)
        .unwrap();
    let dir = TempDir::new();
    let tiered = TieredBacking::new(
        FileBacking::create(dir.path()).unwrap(),
        S3Backing::new(client.clone(), id),
        TieredOptions::default(),
    )
    .unwrap();
    let store = Store::new(tiered);
    let before = client.stats();
    assert_eq!(store.get("k").unwrap(), Some(Value::from(1)));
    let miss = client.stats().since(&before);
    assert_eq!(miss.total_requests(), 1, "{miss:?}");
    let before = client.stats();
    for _ in 0..5 {
        assert_eq!(store.get("k").unwrap(), Some(Value::from(1)));
    }
    assert_eq!(client.stats().since(&before).total_requests(), 0);
}
