//! Garbage collection (`gc::sweep`, `konserve_s3::gc::guard`) and the
//! metadata cache that makes a repeated `keys` cheap: on memory, on a copy
//! of the Clojure-written filestores, and on S3 (SeaweedFS), blocking and
//! async.

mod common;
#[path = "common/fixture_blobs.rs"]
mod fixture_blobs;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use common::fault_proxy::{Fault, FaultProxy, Matcher, Rule};
use common::{bucket_name, config_for, server};
use fixture_blobs::{encoding_for, fixture_dir, manifest, parse as v, upload_store};
use konserve_s3::blocking::{
    Backing, BlobStream, BodySource, FileBacking, MemoryBacking, S3Store, Store, StoredBlob,
    connect_store, create_store, gc,
};
use konserve_s3::config::{CacheOptions, S3Config, StoreOptions};
use konserve_s3::gc::{SweepOptions, guard, now};
use konserve_s3::internals::layout;
use konserve_s3::s3::Action;
use konserve_s3::value::{Set, Value};
use konserve_s3::{Conditions, Error};
use uuid::Uuid;

fn k(name: &str) -> Value {
    Value::keyword(name)
}

fn set<const N: usize>(keys: [Value; N]) -> Set {
    keys.into_iter().collect()
}

fn last_write<B: Backing>(store: &Store<B>, key: Value) -> i64 {
    store
        .get_meta(key)
        .unwrap()
        .unwrap()
        .get(&k("last-write"))
        .and_then(Value::as_inst)
        .unwrap()
}

