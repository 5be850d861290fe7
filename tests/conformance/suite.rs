//! konserve's compliance properties, written once in async style and
//! compiled for each mode by `mod.rs` (as the library's engine is).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use konserve_s3::Error;
use konserve_s3::value::{Set, Value};

suite_imports!();

fn k(name: &str) -> Value {
    Value::keyword(name)
}

fn v(edn: &str) -> Value {
    edn.parse().unwrap()
}

fn meta_field<'a>(meta: &'a Value, field: &str) -> &'a Value {
    meta.get(&k(field))
        .unwrap_or_else(|| panic!("{meta} has no :{field}"))
}

suite_mode! {
pub async fn fresh_key_is_absent<B: Backing>(store: &Store<B>) {
    assert!(!aw!(store.exists("foo")).unwrap());
    assert_eq!(aw!(store.get("foo")).unwrap(), None);
    assert_eq!(aw!(store.get_meta("foo")).unwrap(), None);
    assert_eq!(aw!(store.get_in(&[v("\"foo\""), k("a")])).unwrap(), None);
    assert!(aw!(store.bget("foo")).unwrap().is_none());
    assert!(aw!(store.keys()).unwrap().is_empty());
}

pub async fn assoc_then_exists_and_get<B: Backing>(store: &Store<B>) {
    aw!(store.assoc("foo", v("{:bar 42}"))).unwrap();
    assert!(aw!(store.exists("foo")).unwrap());
    assert_eq!(aw!(store.get("foo")).unwrap(), Some(v("{:bar 42}")));
    // Keys keep their EDN type: "foo", :foo and 'foo are different keys.
    assert!(!aw!(store.exists(k("foo"))).unwrap());
    assert!(!aw!(store.exists(Value::symbol("foo"))).unwrap());
    // A stored nil is not a missing key.
    aw!(store.assoc(k("nothing"), Value::Nil)).unwrap();
    assert_eq!(aw!(store.get(k("nothing"))).unwrap(), Some(Value::Nil));
    assert!(aw!(store.exists(k("nothing"))).unwrap());
    let meta = aw!(store.get_meta("foo")).unwrap().unwrap();
    assert_eq!(meta_field(&meta, "key"), &Value::from("foo"));
    assert_eq!(meta_field(&meta, "type"), &k("edn"));
    assert!(meta_field(&meta, "last-write").as_inst().is_some());
}

pub async fn assoc_in_with_one_element_path_overwrites<B: Backing>(store: &Store<B>) {
    aw!(store.assoc(k("baz"), v("{:bar 42, :keep 1}"))).unwrap();
    let (old, new) = aw!(store.assoc_in(&[k("baz")], v("{:bar 43}"))).unwrap();
    assert_eq!(old, None);
    assert_eq!(new, v("{:bar 43}"));
    assert_eq!(aw!(store.get(k("baz"))).unwrap(), Some(v("{:bar 43}")));
}

pub async fn get_in_default_on_missing_key<B: Backing>(store: &Store<B>) {
    assert_eq!(
        aw!(store
            .get_in_or(&[k("missing"), k("x")], k("default")))
            .unwrap(),
        k("default")
    );
    aw!(store.assoc(k("present"), v("{:x nil}"))).unwrap();
    // A stored nil at the path is nil, not the default.
    assert_eq!(
        aw!(store
            .get_in_or(&[k("present"), k("x")], k("default")))
            .unwrap(),
        Value::Nil
    );
    assert_eq!(
        aw!(store
            .get_in_or(&[k("present"), k("y")], k("default")))
            .unwrap(),
        k("default")
    );
    assert_eq!(aw!(store.get_in(&[k("present")])).unwrap(), Some(v("{:x nil}")));
}

pub async fn update_in_on_a_top_level_key<B: Backing>(store: &Store<B>) {
    aw!(store.assoc(k("counter"), 41)).unwrap();
    let (old, new) = aw!(store
        .update_in(&[k("counter")], |n| {
            Value::from(n.unwrap().as_i64().unwrap() + 1)
        }))
        .unwrap();
    assert_eq!((old, new), (Some(Value::from(41)), Value::from(42)));
    // On a missing key the function sees None.
    let (old, new) = aw!(store
        .update(k("fresh"), |n| {
            assert!(n.is_none());
            Value::from(1)
        }))
        .unwrap();
    assert_eq!((old, new), (None, Value::from(1)));
    assert_eq!(aw!(store.get(k("fresh"))).unwrap(), Some(Value::from(1)));
}

pub async fn nested_assoc_in_updates_inside_the_map<B: Backing>(store: &Store<B>) {
    // konserve bug #120: a nested assoc-in must change only the addressed
    // entry, keeping its siblings.
    aw!(store
        .assoc(
            k("user"),
            v("{:name \"Ada\", :prefs {:theme :dark, :lang :en}}"),
        ))
        .unwrap();
    let (old, new) = aw!(store
        .assoc_in(&[k("user"), k("prefs"), k("theme")], k("light")))
        .unwrap();
    assert_eq!(
        old,
        Some(v("{:name \"Ada\", :prefs {:theme :dark, :lang :en}}"))
    );
    assert_eq!(new, v("{:name \"Ada\", :prefs {:theme :light, :lang :en}}"));
    assert_eq!(aw!(store.get(k("user"))).unwrap(), Some(new));
    // On a missing key it builds the maps.
    let (old, new) = aw!(store
        .assoc_in(&[k("nested"), k("a"), k("b")], Value::from(5)))
        .unwrap();
    assert_eq!((old, new), (None, v("{:a {:b 5}}")));
    aw!(store
        .assoc_in(&[k("nested"), k("a"), k("c")], Value::from("x")))
        .unwrap();
    assert_eq!(
        aw!(store.get(k("nested"))).unwrap(),
        Some(v("{:a {:b 5, :c \"x\"}}"))
    );
    // Into a scalar it cannot go: a typed error, nothing written.
    aw!(store.assoc(k("scalar"), 7)).unwrap();
    let err = aw!(store
        .assoc_in(&[k("scalar"), k("x")], Value::from(1)))
        .unwrap_err();
    assert!(matches!(err, Error::Path(_)), "{err}");
    assert_eq!(aw!(store.get(k("scalar"))).unwrap(), Some(Value::from(7)));
}

pub async fn nested_update_in<B: Backing>(store: &Store<B>) {
    aw!(store.assoc(k("baz"), v("{:bar 42}"))).unwrap();
    let inc = |by: i64| move |n: Option<Value>| Value::from(n.unwrap().as_i64().unwrap() + by);
    let (old, new) = aw!(store.update_in(&[k("baz"), k("bar")], inc(1))).unwrap();
    // Old and new *top-level* values, as konserve returns them.
    assert_eq!((old, new), (Some(v("{:bar 42}")), v("{:bar 43}")));
    let (_, new) = aw!(store.update_in(&[k("baz"), k("bar")], inc(5))).unwrap();
    assert_eq!(new, v("{:bar 48}"));
    assert_eq!(
        aw!(store.get_in(&[k("baz"), k("bar")])).unwrap(),
        Some(Value::from(48))
    );
}

pub async fn dissoc_reports_existence<B: Backing>(store: &Store<B>) {
    aw!(store.assoc("foo", 1)).unwrap();
    assert!(aw!(store.dissoc("foo")).unwrap());
    assert!(!aw!(store.dissoc("foo")).unwrap());
    assert_eq!(aw!(store.get("foo")).unwrap(), None);
    assert!(!aw!(store.exists("foo")).unwrap());
    aw!(store.assoc("bar", 1)).unwrap();
    assert!(
        aw!(store
            .dissoc_with("bar", DissocOptions::ignore_existence()))
            .unwrap()
    );
    assert!(!aw!(store.exists("bar")).unwrap());
    // ignore_existence says true without looking.
    assert!(
        aw!(store
            .dissoc_with("bar", DissocOptions::ignore_existence()))
            .unwrap()
    );
}

pub async fn binary_values<B: Backing>(store: &Store<B>) {
    let bytes: Vec<u8> = (0..10).collect();
    aw!(store.bassoc(k("binbar"), bytes.clone())).unwrap();
    let got = aw!(store.bget(k("binbar"))).unwrap().unwrap();
    assert_eq!(got.size, 10);
    let mut read = Vec::new();
    aw!({ got }.reader.read_to_end(&mut read)).unwrap();
    assert_eq!(read, bytes);
    let meta = aw!(store.get_meta(k("binbar"))).unwrap().unwrap();
    assert_eq!(meta_field(&meta, "type"), &k("binary"));
    // From a reader, and larger than one read buffer.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    aw!(store.bassoc_reader(k("stream"), &mut &big[..])).unwrap();
    let got = aw!(store.bget(k("stream"))).unwrap().unwrap();
    assert_eq!(got.size, big.len() as u64);
    let mut read = Vec::new();
    aw!({ got }.reader.read_to_end(&mut read)).unwrap();
    assert!(read == big, "streamed binary value differs");
    // An empty binary value.
    aw!(store.bassoc(k("empty"), Vec::new())).unwrap();
    let got = aw!(store.bget(k("empty"))).unwrap().unwrap();
    assert_eq!(got.size, 0);
    // get of a binary key gives its bytes.
    assert_eq!(aw!(store.get(k("binbar"))).unwrap(), Some(Value::Bytes(bytes)));
}

pub async fn keys_returns_exactly_the_metadata<B: Backing>(store: &Store<B>) {
    aw!(store.assoc(k("a"), 1)).unwrap();
    aw!(store.assoc("b", 2)).unwrap();
    aw!(store
        .assoc_with_meta(42, 3, v("{:immutable? true}")))
        .unwrap();
    aw!(store.bassoc(v("[1 2 3]"), vec![1, 2, 3])).unwrap();
    let (_, e1) = aw!(store.append(k("log"), Value::from("e1"))).unwrap();
    let (_, e2) = aw!(store.append(k("log"), Value::from("e2"))).unwrap();
    aw!(store.dissoc(k("a"))).unwrap();
    let keys = aw!(store.keys()).unwrap();
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
        expected.insert(aw!(store.get_meta(key.clone())).unwrap().unwrap());
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
        let meta = aw!(store.get_meta(Value::Uuid(element))).unwrap().unwrap();
        assert_eq!(meta_field(&meta, "key"), &k("log"));
    }
    let with_extra = aw!(store.get_meta(42)).unwrap().unwrap();
    assert_eq!(meta_field(&with_extra, "immutable?"), &Value::from(true));
}

