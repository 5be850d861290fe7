//! The konserve store on S3 (SeaweedFS): the conformance suite, request
//! counts, lifecycle, isolation of stores in one bucket, the Clojure fixture.

mod common;
use std::collections::BTreeSet;
use std::io::Read;
use std::sync::OnceLock;

use common::fault_proxy::{Fault, FaultProxy, Matcher, Rule};
use common::{bucket_name, config_for, server};
use konserve_s3::Conditions;
use konserve_s3::Error;
use konserve_s3::blocking::{
    S3Store, connect_store, create_store, delete_bucket, delete_store, list_stores, store_exists,
};
use konserve_s3::config::S3Config;
use konserve_s3::error::CodecError;
use konserve_s3::internals::layout;
use konserve_s3::s3::Action;
use konserve_s3::value::Value;
use uuid::Uuid;

/// One bucket for this test binary; every test gets its own store in it.
fn shared_bucket() -> &'static str {
    static BUCKET: OnceLock<String> = OnceLock::new();
    BUCKET.get_or_init(|| bucket_name("stores"))
}

fn config_with_id(bucket: &str, id: Uuid) -> S3Config {
    let mut c = config_for(bucket, &server().endpoint);
    c.id = Some(id);
    c
}

fn fresh_store() -> S3Store {
    create_store(&config_with_id(shared_bucket(), Uuid::new_v4())).unwrap()
}

fn fresh_config(retries: u32) -> S3Config {
    let mut config = config_with_id(shared_bucket(), Uuid::new_v4());
    config.store.optimistic_locking_retries = retries;
    if retries > 0
        && let common::LockingOnServer::Unsafe(why) = common::locking_on_server()
    {
        // Single-writer semantics are still checked, trusting the
        // provider's conditional writes; concurrency is not.
        static NOTED: std::sync::Once = std::sync::Once::new();
        NOTED.call_once(|| {
            common::not_applicable(
                "with_optimistic_locking::* (run with conditional-writes on)",
                why,
            );
        });
        config.store.conditional_writes = konserve_s3::config::ConditionalWrites::On;
    }
    config
}

#[cfg(feature = "blocking")]
fn blocking_store(retries: u32) -> S3Store {
    create_store(&fresh_config(retries)).unwrap()
}

#[cfg(feature = "async")]
async fn async_store(retries: u32) -> konserve_s3::nonblocking::S3Store {
    konserve_s3::nonblocking::create_store(&fresh_config(retries))
        .await
        .unwrap()
}

mod plain {
    use super::*;

    #[cfg(feature = "blocking")]
    konserve_s3::conformance_tests!(blocking: blocking_store(0));
    #[cfg(feature = "async")]
    konserve_s3::conformance_tests!(nonblocking: async_store(0).await);
}

mod with_optimistic_locking {
    use super::*;

    #[cfg(feature = "blocking")]
    konserve_s3::conformance_tests!(blocking: blocking_store(20));
    #[cfg(feature = "async")]
    konserve_s3::conformance_tests!(nonblocking: async_store(20).await);
}

fn k(name: &str) -> Value {
    Value::keyword(name)
}

#[test]
fn keys_lists_by_prefix_and_reads_metadata_in_parallel() {
    let store = fresh_store();
    // A neighbour store in the same bucket must not be listed.
    let other = fresh_store();
    other.assoc(k("theirs"), 1).unwrap();
    let n = 1234;
    std::thread::scope(|s| {
        for t in 0..8 {
            let store = store.clone();
            s.spawn(move || {
                for i in (t..n).step_by(8) {
                    store
                        .assoc(Value::from(i as i64), Value::from(i as i64))
                        .unwrap();
                }
            });
        }
    });
    let before = store.backing().client().stats();
    let keys = store.keys().unwrap();
    let used = store.backing().client().stats().since(&before);
    assert_eq!(keys.len(), n);
    let listed: BTreeSet<Value> = keys
        .iter()
        .map(|m| m.get(&k("key")).unwrap().clone())
        .collect();
    assert_eq!(listed, (0..n as i64).map(Value::from).collect());
    // ⌈n/1000⌉ listings under the store's prefix, one metadata read per key.
    assert_eq!(used.requests(Action::ListObjectsV2), 2);
    assert_eq!(used.requests(Action::GetObject), n as u64);
    assert_eq!(used.total_requests(), n as u64 + 2);
    // The metadata reads are ranged: far fewer bytes than the blobs.
    assert!(used.per_action[&Action::GetObject].bytes_received < 200 * n as u64);
}

