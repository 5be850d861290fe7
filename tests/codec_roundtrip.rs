//! Every serializer × compressor × encryptor combination round-trips
//! generated values (proptest), and the bytes follow konserve's layout.

use konserve_s3::internals::codec::blob::{Compressor, Encoding, Encryptor, Serializer};
use konserve_s3::internals::codec::compress::{LZ4_MAGIC, ZSTD_MAGIC};
use konserve_s3::internals::codec::{BlobHeader, HEADER_LEN};
use konserve_s3::value::{Keyword, Map, Set, Symbol, Value};
use num_bigint::BigInt;
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (any::<i64>(), 1u32..4).prop_map(|(n, e)| Value::integer(
            BigInt::from(n) * BigInt::from(10u64).pow(19 * e) + 1
        )),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        "\\PC{0,40}".prop_map(Value::String),
        any::<char>()
            .prop_filter("BMP", |c| (*c as u32) < 0x10000)
            .prop_map(Value::Char),
        (
            "[a-z][a-z0-9-]{0,8}",
            proptest::option::of("[a-z][a-z.]{0,6}")
        )
            .prop_map(|(n, ns)| {
                Value::Keyword(match ns {
                    Some(ns) => Keyword::ns(ns, n),
                    None => Keyword::simple(n),
                })
            }),
        "[a-z][a-z0-9-]{0,8}".prop_map(|n| Value::Symbol(Symbol::simple(n))),
        any::<u128>().prop_map(|u| Value::Uuid(uuid::Uuid::from_u128(u))),
        (-62_135_596_800_000i64..253_402_300_799_999).prop_map(Value::Inst),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
    ]
}

/// Values without lists (boring and clj-cbor read lists back as vectors).
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Vector),
            proptest::collection::btree_map(inner.clone(), inner.clone(), 0..6)
                .prop_map(|m: Map| Value::Map(m)),
            proptest::collection::btree_set(inner, 0..6).prop_map(|s: Set| Value::Set(s)),
        ]
    })
}

fn encodings() -> Vec<Encoding> {
    let mut all = Vec::new();
    for serializer in [Serializer::Boring, Serializer::Fressian] {
        for compressor in [Compressor::None, Compressor::Lz4, Compressor::Zstd] {
            for encryptor in [
                Encryptor::None,
                Encryptor::Aes {
                    key: Value::from("secret"),
                },
            ] {
                all.push(Encoding {
                    serializer,
                    compressor,
                    encryptor,
                });
            }
        }
    }
    all
}

fn check_layout(enc: &Encoding, blob: &[u8]) {
    let header = BlobHeader::parse(blob).unwrap();
    assert_eq!(
        (
            header.version,
            header.serializer,
            header.compressor,
            header.encryptor
        ),
        (
            1,
            enc.serializer.id(),
            enc.compressor.id(),
            enc.encryptor.id()
        )
    );
    assert_eq!(&blob[8..20], &[0u8; 12]);
    let meta = &blob[HEADER_LEN..HEADER_LEN + header.meta_size as usize];
    let value = &blob[HEADER_LEN + header.meta_size as usize..];
    for segment in [meta, value] {
        let payload = match enc.encryptor {
            Encryptor::None => segment,
            Encryptor::Aes { .. } => {
                // 64 bytes of salt, then whole AES blocks.
                assert!(segment.len() >= 64 + 16 && (segment.len() - 64) % 16 == 0);
                continue;
            }
        };
        match enc.compressor {
            Compressor::Lz4 => assert!(payload.starts_with(&LZ4_MAGIC)),
            Compressor::Zstd => assert!(payload.starts_with(&ZSTD_MAGIC)),
            Compressor::None => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_combination_round_trips(value in value(), meta in value()) {
        for enc in encodings() {
            let blob = enc.encode_edn_blob(&meta, &value).unwrap();
            check_layout(&enc, &blob);
            let (header, m) = enc.decode_meta(&blob).unwrap();
            prop_assert_eq!(&m, &meta, "meta through {:?}", enc);
            prop_assert_eq!(&enc.decode_value(&header, &blob).unwrap(), &value, "value through {:?}", enc);
        }
    }

    #[test]
    fn fressian_keeps_lists(items in proptest::collection::vec(any::<i64>(), 0..20)) {
        let list = Value::List(items.into_iter().map(Value::Int).collect());
        let enc = Encoding { serializer: Serializer::Fressian, ..Encoding::default() };
        let blob = enc.encode_edn_blob(&Value::Nil, &list).unwrap();
        let (header, _) = enc.decode_meta(&blob).unwrap();
        prop_assert_eq!(enc.decode_value(&header, &blob).unwrap(), list);
    }

    #[test]
    fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), ids in (0u8..4, 0u8..3, 0u8..2)) {
        let mut blob = vec![1, ids.0, ids.1, ids.2, 0, 0, 0, 0];
        blob.extend_from_slice(&[0; 12]);
        let meta_len = bytes.len() / 2;
        blob[4..8].copy_from_slice(&(meta_len as i32).to_be_bytes());
        blob.extend_from_slice(&bytes);
        let enc = Encoding { encryptor: Encryptor::Aes { key: Value::from("k") }, ..Encoding::default() };
        if let Ok((header, _)) = enc.decode_meta(&blob) {
            let _ = enc.decode_value(&header, &blob);
        }
    }
}

#[test]
fn encryption_uses_a_fresh_salt_per_segment() {
    let enc = Encoding {
        encryptor: Encryptor::Aes {
            key: Value::from("k"),
        },
        ..Encoding::default()
    };
    let a = enc.encode_edn_blob(&Value::Nil, &Value::Nil).unwrap();
    let b = enc.encode_edn_blob(&Value::Nil, &Value::Nil).unwrap();
    assert_ne!(a, b);
    let header = BlobHeader::parse(&a).unwrap();
    let meta_salt = &a[HEADER_LEN..HEADER_LEN + 64];
    let value_salt = &a[HEADER_LEN + header.meta_size as usize..][..64];
    assert_ne!(meta_salt, value_salt);
}
