//! konserve's compliance properties, for any [`Backing`] (feature
//! `conformance`): the suite this crate runs against its own backings, in
//! both modes, exported as object_store exports its integration tests.
//!
//! Each property takes a fresh, empty store and panics (with `assert!`) when
//! the store breaks it. [`conformance_tests!`](crate::conformance_tests)
//! stamps out one `#[test]` per property and mode.
//!
//! # Example
#![doc = mode::doc_example!("conformance")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::mode::{self, concurrently, read_all};
use super::{Backing, DissocOptions, Store, WriteEvent, io};
use crate::Error;
use crate::value::{Set, Value};

fn k(name: &str) -> Value {
    Value::keyword(name)
}

fn v(edn: &str) -> Value {
    edn.parse().expect("the suite's EDN literals parse")
}

fn meta_field<'a>(meta: &'a Value, field: &str) -> &'a Value {
    meta.get(&k(field))
        .unwrap_or_else(|| panic!("{meta} has no :{field}"))
}

/// A key never written is absent to every read: `exists`, `get`, `get_meta`,
/// `get_in`, `bget`, `keys`.
#[io(AFIT)]
pub async fn fresh_key_is_absent<B: Backing>(store: &Store<B>) {
    let exists = store.exists("foo").await.unwrap();
    assert!(!exists);
    let got = store.get("foo").await.unwrap();
    assert_eq!(got, None);
    let meta = store.get_meta("foo").await.unwrap();
    assert_eq!(meta, None);
    let got = store.get_in(&[v("\"foo\""), k("a")]).await.unwrap();
    assert_eq!(got, None);
    let blob = store.bget("foo").await.unwrap();
    assert!(blob.is_none());
    let keys = store.keys().await.unwrap();
    assert!(keys.is_empty());
}

/// `assoc` makes a key exist with its value and metadata; keys keep their EDN
/// type; a stored nil is not a missing key.
#[io(AFIT)]
pub async fn assoc_then_exists_and_get<B: Backing>(store: &Store<B>) {
    store.assoc("foo", v("{:bar 42}")).await.unwrap();
    let exists = store.exists("foo").await.unwrap();
    assert!(exists);
    let got = store.get("foo").await.unwrap();
    assert_eq!(got, Some(v("{:bar 42}")));
    // Keys keep their EDN type: "foo", :foo and 'foo are different keys.
    let exists = store.exists(k("foo")).await.unwrap();
    assert!(!exists);
    let exists = store.exists(Value::symbol("foo")).await.unwrap();
    assert!(!exists);
    // A stored nil is not a missing key.
    store.assoc(k("nothing"), Value::Nil).await.unwrap();
    let got = store.get(k("nothing")).await.unwrap();
    assert_eq!(got, Some(Value::Nil));
    let exists = store.exists(k("nothing")).await.unwrap();
    assert!(exists);
    let meta = store.get_meta("foo").await.unwrap().unwrap();
    assert_eq!(meta_field(&meta, "key"), &Value::from("foo"));
    assert_eq!(meta_field(&meta, "type"), &k("edn"));
    assert!(meta_field(&meta, "last-write").as_inst().is_some());
}

/// `assoc_in` with a one-element path replaces the whole value.
#[io(AFIT)]
pub async fn assoc_in_with_one_element_path_overwrites<B: Backing>(store: &Store<B>) {
    store
        .assoc(k("baz"), v("{:bar 42, :keep 1}"))
        .await
        .unwrap();
    let (old, new) = store.assoc_in(&[k("baz")], v("{:bar 43}")).await.unwrap();
    assert_eq!(old, None);
    assert_eq!(new, v("{:bar 43}"));
    let got = store.get(k("baz")).await.unwrap();
    assert_eq!(got, Some(v("{:bar 43}")));
}