#[test]
fn keys_keeps_a_bounded_number_of_metadata_reads_in_flight() {
    let store = fresh_store();
    for i in 0..40 {
        store.assoc(Value::from(i), Value::from(i)).unwrap();
    }
    // The same store seen through a proxy that slows every read down.
    let proxy = FaultProxy::start(&server().endpoint);
    let mut config = config_for(shared_bucket(), &proxy.endpoint());
    config.id = Some(store.backing().store_id());
    let slow = connect_store(&config).unwrap();
    proxy.push(Rule::new(
        Matcher::method("GET").query_contains("X-Amz"),
        1000,
        Fault::Delay(std::time::Duration::from_millis(50)),
    ));
    proxy.reset_max_in_flight();
    assert_eq!(slow.keys().unwrap().len(), 40);
    let most = proxy.max_in_flight();
    assert!(
        (2..=16).contains(&most),
        "{most} metadata reads in flight at most"
    );
    // `keys-parallelism` sets the bound.
    config.store.keys_parallelism = 4;
    let narrow = connect_store(&config).unwrap();
    proxy.reset_max_in_flight();
    assert_eq!(narrow.keys().unwrap().len(), 40);
    let most = proxy.max_in_flight();
    assert!(
        (2..=4).contains(&most),
        "{most} metadata reads in flight with keys-parallelism 4"
    );
}

#[test]
fn lifecycle_is_strict() {
    let bucket = bucket_name("life");
    let id = Uuid::new_v4();
    let config = config_with_id(&bucket, id);
    // Nothing there yet, not even the bucket: that is what connecting says.
    assert!(!store_exists(&config).unwrap());
    assert!(matches!(
        connect_store(&config).unwrap_err(),
        Error::NoSuchBucket(_)
    ));
    assert!(list_stores(&config).unwrap().is_empty());
    // create_store creates the bucket and the marker.
    let store = create_store(&config).unwrap();
    store.assoc(k("x"), 1).unwrap();
    assert!(store_exists(&config).unwrap());
    let client = store.backing().client().clone();
    assert_eq!(
        client
            .get_object(&layout::marker_key(id), None)
            .unwrap()
            .body[..],
        *b"konserve"
    );
    let err = create_store(&config).unwrap_err();
    assert!(
        matches!(err, Error::StoreAlreadyExists { id: e, .. } if e == id),
        "{err}"
    );
    let again = connect_store(&config).unwrap();
    assert_eq!(again.get(k("x")).unwrap(), Some(Value::from(1)));
    // Connecting is one HEAD of the marker.
    let connected = connect_store(&config).unwrap();
    let used = connected.backing().client().stats();
    assert_eq!(
        (used.total_requests(), used.requests(Action::HeadObject)),
        (1, 1)
    );
    delete_store(&config).unwrap();
    assert!(!store_exists(&config).unwrap());
    assert!(matches!(
        connect_store(&config).unwrap_err(),
        Error::StoreNotFound { .. }
    ));
    // The bucket stays until deleted explicitly.
    assert!(client.bucket_exists().unwrap());
    assert!(client.list_objects(None).unwrap().is_empty());
    delete_bucket(&config).unwrap();
    assert!(!client.bucket_exists().unwrap());
    // A config without an id is refused, naming the field.
    let mut no_id = config.clone();
    no_id.id = None;
    let err = create_store(&no_id).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidConfig { field, .. } if field == "id"),
        "{err}"
    );
}

#[test]
fn stores_in_one_bucket_are_isolated_and_listed() {
    let bucket = bucket_name("iso");
    let (id1, id2) = (Uuid::new_v4(), Uuid::new_v4());
    let s1 = create_store(&config_with_id(&bucket, id1)).unwrap();
    let s2 = create_store(&config_with_id(&bucket, id2)).unwrap();
    s1.assoc("shared-key", "one").unwrap();
    s2.assoc("shared-key", "two").unwrap();
    s1.assoc(k("only1"), 1).unwrap();
    assert_eq!(s1.get("shared-key").unwrap(), Some(Value::from("one")));
    assert_eq!(s2.get("shared-key").unwrap(), Some(Value::from("two")));
    assert!(!s2.exists(k("only1")).unwrap());
    assert_eq!(s1.keys().unwrap().len(), 2);
    assert_eq!(s2.keys().unwrap().len(), 1);
    // Objects that are not stores' markers are ignored by list_stores.
    let client = s1.backing().client().clone();
    client
        .put_object(
            "not-a-uuid_.konserve-metadata",
            b"konserve".to_vec(),
            &Conditions::NONE,
        )
        .unwrap();
    client
        .put_object("foreign-object", b"x".to_vec(), &Conditions::NONE)
        .unwrap();
    let config = config_for(&bucket, &server().endpoint);
    assert_eq!(list_stores(&config).unwrap(), BTreeSet::from([id1, id2]));
    delete_store(&config_with_id(&bucket, id1)).unwrap();
    assert_eq!(list_stores(&config).unwrap(), BTreeSet::from([id2]));
    assert_eq!(s2.get("shared-key").unwrap(), Some(Value::from("two")));
    assert!(client.object_exists("foreign-object").unwrap());
    assert!(
        client
            .object_exists("not-a-uuid_.konserve-metadata")
            .unwrap()
    );
}

