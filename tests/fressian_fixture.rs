//! konserve's serializer 1 (Fressian) against the blobs Clojure wrote
//! (`tests/fixtures/konserve-clj/fressian-none-none`) and against bytes the
//! Java reference writer (fressian 0.6.6 with data.fressian 1.0.0 and
//! incognito's handlers, as konserve sets them up) wrote, plus round trips
//! and hostile input for `konserve_s3::internals::codec::fressian`.

use konserve_s3::hasch;
use konserve_s3::internals::codec::fressian::{MAX_NESTING, decode, decode_prefix, encode};
use konserve_s3::internals::codec::{CodecError, SERIALIZER_FRESSIAN};
use konserve_s3::value::{Keyword, Symbol, Value};
use num_bigint::BigInt;
use serde_json::Value as Json;

#[path = "common/codec_harness.rs"]
mod codec_harness;
#[path = "common/fixture_blobs.rs"]
mod fixture_blobs;

use codec_harness::{Cuts, Every, ValueGen, random_name};
use fixture_blobs::{Blob, hex, hex_string, order_sensitive, parse};

const STORE: &str = "fressian-none-none";

fn manifest() -> Json {
    fixture_blobs::manifest(STORE)
}

fn read_blob(name: &str, entry: Json) -> Blob {
    fixture_blobs::read_blob(STORE, name, SERIALIZER_FRESSIAN, entry)
}

fn blobs() -> Vec<Blob> {
    fixture_blobs::blobs(STORE, SERIALIZER_FRESSIAN)
}

/// The fixture's decoded edn values (all but the binary entry).
fn fixture_values() -> Vec<(String, Value, Vec<u8>)> {
    blobs()
        .into_iter()
        .filter(|b| !b.is_binary())
        .map(|b| {
            let v = decode(&b.value).unwrap();
            (b.key().to_owned(), v, b.value)
        })
        .collect()
}

/// Runs `f` on a thread with a 2 MiB stack (a debug build's default for
/// spawned threads, and less than the main thread has).
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

// ---------------------------------------------------------------------------
// The Clojure fixtures

#[test]
fn every_fixture_entry_decodes_to_the_manifest_value() {
    let mut matched = 0;
    let all = blobs();
    for b in &all {
        let key = b.key();
        let (meta, used) = decode_prefix(&b.meta).unwrap_or_else(|e| panic!("{key}: meta: {e}"));
        assert_eq!(meta, parse(b.field("meta_edn")), "{key}: meta");
        assert_eq!(used, b.meta.len(), "{key}: meta length");
        let want_hash = b.field("value_hasch_uuid");
        if b.is_binary() {
            // Stored raw, not serialized: only the meta is Fressian.
            b.assert_raw_binary();
        } else {
            let (value, used) =
                decode_prefix(&b.value).unwrap_or_else(|e| panic!("{key}: value: {e}"));
            assert_eq!(value, parse(b.field("value_edn")), "{key}");
            assert_eq!(used, b.value.len(), "{key}: value length");
            assert_eq!(hasch::uuid(&value).to_string(), want_hash, "{key}");
        }
        // The blob is stored under the hasch uuid of its key.
        assert_eq!(
            hasch::uuid(&parse(key)).to_string(),
            b.field("key_hasch_uuid"),
            "{key}"
        );
        matched += 1;
    }
    assert_eq!(matched, 26);
    assert_eq!(all.len(), 26);
}

#[test]
fn fressian_keeps_what_the_manifest_notes() {
    let values: Vec<(String, Value, Vec<u8>)> = fixture_values();
    let get = |k: &str| values.iter().find(|(key, ..)| key == k).unwrap().1.clone();
    // (1 2) comes back as a list (incognito's plist), not a vector.
    assert_eq!(get(":v10"), Value::list([1, 2]));
    // 2^53 + 1 stays an exact long.
    assert_eq!(get(":v4"), Value::Int(9_007_199_254_740_993));
    // #inst is a java.util.Date: INST over epoch milliseconds.
    assert_eq!(get(":v13"), Value::Inst(1_704_164_645_678));
    assert_eq!(get(":v11"), parse("#{1 2 3}"));
    assert_eq!(get(":v14").as_seq().map(<[Value]>::len), Some(3000));
}