/// `get_in_or` gives the default only where nothing is stored (a stored nil is nil).
#[io(AFIT)]
pub async fn get_in_default_on_missing_key<B: Backing>(store: &Store<B>) {
    let got = store
        .get_in_or(&[k("missing"), k("x")], k("default"))
        .await
        .unwrap();
    assert_eq!(got, k("default"));
    store.assoc(k("present"), v("{:x nil}")).await.unwrap();
    // A stored nil at the path is nil, not the default.
    let got = store
        .get_in_or(&[k("present"), k("x")], k("default"))
        .await
        .unwrap();
    assert_eq!(got, Value::Nil);
    let got = store
        .get_in_or(&[k("present"), k("y")], k("default"))
        .await
        .unwrap();
    assert_eq!(got, k("default"));
    let got = store.get_in(&[k("present")]).await.unwrap();
    assert_eq!(got, Some(v("{:x nil}")));
}

/// `update_in`/`update` on a top-level key return the old and new value; the
/// function sees `None` for a missing key.
#[io(AFIT)]
pub async fn update_in_on_a_top_level_key<B: Backing>(store: &Store<B>) {
    store.assoc(k("counter"), 41).await.unwrap();
    let (old, new) = store
        .update_in(&[k("counter")], |n| {
            Value::from(n.unwrap().as_i64().unwrap() + 1)
        })
        .await
        .unwrap();
    assert_eq!((old, new), (Some(Value::from(41)), Value::from(42)));
    // On a missing key the function sees None.
    let (old, new) = store
        .update(k("fresh"), |n| {
            assert!(n.is_none());
            Value::from(1)
        })
        .await
        .unwrap();
    assert_eq!((old, new), (None, Value::from(1)));
    let got = store.get(k("fresh")).await.unwrap();
    assert_eq!(got, Some(Value::from(1)));
}

/// A nested `assoc_in` changes only the addressed entry (konserve bug #120),
/// builds missing maps and refuses to go into a scalar.
#[io(AFIT)]
pub async fn nested_assoc_in_updates_inside_the_map<B: Backing>(store: &Store<B>) {
    // konserve bug #120: a nested assoc-in must change only the addressed
    // entry, keeping its siblings.
    store
        .assoc(
            k("user"),
            v("{:name \"Ada\", :prefs {:theme :dark, :lang :en}}"),
        )
        .await
        .unwrap();
    let (old, new) = store
        .assoc_in(&[k("user"), k("prefs"), k("theme")], k("light"))
        .await
        .unwrap();
    assert_eq!(
        old,
        Some(v("{:name \"Ada\", :prefs {:theme :dark, :lang :en}}"))
    );
    assert_eq!(new, v("{:name \"Ada\", :prefs {:theme :light, :lang :en}}"));
    let got = store.get(k("user")).await.unwrap();
    assert_eq!(got, Some(new));
    // On a missing key it builds the maps.
    let (old, new) = store
        .assoc_in(&[k("nested"), k("a"), k("b")], Value::from(5))
        .await
        .unwrap();
    assert_eq!((old, new), (None, v("{:a {:b 5}}")));
    store
        .assoc_in(&[k("nested"), k("a"), k("c")], Value::from("x"))
        .await
        .unwrap();
    let got = store.get(k("nested")).await.unwrap();
    assert_eq!(got, Some(v("{:a {:b 5, :c \"x\"}}")));
    // Into a scalar it cannot go: a typed error, nothing written.
    store.assoc(k("scalar"), 7).await.unwrap();
    let err = store
        .assoc_in(&[k("scalar"), k("x")], Value::from(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Path(_)), "{err}");
    let got = store.get(k("scalar")).await.unwrap();
    assert_eq!(got, Some(Value::from(7)));
}

/// A nested `update_in` returns the old and new top-level values.
#[io(AFIT)]
pub async fn nested_update_in<B: Backing>(store: &Store<B>) {
    store.assoc(k("baz"), v("{:bar 42}")).await.unwrap();
    let inc = |by: i64| move |n: Option<Value>| Value::from(n.unwrap().as_i64().unwrap() + by);
    let (old, new) = store
        .update_in(&[k("baz"), k("bar")], inc(1))
        .await
        .unwrap();
    // Old and new *top-level* values, as konserve returns them.
    assert_eq!((old, new), (Some(v("{:bar 42}")), v("{:bar 43}")));
    let (_, new) = store
        .update_in(&[k("baz"), k("bar")], inc(5))
        .await
        .unwrap();
    assert_eq!(new, v("{:bar 48}"));
    let got = store.get_in(&[k("baz"), k("bar")]).await.unwrap();
    assert_eq!(got, Some(Value::from(48)));
}