/// Writes `key`, then waits until the clock has moved on, so the next
/// write has a later stamp.
fn assoc_then_tick<B: Backing>(store: &Store<B>, key: Value) {
    store.assoc(key, Value::from("x")).unwrap();
    let written = now();
    while now() == written {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn strictly_older_goes_and_a_write_at_the_cutoff_stays() {
    let store = Store::new(MemoryBacking::new());
    for key in ["a", "b", "c"] {
        assoc_then_tick(&store, k(key));
    }
    let cutoff = last_write(&store, k("b"));
    assert!(last_write(&store, k("a")) < cutoff);
    let report = gc::sweep(&store, &SweepOptions::new(Set::new(), cutoff)).unwrap();
    assert_eq!(report.deleted, vec![k("a")]);
    assert_eq!(report.deleted_blobs, vec![layout::blob_name(&k("a"))]);
    assert_eq!(report.cutoff, cutoff);
    assert_eq!(report.spared, 2);
    assert!(report.is_complete());
    assert!(!store.exists(k("a")).unwrap());
    assert!(store.exists(k("b")).unwrap());
    assert!(store.exists(k("c")).unwrap());
}

#[test]
fn a_cached_store_forgets_what_a_sweep_deletes() {
    let store = Store::cached(MemoryBacking::new(), CacheOptions::default());
    store.assoc(k("gone"), 1).unwrap();
    store.assoc(k("kept"), 2).unwrap();
    // Both in the cache now.
    assert_eq!(store.get(k("gone")).unwrap(), Some(Value::from(1)));
    assert_eq!(store.get(k("kept")).unwrap(), Some(Value::from(2)));
    let report = gc::sweep(&store, &SweepOptions::new(set([k("kept")]), now() + 1)).unwrap();
    assert_eq!(report.deleted, vec![k("gone")]);
    assert_eq!(store.get(k("gone")).unwrap(), None);
    assert!(!store.exists(k("gone")).unwrap());
    assert_eq!(store.get(k("kept")).unwrap(), Some(Value::from(2)));
}

#[test]
fn kept_keys_stay_and_a_dry_run_deletes_nothing() {
    let store = Store::new(MemoryBacking::new());
    for key in ["root", "x", "y"] {
        store.assoc(k(key), 1).unwrap();
    }
    let options = SweepOptions::new(set([k("root")]), now() + 1).dry_run(true);
    let report = gc::sweep(&store, &options).unwrap();
    assert!(report.dry_run);
    assert_eq!(report.deleted, vec![k("x"), k("y")]);
    assert_eq!(report.deleted_blobs.len(), 2);
    assert_eq!(store.keys().unwrap().len(), 3);
    let report = gc::sweep(&store, &options.clone().dry_run(false)).unwrap();
    assert_eq!(report.deleted, vec![k("x"), k("y")]);
    let left: Vec<Value> = store
        .keys()
        .unwrap()
        .iter()
        .map(|m| m.get(&k("key")).unwrap().clone())
        .collect();
    assert_eq!(left, vec![k("root")]);
}

#[test]
fn a_log_goes_with_its_elements_and_binary_values_go() {
    let store = Store::new(MemoryBacking::new());
    for i in 0..3 {
        store.append(k("log"), Value::from(i)).unwrap();
        store.append(k("kept-log"), Value::from(i)).unwrap();
    }
    store.bassoc(k("bin"), vec![7u8; 10_000]).unwrap();
    store.assoc(k("live"), 1).unwrap();
    // Head plus three elements per log.
    assert_eq!(store.backing().list_blobs().unwrap().len(), 10);
    let keep = set([k("live"), k("kept-log")]);
    let report = gc::sweep(&store, &SweepOptions::new(keep, now() + 1)).unwrap();
    assert_eq!(report.deleted, vec![k("bin"), k("log")]);
    assert_eq!(report.deleted_blobs.len(), 1 + 4);
    let left = store.backing().list_blobs().unwrap();
    assert_eq!(left.len(), 1 + 4, "live and the kept log's four blobs");
    assert!(left.contains(&layout::blob_name(&k("live"))));
    let owners: BTreeSet<Value> = store
        .keys()
        .unwrap()
        .iter()
        .map(|m| m.get(&k("key")).unwrap().clone())
        .collect();
    assert_eq!(owners, set([k("live"), k("kept-log")]));
    assert_eq!(
        store.log(k("kept-log")).unwrap(),
        Some(vec![Value::from(0), Value::from(1), Value::from(2)])
    );
    assert_eq!(store.log(k("log")).unwrap(), None);
    assert_eq!(store.bget(k("bin")).unwrap().map(|_| ()), None);
}

#[test]
fn an_open_write_sequence_spares_its_values_until_it_closes() {
    let store_id = Uuid::new_v4();
    let store = Store::new(MemoryBacking::new());
    assoc_then_tick(&store, k("old-garbage"));
    let sequence = guard::unreferenced_writes(store_id);
    // The values of the sequence: nothing references them yet.
    assoc_then_tick(&store, k("new-node"));
    // The collection starts after they were written: a cutoff of its own
    // start would take them.
    let started_at = now();
    assert!(last_write(&store, k("new-node")) < started_at);
    let cutoff = guard::cutoff(store_id, started_at);
    assert!(cutoff <= last_write(&store, k("new-node")));
    assert!(last_write(&store, k("old-garbage")) < cutoff);
    let report = gc::sweep(&store, &SweepOptions::new(Set::new(), cutoff)).unwrap();
    assert_eq!(report.deleted, vec![k("old-garbage")]);
    assert!(store.exists(k("new-node")).unwrap());
    // The pointer never came (the writer gave up): closed, the values are
    // garbage like any other.
    drop(sequence);
    let cutoff = guard::cutoff(store_id, now() + 1);
    let report = gc::sweep(&store, &SweepOptions::new(Set::new(), cutoff)).unwrap();
    assert_eq!(report.deleted, vec![k("new-node")]);
}

#[test]
fn an_age_floor_spares_young_blobs() {
    let store = Store::new(MemoryBacking::new());
    store.assoc(k("young"), 1).unwrap();
    let options = SweepOptions::new(Set::new(), now() + 1).min_age(Duration::from_secs(3600));
    let report = gc::sweep(&store, &options).unwrap();
    assert!(report.deleted.is_empty());
    assert!(report.cutoff <= now() - 3_600_000);
    assert!(store.exists(k("young")).unwrap());
}

#[test]
fn a_sweep_fires_the_dissoc_hook_per_deleted_key() {
    let store = Store::new(MemoryBacking::new());
    store.assoc(k("a"), 1).unwrap();
    store.assoc(k("b"), 1).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    store.add_write_hook("gc", move |e| sink.lock().unwrap().push(e.to_value()));
    gc::sweep(&store, &SweepOptions::new(set([k("a")]), now() + 1)).unwrap();
    let expected: Value = "{:api-op :dissoc :key :b}".parse().unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![expected]);
}

/// A memory backing that refuses to delete the blobs in `refused`.
struct Refusing {
    inner: MemoryBacking,
    refused: BTreeSet<String>,
}

impl Backing for Refusing {
    fn kind(&self) -> &'static str {
        "refusing"
    }
    fn read_blob(&self, name: &str) -> konserve_s3::Result<Option<StoredBlob>> {
        self.inner.read_blob(name)
    }
    fn read_blob_prefix(&self, name: &str, len: u64) -> konserve_s3::Result<Option<StoredBlob>> {
        self.inner.read_blob_prefix(name, len)
    }
    fn read_blob_stream(&self, name: &str) -> konserve_s3::Result<Option<BlobStream>> {
        self.inner.read_blob_stream(name)
    }
    fn write_blob(&self, name: &str, blob: Bytes, c: &Conditions) -> konserve_s3::Result<()> {
        self.inner.write_blob(name, blob, c)
    }
    fn write_blob_stream(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        c: &Conditions,
    ) -> konserve_s3::Result<()> {
        self.inner.write_blob_stream(name, prefix, reader, c)
    }
    fn blob_exists(&self, name: &str) -> konserve_s3::Result<bool> {
        self.inner.blob_exists(name)
    }
    fn blob_etag(&self, name: &str) -> konserve_s3::Result<Option<String>> {
        self.inner.blob_etag(name)
    }
    fn delete_blob(&self, name: &str, c: &Conditions) -> konserve_s3::Result<()> {
        if self.refused.contains(name) {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "refused",
            )));
        }
        self.inner.delete_blob(name, c)
    }
    fn delete_blobs(&self, names: &[String]) -> konserve_s3::Result<()> {
        self.inner.delete_blobs(names)
    }
    fn list_blobs(&self) -> konserve_s3::Result<Vec<String>> {
        self.inner.list_blobs()
    }
}

