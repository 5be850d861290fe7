//! konserve's blob format: a 20-byte header, the metadata segment, the value
//! segment; each segment encoded on its own as
//! `encrypt(compress(serialize(x)))`, binary values stored raw.
//!
//! | offset | size | content |
//! | --- | --- | --- |
//! | 0 | 1 | layout version, always 1 |
//! | 1 | 1 | serializer id (1 Fressian, 2 clj-cbor, 3 boring CBOR) |
//! | 2 | 1 | compressor id (0 none, 1 LZ4 frame, 2 zstd frame) |
//! | 3 | 1 | encryptor id (0 none, 1 AES-256-CBC) |
//! | 4 | 4 | meta size, big-endian signed 32-bit |
//! | 8 | 12 | zero |
//!
//! Pure code: bytes in, values out. Every decoder treats its input as hostile
//! and answers with a [`CodecError`], never a panic.

use std::sync::Arc;

pub mod aes;
pub mod blob;
pub mod boring;
mod cbor;
pub mod clj_cbor;
pub mod compress;
pub mod fressian;
mod reader;

/// Size of the blob header in bytes.
pub const HEADER_LEN: usize = 20;

/// The only layout version konserve writes.
pub const LAYOUT_VERSION: u8 = 1;

/// Serializer id of Fressian (konserve's default).
pub const SERIALIZER_FRESSIAN: u8 = 1;
/// Serializer id of the legacy clj-cbor serializer.
pub const SERIALIZER_CLJ_CBOR: u8 = 2;
/// Serializer id of boring (CBOR, RFC 8949).
pub const SERIALIZER_BORING: u8 = 3;
/// Compressor id: none.
pub const COMPRESSOR_NONE: u8 = 0;
/// Encryptor id: none.
pub const ENCRYPTOR_NONE: u8 = 0;

/// Why bytes could not be decoded.
///
/// Where an underlying error exists (a decompressor's I/O error, the AES
/// padding check), it is kept as the [`source`](std::error::Error::source);
/// sources are shared ([`Arc`]) so that the error stays [`Clone`], and two
/// errors compare equal when their variants, texts and (for I/O errors) kinds
/// and texts agree.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The input ended early.
    #[error("truncated: {0}")]
    Truncated(String),
    /// The input is not what the format allows.
    #[error("malformed: {0}")]
    Malformed(String),
    /// Nesting deeper than the decoder allows.
    #[error("nested deeper than {0} levels")]
    TooDeep(usize),
    /// A compressed segment does not decompress: its decoder failed with
    /// `source`.
    #[error("malformed: {format}: {source}")]
    Decompression {
        /// `LZ4` or `zstd`.
        format: &'static str,
        /// The decompressor's error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// An encrypted segment has no AES shape (too short, not whole blocks).
    #[error("cannot decrypt: {0}")]
    Decryption(String),
    /// An encrypted segment does not decrypt with this key (wrong key, or
    /// corrupt data): its padding is invalid.
    #[error("cannot decrypt: wrong key or corrupt data (bad padding)")]
    BadPadding(#[source] cbc::cipher::block_padding::Error),
    /// An encrypted blob was read without a key.
    #[error("the blob is encrypted (encryptor id {0}) and no key is configured")]
    MissingKey(u8),
    /// A segment larger than its cap, stored or once decoded (decompressed,
    /// as values in memory, or through references): refused before more is
    /// allocated.
    #[error(
        "{what} is larger than {limit} bytes (stored or decoded); if it is genuine, raise {setting}"
    )]
    TooLarge {
        /// `metadata` or `value`.
        what: &'static str,
        /// The cap in bytes.
        limit: u64,
        /// The store option that sets the cap (`config.max-metadata-bytes`).
        setting: &'static str,
    },
    /// Decoded metadata that is not konserve's map with `:key`, `:type` and
    /// `:last-write` (the start of what was found).
    #[error(
        "metadata is not konserve's map with :key, :type and :last-write (found {0}); the blob was not written by konserve: delete or rewrite it"
    )]
    NotMetadata(String),
    /// A format this build leaves out: the crate feature that adds it is
    /// off (`zstd`).
    #[error("{format} needs konserve-s3's `{feature}` feature, which this build does not have")]
    FeatureOff {
        /// The format, e.g. `zstd-compressed blob`.
        format: &'static str,
        /// The crate feature to turn on.
        feature: &'static str,
    },
    /// A format id this build does not support.
    #[error("unsupported {what} id {id}")]
    UnsupportedFormat {
        /// `serializer`, `compressor`, `encryptor` or `layout version`.
        what: &'static str,
        /// The id found in the header.
        id: u8,
    },
}