/// `dissoc` says whether the key existed; `ignore_existence` says true without looking.
#[io(AFIT)]
pub async fn dissoc_reports_existence<B: Backing>(store: &Store<B>) {
    store.assoc("foo", 1).await.unwrap();
    let removed = store.dissoc("foo").await.unwrap();
    assert!(removed);
    let removed = store.dissoc("foo").await.unwrap();
    assert!(!removed);
    let got = store.get("foo").await.unwrap();
    assert_eq!(got, None);
    let exists = store.exists("foo").await.unwrap();
    assert!(!exists);
    store.assoc("bar", 1).await.unwrap();
    let removed = store
        .dissoc_with("bar", DissocOptions::ignore_existence())
        .await
        .unwrap();
    assert!(removed);
    let exists = store.exists("bar").await.unwrap();
    assert!(!exists);
    // ignore_existence says true without looking.
    let removed = store
        .dissoc_with("bar", DissocOptions::ignore_existence())
        .await
        .unwrap();
    assert!(removed);
}

/// `bassoc`/`bassoc_reader`/`bget` keep bytes exactly, streamed and empty
/// alike; `get` of a binary key gives its bytes.
#[io(AFIT)]
pub async fn binary_values<B: Backing>(store: &Store<B>) {
    let bytes: Vec<u8> = (0..10).collect();
    store.bassoc(k("binbar"), bytes.clone()).await.unwrap();
    let got = store.bget(k("binbar")).await.unwrap().unwrap();
    assert_eq!(got.size, 10);
    let mut read = Vec::new();
    read_all(&mut *{ got }.reader, &mut read).await.unwrap();
    assert_eq!(read, bytes);
    let meta = store.get_meta(k("binbar")).await.unwrap().unwrap();
    assert_eq!(meta_field(&meta, "type"), &k("binary"));
    // From a reader, and larger than one read buffer.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    store
        .bassoc_reader(k("stream"), &mut &big[..])
        .await
        .unwrap();
    let got = store.bget(k("stream")).await.unwrap().unwrap();
    assert_eq!(got.size, big.len() as u64);
    let mut read = Vec::new();
    read_all(&mut *{ got }.reader, &mut read).await.unwrap();
    assert!(read == big, "streamed binary value differs");
    // An empty binary value.
    store.bassoc(k("empty"), Vec::new()).await.unwrap();
    let got = store.bget(k("empty")).await.unwrap().unwrap();
    assert_eq!(got.size, 0);
    // get of a binary key gives its bytes.
    let got = store.get(k("binbar")).await.unwrap();
    assert_eq!(got, Some(Value::Bytes(bytes)));
    // A binary value over an EDN one, and an EDN value back over it: each
    // read as what was written last.
    store.assoc(k("both"), "edn first").await.unwrap();
    store
        .bassoc(k("both"), b"then bytes".to_vec())
        .await
        .unwrap();
    let meta = store.get_meta(k("both")).await.unwrap().unwrap();
    assert_eq!(meta_field(&meta, "type"), &k("binary"));
    let got = store.get(k("both")).await.unwrap();
    assert_eq!(got, Some(Value::Bytes(b"then bytes".to_vec())));
    let (_, now) = store
        .update_in(&[k("both")], |_| Value::from("edn again"))
        .await
        .unwrap();
    assert_eq!(now, Value::from("edn again"));
    let meta = store.get_meta(k("both")).await.unwrap().unwrap();
    assert_eq!(meta_field(&meta, "type"), &k("edn"));
    let got = store.get(k("both")).await.unwrap();
    assert_eq!(got, Some(Value::from("edn again")));
}

