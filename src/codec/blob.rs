//! Encoding and decoding whole blobs: header, metadata segment, value segment.

use super::{
    BlobHeader, COMPRESSOR_NONE, CodecError, ENCRYPTOR_NONE, HEADER_LEN, LAYOUT_VERSION,
    SERIALIZER_BORING, boring,
};
use crate::value::Value;

/// Which serializer, compressor and encryptor new blobs are written with.
/// Reading always follows each blob's own header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Encoding {
    /// Serializer id.
    pub serializer: u8,
    /// Compressor id.
    pub compressor: u8,
    /// Encryptor id.
    pub encryptor: u8,
}

impl Default for Encoding {
    /// boring (CBOR), no compression, no encryption.
    fn default() -> Self {
        Encoding {
            serializer: SERIALIZER_BORING,
            compressor: COMPRESSOR_NONE,
            encryptor: ENCRYPTOR_NONE,
        }
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
            serializer: self.serializer,
            compressor: self.compressor,
            encryptor: self.encryptor,
            meta_size,
        })
    }

    fn check(serializer: u8, compressor: u8, encryptor: u8) -> Result<(), CodecError> {
        if serializer != SERIALIZER_BORING {
            return Err(CodecError::UnsupportedFormat {
                what: "serializer",
                id: serializer,
            });
        }
        if compressor != COMPRESSOR_NONE {
            return Err(CodecError::UnsupportedFormat {
                what: "compressor",
                id: compressor,
            });
        }
        if encryptor != ENCRYPTOR_NONE {
            return Err(CodecError::UnsupportedFormat {
                what: "encryptor",
                id: encryptor,
            });
        }
        Ok(())
    }

    /// `encrypt(compress(serialize(value)))` for one segment.
    ///
    /// # Errors
    /// [`CodecError::UnsupportedFormat`] for ids this build cannot write.
    pub fn encode_segment(&self, value: &Value) -> Result<Vec<u8>, CodecError> {
        Self::check(self.serializer, self.compressor, self.encryptor)?;
        Ok(boring::encode(value))
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
}

fn decode_segment(header: &BlobHeader, bytes: &[u8]) -> Result<Value, CodecError> {
    Encoding::check(header.serializer, header.compressor, header.encryptor)?;
    boring::decode(bytes)
}

/// Where the value segment of a blob starts.
pub fn value_offset(header: &BlobHeader) -> usize {
    HEADER_LEN + header.meta_size as usize
}

/// Parses the header and decodes the metadata of a blob (or of its first
/// bytes, as long as they hold header and metadata).
///
/// # Errors
/// [`CodecError`] for a short, malformed or unsupported blob.
pub fn decode_meta(blob: &[u8]) -> Result<(BlobHeader, Value), CodecError> {
    let header = BlobHeader::parse(blob)?;
    let end = value_offset(&header);
    let Some(segment) = blob.get(HEADER_LEN..end) else {
        return Err(CodecError::Truncated(format!(
            "blob of {} bytes cannot hold {} bytes of metadata",
            blob.len(),
            header.meta_size
        )));
    };
    Ok((header, decode_segment(&header, segment)?))
}

/// Decodes the EDN value of a whole blob.
///
/// # Errors
/// [`CodecError`] for a short, malformed or unsupported blob.
pub fn decode_value(header: &BlobHeader, blob: &[u8]) -> Result<Value, CodecError> {
    let segment = blob
        .get(value_offset(header)..)
        .ok_or_else(|| CodecError::Truncated("blob ends inside its metadata".into()))?;
    decode_segment(header, segment)
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
        let blob = Encoding::default().encode_edn_blob(&meta, &value).unwrap();
        assert_eq!(&blob[..4], &[1, 3, 0, 0]);
        assert_eq!(&blob[8..20], &[0u8; 12]);
        let (header, m) = decode_meta(&blob).unwrap();
        assert_eq!(m, meta);
        assert_eq!(decode_value(&header, &blob).unwrap(), value);
        let prefix = Encoding::default().encode_binary_prefix(&meta).unwrap();
        let mut bin = prefix.clone();
        bin.extend_from_slice(&[0, 1, 2]);
        let (header, _) = decode_meta(&bin).unwrap();
        assert_eq!(binary_value(&header, &bin).unwrap(), &[0, 1, 2]);
    }

    #[test]
    fn unsupported_ids_and_truncation_are_typed() {
        let meta: Value = "{:key :k}".parse().unwrap();
        let mut blob = Encoding::default()
            .encode_edn_blob(&meta, &Value::Nil)
            .unwrap();
        for (at, what) in [(1, "serializer"), (2, "compressor"), (3, "encryptor")] {
            let mut b = blob.clone();
            b[at] = 9;
            assert_eq!(
                decode_meta(&b).unwrap_err(),
                CodecError::UnsupportedFormat { what, id: 9 }
            );
        }
        blob[0] = 2;
        assert!(matches!(
            decode_meta(&blob).unwrap_err(),
            CodecError::UnsupportedFormat {
                what: "layout version",
                id: 2
            }
        ));
        blob[0] = 1;
        for len in 0..blob.len() {
            // Never a panic; metadata needs its whole segment.
            let _ = decode_meta(&blob[..len]);
        }
        assert!(decode_meta(&blob[..21]).is_err());
    }
}
