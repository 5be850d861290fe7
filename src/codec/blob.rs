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
use crate::meta::BlobType;
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

/// About how many bytes `value` serializes to, when most of them are one
/// string or byte array (for sizing the blob's buffer up front); a small
/// guess otherwise, and the buffer grows as it fills.
fn size_hint(value: &Value) -> usize {
    match value {
        Value::Bytes(b) => b.len() + 8,
        Value::String(s) => s.len() + 8,
        _ => 0,
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

    /// `serialize(value)`, appended to `out`.
    fn serialize_into(&self, value: &Value, out: &mut Vec<u8>) {
        match self.serializer {
            Serializer::Boring => boring::encode_into(value, out),
            Serializer::Fressian => fressian::encode_into(value, out),
        }
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
        if matches!(
            (self.compressor, &self.encryptor),
            (Compressor::None, Encryptor::None)
        ) {
            // Serialized straight into the blob: one buffer, sized up front
            // for the value's bytes, and no copy of either segment.
            let mut blob = Vec::with_capacity(HEADER_LEN + 256 + size_hint(value));
            blob.extend_from_slice(&[0; HEADER_LEN]);
            self.serialize_into(meta, &mut blob);
            let header = self.header(blob.len() - HEADER_LEN)?.to_bytes();
            blob[..HEADER_LEN].copy_from_slice(&header);
            self.serialize_into(value, &mut blob);
            return Ok(blob);
        }
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

/// The encodings one blob was written with, from its 20-byte header
/// (konserve's serializer, compressor and encryptor ids).
///
/// ```
/// use konserve_s3::blob::BlobFormat;
/// use konserve_s3::config::{Compressor, Encoding};
/// use konserve_s3::value::Value;
///
/// let enc = Encoding { compressor: Compressor::Lz4, ..Encoding::default() };
/// let blob = enc.encode_blob(&Value::keyword("meta"), &Value::from(1).into()).unwrap();
/// let format = BlobFormat::of(&blob).unwrap();
/// assert_eq!(format.to_string(), "boring/lz4/none");
/// assert_eq!(format.encoding(None).unwrap(), enc);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobFormat {
    /// Serializer id (1 Fressian, 2 clj-cbor, 3 boring).
    pub serializer: u8,
    /// Compressor id (0 none, 1 LZ4, 2 zstd).
    pub compressor: u8,
    /// Encryptor id (0 none, 1 AES-256-CBC).
    pub encryptor: u8,
}

impl BlobFormat {
    /// The format of `blob` (or of its first 20 bytes).
    ///
    /// # Errors
    /// As the header parse: [`CodecError::Truncated`] for fewer than 20
    /// bytes, [`CodecError::UnsupportedFormat`] for a layout version other
    /// than 1, [`CodecError::Malformed`] for a negative metadata size.
    pub fn of(blob: &[u8]) -> Result<BlobFormat, CodecError> {
        Ok(BlobHeader::parse(blob)?.into())
    }

    /// The serializer's name: `fressian`, `clj-cbor`, `boring`, or
    /// `unknown`.
    pub fn serializer_name(self) -> &'static str {
        match self.serializer {
            SERIALIZER_FRESSIAN => "fressian",
            SERIALIZER_CLJ_CBOR => "clj-cbor",
            SERIALIZER_BORING => "boring",
            _ => "unknown",
        }
    }

    /// The compressor's name: `none`, `lz4`, `zstd`, or `unknown`.
    pub fn compressor_name(self) -> &'static str {
        match self.compressor {
            COMPRESSOR_NONE => "none",
            COMPRESSOR_LZ4 => "lz4",
            COMPRESSOR_ZSTD => "zstd",
            _ => "unknown",
        }
    }

    /// The encryptor's name: `none`, `aes`, or `unknown`.
    pub fn encryptor_name(self) -> &'static str {
        match self.encryptor {
            ENCRYPTOR_NONE => "none",
            ENCRYPTOR_AES => "aes",
            _ => "unknown",
        }
    }

    /// The [`Encoding`] that writes blobs of this format; `key` is the AES
    /// key for an encrypted format (ignored for an unencrypted one).
    ///
    /// # Errors
    /// [`CodecError::UnsupportedFormat`] for ids this crate cannot write
    /// (the clj-cbor serializer is read-only; unknown ids);
    /// [`CodecError::MissingKey`] for an encrypted format without `key`.
    pub fn encoding(self, key: Option<&Value>) -> Result<Encoding, CodecError> {
        let unsupported = |what, id| CodecError::UnsupportedFormat { what, id };
        let serializer = match self.serializer {
            SERIALIZER_BORING => Serializer::Boring,
            SERIALIZER_FRESSIAN => Serializer::Fressian,
            id => return Err(unsupported("serializer (for writing)", id)),
        };
        let compressor = match self.compressor {
            COMPRESSOR_NONE => Compressor::None,
            COMPRESSOR_LZ4 => Compressor::Lz4,
            COMPRESSOR_ZSTD => Compressor::Zstd,
            id => return Err(unsupported("compressor", id)),
        };
        let encryptor = match (self.encryptor, key) {
            (ENCRYPTOR_NONE, _) => Encryptor::None,
            (ENCRYPTOR_AES, Some(key)) => Encryptor::Aes { key: key.clone() },
            (ENCRYPTOR_AES, None) => return Err(CodecError::MissingKey(ENCRYPTOR_AES)),
            (id, _) => return Err(unsupported("encryptor", id)),
        };
        Ok(Encoding {
            serializer,
            compressor,
            encryptor,
        })
    }
}