#[test]
fn delete_store_removes_only_its_objects_in_batches() {
    let bucket = bucket_name("del");
    let id = Uuid::new_v4();
    let config = config_with_id(&bucket, id);
    let store = create_store(&config).unwrap();
    let neighbour = create_store(&config_with_id(&bucket, Uuid::new_v4())).unwrap();
    neighbour.assoc(k("stay"), 1).unwrap();
    let client = store.backing().client().clone();
    std::thread::scope(|s| {
        for t in 0..8 {
            let store = store.clone();
            s.spawn(move || {
                for i in (t..1050).step_by(8) {
                    store.assoc(Value::from(i as i64), Value::Nil).unwrap();
                }
            });
        }
    });
    // konserve's leftovers belong to the store too; a lookalike does not.
    let prefix = layout::store_prefix(id);
    for name in ["a.ksv.new", "b.ksv.backup"] {
        client
            .put_object(&format!("{prefix}{name}"), b"x".to_vec(), &Conditions::NONE)
            .unwrap();
    }
    client
        .put_object(
            &format!("{prefix}notes.txt"),
            b"x".to_vec(),
            &Conditions::NONE,
        )
        .unwrap();
    // Watch delete_store's requests from outside: it has its own client.
    let proxy = FaultProxy::start(&server().endpoint);
    let mut through_proxy = config_for(&bucket, &proxy.endpoint());
    through_proxy.id = Some(id);
    delete_store(&through_proxy).unwrap();
    let batch_deletes = proxy
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.query.contains("delete"))
        .count();
    assert_eq!(batch_deletes, 2);
    let left: Vec<String> = client
        .list_objects(Some(&prefix))
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(left, vec![format!("{prefix}notes.txt")]);
    assert_eq!(neighbour.get(k("stay")).unwrap(), Some(Value::from(1)));
}

#[test]
fn corrupt_blobs_are_typed_errors() {
    let store = fresh_store();
    let client = store.backing().client().clone();
    let id = store.backing().store_id();
    let object = |key: &Value| layout::object_key(id, &layout::blob_name(key));
    let put = |key: &Value, bytes: Vec<u8>| {
        client
            .put_object(&object(key), bytes, &Conditions::NONE)
            .unwrap()
    };

    put(&k("garbage"), b"not a konserve blob at all".to_vec());
    let err = store.get(k("garbage")).unwrap_err();
    assert!(matches!(err, Error::Blob { .. }), "{err}");
    put(&k("short"), vec![1, 3, 0]);
    let err = store.get_meta(k("short")).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Blob {
                source: CodecError::Truncated(_),
                ..
            }
        ),
        "{err}"
    );
    // konserve's string serializer (id 0), which no JVM store writes and this
    // build does not read.
    let mut stringly = vec![1u8, 0, 0, 0, 0, 0, 0, 1];
    stringly.extend_from_slice(&[0; 12]);
    stringly.push(b'x');
    put(&k("stringly"), stringly);
    let err = store.get(k("stringly")).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Blob {
                source: CodecError::UnsupportedFormat {
                    what: "serializer",
                    id: 0
                },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("serializer id 0"), "{err}");
    // Metadata size beyond the blob.
    let mut lying = vec![1u8, 3, 0, 0, 0, 0, 0x10, 0];
    lying.extend_from_slice(&[0; 12]);
    put(&k("lying"), lying);
    assert!(matches!(
        store.get(k("lying")).unwrap_err(),
        Error::Blob { .. }
    ));
    assert!(matches!(store.keys().unwrap_err(), Error::Blob { .. }));
    // Nothing was lost: a good key next to them still reads.
    store.assoc(k("good"), 1).unwrap();
    assert_eq!(store.get(k("good")).unwrap(), Some(Value::from(1)));
}

#[test]
fn large_binary_values_stream_through_multipart() {
    let store = fresh_store();
    let size = 20 << 20;
    let mut source = std::io::repeat(7).take(size as u64);
    let mut counter = CountingReader::new(&mut source);
    let before = store.backing().client().stats();
    store.bassoc_reader(k("big"), &mut counter).unwrap();
    let used = store.backing().client().stats().since(&before);
    assert_eq!(used.requests(Action::CreateMultipartUpload), 1);
    assert_eq!(used.requests(Action::UploadPart), 3);
    assert_eq!(used.requests(Action::CompleteMultipartUpload), 1);
    let got = store.bget(k("big")).unwrap().unwrap();
    assert_eq!(got.size, size as u64);
    let mut reader = got.reader;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0usize;
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(buf[..n].iter().all(|b| *b == 7));
        total += n;
    }
    assert_eq!(total, size);
    let meta = store.get_meta(k("big")).unwrap().unwrap();
    assert_eq!(meta.get(&k("type")), Some(&k("binary")));
}

struct CountingReader<'a> {
    inner: &'a mut (dyn Read + Send),
    read: usize,
}

impl<'a> CountingReader<'a> {
    fn new(inner: &'a mut (dyn Read + Send)) -> Self {
        CountingReader { inner, read: 0 }
    }
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n;
        Ok(n)
    }
}
