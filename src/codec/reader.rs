//! The bounded cursor every decoder of this module reads its input with:
//! each read is checked against the bytes that are left before anything is
//! allocated, and running out is a [`CodecError::Truncated`] that says where.
//! Also the CBOR head reader (major type and argument) that the boring and
//! clj-cbor decoders share, and the nesting counter both keep.

use super::{CodecError, SegmentCap};

type R<T> = Result<T, CodecError>;

/// The most elements a decoder reserves room for before they are read.
pub(crate) const MAX_PREALLOC: usize = 16;

/// A [`CodecError::Malformed`] with `msg`.
pub(crate) fn malformed(msg: impl Into<String>) -> CodecError {
    CodecError::Malformed(msg.into())
}

/// A position in a byte slice that never reads past its end.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// The whole input.
    pub(crate) fn input(&self) -> &'a [u8] {
        self.buf
    }

    /// The offset of the next byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// A [`CodecError::Truncated`] saying `what` happened here.
    pub(crate) fn truncated(&self, what: &str) -> CodecError {
        CodecError::Truncated(format!(
            "{what} at offset {} of {}",
            self.pos,
            self.buf.len()
        ))
    }

    /// The next byte, not consumed.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Consumes the next byte if it is `b`.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        let next = self.peek() == Some(b);
        if next {
            self.pos += 1;
        }
        next
    }

    pub(crate) fn byte(&mut self) -> R<u8> {
        let b = self.peek().ok_or_else(|| self.truncated("input ends"))?;
        self.pos += 1;
        Ok(b)
    }

    /// The next `len` bytes, checked against what is left before anything
    /// else happens.
    pub(crate) fn take(&mut self, len: u64, what: &str) -> R<&'a [u8]> {
        let left = self.remaining();
        match usize::try_from(len) {
            Ok(n) if n <= left => {
                let start = self.pos;
                self.pos += n;
                self.buf
                    .get(start..start + n)
                    .ok_or_else(|| self.truncated(what))
            }
            _ => Err(CodecError::Truncated(format!(
                "{what} declares {len} bytes at offset {}, only {left} left",
                self.pos
            ))),
        }
    }

    /// The next `width` (at most 8) bytes as a big-endian unsigned number.
    pub(crate) fn uint(&mut self, width: u64, what: &str) -> R<u64> {
        let bytes = self.take(width, what)?;
        Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// How many elements to reserve room for up front when `declared` are
    /// announced: never more than the bytes left (every element takes at
    /// least one) nor than [`MAX_PREALLOC`], so that containers nested deep,
    /// each declaring a huge length, reserve little; longer ones grow as
    /// their elements actually arrive.
    pub(crate) fn capacity(&self, declared: u64) -> usize {
        usize::try_from(declared)
            .unwrap_or(usize::MAX)
            .min(self.remaining())
            .min(MAX_PREALLOC)
    }

    // -- CBOR (RFC 8949) heads ------------------------------------------------

    /// The argument of a CBOR head whose initial byte (just read) has
    /// additional information `info`; 31 (indefinite length) and the reserved
    /// 28–30 are malformed here.
    pub(crate) fn cbor_arg(&mut self, info: u8) -> R<u64> {
        let width = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => {
                return Err(malformed(format!(
                    "indefinite length not allowed at offset {}",
                    self.pos.saturating_sub(1)
                )));
            }
            _ => {
                return Err(malformed(format!(
                    "reserved additional information {info} at offset {}",
                    self.pos.saturating_sub(1)
                )));
            }
        };
        self.uint(width, "head argument")
    }

    /// The half float after an `f9` head, as the double of the same value
    /// (exact): the `half` crate's conversion, which keeps the sign and the
    /// payload of a NaN.
    pub(crate) fn cbor_half(&mut self) -> R<f64> {
        let bits = self.uint(2, "half float")?;
        Ok(half::f16::from_bits(bits as u16).to_f64())
    }

    /// The single float after an `fa` head, as the double of the same value.
    pub(crate) fn cbor_single(&mut self) -> R<f64> {
        let bits = self.uint(4, "single float")?;
        Ok(f64::from(f32::from_bits(bits as u32)))
    }

    /// The double float after an `fb` head, bits unchanged.
    pub(crate) fn cbor_double(&mut self) -> R<f64> {
        Ok(f64::from_bits(self.uint(8, "double float")?))
    }

    /// Consumes a CBOR break byte (`ff`) if one is next; the input ending
    /// instead is truncation.
    pub(crate) fn cbor_break(&mut self) -> R<bool> {
        match self.peek() {
            None => Err(self.truncated("indefinite-length item not closed")),
            Some(b) => Ok(b == 0xff && self.eat(0xff)),
        }
    }

    /// The chunks of an indefinite-length CBOR string of major type `major`
    /// up to its break, each handed to `chunk` with its offset (`what` names
    /// the string in errors); a chunk
    /// that is not a definite string of the same major type is malformed.
    pub(crate) fn cbor_chunks(
        &mut self,
        major: u8,
        what: &str,
        mut chunk: impl FnMut(usize, &'a [u8]) -> R<()>,
    ) -> R<()> {
        while !self.cbor_break()? {
            let ib = self.byte()?;
            if ib >> 5 != major || ib & 0x1f == 31 {
                return Err(malformed(format!(
                    "indefinite-length {what} holds a chunk with head {ib:#04x}"
                )));
            }
            let len = self.cbor_arg(ib & 0x1f)?;
            let start = self.pos;
            let bytes = self.take(len, what)?;
            chunk(start, bytes)?;
        }
        Ok(())
    }
}