impl PartialEq for CodecError {
    fn eq(&self, other: &CodecError) -> bool {
        use CodecError::*;
        match (self, other) {
            (Truncated(a), Truncated(b))
            | (Malformed(a), Malformed(b))
            | (NotMetadata(a), NotMetadata(b))
            | (Decryption(a), Decryption(b)) => a == b,
            (TooDeep(a), TooDeep(b)) => a == b,
            (
                Decompression {
                    format: a,
                    source: x,
                },
                Decompression {
                    format: b,
                    source: y,
                },
            ) => a == b && x.kind() == y.kind() && x.to_string() == y.to_string(),
            (BadPadding(_), BadPadding(_)) => true,
            (MissingKey(a), MissingKey(b)) => a == b,
            (
                TooLarge {
                    what: a,
                    limit: x,
                    setting: s,
                },
                TooLarge {
                    what: b,
                    limit: y,
                    setting: t,
                },
            ) => a == b && x == y && s == t,
            (
                FeatureOff {
                    format: a,
                    feature: x,
                },
                FeatureOff {
                    format: b,
                    feature: y,
                },
            ) => a == b && x == y,
            (UnsupportedFormat { what: a, id: x }, UnsupportedFormat { what: b, id: y }) => {
                a == b && x == y
            }
            _ => false,
        }
    }
}

impl Eq for CodecError {}

/// How large one segment may be, stored and once decoded, and the store
/// option that sets it (named in [`CodecError::TooLarge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentCap {
    /// `metadata` or `value`.
    pub what: &'static str,
    /// The cap in bytes.
    pub limit: u64,
    /// The store option that sets it.
    pub setting: &'static str,
}

impl SegmentCap {
    /// The default cap of a metadata segment: 4 MiB (konserve's metadata is
    /// a small map).
    pub const METADATA: SegmentCap = SegmentCap {
        what: "metadata",
        limit: 4 << 20,
        setting: "config.max-metadata-bytes",
    };
    /// The default cap of a value segment: 1 GiB.
    pub const VALUE: SegmentCap = SegmentCap {
        what: "value",
        limit: 1 << 30,
        setting: "config.max-value-bytes",
    };

    /// This cap with another limit.
    pub const fn with_limit(self, limit: u64) -> SegmentCap {
        SegmentCap { limit, ..self }
    }

    /// The cap as a byte count in memory.
    pub fn bytes(self) -> usize {
        usize::try_from(self.limit).unwrap_or(usize::MAX)
    }

    /// The error for going past it.
    pub fn exceeded(self) -> CodecError {
        CodecError::TooLarge {
            what: self.what,
            limit: self.limit,
            setting: self.setting,
        }
    }

    /// `Ok` when `len` bytes fit.
    ///
    /// # Errors
    /// [`CodecError::TooLarge`] when they do not.
    pub fn check(self, len: u64) -> Result<(), CodecError> {
        if len > self.limit {
            Err(self.exceeded())
        } else {
            Ok(())
        }
    }
}

/// The decoded 20-byte header of a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobHeader {
    /// Layout version (1).
    pub version: u8,
    /// Serializer id.
    pub serializer: u8,
    /// Compressor id.
    pub compressor: u8,
    /// Encryptor id.
    pub encryptor: u8,
    /// Length of the metadata segment.
    pub meta_size: u32,
}

impl BlobHeader {
    /// The 20 bytes of this header.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = self.version;
        b[1] = self.serializer;
        b[2] = self.compressor;
        b[3] = self.encryptor;
        b[4..8].copy_from_slice(&self.meta_size.to_be_bytes());
        b
    }

    /// Parses a header from the start of `bytes`.
    ///
    /// ```
    /// use konserve_s3::internals::codec::BlobHeader;
    /// let h = BlobHeader { version: 1, serializer: 3, compressor: 0, encryptor: 0, meta_size: 71 };
    /// assert_eq!(BlobHeader::parse(&h.to_bytes()).unwrap(), h);
    /// assert!(BlobHeader::parse(&[1, 3]).is_err());
    /// ```
    ///
    /// # Errors
    /// [`CodecError::Truncated`] for fewer than 20 bytes,
    /// [`CodecError::UnsupportedFormat`] for a layout version other than 1,
    /// [`CodecError::Malformed`] for a negative meta size.
    pub fn parse(bytes: &[u8]) -> Result<BlobHeader, CodecError> {
        let Some(h) = bytes.get(..HEADER_LEN) else {
            return Err(CodecError::Truncated(format!(
                "blob of {} bytes has no 20-byte header",
                bytes.len()
            )));
        };
        if h[0] != LAYOUT_VERSION {
            return Err(CodecError::UnsupportedFormat {
                what: "layout version",
                id: h[0],
            });
        }
        let meta_size = i32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let meta_size = u32::try_from(meta_size)
            .map_err(|_| CodecError::Malformed(format!("negative meta size {meta_size}")))?;
        Ok(BlobHeader {
            version: h[0],
            serializer: h[1],
            compressor: h[2],
            encryptor: h[3],
            meta_size,
        })
    }
}
