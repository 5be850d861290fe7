//! Reads of metadata and `keys`: a blob rewritten between the two reads of
//! large metadata, caps on what a metadata or value segment may decode to
//! (compression and stringref bombs), and `keys` refusing blobs whose
//! metadata is not konserve's.

mod common;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{bucket_name, config_for, server};
use konserve_s3::Conditions;
use konserve_s3::Error;
use konserve_s3::blocking::{
    Backing, BlobStream, BodySource, MemoryBacking, Store, StoredBlob, create_store,
};
use konserve_s3::config::{Compressor, Encoding, StoreOptions};
use konserve_s3::error::CodecError;
use konserve_s3::internals::codec::{HEADER_LEN, SegmentCap, boring, compress, fressian};
use konserve_s3::internals::layout;
use konserve_s3::value::Value;
use uuid::Uuid;

/// Caller metadata that makes the metadata segment about `size` bytes.
fn padding(size: usize) -> Value {
    Value::map([(Value::keyword("pad"), Value::from("x".repeat(size)))])
}

/// A blob with `segment` as its raw metadata segment (header ids from
/// `compressor`), then a `nil` value.
fn raw_blob(compressor: u8, segment: &[u8]) -> Bytes {
    let mut blob = vec![1, 3, compressor, 0];
    blob.extend_from_slice(&(segment.len() as i32).to_be_bytes());
    blob.resize(HEADER_LEN, 0);
    blob.extend_from_slice(segment);
    blob.push(0xf6);
    Bytes::from(blob)
}

fn put(backing: &MemoryBacking, key: &str, blob: Bytes) {
    backing
        .write_blob(
            &layout::blob_name(&Value::from(key)),
            blob,
            &Conditions::NONE,
        )
        .unwrap();
}

/// The `CodecError` inside the `Error::Blob` of `r` (without printing a
/// bomb's value when there is none).
fn codec_error<T>(r: konserve_s3::Result<T>) -> CodecError {
    match r {
        Err(Error::Blob { source, .. }) => source,
        Err(other) => panic!("expected Error::Blob, got {other:?}"),
        Ok(_) => panic!("expected Error::Blob, got a value"),
    }
}

// ---------------------------------------------------------------------------
// Defect 2: the blob changes between the two reads of large metadata.

/// A memory backing that, once armed, replaces blob `name` with the next
/// queued version right after each prefix read of it: what a writer does
/// between the two reads of metadata larger than the first read.
struct SwapAfterFirstRead {
    inner: MemoryBacking,
    armed: Mutex<Vec<(String, Bytes)>>,
}

