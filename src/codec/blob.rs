//! Encoding and decoding whole blobs: header, metadata segment, value segment.
//!
//! Each segment is `encrypt(compress(serialize(x)))` with the ids in the
//! header. New blobs are written with the configured [`Encoding`]; reading
//! always follows each blob's own header, so a store may mix encodings (the
//! configured AES key is used for every encrypted blob).

use std::fmt;

use serde::{Deserialize, Deserializer};

use super::{
    BlobHeader, COMPRESSOR_NONE, CodecError, ENCRYPTOR_NONE, HEADER_LEN, LAYOUT_VERSION,
    SERIALIZER_BORING, SERIALIZER_CLJ_CBOR, SERIALIZER_FRESSIAN, SegmentCap, aes, boring, clj_cbor,
    compress, fressian,
};
use crate::value::Value;

/// Compressor id of LZ4 frames.
pub const COMPRESSOR_LZ4: u8 = 1;
/// Compressor id of zstd frames.
pub const COMPRESSOR_ZSTD: u8 = 2;
/// Encryptor id of AES-256-CBC.
pub const ENCRYPTOR_AES: u8 = 1;

/// The serializer new blobs are written with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Serializer {
    /// boring, CBOR (id 3): this crate's default for new blobs.
    #[default]
    Boring,
    /// Fressian (id 1): konserve's default.
    Fressian,
}

impl Serializer {
    /// The header id.
    pub fn id(self) -> u8 {
        match self {
            Serializer::Boring => SERIALIZER_BORING,
            Serializer::Fressian => SERIALIZER_FRESSIAN,
        }
    }
}

/// The compressor new blobs are written with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compressor {
    /// No compression (id 0).
    #[default]
    None,
    /// LZ4 frames (id 1).
    Lz4,
    /// zstd frames (id 2).
    Zstd,
}

impl Compressor {
    /// The header id.
    pub fn id(self) -> u8 {
        match self {
            Compressor::None => COMPRESSOR_NONE,
            Compressor::Lz4 => COMPRESSOR_LZ4,
            Compressor::Zstd => COMPRESSOR_ZSTD,
        }
    }
}

/// The encryptor new blobs are written with, and the key encrypted blobs are
/// read with.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Encryptor {
    /// No encryption (id 0).
    #[default]
    None,
    /// AES-256-CBC (id 1) with a key that is any EDN value (konserve's
    /// `{:type :aes :key "secret"}`; usually a string).
    Aes {
        /// The key. Never shown by `Debug`.
        key: Value,
    },
}

impl fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Encryptor::None => f.write_str("None"),
            Encryptor::Aes { .. } => f.write_str("Aes { key: REDACTED }"),
        }
    }
}

impl Encryptor {
    /// The header id.
    pub fn id(&self) -> u8 {
        match self {
            Encryptor::None => ENCRYPTOR_NONE,
            Encryptor::Aes { .. } => ENCRYPTOR_AES,
        }
    }
}

/// Which serializer, compressor and encryptor new blobs are written with —
/// konserve's `:encoding`. Reading always follows each blob's header.
///
/// The JSON form (under `config.encoding`):
/// `{"serializer": "boring" | "fressian", "compressor": "none" | "lz4" | "zstd",
///   "encryptor": "none" | "aes", "key": "<string>"}` (or `"key-edn"`: the key
/// as EDN text, for non-string keys).
///
/// ```
/// use konserve_s3::config::{Compressor, Encoding, Encryptor, Serializer};
/// let e: Encoding = serde_json::from_str(
///     r#"{"serializer": "fressian", "compressor": "lz4", "encryptor": "aes", "key": "s3cret"}"#,
/// ).unwrap();
/// assert_eq!(e.serializer, Serializer::Fressian);
/// assert_eq!(e.compressor, Compressor::Lz4);
/// assert!(matches!(e.encryptor, Encryptor::Aes { .. }));
/// assert!(!format!("{e:?}").contains("s3cret"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoding {
    /// The serializer.
    pub serializer: Serializer,
    /// The compressor.
    pub compressor: Compressor,
    /// The encryptor.
    pub encryptor: Encryptor,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEncoding {
    serializer: Option<String>,
    compressor: Option<String>,
    encryptor: Option<String>,
    key: Option<String>,
    #[serde(rename = "key-edn")]
    key_edn: Option<String>,
}

