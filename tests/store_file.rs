//! The file backing (konserve's filestore layout): the conformance suite in
//! both modes, without and with optimistic locking, the Clojure-written
//! filestore fixture, the atomic-write protocol and conditional writes.

#![cfg(any(feature = "blocking", feature = "async"))]

use std::ops::Deref;
use std::path::{Path, PathBuf};

use konserve_s3::config::StoreOptions;
use konserve_s3::value::{Set, Value};
use serde_json::Value as Json;

/// A fresh directory under the system's temp dir, removed (best effort)
/// when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        TempDir(std::env::temp_dir().join(format!("konserve-s3-file-{}", uuid::Uuid::new_v4())))
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// The names of the files in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store over a temp directory that outlives it; derefs to the store, so
/// `&TempStore` passes where `&Store` is expected.
struct TempStore<S> {
    store: S,
    _dir: TempDir,
}

impl<S> Deref for TempStore<S> {
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

#[cfg(feature = "blocking")]
fn blocking_store(
    options: StoreOptions,
) -> TempStore<konserve_s3::blocking::Store<konserve_s3::blocking::FileBacking>> {
    let dir = TempDir::new();
    let backing = konserve_s3::blocking::FileBacking::create(dir.path()).unwrap();
    TempStore {
        store: konserve_s3::blocking::Store::with_options(backing, options),
        _dir: dir,
    }
}

#[cfg(feature = "async")]
fn async_store(
    options: StoreOptions,
) -> TempStore<konserve_s3::nonblocking::Store<konserve_s3::nonblocking::FileBacking>> {
    let dir = TempDir::new();
    let backing = konserve_s3::nonblocking::FileBacking::create(dir.path()).unwrap();
    TempStore {
        store: konserve_s3::nonblocking::Store::with_options(backing, options),
        _dir: dir,
    }
}

mod plain {
    use super::*;

    #[cfg(feature = "blocking")]
    konserve_s3::conformance_tests!(blocking: blocking_store(StoreOptions::default()));
    #[cfg(feature = "async")]
    konserve_s3::conformance_tests!(nonblocking: async_store(StoreOptions::default()));
}

mod with_optimistic_locking {
    use super::*;

