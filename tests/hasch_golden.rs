//! Every key and value hash in the Clojure-written fixtures
//! (`tests/fixtures/konserve-clj/*/manifest.json`) must match hasch.

use std::path::{Path, PathBuf};

use konserve_s3::hasch;
use konserve_s3::value::Value;
use serde_json::Value as Json;

const COMBINATIONS: [&str; 13] = [
    "fressian-none-none",
    "fressian-none-aes",
    "fressian-lz4-none",
    "fressian-lz4-aes",
    "fressian-zstd-none",
    "fressian-zstd-aes",
    "boring-none-none",
    "boring-none-aes",
    "boring-lz4-none",
    "boring-lz4-aes",
    "boring-zstd-none",
    "boring-zstd-aes",
    "cbor-none-none",
];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/konserve-clj")
}

fn manifest(combination: &str) -> Json {
    let path = fixture_dir().join(combination).join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn parse(edn: &str) -> Value {
    edn.parse()
        .unwrap_or_else(|e| panic!("cannot parse {edn:?}: {e}"))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn every_fixture_key_and_value_hash_matches() {
    let (mut keys, mut values, mut binaries) = (0, 0, 0);
    for combination in COMBINATIONS {
        let m = manifest(combination);
        let entries = m["entries"].as_array().unwrap();
        assert_eq!(entries.len() as u64, m["entry_count"].as_u64().unwrap());
        for e in entries {
            let key_edn = e["key_edn"].as_str().unwrap();
            let key = parse(key_edn);
            let want = e["key_hasch_uuid"].as_str().unwrap();
            assert_eq!(
                hasch::uuid(&key).to_string(),
                want,
                "{combination}: key {key_edn}"
            );
            assert_eq!(e["blob"].as_str().unwrap(), format!("{want}.ksv"));
            keys += 1;

            let Some(want) = e["value_hasch_uuid"].as_str() else {
                continue;
            };
            if let Some(value_edn) = e["value_edn"].as_str() {
                let value = parse(value_edn);
                assert_eq!(
                    hasch::uuid(&value).to_string(),
                    want,
                    "{combination}: value of {key_edn}"
                );
                values += 1;
            } else {
                let bytes = hex(e["value_hex"].as_str().unwrap());
                assert_eq!(bytes.len() as u64, e["value_length"].as_u64().unwrap());
                assert_eq!(
                    hasch::uuid(&Value::Bytes(bytes)).to_string(),
                    want,
                    "{combination}: binary value of {key_edn}"
                );
                binaries += 1;
            }
        }
        // The files in store/ are named by those hashes.
        let mut on_disk: Vec<String> =
            std::fs::read_dir(fixture_dir().join(combination).join("store"))
                .unwrap()
                .map(|d| d.unwrap().file_name().into_string().unwrap())
                .collect();
        let mut named: Vec<String> = entries
            .iter()
            .map(|e| {
                format!(
                    "{}.ksv",
                    hasch::uuid(&parse(e["key_edn"].as_str().unwrap()))
                )
            })
            .collect();
        on_disk.sort();
        named.sort();
        assert_eq!(on_disk, named, "{combination}");
    }
    assert_eq!((keys, values, binaries), (13 * 26, 13 * 25, 13));
}

#[test]
fn append_log_element_blobs_are_named_by_their_uuid_keys() {
    for combination in COMBINATIONS {
        let m = manifest(combination);
        for log in m["append_logs"].as_array().unwrap() {
            let ids = log["element_ids_edn"].as_array().unwrap();
            let blobs = log["element_blobs"].as_array().unwrap();
            assert_eq!(ids.len(), blobs.len());
            for (id, blob) in ids.iter().zip(blobs) {
                let id = parse(id.as_str().unwrap());
                assert!(matches!(id, Value::Uuid(_)));
                assert_eq!(format!("{}.ksv", hasch::uuid(&id)), blob.as_str().unwrap());
            }
        }
    }
}

#[test]
fn golden_vectors() {
    let cases = [
        (Value::from("bar"), "2c8e57a6-ed4e-5746-9f7e-af7ff2ac25c5"),
        (Value::from("foo"), "3b99ff05-3a69-5570-8133-fb72ea5f4db6"),
        (
            Value::keyword("foo"),
            "06cee0d3-72f7-5bfd-ae3b-af7c2f0fef8f",
        ),
        (
            Value::keyword("bar"),
            "17d10627-3289-511e-a666-723ba78092bc",
        ),
        (
            Value::keyword("counter"),
            "103f0d02-3588-51f2-a99f-2fdd26069e53",
        ),
        (Value::from(42), "0fc20a9a-c153-592d-888a-707ff306fbb6"),
        (
            Value::vector([1, 2, 3]),
            "00bd2dcb-5c15-555e-a1c8-6166a78fc808",
        ),
        (
            Value::keyword_ns("ns", "bar"),
            "19fcf168-1db9-5531-bd34-c747fd57dfa1",
        ),
    ];
    for (v, want) in cases {
        assert_eq!(hasch::uuid(&v).to_string(), want, "{v}");
    }
}

#[test]
fn map_and_set_hashes_do_not_depend_on_order() {
    let a = parse("{:count 42, :tags #{:a :b :c}}");
    let b = parse("{:tags #{:c :b :a} :count 42}");
    assert_eq!(hasch::edn_hash(&a), hasch::edn_hash(&b));
    // The fixture's :updated value.
    assert_eq!(
        hasch::uuid(&parse("{:tags #{:a}, :count 42}")).to_string(),
        "12c54cf7-85fa-53a4-b2af-ab8476377c92"
    );
}
