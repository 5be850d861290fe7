//! konserve's serializer 3 (boring CBOR) against the blobs Clojure wrote
//! (`tests/fixtures/konserve-clj/boring-none-none`), plus round trips and
//! hostile input for `konserve_s3::internals::codec::boring`.

use konserve_s3::hasch;
use konserve_s3::internals::codec::boring::{
    self, MAX_EXPANSION, MAX_NESTING, decode, decode_prefix, encode, encode_plain, encode_stringref,
};
use konserve_s3::internals::codec::{CodecError, SERIALIZER_BORING};
use konserve_s3::value::{Keyword, Symbol, Value};
use num_bigint::BigInt;
use serde_json::Value as Json;

#[path = "common/codec_harness.rs"]
mod codec_harness;
#[path = "common/fixture_blobs.rs"]
mod fixture_blobs;

use codec_harness::{Cuts, Every, ValueGen, random_name};
use fixture_blobs::{Blob, hex, hex_string, order_sensitive, parse};

fn blobs() -> Vec<Blob> {
    fixture_blobs::blobs("boring-none-none", SERIALIZER_BORING)
}

/// The fixture's decoded edn values (all but the binary entry).
fn fixture_values() -> Vec<(String, Value, Vec<u8>)> {
    blobs()
        .into_iter()
        .filter(|b| !b.is_binary())
        .map(|b| {
            let (v, n) = decode_prefix(&b.value).unwrap();
            (b.key().to_owned(), v, b.value[..n].to_vec())
        })
        .collect()
}

/// Standard CBOR, as an independent decoder sees it: the whole of `bytes` is
/// one well-formed data item. (ciborium's `Value` refuses unassigned simple
/// values and integers beyond 128 bits, so values holding those are not shown
/// to it.)
fn assert_standard_cbor(bytes: &[u8]) {
    if decode(bytes).is_ok_and(|v| beyond_ciborium(&v)) {
        return;
    }
    let mut reader = bytes;
    let _: ciborium::Value = ciborium::de::from_reader(&mut reader)
        .unwrap_or_else(|e| panic!("ciborium rejects {}: {e}", hex_string(bytes)));
    assert!(
        reader.is_empty(),
        "trailing bytes after {}",
        hex_string(bytes)
    );
}

fn beyond_ciborium(v: &Value) -> bool {
    match v {
        Value::BigInt(n) => n.bits() > 127,
        Value::Tagged(t, inner) => {
            (t.namespace() == Some("cbor") && t.name() == "simple") || beyond_ciborium(inner)
        }
        Value::Vector(items) | Value::List(items) => items.iter().any(beyond_ciborium),
        Value::Map(m) => m
            .iter()
            .any(|(k, v)| beyond_ciborium(k) || beyond_ciborium(v)),
        Value::Set(s) => s.iter().any(beyond_ciborium),
        _ => false,
    }
}

#[test]
fn every_fixture_entry_decodes_to_the_manifest_value() {
    let mut matched = 0;
    let all = blobs();
    for b in &all {
        let key = b.key();
        // Meta segment.
        let meta = decode(&b.meta).unwrap_or_else(|e| panic!("{key}: meta: {e}"));
        assert_eq!(meta, parse(b.field("meta_edn")), "{key}: meta");
        assert_eq!(decode_prefix(&b.meta).unwrap().1, b.meta.len(), "{key}");

        let want_hash = b.field("value_hasch_uuid");
        if b.is_binary() {
            b.assert_raw_binary();
            matched += 1;
            continue;
        }
        let (value, used) = decode_prefix(&b.value).unwrap_or_else(|e| panic!("{key}: value: {e}"));
        assert_eq!(value, parse(b.field("value_edn")), "{key}");
        assert_eq!(hasch::uuid(&value).to_string(), want_hash, "{key}");
        if b.entry["value_starts_with_stringref_tag256"] == Json::Bool(true) {
            // A boring index frame follows the value: tag 27 "boring/index".
            assert!(used < b.value.len(), "{key}");
            match decode(&b.value[used..]).unwrap() {
                Value::Tagged(sym, _) => assert_eq!(sym, Symbol::ns("boring", "index")),
                other => panic!("{key}: not an index frame: {other}"),
            }
        } else {
            assert_eq!(used, b.value.len(), "{key}");
        }
        matched += 1;
    }
    assert_eq!(matched, 26);
    assert_eq!(all.len(), 26);
}