#[test]
fn append_log_head_and_elements_follow_the_chain() {
    let manifest = manifest();
    let logs = manifest["append_logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1);
    let log = &logs[0];
    let head_key = parse(log["key_edn"].as_str().unwrap());
    let head_blob = blobs()
        .into_iter()
        .find(|b| parse(b.key()) == head_key)
        .unwrap();
    let head = decode(&head_blob.value).unwrap();
    assert_eq!(head, parse(log["head_value_edn"].as_str().unwrap()));
    let ids: Vec<Value> = log["element_ids_edn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| parse(s.as_str().unwrap()))
        .collect();
    // [:append-log last first]
    assert_eq!(
        head,
        Value::vector([
            Value::keyword("append-log"),
            ids[ids.len() - 1].clone(),
            ids[0].clone()
        ])
    );
    let elements: Vec<Value> = log["elements_edn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| parse(s.as_str().unwrap()))
        .collect();
    let names = log["element_blobs"].as_array().unwrap();
    assert_eq!(names.len(), elements.len());
    for (i, name) in names.iter().enumerate() {
        let name = name.as_str().unwrap();
        assert_eq!(
            name,
            format!("{}.ksv", hasch::uuid(&ids[i])),
            "element blobs are named by their id"
        );
        let blob = read_blob(name, Json::Null);
        let meta = decode(&blob.meta).unwrap();
        assert_eq!(meta.get(&Value::keyword("key")), Some(&head_key));
        assert_eq!(
            meta.get(&Value::keyword("type")),
            Some(&Value::keyword("append-log"))
        );
        let node = decode(&blob.value).unwrap();
        assert_eq!(node.get(&Value::keyword("elem")), Some(&elements[i]));
        let next = ids.get(i + 1).cloned().unwrap_or(Value::Nil);
        assert_eq!(node.get(&Value::keyword("next")), Some(&next));
    }
}

#[test]
fn encoder_matches_clojure_bytes_where_order_allows() {
    let mut identical = Vec::new();
    let mut values = 0;
    for (key, value, bytes) in fixture_values() {
        values += 1;
        let ours = encode(&value);
        if !order_sensitive(&value) {
            assert_eq!(hex_string(&ours), hex_string(&bytes), "{key}: {value}");
            assert_eq!(ours, bytes, "{key}");
        }
        if ours == bytes {
            identical.push(key);
        }
    }
    assert_eq!(values, 25);
    // Maps whose key order happens to be ours are identical too, caches
    // included; the 3000-map :v14 references its keyword strings 6000 times.
    for key in [":foo", ":v14", ":nested", ":updated", ":foolog", ":v12"] {
        assert!(
            identical.iter().any(|k| k == key),
            "{key} not identical: {identical:?}"
        );
    }
    // Not identical: the set #{1 2 3} (Clojure's hash order 1 3 2) and the
    // append-log nodes {:next … :elem …} (insertion order).
    assert_eq!(identical.len(), 22, "{identical:?}");
    assert_eq!(encode(&parse("#{1 2 3}")), hex("c1e7010203"));
    assert_eq!(decode(&hex("c1e7010302")).unwrap(), parse("#{1 2 3}"));

    // Metadata maps are {:key … :type … :last-write …} in Clojure's
    // insertion order; ours sort :last-write before :type. Same bytes
    // otherwise, so the same length.
    for b in blobs() {
        let meta = decode(&b.meta).unwrap();
        assert_eq!(encode(&meta).len(), b.meta.len(), "{}", b.key());
    }
    // One spelled out: the meta of :v7 in both orders.
    let clojure = hex(
        "c0ea caf7cddd6b6579 caf7cddc7637 caf7cdde74797065 caf7cddd65646e \
         caf7cde30a6c6173742d7772697465 c87ba216df8ae3",
    );
    let meta = decode(&clojure).unwrap();
    assert_eq!(
        encode(&meta),
        hex(
            "c0ea caf7cddd6b6579 caf7cddc7637 caf7cde30a6c6173742d7772697465 c87ba216df8ae3 \
             caf7cdde74797065 caf7cddd65646e"
        )
    );
}

#[test]
fn fixture_values_reencode_and_decode_equal() {
    for (key, value, _) in fixture_values() {
        let bytes = encode(&value);
        assert_eq!(decode(&bytes).unwrap(), value, "{key}");
        assert_eq!(decode_prefix(&bytes).unwrap().1, bytes.len(), "{key}");
    }
    for b in blobs() {
        let meta = decode(&b.meta).unwrap();
        assert_eq!(decode(&encode(&meta)).unwrap(), meta);
    }
}

#[test]
fn truncated_fixture_segments_are_errors() {
    let segments: Vec<_> = blobs().iter().flat_map(Blob::serialized_segments).collect();
    // Every cut for small segments, a spread of cuts for :v14.
    let cuts = Cuts {
        all_up_to: 4096,
        head: 200,
        tail: 39,
        every: Every::Bytes(997),
    };
    let checked = codec_harness::assert_prefixes_truncated(decode, &segments, &cuts);
    assert!(checked > 2000, "{checked}");
}

#[test]
fn corrupted_fixture_segments_never_panic() {
    let segments = fixture_blobs::segments_below(blobs(), 4096);
    // Whatever decodes re-encodes to something that decodes equal.
    let (ok, err) = codec_harness::never_panics(decode, &segments, 20_000, 50_000, |v, input| {
        assert_eq!(
            decode(&encode(v)).as_ref(),
            Ok(&read_back(v)),
            "{}",
            hex_string(input)
        );
    });
    assert!(ok > 1000 && err > 1000, "{ok} {err}");
}

// ---------------------------------------------------------------------------
// The spec and the Java writer

#[test]
fn spec_codes_give_exact_bytes() {
    let cases: Vec<(Value, &str)> = vec![
        // Codes.java: INT_PACKED_1 covers -1..63 in the code byte itself.
        (Value::Int(0), "00"),
        (Value::Int(1), "01"),
        (Value::Int(63), "3f"),
        (Value::Int(-1), "ff"),
        // INT_PACKED_2 (ZERO 0x50) from 64 and below -1.
        (Value::Int(64), "5040"),
        (Value::Int(-2), "4ffe"),
        (Value::Int(-64), "4fc0"),
        (Value::Int(4095), "5fff"),
        (Value::Int(-4096), "4000"),
        // INT_PACKED_3 (ZERO 0x68), _4 (0x72), _5 (0x76), _6 (0x7a), _7 (0x7e).
        (Value::Int(4096), "681000"),
        (Value::Int(-4097), "67efff"),
        (Value::Int(0x7_ffff), "6f ffff"),
        (Value::Int(0x8_0000), "72 080000"),
        (Value::Int(0x1ff_ffff), "73 ffffff"),
        (Value::Int(0x200_0000), "76 02000000"),
        (Value::Int(-0x200_0001), "75 fdffffff"),
        (Value::Int(0x2_0000_0000), "7a 0200000000"),
        (Value::Int(0x200_0000_0000), "7e 020000000000"),
        (Value::Int(0x2_0000_0000_0000), "f8 0002000000000000"),
        (Value::Int(i64::MAX), "f8 7fffffffffffffff"),
        (Value::Int(i64::MIN), "f8 8000000000000000"),
        // NULL, TRUE, FALSE, DOUBLE_0, DOUBLE_1, DOUBLE.
        (Value::Nil, "f7"),
        (Value::Bool(true), "f5"),
        (Value::Bool(false), "f6"),
        (Value::Float(0.0), "fb"),
        (Value::Float(1.0), "fc"),
        (Value::Float(3.25), "fa 400a000000000000"),
        (Value::Float(f64::NAN), "fa 7ff8000000000000"),
        // STRING_PACKED_LENGTH_START 0xda below 8 bytes, STRING 0xe3 from 8.
        (Value::from(""), "da"),
        (Value::from("text"), "de 74657874"),
        (Value::from("1234567"), "e1 31323334353637"),
        (Value::from("12345678"), "e3 08 3132333435363738"),
        // BYTES_PACKED_LENGTH_START 0xd0 below 8, BYTES 0xd9 from 8.
        (Value::Bytes(vec![]), "d0"),
        (Value::Bytes(vec![0; 7]), "d7 00000000000000"),
        (Value::Bytes(vec![0; 8]), "d9 08 0000000000000000"),
        // MAP 0xc0 and SET 0xc1 over a LIST_PACKED_LENGTH_START 0xe4 list.
        (parse("{}"), "c0 e4"),
        (parse("#{}"), "c1 e4"),
        (parse("{1 2}"), "c0 e6 01 02"),
        // KEY 0xca / SYM 0xc9: namespace (NULL or cached), name via
        // PUT_PRIORITY_CACHE 0xcd, later PRIORITY_CACHE_PACKED_START 0x80 + i.
        (Value::keyword("a"), "ca f7 cd db 61"),
        (Value::keyword_ns("ns", "a"), "ca cd dc 6e73 cd db 61"),
        (Value::symbol("sym"), "c9 f7 cd dd 73796d"),
        (parse("[:a :a]"), "efde7076656302 02 caf7cddb61 caf780"),
        // UUID 0xc3 over BYTES of 16; INST 0xc8 over the milliseconds.
        (
            Value::Uuid(uuid::Uuid::from_u128(
                0x1111_1111_2222_3333_4444_5555_5555_5555,
            )),
            "c3 d9 10 11111111222233334444555555555555",
        ),
        (Value::Inst(0), "c8 00"),
        (Value::Inst(-1), "c8 ff"),
        // BIGINT 0xc6 over BigInteger.toByteArray().
        (
            Value::integer(BigInt::from(1u128 << 64)),
            "c6 d9 09 010000000000000000",
        ),
        // STRUCTTYPE 0xef (tag, field count), then STRUCT_CACHE_PACKED_START
        // 0xa0 + i: incognito's pvec and plist, data.fressian's char.
        (Value::vector(Vec::<Value>::new()), "ef de 70766563 02 00"),
        (Value::list(Vec::<Value>::new()), "ef df 706c697374 02 00"),
        (
            parse("[[1] [2 [3]]]"),
            "efde7076656302 02 a00101 a00202 a00103",
        ),
        (Value::Char('a'), "ef de 63686172 01 5061"),
        // A list of 8 or more: LIST 0xec + count.
        (
            Value::Set((0..8).map(Value::Int).collect()),
            "c1 ec 08 0001020304050607",
        ),
    ];
    for (v, want) in cases {
        assert_eq!(hex_string(&encode(&v)), hex_string(&hex(want)), "{v}");
        assert_eq!(decode(&hex(want)).as_ref(), Ok(&v), "{v}");
    }
}

/// Bytes written by the Java reference implementation through konserve's
/// handler stack (data.fressian 1.0.0 `clojure-write-handlers` merged with
/// incognito's, fressian 0.6.6), captured from a JVM, with what they read as.
#[test]
fn java_written_bytes_decode() {
    let cases: Vec<(&str, &str, Value)> = vec![
        // defrecord Foo [a b] through incognito's irecord handler.
        (
            "incognito record",
            "efe1697265636f72640202c9f7cde30b6861726e6573732e466f6fe6caf7cddb6101e6caf7cddb62db78",
            Value::Tagged(
                Symbol::simple("harness.Foo"),
                Box::new(parse(r#"{:a 1, :b "x"}"#)),
            ),
        ),
        // The same record through data.fressian's own record handler (a
        // cached class symbol and a closed list of cached keys).
        (
            "data.fressian record",
            "efe07265636f726402cdc9f7cde30b6861726e6573732e466f6fc0edcdcaf7cddb6101cdcaf7cddb62db78fd",
            Value::Tagged(
                Symbol::simple("harness.Foo"),
                Box::new(parse(r#"{:a 1, :b "x"}"#)),
            ),
        ),
        ("int[]", "b303014ffe512c", parse("[1 -2 300]")),
        ("long[]", "b003014ffe772a05f200", parse("[1 -2 5000000000]")),
        ("float[]", "b402f93fc00000f9be800000", parse("[1.5 -0.25]")),
        (
            "double[]",
            "b103fa4004000000000000fbfc",
            parse("[2.5 0.0 1.0]"),
        ),
        ("boolean[]", "b202f5f6", parse("[true false]")),
        ("Object[]", "b50301db61caf7cddb6b", parse(r#"[1 "a" :k]"#)),
        ("java.util.ArrayList", "e60102", parse("[1 2]")),
        ("(seq [1 2 3])", "e7010203", parse("[1 2 3]")),
        ("(map inc [1 2])", "efdf706c69737402020203", parse("(2 3)")),
        ("(float 1.5)", "f93fc00000", Value::Float(1.5)),
        (
            "closed list with resetCaches inside",
            "edcaf7cddb61fecaf7cddb61fd",
            parse("[:a :a]"),
        ),
        ("open list", "ee01db78", parse(r#"[1 "x"]"#)),
        (
            "1/3",
            "efdf726174696f02c6d101c6d103",
            Value::Tagged(Symbol::ns("fressian", "ratio"), Box::new(parse("[1 3]"))),
        ),
        (
            "1.50M",
            "c7d2009602",
            Value::Tagged(Symbol::ns("fressian", "bigdec"), Box::new(parse("[150 2]"))),
        ),
        ("\\a", "efde63686172015061", Value::Char('a')),
        ("\\é", "efde636861720150e9", Value::Char('é')),
        (
            "#\"a+b\"",
            "c4dd612b62",
            Value::Tagged(
                Symbol::ns("fressian", "regex"),
                Box::new(Value::from("a+b")),
            ),
        ),
        (
            "java.net.URI",
            "c5e30d687474703a2f2f782e6f72672f",
            Value::Tagged(
                Symbol::ns("fressian", "uri"),
                Box::new(Value::from("http://x.org/")),
            ),
        ),
        ("5N", "c6d105", Value::Int(5)),
        (
            "18446744073709551616N",
            "c6d909010000000000000000",
            Value::integer(BigInt::from(1u128 << 64)),
        ),
        ("(biginteger -129)", "c6d2ff7f", Value::Int(-129)),
        ("MapEntry", "e6caf7cddb6101", parse("[:a 1]")),
        ("-0.0 (Java writes DOUBLE_0)", "fb", Value::Float(0.0)),
        (
            "(sorted-map :b 2 :a 1)",
            "c0e8caf7cddb6101caf7cddb6202",
            parse("{:a 1 :b 2}"),
        ),
        (
            "{:a 1} then a footer",
            "c0e6caf7cddb6101cfcfcfcf000000085d0708b6",
            parse("{:a 1}"),
        ),
    ];
    for (what, bytes, want) in &cases {
        let bytes = hex(bytes);
        let (got, used) = decode_prefix(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(&got, want, "{what}");
        if *what != "{:a 1} then a footer" {
            assert_eq!(used, bytes.len(), "{what}");
        }
    }
    // Where Value has the same form, our writer gives Java's bytes.
    for what in [
        "incognito record",
        "(map inc [1 2])",
        "1/3",
        "1.50M",
        "\\a",
        "\\é",
        "#\"a+b\"",
        "java.net.URI",
        "18446744073709551616N",
        "(sorted-map :b 2 :a 1)",
    ] {
        let (_, bytes, want) = cases.iter().find(|c| c.0 == what).unwrap();
        assert_eq!(hex_string(&encode(want)), hex_string(&hex(bytes)), "{what}");
    }
}

#[test]
fn footers_and_cache_resets() {
    // A footer before the object: magic, length of what preceded (0), any
    // checksum (konserve reads without checking it); the caches start afresh.
    assert_eq!(
        decode(&hex("cfcfcfcf 00000000 12345678 2a")),
        Ok(Value::Int(42))
    );
    // A footer inside a list counts the bytes since the start.
    assert_eq!(
        decode(&hex(
            "ed caf7cddb61 cfcfcfcf 00000006 00000000 caf7cddb61 fd"
        )),
        Ok(parse("[:a :a]"))
    );
    // After it, the old cache entries are gone.
    assert!(matches!(
        decode(&hex("ed caf7cddb61 cfcfcfcf 00000006 00000000 caf780 fd")),
        Err(CodecError::Malformed(_))
    ));
    for bad in ["cfcfcfce0000000000000000f7", "cfcfcfcf0000000100000000f7"] {
        assert!(
            matches!(decode(&hex(bad)), Err(CodecError::Malformed(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        decode(&hex("cfcfcf")),
        Err(CodecError::Truncated(_))
    ));
    // RESET_CACHES clears both caches.
    assert_eq!(
        decode(&hex("ed efde7076656302 00 fe efde7076656302 00 fd")),
        Ok(parse("[[] []]"))
    );
    assert!(matches!(
        decode(&hex("ed efde7076656302 00 fe a0 00 fd")),
        Err(CodecError::Malformed(_))
    ));
    // A reset while a value for the cache is being read (Java fails too).
    assert!(matches!(
        decode(&hex("cd e5 fe 01")),
        Err(CodecError::Malformed(_))
    ));
}

#[test]
fn caches_beyond_their_packed_ranges() {
    // 40 keywords: names 32 and on are referenced with GET_PRIORITY_CACHE.
    let kws: Vec<Value> = (0..40)
        .map(|i| Value::keyword(format!("k{i:02}")))
        .collect();
    let v = Value::Vector(kws.iter().chain(kws.iter()).cloned().collect());
    let bytes = encode(&v);
    let tail = hex("caf7 9f caf7 cc20 caf7 cc21");
    assert!(
        bytes.windows(tail.len()).any(|w| w == tail),
        "{}",
        hex_string(&bytes)
    );
    assert_eq!(decode(&bytes), Ok(v));
    // 20 struct tags: tags 16 and on are referenced with STRUCT 0xf0.
    let tagged: Vec<Value> = (0..20)
        .map(|i| Value::Tagged(Symbol::simple(format!("t{i:02}")), Box::new(Value::Int(i))))
        .collect();
    let v = Value::Vector(tagged.iter().chain(tagged.iter()).cloned().collect());
    let bytes = encode(&v);
    // (pvec took struct index 0, so tag t15 is index 16.)
    assert!(bytes.ends_with(&hex("f0 10 0f f0 11 10 f0 12 11 f0 13 12 f0 14 13")));
    assert_eq!(decode(&bytes), Ok(v));
}

#[test]
fn strings_and_bytes_chunk_like_java() {
    // 70 000 ASCII characters: buffer min(3n, 65536), chunks of 65 536 bytes,
    // the rest as STRING (or packed below 8 bytes).
    let s = "x".repeat(70_000);
    let bytes = encode(&Value::from(s.as_str()));
    assert_eq!(bytes[..4], hex("e2 690000")[..]);
    assert_eq!(bytes[4 + 65_536..4 + 65_536 + 4], hex("e3 681170")[..]);
    assert_eq!(bytes.len(), 4 + 65_536 + 4 + 4_464);
    assert_eq!(decode(&bytes), Ok(Value::from(s)));
    let s = "x".repeat(65_536 + 3);
    let bytes = encode(&Value::from(s.as_str()));
    assert_eq!(bytes[4 + 65_536..], hex("dd 787878")[..]);
    assert_eq!(decode(&bytes), Ok(Value::from(s)));
    // A surrogate pair split over two chunks (Java splits UTF-16 units).
    let s = format!("{}🦀z", "a".repeat(65_533));
    let bytes = encode(&Value::from(s.as_str()));
    assert_eq!(bytes[..4], hex("e2 690000")[..]);
    assert_eq!(bytes[4 + 65_532..4 + 65_536], hex("61 eda0be")[..]);
    assert_eq!(bytes[4 + 65_536..], hex("de edb680 7a")[..]);
    assert_eq!(decode(&bytes), Ok(Value::from(s)));
    // A chunk ends before a character that does not fit whole.
    let s = format!("{}🦀z", "a".repeat(65_535));
    let bytes = encode(&Value::from(s.as_str()));
    assert_eq!(bytes[..4], hex("e2 68ffff")[..]);
    assert_eq!(bytes[4 + 65_535..], hex("e1 eda0be edb680 7a")[..]);
    assert_eq!(decode(&bytes), Ok(Value::from(s)));
    // Two-byte characters that do not fill a chunk exactly.
    let s = "é".repeat(40_000);
    assert_eq!(
        decode(&encode(&Value::from(s.as_str()))),
        Ok(Value::from(s))
    );

    // Bytes: chunks of 65 535, the rest as BYTES.
    for (len, head) in [
        (7, "d7"),
        (8, "d908"),
        (65_535, "d9 68ffff"),
        (65_536, "d8 68ffff"),
    ] {
        let v = Value::Bytes((0..len).map(|i| i as u8).collect());
        let bytes = encode(&v);
        let head = hex(head);
        assert_eq!(bytes[..head.len()], head[..], "{len}");
        assert_eq!(decode(&bytes), Ok(v), "{len}");
    }
    let v = Value::Bytes(vec![9; 2 * 65_535 + 1]);
    let bytes = encode(&v);
    assert_eq!(bytes[65_535 + 4..65_535 + 8], hex("d8 68ffff")[..]);
    assert_eq!(bytes[2 * (65_535 + 4)..], hex("d9 01 09")[..]);
    assert_eq!(decode(&bytes), Ok(v));
}

// ---------------------------------------------------------------------------
// Hostile input

#[test]
fn huge_declared_lengths_are_errors_not_allocations() {
    for h in [
        "d9 f8 7fffffffffffffff", // bytes of 2^63 - 1 (beyond i32: malformed)
        "d9 76 7fffffff",         // bytes of 2^31 - 1
        "e3 76 7fffffff",         // string of 2^31 - 1
        "ec 76 7fffffff",         // list of 2^31 - 1 elements
        "d8 76 7fffffff",         // a chunk
        "e2 76 7fffffff",
        "efde7076656302 76 7fffffff",        // pvec of 2^31 - 1
        "efdf706c697374 02 76 7fffffff",     // plist
        "efe1697265636f7264 02 76 7fffffff", // irecord
        "b0 76 7fffffff",                    // long[]
        "b5 76 7fffffff",                    // Object[]
        "ef dc 7878 76 7fffffff",            // an unknown struct of 2^31 - 1 fields
    ] {
        match decode(&hex(h)) {
            Err(CodecError::Truncated(_) | CodecError::Malformed(_)) => {}
            other => panic!("{h}: {other:?}"),
        }
    }
    // Within Java's int range they are truncation.
    for h in ["d9 76 7fffffff", "e3 76 7fffffff", "ec 76 7fffffff"] {
        assert!(
            matches!(decode(&hex(h)), Err(CodecError::Truncated(_))),
            "{h}"
        );
    }
    // Beyond it (or negative), malformed, as Java's intCast refuses them.
    for h in [
        "d9 f8 7fffffffffffffff",
        "e3 4fff",
        "ec f8 8000000000000000",
    ] {
        assert!(
            matches!(decode(&hex(h)), Err(CodecError::Malformed(_))),
            "{h}"
        );
    }
}

#[test]
fn deep_nesting_is_refused_on_a_small_stack() {
    on_small_stack(|| {
        for unit in [
            &[0xe5][..],                                       // lists of one list …
            &[0xed],                                           // closed lists
            &[0xee],                                           // open lists
            &[0xcd],                                           // PUT of PUT of …
            &[0xc0, 0xe6, 0x01],                               // {1 {1 …
            &[0xc1, 0xe5],                                     // #{#{…
            &[0xca, 0xf7],                                     // a keyword named by a keyword …
            &[0xef],                                           // a struct tagged by a struct …
            &[0xef, 0xde, b'p', b'v', b'e', b'c', 0x02, 0x01], // [[[…
        ] {
            let bytes: Vec<u8> = unit
                .iter()
                .copied()
                .cycle()
                .take(unit.len() * 100_000)
                .collect();
            assert_eq!(
                decode(&bytes),
                Err(CodecError::TooDeep(MAX_NESTING)),
                "{unit:02x?}"
            );
        }
        // The pvec struct cached, then referenced: a0 01 a0 01 …
        let mut bytes = hex("efde7076656302 01");
        bytes.extend([0xa0, 0x01].repeat(100_000));
        assert_eq!(decode(&bytes), Err(CodecError::TooDeep(MAX_NESTING)));
        // Exactly MAX_NESTING levels are fine, one more is not.
        let at_limit: Vec<u8> = [0xe5]
            .repeat(MAX_NESTING)
            .into_iter()
            .chain([0xf7])
            .collect();
        assert!(decode(&at_limit).is_ok());
        let over: Vec<u8> = [0xe5]
            .repeat(MAX_NESTING + 1)
            .into_iter()
            .chain([0xf7])
            .collect();
        assert_eq!(decode(&over), Err(CodecError::TooDeep(MAX_NESTING)));
        // A deep value from the cache counts its own levels where it lands:
        // 600 levels cached, then referenced 600 levels down.
        let mut bytes = vec![0xed, 0xcd];
        bytes.extend([0xe5].repeat(600));
        bytes.push(0xf7);
        bytes.extend([0xe5].repeat(600));
        bytes.push(0x80);
        assert_eq!(decode(&bytes), Err(CodecError::TooDeep(MAX_NESTING)));
        // Encoding a value nested far deeper does not recurse.
        let mut deep = Value::Nil;
        for _ in 0..100_000 {
            deep = Value::vector([deep]);
        }
        let bytes = encode(&deep);
        assert_eq!(decode(&bytes), Err(CodecError::TooDeep(MAX_NESTING)));
        // Take it apart without recursion (Value's own drop would recurse).
        while let Value::Vector(mut items) = deep {
            deep = items.pop().unwrap_or_default();
        }
    });
}

#[test]
fn cache_references_are_checked() {
    for h in [
        "80",          // nothing cached yet
        "cc 05",       // GET beyond the cache
        "cd 80",       // a value referring to itself while being read
        "cd e6 01 80", // the same, nested
        "a0",          // no struct type yet
        "f0 03",       // STRUCT beyond the struct cache
        "cc db 61",    // an index that is no integer
        "ef 01 00",    // a struct tag that is no string
    ] {
        match decode(&hex(h)) {
            Err(CodecError::Malformed(_)) => {}
            other => panic!("{h}: {other:?}"),
        }
    }
    // A cache entry doubling in size at every level: refused once the copies
    // pass the budget, instead of growing to 2^60 strings.
    let mut bytes = vec![0xed, 0xcd, 0xe3, 0x5f, 0xff];
    bytes.extend([b'x'; 0xfff]);
    for i in 0..60usize {
        bytes.push(0xcd);
        bytes.push(0xe6);
        for _ in 0..2 {
            if i < 32 {
                bytes.push(0x80 + i as u8);
            } else {
                bytes.extend([0xcc, i as u8]);
            }
        }
    }
    bytes.push(0xfd);
    match decode(&bytes) {
        Err(CodecError::Malformed(m)) => assert!(m.contains("expand"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A long struct tag, then one-byte references to it: each copies the tag.
    let mut bytes = hex("ed ef e3 68ea60");
    bytes.extend([b't'; 60_000]);
    bytes.push(0x00);
    bytes.extend([0xa0; 20_000]);
    bytes.push(0xfd);
    match decode(&bytes) {
        Err(CodecError::Malformed(m)) => assert!(m.contains("expand"), "{m}"),
        other => panic!("{other:?}"),
    }
    // The same value cached, then referenced: its weight counts the tag.
    let mut bytes = hex("ed cd ef e3 68ea60");
    bytes.extend([b't'; 60_000]);
    bytes.push(0x00);
    bytes.extend([0x80; 20_000]);
    bytes.push(0xfd);
    match decode(&bytes) {
        Err(CodecError::Malformed(m)) => assert!(m.contains("expand"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_codes_and_misplaced_ends_are_malformed() {
    // Codes.java leaves these unassigned (or, like META, PRECACHE and ANY,
    // unread by FressianReader).
    for c in [
        0xb6u8, 0xb7, 0xb8, 0xbf, 0xc2, 0xcb, 0xce, 0xf1, 0xf2, 0xf3, 0xf4, 0xfd,
    ] {
        match decode(&[c]) {
            Err(CodecError::Malformed(m)) => {
                assert!(m.contains("code") || m.contains("END"), "{m}")
            }
            other => panic!("{c:#04x}: {other:?}"),
        }
    }
    // END_COLLECTION inside a counted list.
    assert!(matches!(
        decode(&hex("e6 01 fd")),
        Err(CodecError::Malformed(_))
    ));
    // A closed list without its end is truncated; an open list may end with
    // the input.
    assert!(matches!(
        decode(&hex("ed 01 02")),
        Err(CodecError::Truncated(_))
    ));
    assert_eq!(decode(&hex("ee 01 02")), Ok(parse("[1 2]")));
    // Chunked bytes and strings must go on with their own codes.
    assert!(matches!(
        decode(&hex("d8 01 00 d0")),
        Err(CodecError::Malformed(_))
    ));
    assert!(matches!(
        decode(&hex("e2 01 61 01")),
        Err(CodecError::Malformed(_))
    ));
    assert_eq!(decode(&hex("e2 01 61 db 62")), Ok(Value::from("ab")));
    assert_eq!(
        decode(&hex("d8 01 00 d9 01 01")),
        Ok(Value::Bytes(vec![0, 1]))
    );
}

#[test]
fn struct_fields_are_checked() {
    for h in [
        "c3 d0",                                   // uuid of 0 bytes
        "c3 d9 0f 000000000000000000000000000000", // uuid of 15
        "c3 01",                                   // uuid of an integer
        "c8 db 61",                                // inst of a string
        "c6 d0",                                   // bigint of zero bytes (BigInteger refuses)
        "c6 01",
        "ca f7 01",                                  // keyword named by an integer
        "ca 01 db 61",                               // keyword namespaced by an integer
        "c9 f7 f7",                                  // symbol without a name
        "c0 e5 01",                                  // map of an odd list
        "c0 01",                                     // map of an integer
        "c1 01",                                     // set of an integer
        "efde63686172 01 68 d800",                   // char of a surrogate
        "efde63686172 01 76 00110000",               // char beyond Unicode
        "efe1697265636f7264 02 01 c9f7cddb74 e5 01", // irecord entry not a pair
        "efe1697265636f7264 02 00 01",               // irecord tag an integer
        "b3 01 f8 0000000100000000",                 // int[] element beyond i32
        "b2 01 01",                                  // boolean[] of an integer
        "b4 01 01",                                  // float[] of an integer
        "c7 d1 01 db 61",                            // bigdec scale a string
        "efdf726174696f 02 db61 01",                 // ratio of a string
    ] {
        match decode(&hex(h)) {
            Err(CodecError::Malformed(_)) => {}
            other => panic!("{h}: {other:?}"),
        }
    }
}

#[test]
fn strings_decode_as_java_does() {
    // Java's own encoding of 🦀: two three-byte surrogates.
    assert_eq!(decode(&hex("e0 eda0be edb680")), Ok(Value::from("🦀")));
    // An overlong NUL and unchecked continuation bytes, as Fns.readUTF8Chars
    // accepts them.
    assert_eq!(decode(&hex("dc c080")), Ok(Value::from("\u{0}")));
    assert_eq!(decode(&hex("dc c3 29")), Ok(Value::from("é")));
    for h in [
        "de f09fa680",            // a four-byte sequence (Java: "Invalid UTF-8: F0")
        "db 80",                  // a continuation byte as a lead
        "db c3",                  // a sequence cut off by the end of the string
        "dd eda0be",              // an unpaired high surrogate
        "dd edb680",              // an unpaired low surrogate
        "e2 03 eda0be dd 616263", // a high surrogate followed by no low one
        "ca f7 db ff",            // inside a keyword
    ] {
        match decode(&hex(h)) {
            Err(CodecError::Malformed(_)) => {}
            other => panic!("{h}: {other:?}"),
        }
    }
}

#[test]
fn duplicates_follow_clojure() {
    // A later duplicate key wins; duplicate set elements merge.
    assert_eq!(decode(&hex("c0 e8 01 02 01 03")), Ok(parse("{1 3}")));
    assert_eq!(decode(&hex("c1 e7 01 02 01")), Ok(parse("#{1 2}")));
}

// ---------------------------------------------------------------------------
// Round trips

/// What a value reads back as: characters beyond the BMP, which a Java
/// `char` cannot hold, become strings. Everything else is kept.
fn read_back(v: &Value) -> Value {
    match v {
        Value::Char(c) if u32::from(*c) > 0xffff => Value::String(c.to_string()),
        Value::Vector(items) => Value::Vector(items.iter().map(read_back).collect()),
        Value::List(items) => Value::List(items.iter().map(read_back).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (read_back(k), read_back(v)))
                .collect(),
        ),
        Value::Set(s) => Value::Set(s.iter().map(read_back).collect()),
        Value::Tagged(t, inner) => Value::Tagged(t.clone(), Box::new(read_back(inner))),
        other => other.clone(),
    }
}

fn round_trip(v: &Value) {
    let bytes = encode(v);
    assert_eq!(
        decode_prefix(&bytes).as_ref().map(|(v, _)| v),
        Ok(&read_back(v)),
        "{v} via {}",
        hex_string(&bytes)
    );
    assert_eq!(decode_prefix(&bytes).unwrap().1, bytes.len(), "{v}");
}

#[test]
fn every_variant_round_trips() {
    let nan_payloads = [
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001),
        f64::from_bits(0xfff8_dead_beef_0000),
    ];
    let mut values = vec![
        Value::Nil,
        Value::Bool(true),
        Value::Bool(false),
        Value::Int(i64::MAX),
        Value::Int(i64::MIN),
        Value::integer(BigInt::from(u64::MAX)),
        Value::integer(-BigInt::from(u64::MAX) - 1),
        Value::integer(-(BigInt::from(1) << 200usize)),
        Value::integer((BigInt::from(1) << 1000usize) + 7),
        Value::BigInt(BigInt::from(5)), // unnormalised: reads back as Int(5), equal
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(1.0),
        Value::Float(-1.0),
        Value::Float(1.5),
        Value::Float(f64::MIN_POSITIVE),
        Value::Float(5e-324),
        Value::Float(f64::MAX),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::from(""),
        Value::from(
            "héllo ✓ 日本 🦀 \u{0} \u{7f} \u{80} \u{7ff} \u{800} \u{ffff} \u{10000} \u{10ffff}",
        ),
        Value::from("x".repeat(70_000)),
        Value::from("🦀".repeat(30_000)),
        Value::Char('a'),
        Value::Char('\u{0}'),
        Value::Char('日'),
        Value::Char('\u{ffff}'),
        Value::Char('🦀'),
        Value::keyword("kw"),
        Value::keyword_ns("my.ns", "kw-dash?"),
        Value::Keyword(Keyword::simple("")),
        Value::Keyword(Keyword::ns("", "x")),
        Value::Keyword(Keyword::simple("a/b")),
        Value::symbol("sym"),
        Value::symbol("clojure.core/+"),
        Value::Symbol(Symbol::simple("")),
        Value::Uuid(uuid::Uuid::from_u128(
            0x1111_1111_2222_3333_4444_5555_5555_5555,
        )),
        Value::Uuid(uuid::Uuid::nil()),
        Value::Uuid(uuid::Uuid::max()),
        Value::Inst(0),
        Value::Inst(-1),
        Value::Inst(-86_400_001),
        Value::Inst(-62_167_219_200_001),
        Value::Inst(1_704_164_645_678),
        Value::Inst(i64::MIN),
        Value::Inst(i64::MAX),
        Value::vector(Vec::<Value>::new()),
        Value::list(Vec::<Value>::new()),
        Value::map(Vec::<(Value, Value)>::new()),
        Value::set(Vec::<Value>::new()),
        parse("[1 (2 3) {:a (4)} #{[5]} #my/tag (6) [[[[]]]] (((())))]"),
        parse(
            r#"{nil 1, true 2, 3 4, 5.5 6, "s" 7, \c 8, :k 9, sym 10, [1] 11, {:a 1} 12, #{1} 13, (1) 14}"#,
        ),
        parse(r#"#my.ns.Rec {:a 1, :b [1 2]}"#),
        parse(r#"#my.ns.Rec {}"#),
        parse(r#"#my/tag 5"#),
        parse(r#"#my/tag [1 2]"#),
        parse(r#"#my/tag nil"#),
        parse("#inst \"2024-01-02T03:04:05.678-00:00\""),
        Value::Tagged(
            Symbol::ns("fressian", "regex"),
            Box::new(Value::from("a+b")),
        ),
        Value::Tagged(
            Symbol::ns("fressian", "uri"),
            Box::new(Value::from("urn:x")),
        ),
        Value::Tagged(
            Symbol::ns("fressian", "bigdec"),
            Box::new(parse("[-150 2]")),
        ),
        Value::Tagged(
            Symbol::ns("fressian", "bigdec"),
            Box::new(parse("[123456789012345678901234567890N -7]")),
        ),
        Value::Tagged(Symbol::ns("fressian", "ratio"), Box::new(parse("[1 3]"))),
        // Own tags with other content: written as plain structs.
        Value::Tagged(Symbol::ns("fressian", "regex"), Box::new(Value::Int(1))),
        Value::Tagged(Symbol::ns("fressian", "bigdec"), Box::new(parse("[1 2 3]"))),
        Value::Tagged(Symbol::ns("fressian", "ratio"), Box::new(parse("{:a 1}"))),
    ];
    for len in [
        0, 1, 7, 8, 9, 255, 256, 65_534, 65_535, 65_536, 65_537, 200_000,
    ] {
        values.push(Value::Bytes((0..len).map(|i| (i * 7) as u8).collect()));
    }
    for len in [0, 7, 8, 21_845, 21_846, 65_535, 65_536, 65_537, 131_073] {
        values.push(Value::String("a".repeat(len)));
        values.push(Value::String("é".repeat(len / 2)));
        values.push(Value::String("✓".repeat(len / 3)));
    }
    values.extend(nan_payloads.map(Value::Float));
    let nested = values.clone();
    values.push(Value::Vector(nested.clone()));
    values.push(Value::List(nested.clone()));
    values.push(Value::Set(
        nested
            .iter()
            .filter(|v| !matches!(v, Value::Char(c) if u32::from(*c) > 0xffff))
            .cloned()
            .collect(),
    ));
    values.push(Value::Map(
        nested
            .iter()
            .filter(|v| !matches!(v, Value::Char(c) if u32::from(*c) > 0xffff))
            .cloned()
            .zip(nested.iter().cloned())
            .collect(),
    ));
    for v in &values {
        round_trip(v);
    }
    // NaN bits and the sign of zero survive exactly.
    for f in nan_payloads.into_iter().chain([-0.0, 0.0]) {
        match decode(&encode(&Value::Float(f))).unwrap() {
            Value::Float(g) => assert_eq!(g.to_bits(), f.to_bits()),
            other => panic!("{other}"),
        }
    }
    assert_eq!(encode(&Value::Float(-0.0)), hex("fa 8000000000000000"));
    // Characters beyond the BMP are written as strings.
    assert_eq!(encode(&Value::Char('🦀')), hex("e0 eda0be edb680"));
    // Records are incognito's irecord frames.
    assert_eq!(
        encode(&parse("#my.ns.Rec {:a 1}")),
        hex("efe1697265636f7264 02 01 c9f7cde3096d792e6e732e526563 e6 caf7cddb61 01")
    );
    // Other tagged values are structs of one field, as Java writes a
    // TaggedObject.
    assert_eq!(encode(&parse("#my/tag 5")), hex("ef e0 6d792f746167 01 05"));
}

/// Random values (lists may be keys: Fressian keeps them lists).
const VALUES: ValueGen = ValueGen {
    small_int: 70,
    special_floats: &[0.0, -0.0, 1.0, f64::INFINITY, f64::NAN, 3.25],
    inst: |rng| match rng.u8(..2) {
        0 => rng.i64(-62_167_219_200_000..253_402_300_800_000),
        _ => rng.i64(..),
    },
    lists_in_keys: true,
    max_vector: 10,
    max_map: 12,
    special: special_value,
};

/// The kinds of random value Fressian has on its own: repeated strings and
/// keywords (for the caches), records and the tagged forms of its structs.
fn special_value(
    values: &ValueGen,
    rng: &mut fastrand::Rng,
    kind: usize,
    depth: usize,
    key: bool,
) -> Value {
    match kind {
        12 => Value::from(["repeated", "abc", "user-1"][rng.usize(..3)]),
        13 => Value::keyword(["id", "name", "n"][rng.usize(..3)]),
        14 => Value::Vector(Vec::new()),
        _ => match rng.u8(..6) {
            0 => Value::Tagged(
                Symbol::simple(format!("my_ns.core.Rec{}", rng.u8(..20))),
                Box::new(Value::Map(
                    (0..rng.usize(..4))
                        .map(|_| {
                            (
                                Value::keyword(random_name(rng)),
                                values.value(rng, depth - 1, key),
                            )
                        })
                        .collect(),
                )),
            ),
            1 => Value::Tagged(
                Symbol::ns(random_name(rng), random_name(rng)),
                Box::new(values.value(rng, depth - 1, key)),
            ),
            2 => Value::Tagged(
                Symbol::ns("fressian", "regex"),
                Box::new(Value::from(random_name(rng))),
            ),
            3 => Value::Tagged(
                Symbol::ns("fressian", "uri"),
                Box::new(Value::from(random_name(rng))),
            ),
            4 => Value::Tagged(
                Symbol::ns("fressian", "bigdec"),
                Box::new(Value::vector([
                    values.value(rng, 0, true),
                    Value::Int(rng.i64(-20..20)),
                ])),
            ),
            _ => Value::Tagged(
                Symbol::ns("fressian", "ratio"),
                Box::new(Value::vector([
                    Value::Int(rng.i64(..)),
                    Value::integer(BigInt::from(rng.u64(1..)) << rng.usize(..80)),
                ])),
            ),
        },
    }
}

fn random_value(rng: &mut fastrand::Rng, depth: usize, key: bool) -> Value {
    VALUES.value(rng, depth, key)
}

#[test]
fn random_values_round_trip() {
    let mut rng = fastrand::Rng::with_seed(0x0f7e_55a1);
    for i in 0..4000 {
        let v = random_value(&mut rng, 1 + i % 5, false);
        round_trip(&v);
    }
    // Large values: the caches grow past their packed ranges.
    let big = Value::Vector(
        (0..2000)
            .map(|_| random_value(&mut rng, 2, false))
            .collect(),
    );
    round_trip(&big);
}