impl<'de> Deserialize<'de> for Encoding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let raw = RawEncoding::deserialize(d)?;
        let name = |s: &Option<String>| {
            s.as_deref()
                .map(|s| s.trim_start_matches(':').to_ascii_lowercase())
        };
        let serializer = match name(&raw.serializer).as_deref() {
            None | Some("boring") | Some("boringserializer") | Some("cbor") => Serializer::Boring,
            Some("fressian") | Some("fressianserializer") => Serializer::Fressian,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "unknown serializer {other:?}: use \"boring\" or \"fressian\""
                )));
            }
        };
        let compressor = match name(&raw.compressor).as_deref() {
            None | Some("none") => Compressor::None,
            Some("lz4") => Compressor::Lz4,
            Some("zstd") => Compressor::Zstd,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "unknown compressor {other:?}: use \"none\", \"lz4\" or \"zstd\""
                )));
            }
        };
        let key = match (raw.key, raw.key_edn) {
            (Some(k), None) => Some(Value::String(k)),
            (None, Some(edn)) => Some(
                edn.parse::<Value>()
                    .map_err(|e| D::Error::custom(format!("key-edn is not EDN: {e}")))?,
            ),
            (None, None) => None,
            (Some(_), Some(_)) => return Err(D::Error::custom("give key or key-edn, not both")),
        };
        let encryptor = match (name(&raw.encryptor).as_deref(), key) {
            (None | Some("none"), None) => Encryptor::None,
            (Some("aes"), Some(key)) => Encryptor::Aes { key },
            (Some("aes"), None) => return Err(D::Error::custom("encryptor \"aes\" needs a key")),
            (None | Some("none"), Some(_)) => {
                return Err(D::Error::custom("a key without encryptor \"aes\""));
            }
            (Some(other), _) => {
                return Err(D::Error::custom(format!(
                    "unknown encryptor {other:?}: use \"none\" or \"aes\""
                )));
            }
        };
        Ok(Encoding {
            serializer,
            compressor,
            encryptor,
        })
    }
}

impl Encoding {
    fn header(&self, meta_size: usize) -> Result<BlobHeader, CodecError> {
        let meta_size = u32::try_from(meta_size)
            .ok()
            .filter(|n| *n <= i32::MAX as u32)
            .ok_or_else(|| CodecError::Malformed("metadata larger than 2 GiB".into()))?;
        Ok(BlobHeader {
            version: LAYOUT_VERSION,
            serializer: self.serializer.id(),
            compressor: self.compressor.id(),
            encryptor: self.encryptor.id(),
            meta_size,
        })
    }

    /// `encrypt(compress(serialize(value)))` for one segment.
    ///
    /// # Errors
    /// [`CodecError::FeatureOff`] for zstd without the `zstd` feature.
    pub fn encode_segment(&self, value: &Value) -> Result<Vec<u8>, CodecError> {
        let serialized = match self.serializer {
            Serializer::Boring => boring::encode(value),
            Serializer::Fressian => fressian::encode(value),
        };
        let compressed = match self.compressor {
            Compressor::None => serialized,
            Compressor::Lz4 => compress::lz4_compress(&serialized),
            Compressor::Zstd => compress::zstd_compress(&serialized)?,
        };
        Ok(match &self.encryptor {
            Encryptor::None => compressed,
            Encryptor::Aes { key } => aes::encrypt(&compressed, key),
        })
    }

    /// Decodes one segment written with the ids of `header`, as a value
    /// segment with the default cap ([`SegmentCap::VALUE`]).
    ///
    /// # Errors
    /// As [`Encoding::decode_segment_capped`].
    pub fn decode_segment(&self, header: &BlobHeader, bytes: &[u8]) -> Result<Value, CodecError> {
        self.decode_segment_capped(header, bytes, SegmentCap::VALUE)
    }