pub async fn append_log_in_order<B: Backing>(store: &Store<B>) {
    let (first, id1) = aw!(store
        .append(k("foolog"), v("{:event \"first\" :n 1}")))
        .unwrap();
    assert_eq!(first, None);
    let (first, id2) = aw!(store
        .append(k("foolog"), v("{:event \"second\" :n 2}")))
        .unwrap();
    assert_eq!(first, Some(id1));
    assert_ne!(id1, id2);
    aw!(store.append(k("foolog"), Value::from(3))).unwrap();
    assert_eq!(
        aw!(store.log(k("foolog"))).unwrap().unwrap(),
        vec![
            v("{:event \"first\" :n 1}"),
            v("{:event \"second\" :n 2}"),
            Value::from(3)
        ]
    );
    let count = aw!(store.reduce_log(k("foolog"), 0, |acc, _| acc + 1)).unwrap();
    assert_eq!(count, 3);
    assert_eq!(aw!(store.log(k("nolog"))).unwrap(), None);
    assert_eq!(
        aw!(store.reduce_log(k("nolog"), 7, |acc, _| acc + 1)).unwrap(),
        7
    );
    // The head is konserve's [:append-log last first].
    let head = aw!(store.get(k("foolog"))).unwrap().unwrap();
    let items = head.as_seq().unwrap();
    assert_eq!(items[0], k("append-log"));
    assert_eq!(items[2], Value::Uuid(id1));
    // Appending to a key that is no log is refused and changes nothing.
    aw!(store.assoc(k("plain"), 1)).unwrap();
    let err = aw!(store.append(k("plain"), Value::from(2))).unwrap_err();
    assert!(matches!(err, Error::NotAnAppendLog { .. }), "{err}");
    assert!(matches!(
        aw!(store.log(k("plain"))).unwrap_err(),
        Error::NotAnAppendLog { .. }
    ));
    assert_eq!(aw!(store.get(k("plain"))).unwrap(), Some(Value::from(1)));
}