/// `keys` returns exactly the metadata of every stored key (values, binaries, logs), nothing else.
#[io(AFIT)]
pub async fn keys_returns_exactly_the_metadata<B: Backing>(store: &Store<B>) {
    store.assoc(k("a"), 1).await.unwrap();
    store.assoc("b", 2).await.unwrap();
    store
        .assoc_with_meta(42, 3, v("{:immutable? true}"))
        .await
        .unwrap();
    store.bassoc(v("[1 2 3]"), vec![1, 2, 3]).await.unwrap();
    let (_, e1) = store.append(k("log"), Value::from("e1")).await.unwrap();
    let (_, e2) = store.append(k("log"), Value::from("e2")).await.unwrap();
    store.dissoc(k("a")).await.unwrap();
    let keys = store.keys().await.unwrap();
    // One map per blob: b, 42, [1 2 3], the log head and its two elements
    // (whose :key is the log's key). It is a set, as in konserve: maps that
    // are equal (same key, type and millisecond) count once.
    let blobs = [
        Value::from("b"),
        Value::from(42),
        v("[1 2 3]"),
        k("log"),
        Value::Uuid(e1),
        Value::Uuid(e2),
    ];
    let mut expected = Set::new();
    for key in &blobs {
        let meta = store.get_meta(key.clone()).await.unwrap().unwrap();
        expected.insert(meta);
    }
    assert_eq!(keys, expected);
    let types: BTreeMap<Value, Value> = keys
        .iter()
        .map(|m| (meta_field(m, "key").clone(), meta_field(m, "type").clone()))
        .collect();
    assert_eq!(
        types,
        BTreeMap::from([
            (Value::from("b"), k("edn")),
            (Value::from(42), k("edn")),
            (v("[1 2 3]"), k("binary")),
            (k("log"), k("append-log")),
        ])
    );
    for element in [e1, e2] {
        let meta = store.get_meta(Value::Uuid(element)).await.unwrap().unwrap();
        assert_eq!(meta_field(&meta, "key"), &k("log"));
    }
    let with_extra = store.get_meta(42).await.unwrap().unwrap();
    assert_eq!(meta_field(&with_extra, "immutable?"), &Value::from(true));
}

/// `append` builds a log that `log` and `reduce_log` read in order; a non-log
/// key is refused with a typed error.
#[io(AFIT)]
pub async fn append_log_in_order<B: Backing>(store: &Store<B>) {
    let (first, id1) = store
        .append(k("foolog"), v("{:event \"first\" :n 1}"))
        .await
        .unwrap();
    assert_eq!(first, None);
    let (first, id2) = store
        .append(k("foolog"), v("{:event \"second\" :n 2}"))
        .await
        .unwrap();
    assert_eq!(first, Some(id1));
    assert_ne!(id1, id2);
    store.append(k("foolog"), Value::from(3)).await.unwrap();
    let log = store.log(k("foolog")).await.unwrap().unwrap();
    assert_eq!(
        log,
        vec![
            v("{:event \"first\" :n 1}"),
            v("{:event \"second\" :n 2}"),
            Value::from(3)
        ]
    );
    let count = store
        .reduce_log(k("foolog"), 0, |acc, _| acc + 1)
        .await
        .unwrap();
    assert_eq!(count, 3);
    let log = store.log(k("nolog")).await.unwrap();
    assert_eq!(log, None);
    let reduced = store
        .reduce_log(k("nolog"), 7, |acc, _| acc + 1)
        .await
        .unwrap();
    assert_eq!(reduced, 7);
    // The head is konserve's [:append-log last first].
    let head = store.get(k("foolog")).await.unwrap().unwrap();
    let items = head.as_seq().unwrap();
    assert_eq!(items[0], k("append-log"));
    assert_eq!(items[2], Value::Uuid(id1));
    // Appending to a key that is no log is refused and changes nothing.
    store.assoc(k("plain"), 1).await.unwrap();
    let err = store.append(k("plain"), Value::from(2)).await.unwrap_err();
    assert!(matches!(err, Error::NotAnAppendLog { .. }), "{err}");
    let log = store.log(k("plain")).await.unwrap_err();
    assert!(matches!(log, Error::NotAnAppendLog { .. }));
    let got = store.get(k("plain")).await.unwrap();
    assert_eq!(got, Some(Value::from(1)));
}

