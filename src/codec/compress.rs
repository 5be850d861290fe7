//! konserve's compressors: LZ4 frames (id 1, lz4-java's `LZ4FrameOutputStream`)
//! and zstd frames without a content size (id 2, zstd-jni's streaming
//! writer). Decompression streams and stops at the segment's cap
//! ([`SegmentCap`]), so a small hostile segment cannot make us allocate
//! past it.

use std::io::{Read, Write};
use std::sync::Arc;

use super::{CodecError, SegmentCap};

/// Magic number at the start of an LZ4 frame.
pub const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
/// Magic number at the start of a zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// A decompressor's I/O error, kept as the source.
fn failed(format: &'static str, source: std::io::Error) -> CodecError {
    CodecError::Decompression {
        format,
        source: Arc::new(source),
    }
}

fn read_capped(
    mut reader: impl Read,
    what: &'static str,
    cap: SegmentCap,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let n = reader
        .by_ref()
        .take(cap.limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| failed(what, e))?;
    cap.check(n as u64)?;
    Ok(out)
}

/// Compresses `bytes` into one LZ4 frame.
pub fn lz4_compress(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(bytes.len() / 2 + 32));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Decompresses an LZ4 frame.
///
/// # Errors
/// [`CodecError::Malformed`] for input without the LZ4 magic,
/// [`CodecError::TooLarge`] for one that expands beyond `cap`,
/// [`CodecError::Decompression`] (with the decoder's error as its source) for
/// an invalid frame.
pub fn lz4_decompress(bytes: &[u8], cap: SegmentCap) -> Result<Vec<u8>, CodecError> {
    if !bytes.starts_with(&LZ4_MAGIC) {
        return Err(CodecError::Malformed("not an LZ4 frame (bad magic)".into()));
    }
    read_capped(lz4_flex::frame::FrameDecoder::new(bytes), "LZ4", cap)
}

/// Compresses `bytes` into one zstd frame (level 3, konserve's).
///
/// # Errors
/// [`CodecError::FeatureOff`] without the `zstd` feature.
pub fn zstd_compress(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
    #[cfg(feature = "zstd")]
    {
        Ok(zstd::bulk::compress(bytes, 3).unwrap_or_default())
    }
    #[cfg(not(feature = "zstd"))]
    {
        let _ = bytes;
        Err(zstd_off())
    }
}

/// Why zstd blobs cannot be read or written in this build.
#[cfg(not(feature = "zstd"))]
fn zstd_off() -> CodecError {
    CodecError::FeatureOff {
        format: "zstd-compressed blob",
        feature: "zstd",
    }
}

/// Decompresses zstd frames, streaming (konserve's frames carry no content
/// size).
///
/// # Errors
/// [`CodecError::Malformed`] for input without the zstd magic,
/// [`CodecError::TooLarge`] for one that expands beyond `cap`,
/// [`CodecError::Decompression`] (with the decoder's error as its source) for
/// invalid zstd, [`CodecError::FeatureOff`] without the `zstd` feature.
pub fn zstd_decompress(bytes: &[u8], cap: SegmentCap) -> Result<Vec<u8>, CodecError> {
    if !bytes.starts_with(&ZSTD_MAGIC) {
        return Err(CodecError::Malformed("not a zstd frame (bad magic)".into()));
    }
    #[cfg(feature = "zstd")]
    {
        let decoder = zstd::stream::read::Decoder::new(bytes).map_err(|e| failed("zstd", e))?;
        read_capped(decoder, "zstd", cap)
    }
    #[cfg(not(feature = "zstd"))]
    {
        let _ = cap;
        Err(zstd_off())
    }
}

#[cfg(all(test, feature = "zstd"))]
mod tests {
    use super::*;

    const V: SegmentCap = SegmentCap::VALUE;

    #[test]
    fn bombs_stop_at_the_cap() {
        let bomb = vec![0u8; 1 << 20];
        let cap = SegmentCap::METADATA.with_limit(64 << 10);
        for (format, packed) in [
            ("lz4", lz4_compress(&bomb)),
            ("zstd", zstd_compress(&bomb).unwrap()),
        ] {
            let unpack = if format == "lz4" {
                lz4_decompress
            } else {
                zstd_decompress
            };
            assert_eq!(
                unpack(&packed, cap).unwrap_err(),
                cap.exceeded(),
                "{format}"
            );
            assert_eq!(
                unpack(&packed, cap.with_limit(1 << 20)).unwrap().len(),
                1 << 20
            );
        }
    }

    #[test]
    fn round_trips_and_magic() {
        for data in [&b""[..], b"a", &[7u8; 100_000], b"hello hello hello hello"] {
            let l = lz4_compress(data);
            assert!(l.starts_with(&LZ4_MAGIC));
            assert_eq!(lz4_decompress(&l, V).unwrap(), data);
            let z = zstd_compress(data).unwrap();
            assert!(z.starts_with(&ZSTD_MAGIC));
            assert_eq!(zstd_decompress(&z, V).unwrap(), data);
        }
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        let l = lz4_compress(&[1u8; 5000]);
        let z = zstd_compress(&[1u8; 5000]).unwrap();
        for cut in 0..l.len() {
            let _ = lz4_decompress(&l[..cut], V);
        }
        for cut in 0..z.len() {
            let _ = zstd_decompress(&z[..cut], V);
        }
        assert!(lz4_decompress(&l[..l.len() / 2], V).is_err());
        assert!(zstd_decompress(&z[..z.len() / 2], V).is_err());
        // The decoder's own error is kept as the source, with its text.
        for e in [
            lz4_decompress(&l[..l.len() / 2], V).unwrap_err(),
            zstd_decompress(&[0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff], V).unwrap_err(),
        ] {
            let source = std::error::Error::source(&e).expect("a source");
            assert!(
                source.downcast_ref::<Arc<std::io::Error>>().is_some(),
                "{e:?}"
            );
            assert!(e.to_string().starts_with("malformed: "), "{e}");
            assert!(e.to_string().ends_with(&source.to_string()), "{e}");
            assert_eq!(e.clone(), e);
        }
        assert!(lz4_decompress(b"nope", V).is_err());
        assert!(zstd_decompress(&[0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff], V).is_err());
    }
}

#[cfg(all(test, not(feature = "zstd")))]
mod without_zstd {
    use super::*;

    #[test]
    fn zstd_is_refused_naming_the_feature() {
        let e = zstd_decompress(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0], SegmentCap::VALUE).unwrap_err();
        assert!(
            matches!(
                e,
                CodecError::FeatureOff {
                    feature: "zstd",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("`zstd` feature"), "{e}");
        assert_eq!(zstd_compress(b"x").unwrap_err(), e);
    }
}