#[test]
fn written_edn_differs_only_by_list_becoming_vector() {
    for b in blobs() {
        let written = b.field("written_edn");
        if written.is_empty() {
            continue;
        }
        let value = decode(&b.value).unwrap();
        assert_eq!(parse(written), parse("(1 2)"));
        assert_eq!(value, parse("[1 2]"), "{}", b.key());
    }
}

#[test]
fn encoder_matches_boring_bytes_where_order_allows() {
    let mut identical = Vec::new();
    for (key, value, bytes) in fixture_values() {
        let ours = encode(&value);
        // :v10 was written as a list with reader metadata (a with-meta frame).
        if !order_sensitive(&value) && key != ":v10" {
            assert_eq!(ours, bytes, "{key}: {value}");
        }
        if ours == bytes {
            identical.push(key);
        }
    }
    // Maps whose key order happens to agree, and the 3000-map :v14 (written
    // by boring inside a stringref namespace: byte-identical, references
    // included).
    for key in [":foo", ":v14", ":nested"] {
        assert!(
            identical.iter().any(|k| k == key),
            "{key} not identical: {identical:?}"
        );
    }
    // The value of :foo, spelled out.
    assert_eq!(
        encode(&parse("{:a 1, :b {:c [1 2]}}")),
        hex("a2d827623a6101d827623a62a1d827623a63820102")
    );
    // Sets: boring's bytes hold Clojure's hash order #{1 3 2}; ours sort.
    assert_eq!(decode(&hex("d9010283010302")).unwrap(), parse("#{1 2 3}"));
    assert_eq!(encode(&parse("#{1 2 3}")), hex("d9010283010203"));
    assert!(identical.len() >= 18, "{identical:?}");
}

#[test]
fn v14_stringref_layout_is_boring_s() {
    let (_, value, bytes) = fixture_values()
        .into_iter()
        .find(|(k, ..)| k == ":v14")
        .unwrap();
    assert_eq!(bytes[..3], [0xd9, 0x01, 0x00]);
    assert_eq!(encode_stringref(&value), bytes);
    assert_eq!(encode(&value), bytes);
    assert!(encode_plain(&value).len() > bytes.len());
    assert_eq!(decode(&encode_plain(&value)).unwrap(), value);
    assert_eq!(value.as_seq().unwrap().len(), 3000);
}

#[test]
fn fixture_values_reencode_and_decode_equal() {
    for (key, value, _) in fixture_values() {
        for bytes in [
            encode(&value),
            encode_plain(&value),
            encode_stringref(&value),
        ] {
            assert_eq!(decode(&bytes).unwrap(), value, "{key}");
            assert_eq!(decode_prefix(&bytes).unwrap().1, bytes.len(), "{key}");
            assert_standard_cbor(&bytes);
        }
    }
    for b in blobs() {
        let meta = decode(&b.meta).unwrap();
        assert_eq!(decode(&encode(&meta)).unwrap(), meta);
    }
}

#[test]
fn truncated_fixture_segments_are_errors() {
    let mut segments = Vec::new();
    for b in blobs() {
        segments.push((b.key().to_owned(), b.meta.clone()));
        if !b.is_binary() {
            let used = decode_prefix(&b.value).unwrap().1;
            segments.push((b.key().to_owned(), b.value[..used].to_vec()));
        }
    }
    // Every cut for small segments, a spread of cuts for :v14.
    let cuts = Cuts {
        all_up_to: 4096,
        head: 96,
        tail: 95,
        every: Every::Bytes(997),
    };
    let checked = codec_harness::assert_prefixes_truncated(decode, &segments, &cuts);
    assert!(checked > 2000, "{checked}");
}