    /// Decodes one segment written with the ids of `header`; the segment as
    /// stored, decompressed, and what its references expand to may each be
    /// at most `cap`.
    ///
    /// # Errors
    /// [`CodecError`] for unsupported ids, a missing key, and malformed data;
    /// [`CodecError::TooLarge`] past `cap`.
    pub fn decode_segment_capped(
        &self,
        header: &BlobHeader,
        bytes: &[u8],
        cap: SegmentCap,
    ) -> Result<Value, CodecError> {
        cap.check(bytes.len() as u64)?;
        let decrypted;
        let bytes = match header.encryptor {
            ENCRYPTOR_NONE => bytes,
            ENCRYPTOR_AES => match &self.encryptor {
                Encryptor::Aes { key } => {
                    decrypted = aes::decrypt(bytes, key)?;
                    &decrypted[..]
                }
                Encryptor::None => return Err(CodecError::MissingKey(ENCRYPTOR_AES)),
            },
            id => {
                return Err(CodecError::UnsupportedFormat {
                    what: "encryptor",
                    id,
                });
            }
        };
        let decompressed;
        let bytes = match header.compressor {
            COMPRESSOR_NONE => bytes,
            COMPRESSOR_LZ4 => {
                decompressed = compress::lz4_decompress(bytes, cap)?;
                &decompressed[..]
            }
            COMPRESSOR_ZSTD => {
                decompressed = compress::zstd_decompress(bytes, cap)?;
                &decompressed[..]
            }
            id => {
                return Err(CodecError::UnsupportedFormat {
                    what: "compressor",
                    id,
                });
            }
        };
        match header.serializer {
            SERIALIZER_BORING => boring::decode_capped(bytes, cap),
            SERIALIZER_FRESSIAN => fressian::decode_capped(bytes, cap),
            SERIALIZER_CLJ_CBOR => clj_cbor::decode_capped(bytes, cap),
            id => Err(CodecError::UnsupportedFormat {
                what: "serializer",
                id,
            }),
        }
    }

    /// A whole EDN blob: header, metadata, value.
    ///
    /// # Errors
    /// As [`Encoding::encode_segment`].
    pub fn encode_edn_blob(&self, meta: &Value, value: &Value) -> Result<Vec<u8>, CodecError> {
        let meta = self.encode_segment(meta)?;
        let value = self.encode_segment(value)?;
        let mut blob = Vec::with_capacity(HEADER_LEN + meta.len() + value.len());
        blob.extend_from_slice(&self.header(meta.len())?.to_bytes());
        blob.extend_from_slice(&meta);
        blob.extend_from_slice(&value);
        Ok(blob)
    }

    /// Header and metadata of a binary blob; the raw bytes follow them.
    ///
    /// # Errors
    /// As [`Encoding::encode_segment`].
    pub fn encode_binary_prefix(&self, meta: &Value) -> Result<Vec<u8>, CodecError> {
        let meta = self.encode_segment(meta)?;
        let mut blob = Vec::with_capacity(HEADER_LEN + meta.len());
        blob.extend_from_slice(&self.header(meta.len())?.to_bytes());
        blob.extend_from_slice(&meta);
        Ok(blob)
    }

    /// Parses the header and decodes the metadata of a blob (or of its first
    /// bytes, as long as they hold header and metadata), with the default
    /// cap ([`SegmentCap::METADATA`]).
    ///
    /// # Errors
    /// As [`Encoding::decode_meta_capped`].
    pub fn decode_meta(&self, blob: &[u8]) -> Result<(BlobHeader, Value), CodecError> {
        self.decode_meta_capped(blob, SegmentCap::METADATA)
    }

    /// Like [`Encoding::decode_meta`], with the metadata segment capped at
    /// `cap` (checked on the header's size before anything is decoded).
    ///
    /// # Errors
    /// [`CodecError`] for a short, malformed or unsupported blob;
    /// [`CodecError::TooLarge`] past `cap`.
    pub fn decode_meta_capped(
        &self,
        blob: &[u8],
        cap: SegmentCap,
    ) -> Result<(BlobHeader, Value), CodecError> {
        let header = BlobHeader::parse(blob)?;
        cap.check(header.meta_size.into())?;
        let end = value_offset(&header);
        let Some(segment) = blob.get(HEADER_LEN..end) else {
            return Err(CodecError::Truncated(format!(
                "blob of {} bytes cannot hold {} bytes of metadata",
                blob.len(),
                header.meta_size
            )));
        };
        Ok((header, self.decode_segment_capped(&header, segment, cap)?))
    }

