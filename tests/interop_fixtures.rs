//! The 13 stores written by Clojure's konserve (every serializer, compressor
//! and encryptor combination) read back exactly through the public API: on S3
//! after uploading the blobs as konserve-s3 lays them out, and as konserve
//! filestores through the file backing.

mod common;
#[path = "common/fixture_blobs.rs"]
mod fixture_blobs;

use common::{bucket_name, config_for, server};
use konserve_s3::S3Client;
use konserve_s3::blocking::{Backing, FileBacking, S3Store, Store, connect_store};
use konserve_s3::config::StoreOptions;
use konserve_s3::internals::codec::blob::{Encoding, Encryptor};
use konserve_s3::value::Value;
use uuid::Uuid;

use std::path::PathBuf;

use fixture_blobs::{encoding_for, fixture_dir, manifest, parse as v, upload_store};

/// Fixture store `combination` uploaded to S3 as a new store, opened with
/// `encoding`.
fn upload(combination: &str, encoding: Encoding) -> S3Store {
    let id = Uuid::new_v4();
    let mut config = config_for(&bucket_name("interop"), &server().endpoint);
    config.id = Some(id);
    config.store.encoding = encoding;
    let client = S3Client::new(&config).unwrap();
    client.create_bucket().unwrap();
    upload_store(&client, id, combination);
    connect_store(&config).unwrap()
}

/// A copy of the fixture's filestore directory (tests never write into the
/// fixtures), opened with the file backing.
fn open_file_store(combination: &str, encoding: Encoding) -> (Store<FileBacking>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("konserve-interop-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixture_dir(combination).join("store")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let options = StoreOptions {
        encoding,
        ..StoreOptions::default()
    };
    (Store::with_options(FileBacking::new(&dir), options), dir)
}

/// Every entry's value, metadata, binary bytes and log equal the manifest.
fn check<B: Backing>(combination: &str, store: &Store<B>) {
    use std::io::Read;
    let m = manifest(combination);
    let entries = m["entries"].as_array().unwrap();
    for e in entries {
        let key = v(e["key_edn"].as_str().unwrap());
        let meta = store.get_meta(key.clone()).unwrap().unwrap();
        assert_eq!(
            meta,
            v(e["meta_edn"].as_str().unwrap()),
            "{combination}: meta of {key}"
        );
        if e["type"] == ":binary" {
            let got = store.bget(key.clone()).unwrap().unwrap();
            let mut bytes = Vec::new();
            { got }.reader.read_to_end(&mut bytes).unwrap();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                hex,
                e["value_hex"].as_str().unwrap(),
                "{combination}: bytes of {key}"
            );
        } else {
            let value = store.get(key.clone()).unwrap().unwrap();
            assert_eq!(
                konserve_s3::hasch::uuid(&value).to_string(),
                e["value_hasch_uuid"].as_str().unwrap(),
                "{combination}: hasch of the value of {key}"
            );
            assert_eq!(
                value,
                v(e["value_edn"].as_str().unwrap()),
                "{combination}: value of {key}"
            );
        }
    }
    assert_eq!(
        store.keys().unwrap().len() as u64,
        m["keys_result_count"].as_u64().unwrap(),
        "{combination}: keys"
    );
    for log in m["append_logs"].as_array().unwrap() {
        let expected: Vec<Value> = log["elements_edn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| v(s.as_str().unwrap()))
            .collect();
        assert_eq!(
            store
                .log(v(log["key_edn"].as_str().unwrap()))
                .unwrap()
                .unwrap(),
            expected,
            "{combination}: log"
        );
    }
}

macro_rules! fixture_tests {
    ($($name:ident => $combination:literal,)*) => {
        $(
            #[test]
            fn $name() {
                let m = manifest($combination);
                let store: S3Store = upload($combination, encoding_for(&m));
                check($combination, &store);
                let (file_store, dir) = open_file_store($combination, encoding_for(&m));
                check($combination, &file_store);
                let _ = std::fs::remove_dir_all(dir);
            }
        )*
    };
}

fixture_tests! {
    boring_none_none => "boring-none-none",
    boring_lz4_none => "boring-lz4-none",
    boring_zstd_none => "boring-zstd-none",
    boring_none_aes => "boring-none-aes",
    boring_lz4_aes => "boring-lz4-aes",
    boring_zstd_aes => "boring-zstd-aes",
    fressian_none_none => "fressian-none-none",
    fressian_lz4_none => "fressian-lz4-none",
    fressian_zstd_none => "fressian-zstd-none",
    fressian_none_aes => "fressian-none-aes",
    fressian_lz4_aes => "fressian-lz4-aes",
    fressian_zstd_aes => "fressian-zstd-aes",
    cbor_none_none => "cbor-none-none",
}

#[test]
fn encrypted_stores_without_or_with_a_wrong_key_are_typed_errors() {
    use konserve_s3::Error;
    use konserve_s3::error::CodecError;
    let store = upload("boring-none-aes", Encoding::default());
    let err = store.get(Value::keyword("foo")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Blob {
                source: CodecError::MissingKey(1),
                ..
            }
        ),
        "{err}"
    );
    let wrong = Encoding {
        encryptor: Encryptor::Aes {
            key: Value::from("not the key"),
        },
        ..Encoding::default()
    };
    let store = upload("boring-none-aes", wrong);
    let err = store.get(Value::keyword("foo")).unwrap_err();
    assert!(matches!(err, Error::Blob { .. }), "{err}");
}