pub async fn get_meta_of_a_log<B: Backing>(store: &Store<B>) {
    aw!(store.append(k("log"), Value::from(1))).unwrap();
    let meta = aw!(store.get_meta(k("log"))).unwrap().unwrap();
    assert_eq!(meta_field(&meta, "key"), &k("log"));
    assert_eq!(meta_field(&meta, "type"), &k("append-log"));
}

pub async fn write_hooks<B: Backing>(store: &Store<B>) {
    let events: Arc<Mutex<Vec<WriteEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    store.add_write_hook("test", move |e| sink.lock().unwrap().push(e.clone()));
    store.add_write_hook("panics", |_| panic!("a broken hook"));
    aw!(store.assoc_in(&[k("a")], Value::from(1))).unwrap();
    aw!(store.assoc_in(&[k("m"), k("x")], Value::from(1))).unwrap();
    aw!(store
        .update_in(&[k("m"), k("x")], |n| {
            Value::from(n.unwrap().as_i64().unwrap() + 1)
        }))
        .unwrap();
    aw!(store.dissoc(k("a"))).unwrap();
    aw!(store.dissoc(k("never-there"))).unwrap();
    aw!(store.bassoc(k("bin"), vec![1u8, 2])).unwrap();
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
    assert!(store.remove_write_hook("test"));
    assert!(!store.remove_write_hook("test"));
    aw!(store.assoc(k("after"), 1)).unwrap();
    assert_eq!(events.lock().unwrap().len(), 5);
}

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
    aw!(store.assoc_as("ada", &ada)).unwrap();
    assert_eq!(aw!(store.get_as::<User>("ada")).unwrap(), Some(ada.clone()));
    // Stored with keyword keys, as Clojure code expects.
    assert_eq!(
        aw!(store.get_in(&[Value::from("ada"), k("name")])).unwrap(),
        Some(Value::from("Ada"))
    );
    let (old, new) = aw!(store
        .update_as("ada", |u: Option<User>| {
            let mut u = u.unwrap();
            u.visits += 1;
            u
        }))
        .unwrap();
    assert_eq!(old.unwrap().visits, 1);
    assert_eq!(new.visits, 2);
    assert_eq!(
        aw!(store
            .get_in_as::<u32>(&[Value::from("ada"), k("visits")]))
            .unwrap(),
        Some(2)
    );
    let err = aw!(store.get_as::<u32>("ada")).unwrap_err();
    assert!(matches!(err, Error::Value(_)), "{err}");
    // A failed conversion writes nothing.
    assert!(
        aw!(store
            .update_as("ada", |n: Option<u32>| n.unwrap_or(0)))
            .is_err()
    );
    assert_eq!(aw!(store.get_as::<User>("ada")).unwrap().unwrap().visits, 2);
}