/// A log key has metadata like any other key.
#[io(AFIT)]
pub async fn get_meta_of_a_log<B: Backing>(store: &Store<B>) {
    store.append(k("log"), Value::from(1)).await.unwrap();
    let meta = store.get_meta(k("log")).await.unwrap().unwrap();
    assert_eq!(meta_field(&meta, "key"), &k("log"));
    assert_eq!(meta_field(&meta, "type"), &k("append-log"));
}

/// Write hooks see every write with konserve's event fields, and can be removed.
#[io(AFIT)]
pub async fn write_hooks<B: Backing>(store: &Store<B>) {
    let events: Arc<Mutex<Vec<WriteEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    store.add_write_hook("test", move |e| sink.lock().unwrap().push(e.clone()));
    store.add_write_hook("panics", |_| panic!("a broken hook"));
    store.assoc_in(&[k("a")], Value::from(1)).await.unwrap();
    store
        .assoc_in(&[k("m"), k("x")], Value::from(1))
        .await
        .unwrap();
    store
        .update_in(&[k("m"), k("x")], |n| {
            Value::from(n.unwrap().as_i64().unwrap() + 1)
        })
        .await
        .unwrap();
    store.dissoc(k("a")).await.unwrap();
    store.dissoc(k("never-there")).await.unwrap();
    store.bassoc(k("bin"), vec![1u8, 2]).await.unwrap();
    let seen: Vec<Value> = events
        .lock()
        .unwrap()
        .iter()
        .map(WriteEvent::to_value)
        .collect();
    let ops: Vec<String> = seen
        .iter()
        .map(|e| format!("{} {}", meta_field(e, "api-op"), meta_field(e, "key")))
        .collect();
    assert_eq!(
        ops,
        [
            ":assoc-in :a",
            ":assoc-in :m",
            ":update-in :m",
            ":dissoc :a",
            ":bassoc :bin"
        ]
    );
    assert_eq!(meta_field(&seen[2], "old-value"), &v("{:x 1}"));
    assert_eq!(meta_field(&seen[2], "value"), &v("{:x 2}"));
    assert_eq!(meta_field(&seen[2], "key-vec"), &v("[:m :x]"));
    assert_eq!(meta_field(&seen[4], "value"), &Value::Bytes(vec![1, 2]));
    assert!(store.remove_write_hook("test"));
    assert!(!store.remove_write_hook("test"));
    store.assoc(k("after"), 1).await.unwrap();
    assert_eq!(events.lock().unwrap().len(), 5);
}

/// Typed helpers round-trip serde values; a value of the wrong shape is a typed error.
#[io(AFIT)]
pub async fn typed_values<B: Backing>(store: &Store<B>) {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
    struct User {
        name: String,
        visits: u32,
        tags: Vec<String>,
    }
    let ada = User {
        name: "Ada".into(),
        visits: 1,
        tags: vec!["math".into()],
    };
    store.assoc_as("ada", &ada).await.unwrap();
    let result = store.get_as::<User>("ada").await.unwrap();
    assert_eq!(result, Some(ada.clone()));
    // Stored with keyword keys, as Clojure code expects.
    let got = store
        .get_in(&[Value::from("ada"), k("name")])
        .await
        .unwrap();
    assert_eq!(got, Some(Value::from("Ada")));
    let (old, new) = store
        .update_as("ada", |u: Option<User>| {
            let mut u = u.unwrap();
            u.visits += 1;
            u
        })
        .await
        .unwrap();
    assert_eq!(old.unwrap().visits, 1);
    assert_eq!(new.visits, 2);
    let result = store
        .get_in_as::<u32>(&[Value::from("ada"), k("visits")])
        .await
        .unwrap();
    assert_eq!(result, Some(2));
    let err = store.get_as::<u32>("ada").await.unwrap_err();
    assert!(matches!(err, Error::Value(_)), "{err}");
    // A failed conversion writes nothing.
    let result = store
        .update_as("ada", |n: Option<u32>| n.unwrap_or(0))
        .await;
    assert!(result.is_err());
    let result = store.get_as::<User>("ada").await.unwrap().unwrap();
    assert_eq!(result.visits, 2);
}