#[test]
fn corrupted_fixture_segments_never_panic() {
    let segments = fixture_blobs::segments_below(blobs(), 4096);
    // Whatever decodes re-encodes to something that decodes equal.
    let (ok, err) = codec_harness::never_panics(decode, &segments, 20_000, 20_000, |v, input| {
        assert_eq!(decode(&encode(v)).unwrap(), *v, "{}", hex_string(input));
    });
    assert!(ok > 0 && err > 0, "{ok} {err}");
}

#[test]
fn huge_declared_lengths_are_errors_not_allocations() {
    for h in [
        "5affffffff",         // byte string of 4 GiB, 5 bytes of input
        "7affffffff",         // text of 4 GiB
        "5bffffffffffffffff", // 2^64 - 1 bytes
        "7b7fffffffffffffff",
        "9affffffff", // array of 4 G elements
        "9bffffffffffffffff",
        "baffffffff", // map of 4 G entries
        "bbffffffffffffffff",
        "d901029bffffffffffffffff", // set
        "d81b9bffffffffffffffff",   // tag 27 frame
        "d99ae1829bffffffffffffffff",
        "5f5affffffff", // chunk of an indefinite string
        "7f7affffffff",
        "c25bffffffffffffffff", // bignum magnitude
    ] {
        match decode(&hex(h)) {
            Err(CodecError::Truncated(_)) => {}
            other => panic!("{h}: {other:?}"),
        }
    }
}

