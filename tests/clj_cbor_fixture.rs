//! konserve's legacy serializer 2 (clj-cbor) against the blobs Clojure wrote
//! (`tests/fixtures/konserve-clj/cbor-none-none`), plus clj-cbor's mapping
//! and hostile input for `konserve_s3::internals::codec::clj_cbor`.

use konserve_s3::hasch;
use konserve_s3::internals::codec::clj_cbor::{MAX_NESTING, decode};
use konserve_s3::internals::codec::{CodecError, SERIALIZER_CLJ_CBOR, boring};
use konserve_s3::value::{Symbol, Value};
use num_bigint::BigInt;

#[path = "common/codec_harness.rs"]
mod codec_harness;
#[path = "common/fixture_blobs.rs"]
mod fixture_blobs;

use codec_harness::{Cuts, Every};
use fixture_blobs::{Blob, hex, parse};

const STORE: &str = "cbor-none-none";

fn blobs() -> Vec<Blob> {
    fixture_blobs::blobs(STORE, SERIALIZER_CLJ_CBOR)
}

fn tagged(tag: u64, content: Value) -> Value {
    Value::Tagged(Symbol::ns("cbor", format!("tag-{tag}")), Box::new(content))
}

fn simple(n: i64) -> Value {
    Value::Tagged(Symbol::ns("cbor", "simple"), Box::new(Value::Int(n)))
}

fn malformed(bytes: &[u8]) -> bool {
    matches!(decode(bytes), Err(CodecError::Malformed(_)))
}

#[test]
fn every_fixture_entry_decodes_to_the_manifest_value() {
    let all = blobs();
    assert_eq!(all.len(), 26);
    let mut edn = 0;
    for b in &all {
        let key = b.key();
        let meta = decode(&b.meta).unwrap_or_else(|e| panic!("{key}: meta: {e}"));
        assert_eq!(meta, parse(b.field("meta_edn")), "{key}: meta");
        assert!(
            matches!(
                meta.get(&Value::keyword("last-write")),
                Some(Value::Inst(_))
            ),
            "{key}: :last-write is an instant"
        );

        let want_hash = b.field("value_hasch_uuid");
        if b.is_binary() {
            // Binary values are stored raw, not serialized.
            b.assert_raw_binary();
            continue;
        }
        let value = decode(&b.value).unwrap_or_else(|e| panic!("{key}: value: {e}"));
        assert_eq!(value, parse(b.field("value_edn")), "{key}");
        assert_eq!(hasch::uuid(&value).to_string(), want_hash, "{key}");
        edn += 1;
    }
    assert_eq!(edn, 25);
}

#[test]
fn the_fixture_uses_clj_cbors_tags() {
    let all = blobs();
    let by_key = |k: &str| all.iter().find(|b| b.key() == k).unwrap();
    // Sets: tag 258. Instants: tag 1 over a double. UUIDs: tag 37.
    assert_eq!(by_key(":v11").value[..3], [0xd9, 0x01, 0x02]);
    assert_eq!(by_key(":v13").value[..2], [0xc1, 0xfb]);
    assert_eq!(
        decode(&by_key(":v13").value).unwrap(),
        Value::Inst(1_704_164_645_678)
    );
    assert_eq!(by_key(":v4").value[0], 0x1b);
    assert_eq!(
        decode(&by_key(":v4").value).unwrap(),
        Value::Int(9_007_199_254_740_993)
    );
    let id = by_key("#uuid \"11111111-2222-3333-4444-555555555555\"");
    assert_eq!(id.value[..3], [0xd8, 0x25, 0x50]);
    // A list was written; clj-cbor gives back a vector.
    assert_eq!(by_key(":v10").field("written_edn"), "(1 2)");
    assert_eq!(decode(&by_key(":v10").value).unwrap(), parse("[1 2]"));
}