/// Concurrent `update`s on one store handle lose nothing, and idle per-key locks are reclaimed.
#[io(AFIT)]
pub async fn concurrent_updates_in_one_process_lose_nothing<B: Backing>(store: &Store<B>) {
    let work = || async {
        for _ in 0..10 {
            store
                .update(k("n"), |n| {
                    Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
                })
                .await
                .unwrap();
        }
    };
    concurrently(4, work).await;
    let got = store.get(k("n")).await.unwrap();
    assert_eq!(got, Some(Value::from(40)));
    assert_eq!(store.locked_keys(), 0, "idle locks are reclaimed");
}

/// Multi-key operations are atomic where the backing offers them and a typed
/// `Unsupported` error where it does not.
#[io(AFIT)]
pub async fn multi_key_operations<B: Backing>(store: &Store<B>) {
    if !store.backing().supports_multi_key() {
        for err in [
            store.multi_get(&[k("a")]).await.unwrap_err(),
            store
                .multi_assoc(vec![(k("a"), Value::from(1))], None)
                .await
                .unwrap_err(),
            store.multi_dissoc(&[k("a")]).await.unwrap_err(),
        ] {
            assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        }
        let exists = store.exists(k("a")).await.unwrap();
        assert!(!exists, "a refused multi-assoc wrote nothing");
        return;
    }
    // All present.
    let written = store
        .multi_assoc(
            vec![(k("a"), Value::from(1)), (k("b"), Value::from(2))],
            None,
        )
        .await
        .unwrap();
    assert_eq!(written, BTreeMap::from([(k("a"), true), (k("b"), true)]));
    let got = store.multi_get(&[k("a"), k("b")]).await.unwrap();
    assert_eq!(
        got,
        BTreeMap::from([(k("a"), Value::from(1)), (k("b"), Value::from(2))])
    );
    // Some missing: a sparse answer.
    let got = store.multi_get(&[k("a"), k("zz")]).await.unwrap();
    assert_eq!(got, BTreeMap::from([(k("a"), Value::from(1))]));
    // None present, and an empty request.
    let got = store.multi_get(&[k("x"), k("y")]).await.unwrap();
    assert!(got.is_empty());
    let got = store.multi_get(&[]).await.unwrap();
    assert!(got.is_empty());
    let written = store.multi_assoc(vec![], None).await.unwrap();
    assert!(written.is_empty());
    // Ordered batch: the later pair wins; per-key metadata.
    let meta = BTreeMap::from([(k("c"), v("{:origin :batch}"))]);
    store
        .multi_assoc(
            vec![
                (k("c"), Value::from(1)),
                (k("d"), Value::from(1)),
                (k("c"), Value::from(2)),
            ],
            Some(meta),
        )
        .await
        .unwrap();
    let got = store.get(k("c")).await.unwrap();
    assert_eq!(got, Some(Value::from(2)));
    let c_meta = store.get_meta(k("c")).await.unwrap().unwrap();
    assert_eq!(meta_field(&c_meta, "origin"), &k("batch"));
    let d_meta = store.get_meta(k("d")).await.unwrap().unwrap();
    assert!(d_meta.get(&k("origin")).is_none());
    let gone = store.multi_dissoc(&[k("a"), k("zz")]).await.unwrap();
    assert_eq!(gone, BTreeMap::from([(k("a"), true), (k("zz"), false)]));
    let exists = store.exists(k("a")).await.unwrap();
    assert!(!exists);
    let keys: Set = store.keys().await.unwrap();
    assert_eq!(keys.len(), 3);
}