#[test]
fn deep_nesting_is_refused() {
    for unit in [
        &[0x81][..],               // [[[…
        &[0x9f],                   // indefinite arrays
        &[0xa1, 0x01],             // {1 {1 …
        &[0xd9, 0x01, 0x02, 0x81], // #{#{…
        &[0xd8, 0x20],             // tag 32 over tag 32 …
        &[0xd9, 0x01, 0x00],       // nested stringref namespaces
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
    // Arrays nested to the limit, each declaring 2^64 - 1 elements.
    let greedy: Vec<u8> =
        [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff].repeat(MAX_NESTING);
    assert!(matches!(decode(&greedy), Err(CodecError::Truncated(_))));
    // Exactly MAX_NESTING levels are fine, one more is not.
    let at_limit: Vec<u8> = [0x81]
        .repeat(MAX_NESTING)
        .into_iter()
        .chain([0xf6])
        .collect();
    assert!(decode(&at_limit).is_ok());
    let over: Vec<u8> = [0x81]
        .repeat(MAX_NESTING + 1)
        .into_iter()
        .chain([0xf6])
        .collect();
    assert_eq!(decode(&over), Err(CodecError::TooDeep(MAX_NESTING)));
    // Encoding a value nested far deeper does not recurse.
    let mut deep = Value::Nil;
    for _ in 0..20_000 {
        deep = Value::vector([deep]);
    }
    let bytes = encode(&deep);
    assert_eq!(bytes.len(), 20_001);
    assert_eq!(decode(&bytes), Err(CodecError::TooDeep(MAX_NESTING)));
    // Take it apart without recursion (Value's own drop would recurse).
    while let Value::Vector(mut items) = deep {
        deep = items.pop().unwrap_or_default();
    }
}

#[test]
fn invalid_utf8_is_malformed() {
    for h in [
        "62c328",             // text
        "d82762c328",         // keyword/symbol
        "7f62c328ff",         // chunk of indefinite text
        "7f61c361a9ff",       // a character split over two chunks
        "a162c32801",         // map key
        "d81b8262616262c328", // tag-27 payload
        "63eda080",           // a surrogate
    ] {
        match decode(&hex(h)) {
            Err(CodecError::Malformed(m)) => {
                assert!(m.contains("UTF-8") || m.contains("utf-8"), "{h}: {m}")
            }
            other => panic!("{h}: {other:?}"),
        }
    }
}

#[test]
fn unknown_tags_are_kept_as_tagged_values() {
    let v = decode(&hex("d8207368747470733a2f2f6578616d706c652e636f6d")).unwrap();
    assert_eq!(
        v,
        Value::Tagged(
            Symbol::ns("cbor", "tag-32"),
            Box::new(Value::from("https://example.com"))
        )
    );
    assert_eq!(v.to_string(), "#cbor/tag-32 \"https://example.com\"");
    // Written back as the same tag.
    assert_eq!(
        encode(&v),
        hex("d8207368747470733a2f2f6578616d706c652e636f6d")
    );
    // A tag beyond u32.
    let big = decode(&hex("dbffffffffffffffff00")).unwrap();
    assert_eq!(big.to_string(), "#cbor/tag-18446744073709551615 0");
    assert_eq!(encode(&big), hex("dbffffffffffffffff00"));
    // Records (tag 27 with a class name) and boring's index frame.
    let rec = decode(&hex("d81b82696d792e6e732e526563a1d827623a7801")).unwrap();
    assert_eq!(
        rec,
        Value::Tagged(Symbol::new("my.ns.Rec"), Box::new(parse("{:x 1}")))
    );
}

#[test]
fn stringref_errors() {
    for h in [
        "d81900",                 // outside any namespace
        "d901008263616263d81901", // index 1 of a one-string table
        "d9010082626162d81900",   // "ab" is too short to be entry 0
        "d901008263616263d8191bffffffffffffffff",
        "d901008263616263d81920", // tag 25 over a negative integer
        "d901008263616263d819f6",
        "d9010082d90100636162 63d81900", // the inner namespace's table is gone
        "d9010082d827d81900 01",
    ] {
        match decode(&hex(h)) {
            Err(CodecError::Malformed(_)) => {}
            other => panic!("{h}: {other:?}"),
        }
    }
    // Expansion through references is bounded.
    let mut doc = hex("d90100 9a00010000 7a00100000");
    doc.extend(std::iter::repeat_n(b'x', 1 << 20));
    for _ in 0..(MAX_EXPANSION >> 20) + 1 {
        doc.extend_from_slice(&[0xd8, 0x19, 0x00]);
    }
    match decode(&doc) {
        Err(CodecError::Malformed(m)) => assert!(m.contains("expand"), "{m}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Round trips

/// What a value reads back as: lists become vectors (boring and Clojure do
/// the same), characters beyond the BMP become strings.
fn read_back(v: &Value) -> Value {
    match v {
        Value::Char(c) if u32::from(*c) > 0xffff => Value::String(c.to_string()),
        Value::List(items) | Value::Vector(items) => {
            Value::Vector(items.iter().map(read_back).collect())
        }
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
    let want = read_back(v);
    for bytes in [encode(v), encode_plain(v), encode_stringref(v)] {
        assert_eq!(
            decode(&bytes).as_ref(),
            Ok(&want),
            "{v} via {}",
            hex_string(&bytes)
        );
        assert_standard_cbor(&bytes);
    }
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
        Value::Int(0),
        Value::Int(i64::MAX),
        Value::Int(i64::MIN),
        Value::Int(-24),
        Value::Int(-25),
        Value::Int(256),
        Value::Int(65_536),
        Value::Int(4_294_967_296),
        Value::integer(BigInt::from(u64::MAX)),
        Value::integer(-BigInt::from(u64::MAX) - 1),
        Value::integer(BigInt::from(u64::MAX) + 1),
        Value::integer(-(BigInt::from(1) << 200usize)),
        Value::integer((BigInt::from(1) << 1000usize) + 7),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(1.5),
        Value::Float(f64::MIN_POSITIVE),
        Value::Float(5e-324),
        Value::Float(f64::MAX),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::from(""),
        Value::from("héllo ✓ 日本 🦀 \u{0} \u{7f}"),
        Value::from("x".repeat(70_000)),
        Value::Char('a'),
        Value::Char('\u{0}'),
        Value::Char('日'),
        Value::Char('🦀'),
        Value::keyword("kw"),
        Value::keyword_ns("my.ns", "kw-dash?"),
        Value::Keyword(Keyword::simple("")),
        Value::symbol("sym"),
        Value::symbol("clojure.core/+"),
        Value::Symbol(Symbol::simple("")),
        Value::Uuid(uuid::Uuid::from_u128(
            0x1111_1111_2222_3333_4444_5555_5555_5555,
        )),
        Value::Uuid(uuid::Uuid::nil()),
        Value::Inst(0),
        Value::Inst(-1),
        Value::Inst(1_704_164_645_678),
        Value::Inst(253_402_300_799_999),
        Value::Inst(253_402_300_800_001),
        Value::Inst(-62_167_219_200_001),
        Value::Inst(i64::MIN / 1000 * 1000),
        Value::Bytes(vec![]),
        Value::Bytes((0..=255).collect()),
        Value::vector(Vec::<Value>::new()),
        Value::list(Vec::<Value>::new()),
        Value::map(Vec::<(Value, Value)>::new()),
        Value::set(Vec::<Value>::new()),
        parse("[1 (2 3) {:a (4)} #{[5]} #my/tag (6)]"),
        parse(
            r#"{nil 1, true 2, 3 4, 5.5 6, "s" 7, \c 8, :k 9, sym 10, [1] 11, {:a 1} 12, #{1} 13}"#,
        ),
        parse(r#"#my.ns.Rec {:a 1}"#),
        parse("#inst \"2024-01-02T03:04:05.678-00:00\""),
        Value::Tagged(Symbol::ns("cbor", "tag-4"), Box::new(parse("[-2 999]"))),
        Value::Tagged(
            Symbol::ns("cbor", "tag-0"),
            Box::new(Value::from("not a date")),
        ),
        Value::Tagged(Symbol::ns("cbor", "simple"), Box::new(Value::Int(23))),
        Value::Tagged(Symbol::ns("cbor", "simple"), Box::new(Value::Int(255))),
        Value::Tagged(Symbol::ns("cbor", "simple"), Box::new(Value::Int(24))),
        Value::Tagged(Symbol::ns("cbor", "tag-007"), Box::new(Value::Nil)),
    ];
    values.extend(nan_payloads.map(Value::Float));
    let nested = values.clone();
    values.push(Value::Vector(nested.clone()));
    values.push(Value::Set(
        nested
            .iter()
            .filter(|v| !matches!(v, Value::List(_)))
            .cloned()
            .collect(),
    ));
    for v in &values {
        round_trip(v);
    }
    // NaN bits survive exactly.
    for nan in nan_payloads {
        match decode(&encode(&Value::Float(nan))).unwrap() {
            Value::Float(f) => assert_eq!(f.to_bits(), nan.to_bits()),
            other => panic!("{other}"),
        }
    }
    // Lists read back as vectors.
    assert_eq!(decode(&encode(&parse("(1 2)"))).unwrap(), parse("[1 2]"));
}

/// Random values: lists never in keys, whose reading back as vectors could
/// make two keys equal.
const VALUES: ValueGen = ValueGen {
    small_int: 30,
    special_floats: &[0.0, -0.0, f64::INFINITY, f64::NAN, 3.25],
    inst: |rng| match rng.u8(..3) {
        0 => rng.i64(-62_167_219_200_000..253_402_300_800_000),
        1 => rng.i64(-8_796_093_022_207_999..8_796_093_022_208_000),
        _ => rng.i64(..) / 1000 * 1000,
    },
    lists_in_keys: false,
    max_vector: 6,
    max_map: 6,
    special: special_value,
};

/// The kinds of random value boring has on its own: simple values,
/// repeated strings and keywords (for stringrefs), raw and framed tags.
fn special_value(
    values: &ValueGen,
    rng: &mut fastrand::Rng,
    kind: usize,
    depth: usize,
    key: bool,
) -> Value {
    match kind {
        12 => Value::Tagged(
            Symbol::ns("cbor", "simple"),
            Box::new(Value::Int(rng.i64(-2..300))),
        ),
        13 => {
            // The same few strings over and over, to exercise stringrefs.
            Value::from(["repeated", "abc", "user-1", "longer repeated string"][rng.usize(..4)])
        }
        14 => Value::keyword(["id", "name", "n"][rng.usize(..3)]),
        _ => {
            let tag = match rng.u8(..4) {
                0 => Symbol::ns(random_name(rng), random_name(rng)),
                1 => Symbol::simple("my.ns.Record"),
                2 => Symbol::ns(
                    "cbor",
                    format!("tag-{}", [4, 30, 32, 64, 1002, 99_999][rng.usize(..6)]),
                ),
                _ => Symbol::ns("cbor", format!("tag-{}", [0, 25, 256, 39][rng.usize(..4)])),
            };
            Value::Tagged(tag, Box::new(values.value(rng, depth - 1, key)))
        }
    }
}

fn random_value(rng: &mut fastrand::Rng, depth: usize, key: bool) -> Value {
    VALUES.value(rng, depth, key)
}

#[test]
fn random_values_round_trip() {
    let mut rng = fastrand::Rng::with_seed(0xb0_0b1e);
    let mut packed_smaller = 0;
    for i in 0..3000 {
        let v = random_value(&mut rng, 1 + i % 5, false);
        round_trip(&v);
        if encode_stringref(&v).len() < encode_plain(&v).len() {
            packed_smaller += 1;
        }
    }
    assert!(packed_smaller > 50, "{packed_smaller}");
    // Large, repetitive values pick the stringref form by themselves.
    let big = Value::Vector((0..400).map(|_| random_value(&mut rng, 2, false)).collect());
    round_trip(&big);
}

#[test]
fn reserved_frame_names_and_odd_shapes() {
    // clojure/with-meta over a list with :line/:column, as in the fixture.
    let v = decode(&hex(
        "d81b8271636c6f6a7572652f776974682d6d65746182a2d827653a6c696e651845d827673a636f6c756d6e1822820102",
    ))
    .unwrap();
    assert_eq!(v, parse("[1 2]"));
    // Characters: boring's clojure/char frame, or text beyond the BMP.
    assert_eq!(
        encode(&Value::Char('a')),
        hex("d81b826c636c6f6a7572652f636861726161")
    );
    assert_eq!(encode(&Value::Char('\u{ffff}'))[..2], [0xd8, 0x1b]);
    assert_eq!(encode(&Value::Char('🦀')), hex("64f09fa680"));
    assert_eq!(decode(&hex("64f09fa680")).unwrap(), Value::from("🦀"));
    // Boring's shaped arrays (:shapes true) read as vectors of maps.
    assert_eq!(
        decode(&hex("d99ae18282d827623a61d827623a62848201028103 82f704 80")).unwrap(),
        parse("[{:a 1 :b 2} {:a 3} {:b 4} {}]")
    );
    // Tag 1 epoch seconds.
    assert_eq!(
        decode(&hex("c11a514b67b0")).unwrap(),
        Value::Inst(1_363_896_240_000)
    );
    assert_eq!(
        decode(&hex("c1fb41d452d9ec200000")).unwrap(),
        Value::Inst(1_363_896_240_500)
    );
    // Offsets other than Z.
    let plus = decode(&hex(
        "c0781d323032342d30312d30325430343a30343a30352e3637382b30313a3030",
    ))
    .unwrap();
    assert_eq!(plus, parse("#inst \"2024-01-02T03:04:05.678-00:00\""));
    // Decoding stops after the first item.
    assert_eq!(
        boring::decode_prefix(&hex("f6f6")).unwrap(),
        (Value::Nil, 1)
    );
}