impl From<BlobHeader> for BlobFormat {
    fn from(h: BlobHeader) -> Self {
        BlobFormat {
            serializer: h.serializer,
            compressor: h.compressor,
            encryptor: h.encryptor,
        }
    }
}

impl fmt::Display for BlobFormat {
    /// `serializer/compressor/encryptor`, e.g. `fressian/lz4/aes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.serializer_name(),
            self.compressor_name(),
            self.encryptor_name()
        )
    }
}

/// The value a blob holds: EDN, or the raw bytes of a `:binary` blob.
#[derive(Clone, Debug, PartialEq)]
pub enum BlobBody {
    /// An EDN value (`:edn` and `:append-log` blobs).
    Edn(Value),
    /// The raw bytes of a `:binary` blob, stored unencoded after the
    /// metadata.
    Binary(Vec<u8>),
}

impl From<Value> for BlobBody {
    fn from(v: Value) -> Self {
        BlobBody::Edn(v)
    }
}

/// A whole blob, decoded: its format, metadata and value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DecodedBlob {
    /// The encodings its header names.
    pub format: BlobFormat,
    /// The metadata (`{:key … :type … :last-write …}` for konserve's blobs).
    pub meta: Value,
    /// The value.
    pub body: BlobBody,
}

impl Encoding {
    /// Decodes the header and metadata of `blob` (or of its first bytes,
    /// as long as they hold both), with this encoding's key for an
    /// encrypted blob (the encodings themselves come from the header), and
    /// the default metadata cap.
    ///
    /// # Errors
    /// [`CodecError`] for a short, malformed or unsupported blob, a missing
    /// or wrong key, or metadata over the cap.
    pub fn decode_blob_meta(&self, blob: &[u8]) -> Result<(BlobFormat, Value), CodecError> {
        let (header, meta) = self.decode_meta(blob)?;
        Ok((header.into(), meta))
    }

    /// Decodes a whole blob: header, metadata, then the value (EDN, or the
    /// raw bytes when the metadata's `:type` is `:binary`), with this
    /// encoding's key for an encrypted blob and the default caps. The
    /// inverse of [`Encoding::encode_blob`] for any format this crate
    /// reads, whatever this encoding writes.
    ///
    /// ```
    /// use konserve_s3::blob::BlobBody;
    /// use konserve_s3::config::{Encoding, Serializer};
    /// use konserve_s3::value::Value;
    ///
    /// let meta: Value = "{:key :k :type :binary :last-write #inst \"2026-01-01T00:00:00.000-00:00\"}"
    ///     .parse().unwrap();
    /// let fressian = Encoding { serializer: Serializer::Fressian, ..Encoding::default() };
    /// let blob = fressian.encode_blob(&meta, &BlobBody::Binary(vec![1, 2, 3])).unwrap();
    /// let decoded = Encoding::default().decode_blob(&blob).unwrap();
    /// assert_eq!(decoded.meta, meta);
    /// assert_eq!(decoded.body, BlobBody::Binary(vec![1, 2, 3]));
    /// assert_eq!(decoded.format.serializer_name(), "fressian");
    /// ```
    ///
    /// # Errors
    /// As [`Encoding::decode_blob_meta`], and for an undecodable value.
    pub fn decode_blob(&self, blob: &[u8]) -> Result<DecodedBlob, CodecError> {
        let (header, meta) = self.decode_meta(blob)?;
        let binary = BlobType::of_meta(&meta) == Some(BlobType::Binary);
        let body = if binary {
            BlobBody::Binary(binary_value(&header, blob)?.to_vec())
        } else {
            BlobBody::Edn(self.decode_value(&header, blob)?)
        };
        Ok(DecodedBlob {
            format: header.into(),
            meta,
            body,
        })
    }