#[test]
fn a_refused_delete_is_reported_per_key_and_the_rest_still_goes() {
    let store = Store::new(Refusing {
        inner: MemoryBacking::new(),
        refused: [layout::blob_name(&k("stuck"))].into_iter().collect(),
    });
    for key in ["a", "stuck", "z"] {
        store.assoc(k(key), 1).unwrap();
    }
    let report = gc::sweep(&store, &SweepOptions::new(Set::new(), now() + 1)).unwrap();
    assert!(!report.is_complete());
    assert_eq!(report.deleted, vec![k("a"), k("z")]);
    assert_eq!(report.failures.len(), 1);
    let failure = &report.failures[0];
    assert_eq!(failure.keys, vec![k("stuck")]);
    assert_eq!(failure.blobs, vec![layout::blob_name(&k("stuck"))]);
    assert!(
        matches!(&failure.error, Error::Io(e) if e.kind() == std::io::ErrorKind::PermissionDenied)
    );
    assert!(store.exists(k("stuck")).unwrap());
    assert!(!store.exists(k("z")).unwrap());
}

#[test]
fn blobs_that_are_not_konserves_are_spared_and_named() {
    let store = Store::new(MemoryBacking::new());
    store.assoc(k("a"), 1).unwrap();
    let junk = layout::blob_name(&k("junk"));
    store
        .backing()
        .write_blob(&junk, Bytes::from_static(b"not a blob"), &Conditions::NONE)
        .unwrap();
    let report = gc::sweep(&store, &SweepOptions::new(Set::new(), now() + 1)).unwrap();
    assert_eq!(report.deleted, vec![k("a")]);
    assert_eq!(report.unreadable.len(), 1);
    assert_eq!(report.unreadable[0].blob, junk);
    assert!(matches!(report.unreadable[0].error, Error::Blob { .. }));
    assert!(store.backing().blob_exists(&junk).unwrap());
}