pub async fn concurrent_updates_in_one_process_lose_nothing<B: Backing>(store: &Store<B>) {
    let work = || async {
        for _ in 0..10 {
            aw!(store
                .update(k("n"), |n| {
                    Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
                }))
                .unwrap();
        }
    };
    aw!(concurrently(4, work));
    assert_eq!(aw!(store.get(k("n"))).unwrap(), Some(Value::from(40)));
    assert_eq!(store.locked_keys(), 0, "idle locks are reclaimed");
}

pub async fn multi_key_operations<B: Backing>(store: &Store<B>) {
    if !store.backing().supports_multi_key() {
        for err in [
            aw!(store.multi_get(&[k("a")])).unwrap_err(),
            aw!(store
                .multi_assoc(vec![(k("a"), Value::from(1))], None))
                .unwrap_err(),
            aw!(store.multi_dissoc(&[k("a")])).unwrap_err(),
        ] {
            assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        }
        assert!(
            !aw!(store.exists(k("a"))).unwrap(),
            "a refused multi-assoc wrote nothing"
        );
        return;
    }
    // All present.
    let written = aw!(store
        .multi_assoc(
            vec![(k("a"), Value::from(1)), (k("b"), Value::from(2))],
            None,
        ))
        .unwrap();
    assert_eq!(written, BTreeMap::from([(k("a"), true), (k("b"), true)]));
    let got = aw!(store.multi_get(&[k("a"), k("b")])).unwrap();
    assert_eq!(
        got,
        BTreeMap::from([(k("a"), Value::from(1)), (k("b"), Value::from(2))])
    );
    // Some missing: a sparse answer.
    let got = aw!(store.multi_get(&[k("a"), k("zz")])).unwrap();
    assert_eq!(got, BTreeMap::from([(k("a"), Value::from(1))]));
    // None present, and an empty request.
    assert!(aw!(store.multi_get(&[k("x"), k("y")])).unwrap().is_empty());
    assert!(aw!(store.multi_get(&[])).unwrap().is_empty());
    assert!(aw!(store.multi_assoc(vec![], None)).unwrap().is_empty());
    // Ordered batch: the later pair wins; per-key metadata.
    let meta = BTreeMap::from([(k("c"), v("{:origin :batch}"))]);
    aw!(store
        .multi_assoc(
            vec![
                (k("c"), Value::from(1)),
                (k("d"), Value::from(1)),
                (k("c"), Value::from(2)),
            ],
            Some(meta),
        ))
        .unwrap();
    assert_eq!(aw!(store.get(k("c"))).unwrap(), Some(Value::from(2)));
    let c_meta = aw!(store.get_meta(k("c"))).unwrap().unwrap();
    assert_eq!(meta_field(&c_meta, "origin"), &k("batch"));
    let d_meta = aw!(store.get_meta(k("d"))).unwrap().unwrap();
    assert!(d_meta.get(&k("origin")).is_none());
    let gone = aw!(store.multi_dissoc(&[k("a"), k("zz")])).unwrap();
    assert_eq!(gone, BTreeMap::from([(k("a"), true), (k("zz"), false)]));
    assert!(!aw!(store.exists(k("a"))).unwrap());
    let keys: Set = aw!(store.keys()).unwrap();
    assert_eq!(keys.len(), 3);
}
}
