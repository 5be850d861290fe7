//! The Clojure-written fixture stores (`tests/fixtures/konserve-clj/`) as
//! the codec tests read them: the manifest, and every blob split into its
//! metadata and value segments.
//!
//! Include it with `#[path = "common/fixture_blobs.rs"] mod fixture_blobs;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use konserve_s3::internals::codec::{BlobHeader, HEADER_LEN};
use konserve_s3::value::Value;
use serde_json::Value as Json;

/// The directory of one fixture store, e.g. `boring-none-none`.
pub fn fixture_dir(combination: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/konserve-clj")
        .join(combination)
}

/// A fixture store's `manifest.json`.
pub fn manifest(combination: &str) -> Json {
    let path = fixture_dir(combination).join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// EDN text as a [`Value`].
pub fn parse(edn: &str) -> Value {
    edn.parse()
        .unwrap_or_else(|e| panic!("cannot parse {edn:?}: {e}"))
}

/// Bytes from hex digits (whitespace ignored).
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The first 64 bytes as hex, for assertion messages.
pub fn hex_string(b: &[u8]) -> String {
    b.iter().take(64).map(|x| format!("{x:02x}")).collect()
}

/// One blob of a fixture store, split into its segments.
pub struct Blob {
    /// Its manifest entry (`Json::Null` for blobs the manifest lists
    /// elsewhere, such as append-log elements).
    pub entry: Json,
    pub meta: Vec<u8>,
    pub value: Vec<u8>,
}

impl Blob {
    /// A string field of the manifest entry (`""` when absent).
    pub fn field(&self, name: &str) -> &str {
        self.entry[name].as_str().unwrap_or("")
    }

    /// The entry's key, as EDN text.
    pub fn key(&self) -> &str {
        self.field("key_edn")
    }

    /// Whether the entry is a binary value (stored raw, not serialized).
    pub fn is_binary(&self) -> bool {
        self.field("type") == ":binary"
    }

    /// Its serialized segments, named by the key: the metadata, and the
    /// value unless it is binary (stored raw).
    pub fn serialized_segments(&self) -> Vec<(String, Vec<u8>)> {
        let mut segments = vec![(self.key().to_owned(), self.meta.clone())];
        if !self.is_binary() {
            segments.push((self.key().to_owned(), self.value.clone()));
        }
        segments
    }

    /// Asserts that a binary entry's value segment is its raw bytes, and
    /// that they hash (hasch) to the manifest's value UUID.
    pub fn assert_raw_binary(&self) {
        assert_eq!(self.value, hex(self.field("value_hex")), "{}", self.key());
        assert_eq!(
            konserve_s3::hasch::uuid(&Value::Bytes(self.value.clone())).to_string(),
            self.field("value_hasch_uuid"),
            "{}",
            self.key()
        );
    }
}

/// Does `v` contain a map or set with more than one entry (whose order on
/// the wire is Clojure's hash or insertion order, not ours)?
pub fn order_sensitive(v: &Value) -> bool {
    match v {
        Value::Map(m) => {
            m.len() > 1
                || m.iter()
                    .any(|(k, v)| order_sensitive(k) || order_sensitive(v))
        }
        Value::Set(s) => s.len() > 1 || s.iter().any(order_sensitive),
        Value::Vector(items) | Value::List(items) => items.iter().any(order_sensitive),
        Value::Tagged(_, inner) => order_sensitive(inner),
        _ => false,
    }
}

/// The segments of `blobs` (metadata and value, binary ones too) shorter
/// than `limit` bytes: the material the never-panic tests mutate.
pub fn segments_below(blobs: Vec<Blob>, limit: usize) -> Vec<Vec<u8>> {
    blobs
        .into_iter()
        .flat_map(|b| [b.meta, b.value])
        .filter(|s| s.len() < limit)
        .collect()
}

/// Blob `name` of store `combination`, checked to be written with
/// `serializer` and neither compressed nor encrypted.
pub fn read_blob(combination: &str, name: &str, serializer: u8, entry: Json) -> Blob {
    let bytes = std::fs::read(fixture_dir(combination).join("store").join(name)).unwrap();
    let header = BlobHeader::parse(&bytes).unwrap();
    assert_eq!(header.serializer, serializer, "{name}");
    assert_eq!((header.compressor, header.encryptor), (0, 0), "{name}");
    if let Some(size) = entry["meta_size"].as_u64() {
        assert_eq!(u64::from(header.meta_size), size, "{name}");
    }
    let meta_end = HEADER_LEN + header.meta_size as usize;
    Blob {
        entry,
        meta: bytes[HEADER_LEN..meta_end].to_vec(),
        value: bytes[meta_end..].to_vec(),
    }
}

/// Every entry of store `combination`'s manifest with its blob.
pub fn blobs(combination: &str, serializer: u8) -> Vec<Blob> {
    let manifest = manifest(combination);
    let entries = manifest["entries"].as_array().unwrap();
    assert_eq!(
        entries.len() as u64,
        manifest["entry_count"].as_u64().unwrap()
    );
    entries
        .iter()
        .map(|e| {
            read_blob(
                combination,
                e["blob"].as_str().unwrap(),
                serializer,
                e.clone(),
            )
        })
        .collect()
}

/// The encoding that reads fixture `manifest`'s store: its AES key, if
/// it is encrypted (the serializer and compressor come from each blob).
pub fn encoding_for(manifest: &Json) -> konserve_s3::internals::codec::blob::Encoding {
    use konserve_s3::internals::codec::blob::{Encoding, Encryptor};
    match manifest["encryptor"]["key_edn"].as_str() {
        Some(key) => Encoding {
            encryptor: Encryptor::Aes { key: parse(key) },
            ..Encoding::default()
        },
        None => Encoding::default(),
    }
}

/// Puts every blob of fixture store `combination`, as Clojure wrote it,
/// and the store marker into S3 as store `id` through `client` (whose
/// bucket must exist).
#[cfg(feature = "blocking")]
pub fn upload_store(client: &konserve_s3::S3Client, id: uuid::Uuid, combination: &str) {
    use konserve_s3::Conditions;
    use konserve_s3::internals::layout;
    for e in manifest(combination)["entries"].as_array().unwrap() {
        let blob = e["blob"].as_str().unwrap();
        let bytes = std::fs::read(fixture_dir(combination).join("store").join(blob)).unwrap();
        client
            .put_object(&layout::object_key(id, blob), bytes, &Conditions::NONE)
            .unwrap();
    }
    client
        .put_object(
            &layout::marker_key(id),
            layout::MARKER_BODY.to_vec(),
            &Conditions::NONE,
        )
        .unwrap();
}