#[test]
fn append_log_blobs_decode() {
    let manifest = fixture_blobs::manifest(STORE);
    let all = blobs();
    for log in manifest["append_logs"].as_array().unwrap() {
        let elements: Vec<Value> = log["elements_edn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| parse(e.as_str().unwrap()))
            .collect();
        let blob_of = |name: &str| all.iter().find(|b| b.field("blob") == name).unwrap();
        for (name, want) in log["element_blobs"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&elements)
        {
            let v = decode(&blob_of(name.as_str().unwrap()).value).unwrap();
            assert_eq!(v.get(&Value::keyword("elem")), Some(want));
        }
        let head = all
            .iter()
            .find(|b| b.key() == log["key_edn"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            decode(&head.value).unwrap(),
            parse(log["head_value_edn"].as_str().unwrap())
        );
    }
}

/// Every strict prefix of a segment is an error (CBOR items are
/// self-delimiting). Every offset of every segment; the one large value
/// (`:v14`, 80 KiB) at every offset of its first 4 KiB and last 64 bytes
/// and at 100 offsets in between, to keep the test quick in debug builds.
#[test]
fn truncation_at_every_offset_is_an_error() {
    let segments: Vec<_> = blobs().iter().flat_map(Blob::serialized_segments).collect();
    let cuts = Cuts {
        all_up_to: 8192,
        head: 4096,
        tail: 64,
        every: Every::Hundredth,
    };
    let checked = codec_harness::assert_prefixes_truncated(decode, &segments, &cuts);
    assert!(checked > 3000, "{checked}");
    // Trailing bytes after the item are ignored, as clj-cbor does.
    for (_, seg) in &segments {
        let mut longer = seg.clone();
        longer.extend_from_slice(&[0xff, 0x00]);
        assert_eq!(decode(&longer).unwrap(), decode(seg).unwrap());
    }
}

#[test]
fn integers_and_bignums() {
    assert_eq!(decode(&[0x17]).unwrap(), Value::Int(23));
    assert_eq!(decode(&[0x38, 0xff]).unwrap(), Value::Int(-256));
    assert_eq!(
        decode(&[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(),
        Value::integer(BigInt::from(u64::MAX))
    );
    assert_eq!(
        decode(&[0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(),
        Value::Int(i64::MIN)
    );
    assert_eq!(
        decode(&[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(),
        Value::integer(-BigInt::from(u64::MAX) - 1)
    );
    // Tags 2 and 3 carry two's-complement bytes (java.math.BigInteger).
    assert_eq!(decode(&[0xc2, 0x41, 0x80]).unwrap(), Value::Int(-128));
    assert_eq!(decode(&[0xc2, 0x42, 0x00, 0x80]).unwrap(), Value::Int(128));
    assert_eq!(decode(&[0xc3, 0x41, 0x05]).unwrap(), Value::Int(-6));
    let mut big = vec![0xc2, 0x49, 0x01];
    big.extend_from_slice(&[0; 8]);
    assert_eq!(
        decode(&big).unwrap(),
        Value::integer(BigInt::from(1u128 << 64))
    );
    assert!(malformed(&[0xc2, 0x40]), "zero-length BigInteger");
    assert!(malformed(&[0xc2, 0x01]));
    // No indefinite-length integers, no reserved widths.
    assert!(malformed(&[0x1f]));
    assert!(malformed(&[0x1c]));
    assert!(malformed(&[0x3e]));
}

#[test]
fn floats_and_simple_values() {
    assert_eq!(decode(&[0xf9, 0x3e, 0x00]).unwrap(), Value::Float(1.5));
    assert_eq!(
        decode(&[0xfa, 0x40, 0x50, 0x00, 0x00]).unwrap(),
        Value::Float(3.25)
    );
    assert_eq!(
        decode(&[0xfb, 0x40, 0x0a, 0, 0, 0, 0, 0, 0]).unwrap(),
        Value::Float(3.25)
    );
    assert_eq!(decode(&[0xf4]).unwrap(), Value::Bool(false));
    assert_eq!(decode(&[0xf5]).unwrap(), Value::Bool(true));
    assert_eq!(decode(&[0xf6]).unwrap(), Value::Nil);
    assert_eq!(decode(&[0xf7]).unwrap(), simple(23));
    assert_eq!(decode(&[0xe5]).unwrap(), simple(5));
    // clj-cbor takes any byte after f8, even below 32.
    assert_eq!(decode(&[0xf8, 0x14]).unwrap(), simple(20));
    assert_eq!(decode(&[0xf8, 0xff]).unwrap(), simple(255));
    for reserved in [0xfc, 0xfd, 0xfe, 0xff] {
        assert!(malformed(&[reserved]), "{reserved:#x}");
    }
}

#[test]
fn strings_and_bytes() {
    assert_eq!(decode(b"\x63abc").unwrap(), Value::from("abc"));
    assert_eq!(decode(b"\x43abc").unwrap(), Value::Bytes(b"abc".to_vec()));
    assert_eq!(
        decode(b"\x7f\x62ab\x61c\xff").unwrap(),
        Value::from("abc"),
        "indefinite text"
    );
    assert_eq!(
        decode(b"\x5f\x41a\x40\x42bc\xff").unwrap(),
        Value::Bytes(b"abc".to_vec())
    );
    // Java's new String(bytes, "UTF-8") replaces invalid sequences.
    assert_eq!(decode(b"\x63a\xffb").unwrap(), Value::from("a\u{fffd}b"));
    // Chunks of another type, or indefinite chunks, are refused.
    assert!(malformed(b"\x7f\x41a\xff"));
    assert!(malformed(b"\x5f\x5f\xff\xff"));
    // A declared length beyond the input is truncation, not an allocation.
    for head in [0x5b, 0x7b, 0x9b, 0xbb] {
        let bytes = [head, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert!(
            matches!(decode(&bytes), Err(CodecError::Truncated(_))),
            "{head:#x}"
        );
    }
}

#[test]
fn collections() {
    assert_eq!(decode(&[0x80]).unwrap(), Value::Vector(vec![]));
    assert_eq!(decode(&[0x9f, 0x01, 0x02, 0xff]).unwrap(), parse("[1 2]"));
    assert_eq!(decode(&[0xa0]).unwrap(), parse("{}"));
    assert_eq!(
        decode(&[0xbf, 0x01, 0x02, 0x03, 0x04, 0xff]).unwrap(),
        parse("{1 2, 3 4}")
    );
    // Duplicate map keys are an error, in both kinds of maps.
    assert!(malformed(&[0xa2, 0x01, 0x02, 0x01, 0x03]));
    assert!(malformed(&[0xbf, 0x01, 0x02, 0x01, 0x03, 0xff]));
    // A key without a value.
    assert!(malformed(&[0xbf, 0x01, 0xff]));
    // A break outside an indefinite item.
    assert!(malformed(&[0x82, 0x01, 0xff]));
    // Sets: tag 258 over an array; duplicates collapse (clj-cbor is not strict).
    assert_eq!(
        decode(&[0xd9, 0x01, 0x02, 0x83, 0x01, 0x02, 0x01]).unwrap(),
        parse("#{1 2}")
    );
    assert_eq!(decode(&[0xd9, 0x01, 0x02, 0x80]).unwrap(), parse("#{}"));
    assert!(malformed(&[0xd9, 0x01, 0x02, 0xa0]));
}

#[test]
fn identifiers_uuids_and_tagged_literals() {
    assert_eq!(decode(b"\xd8\x27\x66:ns/kw").unwrap(), parse(":ns/kw"));
    assert_eq!(decode(b"\xd8\x27\x63sym").unwrap(), parse("sym"));
    assert_eq!(
        decode(b"\xd8\x27\x65a/b/c").unwrap(),
        Value::Symbol(Symbol::ns("a", "b/c"))
    );
    assert!(malformed(b"\xd8\x27\x60"), "empty identifier");
    assert!(malformed(b"\xd8\x27\x01"));
    let uuid = parse("#uuid \"11111111-2222-3333-4444-555555555555\"");
    let mut bytes = hex("d82550 11111111222233334444555555555555");
    assert_eq!(decode(&bytes).unwrap(), uuid);
    // More than 16 bytes: ByteBuffer reads the first 16.
    bytes[2] = 0x51;
    bytes.push(0x99);
    assert_eq!(decode(&bytes).unwrap(), uuid);
    assert!(malformed(&hex("d8254f 111111112222333344445555555555")));
    // Tag 27: a tagged literal.
    assert_eq!(
        decode(b"\xd8\x1b\x82\x65my/tg\x01").unwrap(),
        parse("#my/tg 1")
    );
    assert!(malformed(b"\xd8\x1b\x81\x65my/tg"));
    // Self-described CBOR.
    assert_eq!(decode(&[0xd9, 0xd9, 0xf7, 0x01]).unwrap(), Value::Int(1));
    // Unknown tags are kept.
    assert_eq!(
        decode(&[0xd8, 0x63, 0x01]).unwrap(),
        tagged(99, Value::Int(1))
    );
    assert!(malformed(&[0xdf, 0x01]), "indefinite tag");
}

#[test]
fn instants() {
    // Tag 1: (long (* secs 1000)), truncated towards zero.
    assert_eq!(
        decode(&[0xc1, 0x1a, 0x65, 0x93, 0x7d, 0x25]).unwrap(),
        Value::Inst(1_704_164_645_000)
    );
    assert_eq!(decode(&[0xc1, 0x20]).unwrap(), Value::Inst(-1000));
    assert_eq!(
        decode(&[0xc1, 0xf9, 0x3e, 0x00]).unwrap(),
        Value::Inst(1500)
    );
    assert!(malformed(&[0xc1, 0x61, 0x31]));
    assert!(malformed(&[
        0xc1, 0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
    ]));
    // Tag 0: java.time.Instant/parse.
    let mut t0 = vec![0xc0, 0x78, 24];
    t0.extend_from_slice(b"2024-01-02T03:04:05.678Z");
    assert_eq!(decode(&t0).unwrap(), Value::Inst(1_704_164_645_678));
    let mut bad = vec![0xc0, 0x6a];
    bad.extend_from_slice(b"2024-01-02");
    assert!(malformed(&bad));
}

#[test]
fn other_clj_cbor_tags_are_kept_and_written_back_by_boring() {
    let cases: Vec<(Vec<u8>, Value)> = vec![
        // 1.5M: [exponent -1, mantissa 15]
        (vec![0xc4, 0x82, 0x20, 0x0f], tagged(4, parse("[-1 15]"))),
        // 1/3
        (
            vec![0xd8, 0x1e, 0x82, 0x01, 0x03],
            tagged(30, parse("[1 3]")),
        ),
        // URI, pattern
        (b"\xd8\x20\x61x".to_vec(), tagged(32, parse("\"x\""))),
        (b"\xd8\x23\x62a+".to_vec(), tagged(35, parse("\"a+\""))),
        // LocalDate as epoch day and as text
        (
            vec![0xd8, 0x64, 0x19, 0x4d, 0x2a],
            tagged(100, Value::Int(19754)),
        ),
        (
            b"\xd9\x03\xec\x6a2024-01-31".to_vec(),
            tagged(1004, parse("\"2024-01-31\"")),
        ),
    ];
    for (bytes, want) in cases {
        let got = decode(&bytes).unwrap();
        assert_eq!(got, want);
        assert_eq!(boring::encode(&got), bytes, "{want}");
    }
    assert!(malformed(&[0xc4, 0x82, 0x20, 0x61, 0x31]));
    assert!(malformed(&[0xd8, 0x1e, 0x81, 0x01]));
    assert!(malformed(&[0xd8, 0x20, 0x01]));
    assert!(malformed(b"\xd9\x03\xec\x6a2024-02-30"));
}

#[test]
fn empty_input_is_truncated() {
    assert!(matches!(decode(&[]), Err(CodecError::Truncated(_))));
}

/// Deep nesting of every kind is refused without recursing, on a small stack.
#[test]
fn deep_nesting_is_refused_on_a_small_stack() {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            for prefix in [
                vec![0x81],
                vec![0x9f],
                vec![0xa1, 0x01],
                vec![0xbf, 0x01],
                vec![0xc6],
                vec![0xd9, 0x01, 0x02, 0x81],
                vec![0xd8, 0x1b, 0x82, 0x61, 0x78],
            ] {
                let bytes: Vec<u8> = prefix
                    .iter()
                    .copied()
                    .cycle()
                    .take(100_000 * prefix.len())
                    .collect();
                assert_eq!(
                    decode(&bytes),
                    Err(CodecError::TooDeep(MAX_NESTING)),
                    "{prefix:x?}"
                );
            }
            // Just inside the limit decodes.
            let mut ok = vec![0x81; MAX_NESTING - 1];
            ok.push(0x01);
            assert!(decode(&ok).is_ok());
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Random bytes and mutated fixture segments: a value or an error, never a
/// panic.
#[test]
fn hostile_input_never_panics() {
    let segments: Vec<Vec<u8>> = blobs()
        .iter()
        .flat_map(Blob::serialized_segments)
        .map(|(_, seg)| seg)
        .filter(|s| s.len() <= 4096)
        .collect();
    let (ok, err) = codec_harness::never_panics(decode, &segments, 20_000, 20_000, |_, _| {});
    assert!(ok > 0 && err > 0, "{ok} {err}");
}