// ---------------------------------------------------------------- fixtures

/// A copy of a fixture filestore (the fixtures are never written to).
fn file_store_copy(combination: &str) -> (Store<FileBacking>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("konserve-gc-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixture_dir(combination).join("store")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let options = StoreOptions {
        encoding: encoding_for(&manifest(combination)),
        ..StoreOptions::default()
    };
    (Store::with_options(FileBacking::new(&dir), options), dir)
}

const COMBINATIONS: [&str; 13] = [
    "boring-lz4-aes",
    "boring-lz4-none",
    "boring-none-aes",
    "boring-none-none",
    "boring-zstd-aes",
    "boring-zstd-none",
    "cbor-none-none",
    "fressian-lz4-aes",
    "fressian-lz4-none",
    "fressian-none-aes",
    "fressian-none-none",
    "fressian-zstd-aes",
    "fressian-zstd-none",
];

/// The `:last-write` of a fixture key, from its manifest.
fn fixture_stamp(m: &serde_json::Value, key_edn: &str) -> i64 {
    let e = m["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key_edn"] == key_edn)
        .unwrap();
    v(e["meta_edn"].as_str().unwrap())
        .get(&k("last-write"))
        .and_then(Value::as_inst)
        .unwrap()
}

#[test]
fn a_clojure_filestore_is_swept_at_an_exact_cutoff() {
    let m = manifest("boring-none-none");
    let (store, dir) = file_store_copy("boring-none-none");
    // :v5's own stamp: written before it goes, :v5 itself stays.
    let cutoff = fixture_stamp(&m, ":v5");
    let report = gc::sweep(&store, &SweepOptions::new(set([k("foo")]), cutoff)).unwrap();
    let deleted: BTreeSet<Value> = report.deleted.iter().cloned().collect();
    let expected: BTreeSet<Value> = [
        ":ns/bar",
        "\"bar\"",
        "42",
        "#uuid \"11111111-2222-3333-4444-555555555555\"",
        "[1 2 3]",
        ":v0",
        ":v1",
        ":v2",
        ":v3",
        ":v4",
    ]
    .into_iter()
    .map(v)
    .collect();
    assert_eq!(deleted, expected);
    assert!(report.is_complete());
    assert!(store.exists(k("v5")).unwrap());
    assert!(store.exists(k("foo")).unwrap());
    assert_eq!(
        store.log(k("foolog")).unwrap().map(|l| l.len()),
        Some(2),
        "the log is younger than the cutoff"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_clojure_filestore_sweeps_down_to_its_kept_keys() {
    for combination in COMBINATIONS {
        let m = manifest(combination);
        let (store, dir) = file_store_copy(combination);
        let foo = store.get(k("foo")).unwrap();
        let keep = set([k("foo"), k("v14")]);
        let report = gc::sweep(&store, &SweepOptions::new(keep, now())).unwrap();
        assert!(report.is_complete(), "{combination}: {:?}", report.failures);
        assert!(report.unreadable.is_empty(), "{combination}");
        // Every entry but the two kept ones; the log's two elements go
        // with it.
        let entries = m["entries"].as_array().unwrap().len();
        assert_eq!(report.deleted_blobs.len(), entries - 2, "{combination}");
        assert!(report.deleted.contains(&k("foolog")), "{combination}");
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected = vec![layout::blob_name(&k("foo")), layout::blob_name(&k("v14"))];
        expected.sort();
        assert_eq!(left, expected, "{combination}");
        assert_eq!(store.get(k("foo")).unwrap(), foo, "{combination}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

// ---------------------------------------------------------------------- S3

/// One bucket for this test binary; every test gets its own store in it.
fn shared_bucket() -> &'static str {
    static BUCKET: OnceLock<String> = OnceLock::new();
    BUCKET.get_or_init(|| bucket_name("gc"))
}

fn s3_config(endpoint: &str) -> S3Config {
    let mut c = config_for(shared_bucket(), endpoint);
    c.id = Some(Uuid::new_v4());
    c
}

fn s3_store() -> S3Store {
    create_store(&s3_config(&server().endpoint)).unwrap()
}

#[test]
fn a_repeated_keys_on_an_unchanged_store_only_lists() {
    let store = s3_store();
    let n = 1500;
    for i in 0..n {
        store.assoc(Value::from(i), Value::from(i)).unwrap();
    }
    let client = store.backing().client();
    let before = client.stats();
    let first = store.keys().unwrap();
    let used = client.stats().since(&before);
    assert_eq!(first.len(), n as usize);
    assert_eq!(used.requests(Action::ListObjectsV2), 2);
    assert_eq!(used.requests(Action::GetObject), n as u64);

    let before = client.stats();
    let again = store.keys().unwrap();
    let used = client.stats().since(&before);
    assert_eq!(again, first);
    assert_eq!(used.requests(Action::ListObjectsV2), 2);
    assert_eq!(used.total_requests(), 2, "nothing but the listing");

    // A clone shares the cache; a new handle starts cold.
    let before = client.stats();
    store.clone().keys().unwrap();
    assert_eq!(client.stats().since(&before).total_requests(), 2);

    // One key rewritten, one deleted, one new: only two are read.
    std::thread::sleep(Duration::from_millis(2));
    store.assoc(Value::from(0), Value::from("changed")).unwrap();
    store.dissoc(Value::from(1)).unwrap();
    store.assoc(k("new"), 1).unwrap();
    let before = client.stats();
    let after = store.keys().unwrap();
    let used = client.stats().since(&before);
    assert_eq!(used.requests(Action::GetObject), 2);
    assert_eq!(used.total_requests(), 4);
    assert_eq!(after.len(), n as usize);
    let stamp_of = |set: &Set, key: Value| {
        set.iter()
            .find(|m| m.get(&k("key")) == Some(&key))
            .and_then(|m| m.get(&k("last-write")).cloned())
    };
    assert!(stamp_of(&after, Value::from(1)).is_none());
    assert!(stamp_of(&after, k("new")).is_some());
    assert!(stamp_of(&after, Value::from(0)) > stamp_of(&first, Value::from(0)));
    assert_eq!(
        stamp_of(&after, Value::from(2)),
        stamp_of(&first, Value::from(2))
    );
}

#[test]
fn a_sweep_on_s3_deletes_in_batches_of_delete_objects() {
    let store = s3_store();
    for i in 0..25 {
        store.assoc(Value::from(i), Value::from(i)).unwrap();
    }
    for i in 0..3 {
        store.append(k("log"), Value::from(i)).unwrap();
    }
    store.bassoc(k("bin"), vec![1u8; 1000]).unwrap();
    let keep = set([Value::from(0), Value::from(1)]);
    let client = store.backing().client();
    let before = client.stats();
    let options = SweepOptions::new(keep, now() + 1).batch_size(10);
    let report = gc::sweep(&store, &options).unwrap();
    let used = client.stats().since(&before);
    assert!(report.is_complete(), "{:?}", report.failures);
    // 23 values, the binary, the log's head and three elements.
    assert_eq!(report.deleted.len(), 23 + 2);
    assert_eq!(report.deleted_blobs.len(), 28);
    assert_eq!(used.requests(Action::DeleteObjects), 3);
    assert_eq!(used.requests(Action::DeleteObject), 0);
    let mut left = store.backing().list_blobs().unwrap();
    left.sort();
    let mut expected = vec![
        layout::blob_name(&Value::from(0)),
        layout::blob_name(&Value::from(1)),
    ];
    expected.sort();
    assert_eq!(left, expected);
    assert_eq!(store.keys().unwrap().len(), 2);
}

#[test]
fn a_failed_delete_batch_is_reported_and_the_other_batches_still_go() {
    let proxy = FaultProxy::start(&server().endpoint);
    let config = s3_config(&proxy.endpoint());
    let store = create_store(&config).unwrap();
    for i in 0..30 {
        store.assoc(Value::from(i), Value::from(i)).unwrap();
    }
    proxy.push(Rule::new(
        Matcher::method("POST").query_contains("delete"),
        1,
        Fault::Status {
            status: 403,
            code: "AccessDenied".into(),
        },
    ));
    let options = SweepOptions::new(Set::new(), now() + 1).batch_size(10);
    let report = gc::sweep(&store, &options).unwrap();
    assert_eq!(report.failures.len(), 1);
    let failure = &report.failures[0];
    assert_eq!(failure.blobs.len(), 10);
    assert_eq!(failure.keys.len(), 10);
    assert!(
        matches!(failure.error, Error::AccessDenied(_)),
        "{:?}",
        failure.error
    );
    assert_eq!(report.deleted.len(), 20);
    let left: BTreeSet<Value> = store
        .keys()
        .unwrap()
        .iter()
        .map(|m| m.get(&k("key")).unwrap().clone())
        .collect();
    assert_eq!(left, failure.keys.iter().cloned().collect());
    // A second sweep finishes the job.
    let report = gc::sweep(&store, &options).unwrap();
    assert!(report.is_complete());
    assert_eq!(report.deleted.len(), 10);
    assert!(store.keys().unwrap().is_empty());
}

#[test]
fn a_key_the_server_refuses_inside_delete_objects_is_reported_as_that_key() {
    let proxy = FaultProxy::start(&server().endpoint);
    let config = s3_config(&proxy.endpoint());
    let id = config.id.unwrap();
    let store = create_store(&config).unwrap();
    let (a, b) = (k("refused"), k("deleted"));
    store.assoc(a.clone(), 1).unwrap();
    store.assoc(b.clone(), 2).unwrap();
    // Batches of one, in blob-name order: the first answer names its key
    // in an <Error> entry (and is not forwarded, so the key stays).
    let (first, second) = {
        let mut both = [(layout::blob_name(&a), a), (layout::blob_name(&b), b)];
        both.sort();
        let [first, second] = both;
        (first, second)
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult \
         xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Error><Key>{}</Key>\
         <Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>",
        layout::object_key(id, &first.0)
    );
    proxy.push(Rule::new(
        Matcher::method("POST").query_contains("delete"),
        1,
        Fault::Answer { status: 200, body },
    ));
    let options = SweepOptions::new(Set::new(), now() + 1).batch_size(1);
    let report = gc::sweep(&store, &options).unwrap();
    assert_eq!(report.deleted, vec![second.1.clone()]);
    assert_eq!(report.failures.len(), 1);
    let failure = &report.failures[0];
    assert_eq!(failure.keys, vec![first.1.clone()]);
    assert_eq!(failure.blobs, vec![first.0.clone()]);
    assert!(
        matches!(&failure.error, Error::AccessDenied(c) if c.key.as_deref() == Some(layout::object_key(id, &first.0).as_str())),
        "{:?}",
        failure.error
    );
    assert!(store.exists(first.1).unwrap());
    assert!(!store.exists(second.1).unwrap());
}

#[test]
fn a_clojure_store_uploaded_to_s3_is_swept() {
    let combination = "fressian-lz4-aes";
    let m = manifest(combination);
    let mut config = s3_config(&server().endpoint);
    config.store.encoding = encoding_for(&m);
    let id = config.id.unwrap();
    let client = konserve_s3::S3Client::new(&config).unwrap();
    let _ = client.create_bucket();
    upload_store(&client, id, combination);
    let store = connect_store(&config).unwrap();
    let cutoff = fixture_stamp(&m, ":v5");
    let dry = gc::sweep(
        &store,
        &SweepOptions::new(set([k("foo")]), cutoff).dry_run(true),
    )
    .unwrap();
    assert_eq!(dry.deleted.len(), 10);
    assert_eq!(
        store.keys().unwrap().len(),
        m["entries"].as_array().unwrap().len()
    );
    let report = gc::sweep(&store, &SweepOptions::new(set([k("foo")]), cutoff)).unwrap();
    assert_eq!(report.deleted, dry.deleted);
    assert!(report.deleted.contains(&v("[1 2 3]")), "the binary value");
    assert!(store.exists(k("v5")).unwrap());
    // Then the rest, the log with its elements.
    let report = gc::sweep(&store, &SweepOptions::new(set([k("foo")]), now())).unwrap();
    assert!(report.deleted.contains(&k("foolog")));
    assert_eq!(
        store.backing().list_blobs().unwrap(),
        vec![layout::blob_name(&k("foo"))]
    );
    assert_eq!(
        store.get(k("foo")).unwrap(),
        Some(v(m["entries"][0]["value_edn"].as_str().unwrap()))
    );
}

// ------------------------------------------------------------------- async

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_mode_sweeps_and_caches_keys() {
    use konserve_s3::nonblocking::{self as nb, gc as agc};
    let store = nb::create_store(&s3_config(&server().endpoint))
        .await
        .unwrap();
    for i in 0..20 {
        store.assoc(Value::from(i), Value::from(i)).await.unwrap();
    }
    store.append(k("log"), Value::from(1)).await.unwrap();
    let client = store.backing().client().clone();
    store.keys().await.unwrap();
    let before = client.stats();
    assert_eq!(store.keys().await.unwrap().len(), 21);
    assert_eq!(client.stats().since(&before).total_requests(), 1);

    let store_id = Uuid::new_v4();
    let cutoff = guard::cutoff(store_id, now() + 1);
    let keep = set([Value::from(7)]);
    let before = client.stats();
    let report = agc::sweep(&store, &SweepOptions::new(keep, cutoff))
        .await
        .unwrap();
    let used = client.stats().since(&before);
    assert!(report.is_complete());
    assert_eq!(report.deleted.len(), 20);
    assert_eq!(report.deleted_blobs.len(), 19 + 2);
    // The metadata came from the cache: one listing, one delete request.
    assert_eq!(used.requests(Action::GetObject), 0);
    assert_eq!(used.requests(Action::DeleteObjects), 1);
    let left = store.keys().await.unwrap();
    assert_eq!(left.len(), 1);

    // The memory backing in this mode too, at an exact cutoff.
    let mem = nb::Store::new(nb::MemoryBacking::new());
    mem.assoc(k("a"), 1).await.unwrap();
    let stamp = mem
        .get_meta(k("a"))
        .await
        .unwrap()
        .unwrap()
        .get(&k("last-write"))
        .and_then(Value::as_inst)
        .unwrap();
    let spared = agc::sweep(&mem, &SweepOptions::new(Set::new(), stamp))
        .await
        .unwrap();
    assert!(spared.deleted.is_empty());
    let gone = agc::sweep(&mem, &SweepOptions::new(Set::new(), stamp + 1))
        .await
        .unwrap();
    assert_eq!(gone.deleted, vec![k("a")]);
}