    #[cfg(feature = "blocking")]
    konserve_s3::conformance_tests!(blocking: blocking_store(locking()));
    #[cfg(feature = "async")]
    konserve_s3::conformance_tests!(nonblocking: async_store(locking()));
}

// ---------------------------------------------------------------------------
// The Clojure fixture

fn v(edn: &str) -> Value {
    edn.parse()
        .unwrap_or_else(|e| panic!("cannot parse {edn:?}: {e}"))
}

/// The Clojure-written filestores read here: boring (serializer 3) and the
/// legacy clj-cbor (serializer 2), plain and compressed.
const COMBINATIONS: [&str; 4] = [
    "boring-none-none",
    "boring-lz4-none",
    "boring-zstd-none",
    "cbor-none-none",
];

fn fixture_dir(combination: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/konserve-clj")
        .join(combination)
}

fn manifest(combination: &str) -> Json {
    serde_json::from_slice(&std::fs::read(fixture_dir(combination).join("manifest.json")).unwrap())
        .unwrap()
}

/// A copy of the fixture's store directory (never written in place).
fn fixture_copy(combination: &str) -> TempDir {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path()).unwrap();
    for entry in std::fs::read_dir(fixture_dir(combination).join("store")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn entries(manifest: &Json) -> &Vec<Json> {
    manifest["entries"].as_array().unwrap()
}

fn field<'a>(e: &'a Json, name: &str) -> &'a str {
    e[name].as_str().unwrap_or("")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn log_elements(log: &Json) -> Vec<Value> {
    log["elements_edn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| v(s.as_str().unwrap()))
        .collect()
}

/// Every metadata map of the manifest (what konserve's `keys` returned).
fn manifest_metas(manifest: &Json) -> Set {
    entries(manifest)
        .iter()
        .map(|e| v(field(e, "meta_edn")))
        .collect()
}

#[cfg(feature = "blocking")]
#[test]
fn clojure_filestore_fixtures_read_back_exactly() {
    for combination in COMBINATIONS {
        read_fixture_blocking(combination);
    }
}

#[cfg(feature = "blocking")]
fn read_fixture_blocking(combination: &str) {
    use std::io::Read;

    let manifest = manifest(combination);
    let dir = fixture_copy(combination);
    let before: Vec<(String, Vec<u8>)> = dir
        .names()
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.path().join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    let store =
        konserve_s3::blocking::Store::new(konserve_s3::blocking::FileBacking::new(dir.path()));
    for e in entries(&manifest) {
        let key = v(field(e, "key_edn"));
        assert!(store.exists(key.clone()).unwrap(), "{key}");
        let meta = store.get_meta(key.clone()).unwrap().unwrap();
        assert_eq!(
            meta,
            v(field(e, "meta_edn")),
            "{combination}: meta of {key}"
        );
        if field(e, "type") == ":binary" {
            let got = store.bget(key.clone()).unwrap().unwrap();
            assert_eq!(got.size, e["value_length"].as_u64().unwrap());
            let mut bytes = Vec::new();
            { got }.reader.read_to_end(&mut bytes).unwrap();
            assert_eq!(hex(&bytes), field(e, "value_hex"), "{combination}: {key}");
        } else {
            let value = store.get(key.clone()).unwrap().unwrap();
            assert_eq!(
                value,
                v(field(e, "value_edn")),
                "{combination}: value of {key}"
            );
            assert_eq!(
                konserve_s3::hasch::uuid(&value).to_string(),
                field(e, "value_hasch_uuid"),
                "{combination}: hasch of {key}"
            );
        }
    }
    let keys = store.keys().unwrap();
    assert_eq!(
        keys.len() as u64,
        manifest["keys_result_count"].as_u64().unwrap()
    );
    assert_eq!(keys, manifest_metas(&manifest));
    for log in manifest["append_logs"].as_array().unwrap() {
        let key = v(log["key_edn"].as_str().unwrap());
        assert_eq!(store.log(key).unwrap().unwrap(), log_elements(log));
    }
    // Reading wrote nothing.
    let after: Vec<(String, Vec<u8>)> = dir
        .names()
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.path().join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    assert_eq!(before, after);
    assert_eq!(
        after.len() as u64,
        manifest["entry_count"].as_u64().unwrap()
    );
}

#[cfg(feature = "async")]
#[tokio::test]
async fn clojure_filestore_fixtures_read_back_in_async_mode() {
    for combination in COMBINATIONS {
        read_fixture_async(combination).await;
    }
}

#[cfg(feature = "async")]
async fn read_fixture_async(combination: &str) {
    use tokio::io::AsyncReadExt;

    let manifest = manifest(combination);
    let dir = fixture_copy(combination);
    let store = konserve_s3::nonblocking::Store::new(konserve_s3::nonblocking::FileBacking::new(
        dir.path(),
    ));
    for e in entries(&manifest) {
        let key = v(field(e, "key_edn"));
        let meta = store.get_meta(key.clone()).await.unwrap().unwrap();
        assert_eq!(meta, v(field(e, "meta_edn")), "meta of {key}");
        if field(e, "type") == ":binary" {
            let got = store.bget(key.clone()).await.unwrap().unwrap();
            let mut bytes = Vec::new();
            { got }.reader.read_to_end(&mut bytes).await.unwrap();
            assert_eq!(hex(&bytes), field(e, "value_hex"), "{key}");
        } else {
            let value = store.get(key.clone()).await.unwrap().unwrap();
            assert_eq!(value, v(field(e, "value_edn")), "value of {key}");
        }
    }
    assert_eq!(store.keys().await.unwrap(), manifest_metas(&manifest));
    for log in manifest["append_logs"].as_array().unwrap() {
        let key = v(log["key_edn"].as_str().unwrap());
        assert_eq!(store.log(key).await.unwrap().unwrap(), log_elements(log));
    }
}

/// Blobs this crate writes into a filestore directory are what konserve's
/// filestore reads: `<hasch uuid>.ksv` files, header included.
#[cfg(feature = "blocking")]
#[test]
fn written_blobs_use_konserves_names_and_format() {
    let dir = TempDir::new();
    let store = konserve_s3::blocking::Store::new(
        konserve_s3::blocking::FileBacking::create(dir.path()).unwrap(),
    );
    store.assoc(v(":foo"), v("{:a 1 :b {:c [1 2]}}")).unwrap();
    // The name the Clojure fixture has for :foo.
    let name = "06cee0d3-72f7-5bfd-ae3b-af7c2f0fef8f.ksv";
    assert_eq!(dir.names(), [name]);
    let bytes = std::fs::read(dir.path().join(name)).unwrap();
    let header = konserve_s3::internals::codec::BlobHeader::parse(&bytes).unwrap();
    assert_eq!((header.version, header.serializer), (1, 3));
    // And the fixture's own blob for :foo reads back through a store over
    // this directory once copied in.
    std::fs::copy(
        fixture_dir("boring-none-none").join("store").join(name),
        dir.path().join(name),
    )
    .unwrap();
    assert_eq!(
        store.get(v(":foo")).unwrap(),
        Some(v("{:a 1 :b {:c [1 2]}}"))
    );
}

// ---------------------------------------------------------------------------
// The atomic-write protocol

#[cfg(feature = "blocking")]
mod blocking_file {
    use std::io::Read;

    use bytes::Bytes;
    use konserve_s3::Conditions;
    use konserve_s3::Error;
    use konserve_s3::blocking::{Backing, FileBacking, Store};
    use konserve_s3::internals::s3::request::md5_etag;

    use super::*;

    fn backing() -> (TempDir, FileBacking) {
        let dir = TempDir::new();
        let backing = FileBacking::create(dir.path()).unwrap();
        (dir, backing)
    }

    #[test]
    fn leftover_staging_and_backup_files_are_not_keys() {
        let (dir, backing) = backing();
        let store = Store::new(backing.clone());
        store.assoc(v(":a"), 1).unwrap();
        let a = konserve_s3::internals::layout::blob_name(&v(":a"));
        // A crash mid-write leaves `x.ksv.new`; konserve's in-place mode
        // leaves `x.ksv.backup`; an old layout has subdirectories.
        std::fs::write(dir.path().join("x.ksv.new"), b"garbage").unwrap();
        std::fs::write(dir.path().join(format!("{a}.new")), b"garbage").unwrap();
        std::fs::write(dir.path().join(format!("{a}.backup")), b"garbage").unwrap();
        std::fs::create_dir(dir.path().join("meta")).unwrap();
        let keys = store.keys().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys.iter().next().unwrap().get(&v(":key")), Some(&v(":a")));
        // The backing lists every file (not directories); the store filters.
        let listed = backing.list_blobs().unwrap();
        assert_eq!(
            listed,
            [
                a.clone(),
                format!("{a}.backup"),
                format!("{a}.new"),
                "x.ksv.new".to_owned()
            ]
        );
        // A leftover staging file does not disturb the next write.
        store.assoc(v(":a"), 2).unwrap();
        assert_eq!(store.get(v(":a")).unwrap(), Some(v("2")));
        assert!(!dir.path().join(format!("{a}.new")).exists());
    }

    #[test]
    fn writes_leave_no_staging_file_behind() {
        let (dir, backing) = backing();
        let store = Store::new(backing);
        store.assoc(v(":a"), 1).unwrap();
        store
            .update(v(":a"), |n| {
                Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
            })
            .unwrap();
        store.assoc_in(&[v(":b"), v(":c")], v("[1 2]")).unwrap();
        // Streamed through several chunks.
        let big: Vec<u8> = (0..(3 << 20) + 17).map(|i| (i * 7 % 251) as u8).collect();
        store.bassoc_reader(v(":big"), &mut &big[..]).unwrap();
        store.append(v(":log"), v("1")).unwrap();
        store.append(v(":log"), v("2")).unwrap();
        for name in dir.names() {
            assert!(name.ends_with(".ksv"), "{name}");
        }
        // :a, :b, :big, the log's head and its two elements.
        assert_eq!(dir.names().len(), 6);
        let got = store.bget(v(":big")).unwrap().unwrap();
        assert_eq!(got.size, big.len() as u64);
        let mut read = Vec::new();
        { got }.reader.read_to_end(&mut read).unwrap();
        assert!(read == big);
        assert!(store.dissoc(v(":big")).unwrap());
        assert_eq!(dir.names().len(), 5);
    }

    #[test]
    fn conditional_writes_and_deletes() {
        let (dir, b) = backing();
        let name = "a.ksv";
        b.write_blob(name, Bytes::from_static(b"one"), &Conditions::NONE)
            .unwrap();
        let etag = b.blob_etag(name).unwrap().unwrap();
        assert_eq!(etag, md5_etag(b"one"));
        let read = b.read_blob(name).unwrap().unwrap();
        assert_eq!(
            (&read.bytes[..], read.etag.as_deref(), read.total_size),
            (&b"one"[..], Some(etag.as_str()), Some(3))
        );

        // If-Match with a wrong tag.
        let err = b
            .write_blob(
                name,
                Bytes::from_static(b"two"),
                &Conditions::if_match("\"wrong\""),
            )
            .unwrap_err();
        assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");
        let mut reader: &[u8] = b"two";
        let err = b
            .write_blob_stream(
                name,
                b"x".to_vec(),
                &mut reader,
                &Conditions::if_match("\"wrong\""),
            )
            .unwrap_err();
        assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");
        // If-None-Match: * over an existing blob.
        let err = b
            .write_blob(name, Bytes::from_static(b"two"), &Conditions::if_absent())
            .unwrap_err();
        assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");
        assert_eq!(&b.read_blob(name).unwrap().unwrap().bytes[..], b"one");
        assert_eq!(dir.names(), [name], "a refused write leaves nothing behind");

        // The right tag; create-only on a missing blob.
        b.write_blob(
            name,
            Bytes::from_static(b"two"),
            &Conditions::if_match(etag.clone()),
        )
        .unwrap();
        assert_eq!(b.blob_etag(name).unwrap(), Some(md5_etag(b"two")));
        let mut reader: &[u8] = b"ew";
        b.write_blob_stream(
            "b.ksv",
            b"n".to_vec(),
            &mut reader,
            &Conditions::if_absent(),
        )
        .unwrap();
        assert_eq!(&b.read_blob("b.ksv").unwrap().unwrap().bytes[..], b"new");
        // If-Match on a missing blob fails.
        let err = b
            .write_blob("c.ksv", Bytes::new(), &Conditions::if_match(md5_etag(b"")))
            .unwrap_err();
        assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");

        // Deletes.
        let err = b
            .delete_blob(name, &Conditions::if_match(etag))
            .unwrap_err();
        assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");
        assert!(b.blob_exists(name).unwrap());
        b.delete_blob(name, &Conditions::if_match(md5_etag(b"two")))
            .unwrap();
        assert!(!b.blob_exists(name).unwrap());
        b.delete_blob(name, &Conditions::NONE).unwrap();
        b.delete_blobs(&["b.ksv".to_owned(), "zz.ksv".to_owned()])
            .unwrap();
        assert!(dir.names().is_empty());
    }

    /// Eight threads race to create one blob: exactly one wins.
    #[test]
    fn create_only_is_atomic_within_the_process() {
        let (_dir, b) = backing();
        for round in 0..20 {
            let name = format!("r{round}.ksv");
            let wins = std::sync::atomic::AtomicUsize::new(0);
            std::thread::scope(|s| {
                for t in 0..8u8 {
                    let (b, name, wins) = (b.clone(), &name, &wins);
                    s.spawn(move || {
                        match b.write_blob(
                            name,
                            Bytes::from(vec![t; 100]),
                            &Conditions::if_absent(),
                        ) {
                            Ok(()) => {
                                wins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Err(Error::PreconditionFailed(_)) => {}
                            Err(e) => panic!("{e}"),
                        }
                    });
                }
            });
            assert_eq!(wins.into_inner(), 1);
        }
    }

    #[test]
    fn prefix_reads_and_version_tags() {
        let (dir, b) = backing();
        let body: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        b.write_blob("a.ksv", Bytes::from(body.clone()), &Conditions::NONE)
            .unwrap();
        let p = b.read_blob_prefix("a.ksv", 10).unwrap().unwrap();
        assert_eq!(p.bytes, &body[..10]);
        assert_eq!(p.total_size, Some(body.len() as u64));
        assert_eq!(p.etag, Some(md5_etag(&body)));
        let p = b.read_blob_prefix("a.ksv", 1 << 40).unwrap().unwrap();
        assert!(p.bytes == body);
        // Replaced behind the backing's back (another process): a new file,
        // so a new tag, even at the same size.
        let mut other = body.clone();
        other[5] ^= 1;
        std::fs::write(dir.path().join("tmp"), &other).unwrap();
        std::fs::rename(dir.path().join("tmp"), dir.path().join("a.ksv")).unwrap();
        assert_eq!(b.blob_etag("a.ksv").unwrap(), Some(md5_etag(&other)));
        let p = b.read_blob_prefix("a.ksv", 10).unwrap().unwrap();
        assert_eq!(
            (&p.bytes[..], p.etag),
            (&other[..10], Some(md5_etag(&other)))
        );
        // The stream is the whole blob.
        let s = b.read_blob_stream("a.ksv").unwrap().unwrap();
        assert_eq!(s.total_size, Some(other.len() as u64));
        let mut read = Vec::new();
        { s }.reader.read_to_end(&mut read).unwrap();
        assert!(read == other);
    }

    #[test]
    fn missing_directory_reads_empty_and_refuses_writes() {
        let dir = TempDir::new();
        let b = FileBacking::new(dir.path().join("not-there"));
        assert!(b.read_blob("a.ksv").unwrap().is_none());
        assert!(b.read_blob_prefix("a.ksv", 20).unwrap().is_none());
        assert!(b.read_blob_stream("a.ksv").unwrap().is_none());
        assert!(!b.blob_exists("a.ksv").unwrap());
        assert_eq!(b.blob_etag("a.ksv").unwrap(), None);
        assert!(b.list_blobs().unwrap().is_empty());
        b.delete_blob("a.ksv", &Conditions::NONE).unwrap();
        let err = b
            .write_blob("a.ksv", Bytes::from_static(b"x"), &Conditions::NONE)
            .unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err}");
        let mut reader: &[u8] = b"x";
        let err = b
            .write_blob_stream("a.ksv", Vec::new(), &mut reader, &Conditions::NONE)
            .unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err}");
        assert!(!dir.path().exists());
        // create makes it.
        let b = FileBacking::create(dir.path().join("not-there")).unwrap();
        b.write_blob("a.ksv", Bytes::from_static(b"x"), &Conditions::NONE)
            .unwrap();
        assert_eq!(b.kind(), "file");
        assert!(!b.supports_multi_key());
    }