    /// A whole blob in this encoding: header, `meta`, and `body` (an EDN
    /// value encoded as a segment, binary bytes stored raw), exactly as a
    /// store with this encoding writes it.
    ///
    /// # Errors
    /// [`CodecError::FeatureOff`] for zstd without the `zstd` feature.
    pub fn encode_blob(&self, meta: &Value, body: &BlobBody) -> Result<Vec<u8>, CodecError> {
        match body {
            BlobBody::Edn(v) => self.encode_edn_blob(meta, v),
            BlobBody::Binary(bytes) => {
                let mut blob = self.encode_binary_prefix(meta)?;
                blob.extend_from_slice(bytes);
                Ok(blob)
            }
        }
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
    fn a_plain_blob_serialized_in_place_is_the_segments_concatenated() {
        let repeated: Value = format!(
            "[{}]",
            (0..200)
                .map(|i| format!("{{:name \"n{}\" :tag :t}}", i % 7))
                .collect::<Vec<_>>()
                .join(" ")
        )
        .parse()
        .unwrap();
        let values = [
            Value::Bytes((0..5000u32).map(|i| i as u8).collect()),
            Value::from("x".repeat(3000)),
            repeated,
            Value::vector([Value::Bytes(vec![1; 2000]), Value::from(3)]),
            "{:a [1 2 \"x\"]}".parse().unwrap(),
        ];
        let meta: Value = "{:key :k :type :edn}".parse().unwrap();
        for serializer in [Serializer::Fressian, Serializer::Boring] {
            let enc = Encoding {
                serializer,
                ..Encoding::default()
            };
            for value in &values {
                let meta_segment = enc.encode_segment(&meta).unwrap();
                let mut expected = enc.header(meta_segment.len()).unwrap().to_bytes().to_vec();
                expected.extend_from_slice(&meta_segment);
                expected.extend_from_slice(&enc.encode_segment(value).unwrap());
                assert_eq!(
                    enc.encode_edn_blob(&meta, value).unwrap(),
                    expected,
                    "{serializer:?}"
                );
            }
        }
    }

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
    fn whole_blobs_round_trip_through_every_writable_format() {
        let key = Value::from("k");
        let meta: Value =
            "{:key :k :type :edn :last-write #inst \"2026-01-01T00:00:00.000-00:00\"}"
                .parse()
                .unwrap();
        let bin_meta: Value =
            "{:key :b :type :binary :last-write #inst \"2026-01-01T00:00:00.000-00:00\"}"
                .parse()
                .unwrap();
        let value: Value = "{:a [1 2 \"x\"] :b #{:c}}".parse().unwrap();
        for serializer in [SERIALIZER_BORING, SERIALIZER_FRESSIAN] {
            for compressor in [COMPRESSOR_NONE, COMPRESSOR_LZ4, COMPRESSOR_ZSTD] {
                if compressor == COMPRESSOR_ZSTD && !cfg!(feature = "zstd") {
                    continue;
                }
                for encryptor in [ENCRYPTOR_NONE, ENCRYPTOR_AES] {
                    let format = BlobFormat {
                        serializer,
                        compressor,
                        encryptor,
                    };
                    let enc = format.encoding(Some(&key)).unwrap();
                    for (m, body) in [
                        (&meta, BlobBody::Edn(value.clone())),
                        (&bin_meta, BlobBody::Binary(vec![0, 1, 2, 255])),
                    ] {
                        let blob = enc.encode_blob(m, &body).unwrap();
                        assert_eq!(BlobFormat::of(&blob).unwrap(), format);
                        // Decoding needs only the key, not the format.
                        let reader = Encoding {
                            encryptor: Encryptor::Aes { key: key.clone() },
                            ..Encoding::default()
                        };
                        let d = reader.decode_blob(&blob).unwrap();
                        assert_eq!((d.format, &d.meta, &d.body), (format, m, &body));
                        assert_eq!(reader.decode_blob_meta(&blob).unwrap(), (format, m.clone()));
                    }
                }
            }
        }
    }

    #[test]
    fn blob_formats_name_their_ids_and_refuse_what_cannot_be_written() {
        let f = BlobFormat {
            serializer: SERIALIZER_CLJ_CBOR,
            compressor: COMPRESSOR_NONE,
            encryptor: ENCRYPTOR_AES,
        };
        assert_eq!(f.to_string(), "clj-cbor/none/aes");
        assert!(matches!(
            f.encoding(Some(&Value::from("k"))),
            Err(CodecError::UnsupportedFormat { id: 2, .. })
        ));
        let f = BlobFormat {
            serializer: SERIALIZER_BORING,
            ..f
        };
        assert_eq!(f.encoding(None), Err(CodecError::MissingKey(1)));
        let odd = BlobFormat {
            serializer: 9,
            compressor: 9,
            encryptor: 9,
        };
        assert_eq!(odd.to_string(), "unknown/unknown/unknown");
        assert!(BlobFormat::of(&[1, 3]).is_err());
        // A blob encrypted with another key does not decode.
        let enc = Encoding {
            encryptor: Encryptor::Aes {
                key: Value::from("one"),
            },
            ..Encoding::default()
        };
        let blob = enc
            .encode_blob(&Value::Nil, &Value::from(1).into())
            .unwrap();
        let other = Encoding {
            encryptor: Encryptor::Aes {
                key: Value::from("two"),
            },
            ..Encoding::default()
        };
        assert!(other.decode_blob(&blob).is_err());
        assert_eq!(
            Encoding::default().decode_blob(&blob).unwrap_err(),
            CodecError::MissingKey(1)
        );
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