impl Backing for SwapAfterFirstRead {
    fn kind(&self) -> &'static str {
        "swap"
    }
    fn read_blob(&self, name: &str) -> konserve_s3::Result<Option<StoredBlob>> {
        self.inner.read_blob(name)
    }
    fn read_blob_prefix(&self, name: &str, len: u64) -> konserve_s3::Result<Option<StoredBlob>> {
        let read = self.inner.read_blob_prefix(name, len);
        let swap = self.armed.lock().unwrap().pop();
        if let Some((target, next)) = swap {
            assert_eq!(target, name);
            self.inner.write_blob(name, next, &Conditions::NONE)?;
        }
        read
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
fn metadata_rewritten_between_its_two_reads_is_read_again() {
    // Two versions of one key, as a writer alternating 5 KB and 9 KB
    // metadata leaves them: the first read (4 KiB) of the small one asks
    // for ~5 KB more, and the large one is there by then.
    let scratch = Store::new(MemoryBacking::new());
    let name = layout::blob_name(&Value::from("k"));
    let version = |pad: usize| {
        scratch
            .assoc_with_meta("k", pad as i64, padding(pad))
            .unwrap();
        scratch.backing().read_blob(&name).unwrap().unwrap().bytes
    };
    let (small, large) = (version(5000), version(9000));
    let backing = SwapAfterFirstRead {
        inner: MemoryBacking::new(),
        armed: Mutex::new(Vec::new()),
    };
    backing
        .inner
        .write_blob(&name, small.clone(), &Conditions::NONE)
        .unwrap();
    let store = Store::new(backing);
    let pad_of = |meta: Value| match meta.get(&Value::keyword("pad")) {
        Some(Value::String(s)) => s.len(),
        other => panic!("no :pad in metadata: {other:?}"),
    };

    *store.backing().armed.lock().unwrap() = vec![(name.clone(), large.clone())];
    let meta = store.get_meta("k").unwrap().unwrap();
    assert_eq!(pad_of(meta), 9000, "the version after the swap, whole");

    // And through `keys`, the other way round (large, then small).
    store
        .backing()
        .inner
        .write_blob(&name, large, &Conditions::NONE)
        .unwrap();
    *store.backing().armed.lock().unwrap() = vec![(name.clone(), small.clone())];
    let keys = store.keys().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(pad_of(keys.into_iter().next().unwrap()), 5000);

    // A writer that grows the metadata after every read (two per attempt):
    // a typed error after a bounded number of attempts, not a wrong answer.
    let growing: Vec<_> = (1..=20)
        .rev()
        .map(|i| (name.clone(), version(5000 + 500 * i)))
        .collect();
    *store.backing().armed.lock().unwrap() = growing;
    match store.get_meta("k") {
        Err(Error::BlobKeptChanging { blob, attempts }) => {
            assert_eq!((blob, attempts), (name.clone(), 8));
        }
        other => panic!("{:?}", other.map(|m| m.map(pad_of))),
    }
    // Once the writer pauses, the read succeeds.
    store.backing().armed.lock().unwrap().clear();
    assert!(store.get_meta("k").unwrap().is_some());
}

/// Writers alternate small and large (> 4 KiB) metadata on the same keys
/// while `keys` and `get_meta` run, through real SeaweedFS: no read fails.
#[test]
fn keys_and_get_meta_survive_writers_alternating_metadata_sizes_on_s3() {
    let mut config = config_for(&bucket_name("reads"), &server().endpoint);
    config.id = Some(Uuid::new_v4());
    let store = create_store(&config).unwrap();
    let keys: Vec<String> = (0..4).map(|i| format!("k{i}")).collect();
    for k in &keys {
        store.assoc_with_meta(k.as_str(), 0, padding(5000)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = keys
        .iter()
        .cloned()
        .map(|k| {
            let (store, stop) = (store.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let pad = if n.is_multiple_of(2) { 9000 } else { 5000 };
                    store
                        .assoc_with_meta(k.as_str(), n as i64, padding(pad))
                        .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut failures = Vec::new();
    for round in 0..40 {
        match store.keys() {
            Ok(set) => assert_eq!(set.len(), keys.len()),
            Err(e) => failures.push(format!("keys, round {round}: {e}")),
        }
        for k in &keys {
            if let Err(e) = store.get_meta(k.as_str()) {
                failures.push(format!("get_meta {k}, round {round}: {e}"));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let writes: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(writes > keys.len(), "the writers kept writing ({writes})");
    assert!(
        failures.is_empty(),
        "{} failed reads: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}

#[test]
fn s3_prefix_reads_honour_if_match() {
    let mut config = config_for(&bucket_name("reads"), &server().endpoint);
    config.id = Some(Uuid::new_v4());
    let store = create_store(&config).unwrap();
    store.assoc("k", 1).unwrap();
    let name = layout::blob_name(&Value::from("k"));
    let etag = store.backing().blob_etag(&name).unwrap().unwrap();
    let got = store
        .backing()
        .read_blob_prefix_if_match(&name, 8, &etag)
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes.len(), 8);
    let stale = store
        .backing()
        .read_blob_prefix_if_match(&name, 8, "\"0123\"");
    assert!(
        matches!(stale, Err(Error::PreconditionFailed(_))),
        "{stale:?}"
    );
}

// ---------------------------------------------------------------------------
// Defect 3: caps on metadata and values.

/// A CBOR text string of `n` zero bytes' worth of `a`, compressible to
/// almost nothing.
fn cbor_text(n: usize) -> Vec<u8> {
    let mut v = vec![0x7a];
    v.extend_from_slice(&(n as u32).to_be_bytes());
    v.resize(5 + n, b'a');
    v
}

#[test]
fn compression_bombs_in_metadata_stop_at_the_metadata_cap() {
    let plain = cbor_text(64 << 20);
    let backing = MemoryBacking::new();
    let zstd = compress::zstd_compress(&plain).unwrap();
    let lz4 = compress::lz4_compress(&plain);
    assert!(
        zstd.len() < 64 << 10 && lz4.len() < 512 << 10,
        "small bombs"
    );
    put(&backing, "zstd", raw_blob(2, &zstd));
    put(&backing, "lz4", raw_blob(1, &lz4));
    let store = Store::new(backing.clone());
    let cap = SegmentCap::METADATA;
    assert_eq!(store.options().max_metadata_bytes, 4 << 20);
    for key in ["zstd", "lz4"] {
        let e = codec_error(store.get_meta(key));
        assert_eq!(e, cap.exceeded(), "{key}");
        assert!(e.to_string().contains("config.max-metadata-bytes"), "{e}");
        // A whole read (get) hits the same cap on the metadata segment.
        assert_eq!(codec_error(store.get(key)), cap.exceeded());
    }
    // keys names the blob with the typed error instead of inflating it.
    assert_eq!(codec_error(store.keys()), cap.exceeded());

    // A raised cap reads them (the bomb is 64 MiB of "a").
    let roomy = Store::with_options(
        backing,
        StoreOptions {
            max_metadata_bytes: 65 << 20,
            ..StoreOptions::default()
        },
    );
    let meta = roomy.get_meta("zstd").unwrap().unwrap();
    assert!(matches!(meta, Value::String(s) if s.len() == 64 << 20));
}

/// A blob with serializer `serializer` and `segment` as its raw metadata.
fn raw_blob_of(serializer: u8, segment: &[u8]) -> Bytes {
    let mut blob = raw_blob(0, segment).to_vec();
    blob[1] = serializer;
    Bytes::from(blob)
}

#[test]
fn metadata_of_many_small_items_stops_at_the_cap_in_every_serializer() {
    // 1 MiB of input, a million values: far more than 4 MiB once decoded.
    let zeros = Value::Vector(vec![Value::from(0); 1 << 20]);
    let backing = MemoryBacking::new();
    let cbor = boring::encode_plain(&zeros);
    assert!(cbor.len() < (1 << 20) + 16);
    put(&backing, "boring", raw_blob_of(3, &cbor));
    put(&backing, "clj-cbor", raw_blob_of(2, &cbor));
    put(
        &backing,
        "fressian",
        raw_blob_of(1, &fressian::encode(&zeros)),
    );
    // And compressed to almost nothing.
    put(
        &backing,
        "zstd",
        raw_blob(2, &compress::zstd_compress(&cbor).unwrap()),
    );
    let store = Store::new(backing.clone());
    for key in ["boring", "clj-cbor", "fressian", "zstd"] {
        assert_eq!(
            codec_error(store.get_meta(key)),
            SegmentCap::METADATA.exceeded(),
            "{key}"
        );
    }
    // Values have their own, larger cap: the same segment as a value reads.
    let as_value = Store::new(MemoryBacking::new());
    as_value.assoc("zeros", zeros.clone()).unwrap();
    assert_eq!(as_value.get("zeros").unwrap(), Some(zeros));
}

#[test]
fn stored_metadata_larger_than_the_cap_is_refused_before_it_is_read() {
    let backing = MemoryBacking::new();
    put(&backing, "big", raw_blob(0, &cbor_text(2 << 20)));
    let options = StoreOptions {
        max_metadata_bytes: 1 << 20,
        ..StoreOptions::default()
    };
    let store = Store::with_options(backing, options.clone());
    let cap = SegmentCap::METADATA.with_limit(1 << 20);
    assert_eq!(codec_error(store.get_meta("big")), cap.exceeded());
}

#[test]
fn value_segments_have_their_own_cap() {
    let store = Store::with_options(
        MemoryBacking::new(),
        StoreOptions {
            encoding: Encoding {
                compressor: Compressor::Zstd,
                ..Encoding::default()
            },
            max_value_bytes: 1 << 20,
            ..StoreOptions::default()
        },
    );
    store.assoc("small", "x".repeat(1000)).unwrap();
    store.assoc("large", "x".repeat(2 << 20)).unwrap();
    assert_eq!(
        store.get("small").unwrap(),
        Some(Value::from("x".repeat(1000)))
    );
    let cap = SegmentCap::VALUE.with_limit(1 << 20);
    let e = codec_error(store.get("large"));
    assert_eq!(e, cap.exceeded());
    assert!(e.to_string().contains("config.max-value-bytes"), "{e}");
    // Its metadata is small and still listed.
    assert!(store.get_meta("large").unwrap().is_some());
    assert_eq!(store.keys().unwrap().len(), 2);
}

/// `tag 256 [ s0, s1, … ]`: strings that each take a stringref index.
fn stringref_table_bomb(strings: usize) -> Vec<u8> {
    let mut v = vec![0xd9, 0x01, 0x00, 0x9f];
    for i in 0..strings {
        v.push(0x67); // text of 7 bytes: long enough for any index below 2³²
        v.extend_from_slice(format!("{i:07}").as_bytes());
    }
    v.push(0xff);
    v
}

/// `tag 256 [ s, 25(0), 25(0), … ]`: one long string repeated by reference.
fn stringref_expansion_bomb(len: usize, refs: usize) -> Vec<u8> {
    let mut v = vec![0xd9, 0x01, 0x00, 0x9f];
    v.extend_from_slice(&cbor_text(len));
    for _ in 0..refs {
        v.extend_from_slice(&[0xd8, 0x19, 0x00]);
    }
    v.push(0xff);
    v
}

#[test]
fn stringref_bombs_are_bounded_by_the_cap() {
    let cap = SegmentCap::METADATA.with_limit(1 << 20);
    // 100 000 table entries from 800 KB: more than 1 MiB of table.
    let table = stringref_table_bomb(100_000);
    assert!(table.len() < 1 << 20);
    assert_eq!(boring::decode_capped(&table, cap), Err(cap.exceeded()));
    // A smaller table is fine.
    assert!(boring::decode_capped(&stringref_table_bomb(1000), cap).is_ok());
    // 2 MB through 2000 references of 9 bytes each.
    let expansion = stringref_expansion_bomb(1000, 2000);
    assert_eq!(boring::decode_capped(&expansion, cap), Err(cap.exceeded()));
    assert!(boring::decode_capped(&stringref_expansion_bomb(1000, 500), cap).is_ok());

    // Through a store: the metadata cap applies to both.
    let backing = MemoryBacking::new();
    put(&backing, "table", raw_blob(0, &table));
    put(&backing, "refs", raw_blob(0, &expansion));
    let store = Store::with_options(
        backing,
        StoreOptions {
            max_metadata_bytes: 1 << 20,
            ..StoreOptions::default()
        },
    );
    for key in ["table", "refs"] {
        assert_eq!(codec_error(store.get_meta(key)), cap.exceeded(), "{key}");
    }
}

#[test]
fn caps_are_store_options_with_kebab_case_names() {
    let options: StoreOptions =
        serde_json::from_str(r#"{"max-metadata-bytes": 65536, "max-value-bytes": 1048576}"#)
            .unwrap();
    assert_eq!(options.max_metadata_bytes, 65536);
    assert_eq!(options.max_value_bytes, 1 << 20);
    let defaults = StoreOptions::default();
    assert_eq!(defaults.max_metadata_bytes, 4 << 20);
    assert_eq!(defaults.max_value_bytes, 1 << 30);
    let mut config = config_for("reads-config", "http://127.0.0.1:1");
    config.store.max_metadata_bytes = 10;
    match config.validate() {
        Err(Error::InvalidConfig { field, .. }) => assert_eq!(field, "config.max-metadata-bytes"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Defect 7: keys over blobs whose metadata is not konserve's map.

#[test]
fn keys_refuses_metadata_that_is_not_a_konserve_map() {
    let enc = Encoding::default();
    for (bad, shown) in [
        ("0", "0"),
        ("{:foo 1}", "{:foo 1}"),
        ("{:key :k :type :edn}", ":key"),
    ] {
        let backing = MemoryBacking::new();
        let store = Store::new(backing.clone());
        store.assoc("fine", 1).unwrap();
        let meta: Value = bad.parse().unwrap();
        put(
            &backing,
            "odd",
            Bytes::from(enc.encode_edn_blob(&meta, &Value::Nil).unwrap()),
        );
        let e = store.keys();
        if let Err(Error::Blob { blob, .. }) = &e {
            assert_eq!(blob, &layout::blob_name(&Value::from("odd")));
        }
        match codec_error(e) {
            CodecError::NotMetadata(found) => assert!(found.contains(shown), "{found}"),
            other => panic!("{bad}: {other:?}"),
        }
        // The blob itself is still readable by key.
        assert_eq!(store.get_meta("odd").unwrap(), Some(meta));
    }
}