    #[test]
    fn names_must_be_plain_file_names() {
        let (dir, b) = backing();
        for bad in ["", ".", "..", "../x.ksv", "a/b.ksv", "a\\b.ksv", "a\0.ksv"] {
            let err = b
                .write_blob(bad, Bytes::from_static(b"x"), &Conditions::NONE)
                .unwrap_err();
            assert!(
                matches!(err, Error::InvalidObjectKey { .. }),
                "{bad:?}: {err}"
            );
            assert!(b.read_blob(bad).is_err(), "{bad:?}");
        }
        assert!(dir.names().is_empty());
        assert!(!dir.path().parent().unwrap().join("x.ksv").exists());
    }
}

#[cfg(feature = "async")]
mod async_file {
    use bytes::Bytes;
    use konserve_s3::Conditions;
    use konserve_s3::Error;
    use konserve_s3::internals::s3::request::md5_etag;
    use konserve_s3::nonblocking::{Backing, FileBacking};
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn conditional_writes_and_streams() {
        let dir = TempDir::new();
        let b = FileBacking::create(dir.path()).unwrap();
        let big: Vec<u8> = (0..(2 << 20) + 3).map(|i| (i % 253) as u8).collect();
        let mut reader: &[u8] = &big[4..];
        b.write_blob_stream(
            "a.ksv",
            big[..4].to_vec(),
            &mut reader,
            &Conditions::if_absent(),
        )
        .await
        .unwrap();
        assert_eq!(dir.names(), ["a.ksv"]);
        assert_eq!(b.blob_etag("a.ksv").await.unwrap(), Some(md5_etag(&big)));
        let err = b
            .write_blob("a.ksv", Bytes::new(), &Conditions::if_absent())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");
        let err = b
            .write_blob("a.ksv", Bytes::new(), &Conditions::if_match("\"0\""))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");
        let s = b.read_blob_stream("a.ksv").await.unwrap().unwrap();
        let mut read = Vec::new();
        { s }.reader.read_to_end(&mut read).await.unwrap();
        assert!(read == big);
        b.write_blob(
            "a.ksv",
            Bytes::from_static(b"x"),
            &Conditions::if_match(md5_etag(&big)),
        )
        .await
        .unwrap();
        assert_eq!(
            &b.read_blob("a.ksv").await.unwrap().unwrap().bytes[..],
            b"x"
        );
        assert_eq!(dir.names(), ["a.ksv"]);
        let missing = FileBacking::new(dir.path().join("nope"));
        assert!(missing.list_blobs().await.unwrap().is_empty());
        assert!(matches!(
            missing
                .write_blob("a.ksv", Bytes::new(), &Conditions::NONE)
                .await,
            Err(Error::Io(_))
        ));
    }
}