/// How deeply a decoder has nested, bounded by `max`.
/// What a decoder has allocated for one kind of thing (decoded values,
/// stringref tables), at most a segment's cap.
pub(crate) struct Budget {
    used: usize,
    cap: SegmentCap,
}

impl Budget {
    pub(crate) fn new(cap: SegmentCap) -> Budget {
        Budget { used: 0, cap }
    }

    /// Counts `bytes` more; [`CodecError::TooLarge`] past the cap.
    pub(crate) fn charge(&mut self, bytes: usize) -> R<()> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.cap.bytes() {
            return Err(self.cap.exceeded());
        }
        Ok(())
    }
}

pub(crate) struct Depth {
    depth: usize,
    max: usize,
}

impl Depth {
    pub(crate) fn new(max: usize) -> Depth {
        Depth { depth: 0, max }
    }

    /// One level deeper, or [`CodecError::TooDeep`] beyond `max`.
    pub(crate) fn enter(&mut self) -> R<()> {
        if self.depth >= self.max {
            return Err(CodecError::TooDeep(self.max));
        }
        self.depth += 1;
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preallocation_is_small() {
        let bytes = [0; 100];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.capacity(u64::MAX), MAX_PREALLOC);
        assert_eq!(r.capacity(3), 3);
        r.take(99, "padding").unwrap();
        assert_eq!(r.capacity(u64::MAX), 1);
    }

    #[test]
    fn takes_are_bounded() {
        let bytes = [1, 2, 3];
        let mut r = Reader::new(&bytes);
        assert!(matches!(
            r.take(u64::MAX, "x"),
            Err(CodecError::Truncated(_))
        ));
        assert!(matches!(r.take(4, "x"), Err(CodecError::Truncated(_))));
        assert_eq!(r.uint(2, "x").unwrap(), 0x0102);
        assert_eq!(r.pos(), 2);
        assert!(!r.eat(2));
        assert!(r.eat(3));
        assert!(matches!(r.byte(), Err(CodecError::Truncated(_))));
        assert!(matches!(r.cbor_break(), Err(CodecError::Truncated(_))));
    }

    #[test]
    fn depth_is_bounded() {
        let mut d = Depth::new(2);
        d.enter().unwrap();
        d.enter().unwrap();
        assert_eq!(d.enter(), Err(CodecError::TooDeep(2)));
        d.leave();
        d.enter().unwrap();
    }
}