    /// Decodes the EDN value of a whole blob, with the default cap
    /// ([`SegmentCap::VALUE`]).
    ///
    /// # Errors
    /// As [`Encoding::decode_value_capped`].
    pub fn decode_value(&self, header: &BlobHeader, blob: &[u8]) -> Result<Value, CodecError> {
        self.decode_value_capped(header, blob, SegmentCap::VALUE)
    }

    /// Decodes the EDN value of a whole blob, capped at `cap`.
    ///
    /// # Errors
    /// [`CodecError`] for a short, malformed or unsupported blob;
    /// [`CodecError::TooLarge`] past `cap`.
    pub fn decode_value_capped(
        &self,
        header: &BlobHeader,
        blob: &[u8],
        cap: SegmentCap,
    ) -> Result<Value, CodecError> {
        self.decode_segment_capped(header, binary_value(header, blob)?, cap)
    }
}

/// Where the value segment of a blob starts.
pub fn value_offset(header: &BlobHeader) -> usize {
    HEADER_LEN + header.meta_size as usize
}

/// The raw bytes of a binary blob.
///
/// # Errors
/// [`CodecError::Truncated`] when the blob ends inside its metadata.
pub fn binary_value<'a>(header: &BlobHeader, blob: &'a [u8]) -> Result<&'a [u8], CodecError> {
    blob.get(value_offset(header)..)
        .ok_or_else(|| CodecError::Truncated("blob ends inside its metadata".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let meta: Value = "{:key :k :type :edn}".parse().unwrap();
        let value: Value = "{:a [1 2 \"x\"]}".parse().unwrap();
        let enc = Encoding::default();
        let blob = enc.encode_edn_blob(&meta, &value).unwrap();
        assert_eq!(&blob[..4], &[1, 3, 0, 0]);
        assert_eq!(&blob[8..20], &[0u8; 12]);
        let (header, m) = enc.decode_meta(&blob).unwrap();
        assert_eq!(m, meta);
        assert_eq!(enc.decode_value(&header, &blob).unwrap(), value);
        let mut bin = enc.encode_binary_prefix(&meta).unwrap();
        bin.extend_from_slice(&[0, 1, 2]);
        let (header, _) = enc.decode_meta(&bin).unwrap();
        assert_eq!(binary_value(&header, &bin).unwrap(), &[0, 1, 2]);
    }

    #[test]
    fn unsupported_ids_missing_keys_and_truncation_are_typed() {
        let meta: Value = "{:key :k}".parse().unwrap();
        let enc = Encoding::default();
        let mut blob = enc.encode_edn_blob(&meta, &Value::Nil).unwrap();
        for (at, what) in [(1, "serializer"), (2, "compressor"), (3, "encryptor")] {
            let mut b = blob.clone();
            b[at] = 9;
            assert_eq!(
                enc.decode_meta(&b).unwrap_err(),
                CodecError::UnsupportedFormat { what, id: 9 }
            );
        }
        let mut b = blob.clone();
        b[3] = 1;
        assert_eq!(enc.decode_meta(&b).unwrap_err(), CodecError::MissingKey(1));
        blob[0] = 2;
        assert!(matches!(
            enc.decode_meta(&blob).unwrap_err(),
            CodecError::UnsupportedFormat {
                what: "layout version",
                id: 2
            }
        ));
        blob[0] = 1;
        for len in 0..blob.len() {
            let _ = enc.decode_meta(&blob[..len]);
        }
        assert!(enc.decode_meta(&blob[..21]).is_err());
    }

    #[test]
    fn json_config_errors() {
        for bad in [
            r#"{"serializer": "edn"}"#,
            r#"{"compressor": "gzip"}"#,
            r#"{"encryptor": "aes"}"#,
            r#"{"key": "k"}"#,
            r#"{"encryptor": "rot13", "key": "k"}"#,
            r#"{"encryptor": "aes", "key-edn": "{"}"#,
            r#"{"serialiser": "boring"}"#,
        ] {
            assert!(serde_json::from_str::<Encoding>(bad).is_err(), "{bad}");
        }
        let e: Encoding = serde_json::from_str(r#"{"encryptor": "aes", "key-edn": ":k"}"#).unwrap();
        assert_eq!(
            e.encryptor,
            Encryptor::Aes {
                key: Value::keyword("k")
            }
        );
    }
}
