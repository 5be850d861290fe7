//! konserve's legacy serializer 2: CBOR as the Clojure library clj-cbor
//! (1.1.1, `clj-cbor.core/default-codec` plus konserve's `CBORSerializer`)
//! writes it. Read only: new blobs are written with [`super::boring`].
//!
//! [`decode`] reads the first CBOR data item of a segment and ignores
//! whatever follows, as `clj-cbor.core/decode` does. It is a small
//! hand-written parser over the byte slice: every declared length is checked
//! against the bytes that are left before anything is allocated, nesting is
//! bounded by [`MAX_NESTING`] and kept on the heap rather than the call
//! stack, and any input gives a value or a [`CodecError`], never a panic.
//!
//! # Mapping
//!
//! What clj-cbor's read handlers return, as a [`Value`]:
//!
//! | CBOR | clj-cbor reads | [`Value`] |
//! | --- | --- | --- |
//! | major 0/1 | `Long`, `BigInt` beyond 64 bits | `Int`, `BigInt` beyond `i64` |
//! | `f4` `f5` `f6` | `false` `true` `nil` | `Bool`, `Nil` |
//! | `f9` `fa` `fb` | `Float` (half, single), `Double` | `Float` (exact) |
//! | byte string (also indefinite) | `byte[]` | `Bytes` |
//! | text string (also indefinite) | `String`; invalid UTF-8 replaced by U+FFFD (Java's `new String(bytes, "UTF-8")`) | `String`, the same replacement |
//! | array (also indefinite) | vector | `Vector` (a list written by Clojure reads back as a vector) |
//! | map (also indefinite) | map; a duplicate key is an error | `Map`; a duplicate key is an error |
//! | tag 258 over an array | set; duplicates collapse (the codec is not strict) | `Set`, duplicates collapse |
//! | tag 39 over `":ns/name"` / `"ns/name"` | keyword / symbol (split at the first `/`) | `Keyword` / `Symbol` |
//! | tag 37 over a byte string (16 bytes or more; extra bytes ignored) | `java.util.UUID` | `Uuid` |
//! | tag 1 over a number of epoch seconds | `java.time.Instant` of `(long (* secs 1000))` ms: truncated towards zero, `NaN` gives the epoch | `Inst` |
//! | tag 0 over an ISO-8601 instant text | `java.time.Instant/parse` | `Inst` (sub-millisecond digits truncated) |
//! | tag 2 / 3 over a byte string | `BigInt` of the **two's-complement** bytes `n` / `-1 - n` | `Int`, or `BigInt` beyond `i64` |
//! | tag 27 over `[tag-name form]` | `clojure.lang.TaggedLiteral` | `Tagged(symbol, form)` |
//! | tag 55799 over any item | the item | the item |
//! | tag 4 `[exponent mantissa]`, tag 30 `[numerator denominator]` | `BigDecimal`, `Ratio` | `Tagged(cbor/tag-4, …)`, `Tagged(cbor/tag-30, …)` |
//! | tag 32, 35 over text | `java.net.URI`, `java.util.regex.Pattern` | `Tagged(cbor/tag-32, String)`, `Tagged(cbor/tag-35, String)` |
//! | tag 100 over an integer, tag 1004 over `YYYY-MM-DD` | `java.time.LocalDate` | `Tagged(cbor/tag-100, Int)`, `Tagged(cbor/tag-1004, String)` |
//! | any other tag `N` | `clj_cbor.data.tagged.TaggedValue` | `Tagged(cbor/tag-N, content)` |
//! | simple values other than false/true/null (`f7` undefined, `e0`–`f3`, `f8 nn`) | `Undefined`, `SimpleValue` | `Tagged(cbor/simple, Int(n))` |
//!
//! The `cbor/tag-N` and `cbor/simple` forms are those of [`super::boring`],
//! whose encoder writes them back as the same CBOR tag or simple value, so a
//! value read here can be stored again without losing its tag.
//!
//! The content of a tag is checked as clj-cbor's handler checks it (a text
//! string for tag 39, a byte string for tags 2, 3 and 37, a two-element
//! array for tags 4, 27 and 30, …) and anything else is a
//! [`CodecError::Malformed`], as clj-cbor throws. Where clj-cbor coerces
//! other numbers (a float mantissa of tag 4, a ratio of epoch seconds under
//! tag 1), this decoder accepts integers (and, for tag 1, floats) only. URIs,
//! patterns and tag-1004 dates are kept as text without further validation.
//!
//! One divergence on purpose: empty input is an error here, while
//! `clj-cbor.core/decode` returns `nil` at the end of its input. konserve
//! never writes an empty segment (`nil` is the byte `f6`), so an empty one
//! means a damaged blob.
//!
//! ```
//! use konserve_s3::internals::codec::clj_cbor::decode;
//! use konserve_s3::value::Value;
//!
//! // {:a 1} as clj-cbor writes it: keywords are tag 39 over ":a".
//! let v = decode(b"\xa1\xd8\x27\x62:a\x01")?;
//! assert_eq!(v, Value::map([(Value::keyword("a"), 1)]));
//! // #{1 2} is tag 258 over an array.
//! assert_eq!(decode(&[0xd9, 0x01, 0x02, 0x82, 0x01, 0x02])?, Value::set([1, 2]));
//! # Ok::<(), konserve_s3::internals::codec::CodecError>(())
//! ```

use num_bigint::BigInt;

use super::cbor::{Frame, Items, cbor_tag, read_value};
use super::reader::{Budget, Depth, Reader, malformed};
use super::{CodecError, SegmentCap};
use crate::value::calendar::{days_from_civil, days_in_month};
use crate::value::{Keyword, Set, Symbol, Value};

/// How deeply [`decode`] lets CBOR items nest: arrays, maps and tags count
/// one level each; the same bound as [`boring::MAX_NESTING`](super::boring::MAX_NESTING).
/// Deeper input is a [`CodecError::TooDeep`], whatever the stack size.
///
/// ```
/// use konserve_s3::internals::codec::{CodecError, clj_cbor};
/// let deep = vec![0x81; clj_cbor::MAX_NESTING + 1]; // [[[[…
/// assert_eq!(clj_cbor::decode(&deep), Err(CodecError::TooDeep(clj_cbor::MAX_NESTING)));
/// ```
pub const MAX_NESTING: usize = super::boring::MAX_NESTING;

/// Decodes the first CBOR data item of `bytes` the way clj-cbor's default
/// codec reads it (see the [module documentation](self) for the mapping);
/// bytes after the item are ignored.
///
/// ```
/// use konserve_s3::internals::codec::{CodecError, clj_cbor::decode};
/// use konserve_s3::value::Value;
///
/// // #inst "2024-01-02T03:04:05.678-00:00": tag 1 over epoch seconds as a double.
/// let inst = decode(&[0xc1, 0xfb, 0x41, 0xd9, 0x64, 0xdf, 0x49, 0x6b, 0x64, 0x5a])?;
/// assert_eq!(inst, Value::Inst(1_704_164_645_678));
/// assert!(matches!(decode(&[0x7a, 0xff, 0xff, 0xff, 0xff]), Err(CodecError::Truncated(_))));
/// assert!(matches!(decode(&[0xa2, 0x01, 0x02, 0x01, 0x03]), Err(CodecError::Malformed(_))));
/// # Ok::<(), CodecError>(())
/// ```
///
/// # Errors
///
/// [`CodecError::Truncated`] when the input ends inside the item (or is
/// empty), [`CodecError::TooDeep`] beyond [`MAX_NESTING`], and
/// [`CodecError::Malformed`] for everything clj-cbor refuses: reserved or
/// misplaced heads, duplicate map keys, tag content of the wrong kind,
/// instants outside what [`Value::Inst`] holds.
#[cfg_attr(not(feature = "internals"), allow(dead_code))] // the tests' entry
pub fn decode(bytes: &[u8]) -> Result<Value, CodecError> {
    decode_capped(bytes, SegmentCap::VALUE)
}

/// Like [`decode`], for a segment capped at `cap`: the decoded items may
/// take at most `cap` bytes in memory.
///
/// # Errors
///
/// As [`decode`]; [`CodecError::TooLarge`] past `cap`.
pub fn decode_capped(bytes: &[u8], cap: SegmentCap) -> Result<Value, CodecError> {
    let mut decoder = Decoder {
        r: Reader::new(bytes),
        depth: Depth::new(MAX_NESTING),
        items: Budget::new(cap),
    };
    read_value(&mut decoder)
}

type R<T> = Result<T, CodecError>;

/// A tag waiting for its content, and the offset of its head.
struct TagAt {
    tag: u64,
    at: usize,
}

struct Decoder<'a> {
    r: Reader<'a>,
    depth: Depth,
    /// What the decoded items take in memory.
    items: Budget,
}

impl<'a> Items<'a> for Decoder<'a> {
    type Tag = TagAt;
    // clj-cbor takes any byte after `f8`, below 32 too.
    const ONE_BYTE_SIMPLE_IN_TWO: bool = true;

    fn cursor(&mut self) -> (&mut Reader<'a>, &mut Depth) {
        (&mut self.r, &mut self.depth)
    }

    fn count_item(&mut self) -> R<()> {
        self.items.charge(size_of::<Value>())
    }

    fn open_tag(&mut self, tag: u64, at: usize, stack: &mut Vec<Frame<TagAt>>) -> R<Option<Value>> {
        stack.push(Frame::Tag(TagAt { tag, at }));
        Ok(None)
    }

    fn close_tag(&mut self, TagAt { tag, at }: TagAt, content: Value) -> R<Value> {
        apply_tag(tag, content).map_err(|e| match e {
            CodecError::Malformed(m) => malformed(format!("tag {tag} at offset {at}: {m}")),
            other => other,
        })
    }

    /// A byte string; an indefinite one joins definite byte-string chunks.
    fn read_bytes(&mut self, info: u8) -> R<Vec<u8>> {
        if info != 31 {
            let len = self.r.cbor_arg(info)?;
            return Ok(self.r.take(len, "byte string")?.to_vec());
        }
        let mut out = Vec::new();
        self.r.cbor_chunks(2, "byte string", |_, chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(out)
    }

    /// A text string; an indefinite one joins definite text chunks, each
    /// decoded on its own (as clj-cbor does).
    fn read_text(&mut self, info: u8) -> R<String> {
        if info != 31 {
            let len = self.r.cbor_arg(info)?;
            return Ok(String::from_utf8_lossy(self.r.take(len, "text string")?).into_owned());
        }
        let mut out = String::new();
        self.r.cbor_chunks(3, "text string", |_, chunk| {
            out.push_str(&String::from_utf8_lossy(chunk));
            Ok(())
        })?;
        Ok(out)
    }
}

/// The value of tag `tag` over its decoded content, as clj-cbor's read
/// handlers make it. Errors are bare messages; the caller adds the tag.
fn apply_tag(tag: u64, content: Value) -> R<Value> {
    match tag {
        0 => match content {
            Value::String(text) => parse_instant(&text)
                .map(Value::Inst)
                .ok_or_else(|| malformed(format!("not an ISO-8601 instant: {text:?}"))),
            _ => Err(malformed("instants must be tagged strings")),
        },
        1 => epoch_millis(&content).map(Value::Inst),
        2 | 3 => match content {
            Value::Bytes(b) if b.is_empty() => Err(malformed("zero-length bignum")),
            Value::Bytes(b) => {
                // java.math.BigInteger(byte[]): big-endian two's complement.
                let n = BigInt::from_signed_bytes_be(&b);
                Ok(Value::integer(if tag == 2 { n } else { -1 - n }))
            }
            _ => Err(malformed("bignums must be tagged byte strings")),
        },
        4 => {
            let [exponent, mantissa] = pair(content, "decimal fractions")?;
            let scale = exponent
                .as_i64()
                .and_then(|e| e.checked_neg())
                .and_then(|s| i32::try_from(s).ok());
            if scale.is_none() || !is_integer(&mantissa) {
                return Err(malformed(
                    "decimal fractions must be [int exponent, integer mantissa]",
                ));
            }
            Ok(cbor_tag(4, Value::Vector(vec![exponent, mantissa])))
        }
        27 => {
            let [name, form] = pair(content, "tagged literals")?;
            let symbol = match name {
                Value::String(s) => Symbol::new(s),
                Value::Symbol(s) => s,
                Value::Keyword(k) => match k.namespace() {
                    Some(ns) => Symbol::ns(ns, k.name()),
                    None => Symbol::simple(k.name()),
                },
                other => {
                    return Err(malformed(format!(
                        "a tagged literal's tag must be text, not {}",
                        other.kind_name()
                    )));
                }
            };
            Ok(Value::Tagged(symbol, Box::new(form)))
        }
        30 => {
            let [numerator, denominator] = pair(content, "rationals")?;
            if !is_integer(&numerator) || !is_integer(&denominator) {
                return Err(malformed("rationals must be [integer integer]"));
            }
            Ok(cbor_tag(30, Value::Vector(vec![numerator, denominator])))
        }
        32 | 35 | 1004 => match content {
            Value::String(s) => {
                if tag == 1004 && parse_date(s.as_bytes()).is_none_or(|(_, end)| end != s.len()) {
                    return Err(malformed(format!("not an ISO-8601 date: {s:?}")));
                }
                Ok(cbor_tag(tag, Value::String(s)))
            }
            _ => Err(malformed("the content must be a text string")),
        },
        37 => match content {
            Value::Bytes(b) => {
                // ByteBuffer.getLong twice: 16 bytes needed, more ignored.
                let first: [u8; 16] = b
                    .get(..16)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| malformed("UUIDs need 16 bytes"))?;
                Ok(Value::Uuid(uuid::Uuid::from_bytes(first)))
            }
            _ => Err(malformed("UUIDs must be tagged byte strings")),
        },
        39 => match content {
            Value::String(text) if text.is_empty() => Err(malformed("empty identifier")),
            Value::String(text) => Ok(match text.strip_prefix(':') {
                Some(name) => Value::Keyword(Keyword::new(name)),
                None => Value::Symbol(Symbol::new(text)),
            }),
            _ => Err(malformed("symbols must be tagged strings")),
        },
        100 => match content {
            // java.time.LocalDate/ofEpochDay's range.
            Value::Int(days) if (-365_243_219_162..=365_241_780_471).contains(&days) => {
                Ok(cbor_tag(100, Value::Int(days)))
            }
            Value::Int(_) | Value::BigInt(_) => Err(malformed("epoch day out of range")),
            _ => Err(malformed("epoch dates must be integers")),
        },
        258 => match content {
            Value::Vector(items) => Ok(Value::Set(items.into_iter().collect::<Set>())),
            _ => Err(malformed("sets must be tagged arrays")),
        },
        55_799 => Ok(content),
        _ => Ok(cbor_tag(tag, content)),
    }
}

fn is_integer(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::BigInt(_))
}

/// The two elements of a two-element array.
fn pair(content: Value, what: &str) -> R<[Value; 2]> {
    match content {
        Value::Vector(items) => <[Value; 2]>::try_from(items)
            .map_err(|_| malformed(format!("{what} must be two-element arrays"))),
        _ => Err(malformed(format!("{what} must be two-element arrays"))),
    }
}

/// Tag 1: `(Instant/ofEpochMilli (long (* secs 1000)))`. Clojure's `*`
/// throws on `long` overflow; `long` of a double truncates towards zero,
/// throws beyond ±2⁶³ and gives 0 for `NaN`.
fn epoch_millis(content: &Value) -> R<i64> {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2⁶³
    match content {
        Value::Int(secs) => secs
            .checked_mul(1000)
            .ok_or_else(|| malformed("epoch seconds out of range")),
        Value::BigInt(_) => Err(malformed("epoch seconds out of range")),
        Value::Float(secs) => {
            let ms = secs * 1000.0;
            if ms.is_nan() {
                // Java's (long) NaN.
                Ok(0)
            } else if (-LIMIT..=LIMIT).contains(&ms) {
                // Truncates, and saturates at 2⁶³, as Java's (long) does.
                Ok(ms as i64)
            } else {
                Err(malformed("epoch seconds out of range"))
            }
        }
        other => Err(malformed(format!(
            "epoch instants must be tagged numbers, not {}",
            other.kind_name()
        ))),
    }
}

/// `n` ASCII digits of `b` from `at`, as a number.
fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let d = b.get(at..at.checked_add(n)?)?;
    d.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

/// `YYYY-MM-DD` at the start of `b` as Java's `ISO_LOCAL_DATE` parses it
/// strictly: four digits, or a sign and up to ten (`+` only beyond four),
/// and a day that exists. Returns `(year, month, day)` and where it ends.
fn parse_date(b: &[u8]) -> Option<((i64, i64, i64), usize)> {
    let (negative, signed, start) = match b.first()? {
        b'+' => (false, true, 1),
        b'-' => (true, true, 1),
        _ => (false, false, 0),
    };
    let count = b
        .get(start..)?
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let digits_ok = match (signed, negative) {
        (false, _) => count == 4,
        (true, false) => (5..=10).contains(&count),
        (true, true) => (4..=10).contains(&count),
    };
    if !digits_ok {
        return None;
    }
    let magnitude = digits(b, start, count)?;
    let year = if negative { -magnitude } else { magnitude };
    if !(-999_999_999..=999_999_999).contains(&year) {
        return None;
    }
    let i = start + count;
    if b.get(i) != Some(&b'-') || b.get(i + 3) != Some(&b'-') {
        return None;
    }
    let month = digits(b, i + 1, 2)?;
    let day = digits(b, i + 4, 2)?;
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    Some(((year, month, day), i + 6))
}

/// Tag 0: epoch milliseconds of `text` as `java.time.Instant/parse` (JDK 17,
/// `ISO_INSTANT`, case-insensitive) reads it: date, `T`, `HH:MM:SS`, an
/// optional fraction of up to nine digits, then `Z` or an offset
/// `±HH:MM[:SS]` within ±18:00. `24:00:00` is the next midnight and
/// `23:59:60` is read as `23:59:59`. Digits beyond milliseconds are
/// truncated; `None` for anything else or an instant outside `i64`
/// milliseconds.
fn parse_instant(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let ((year, month, day), mut i) = parse_date(b)?;
    let at = |i: usize, c: u8| b.get(i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    if !(at(i, b'T') && at(i + 3, b':') && at(i + 6, b':')) {
        return None;
    }
    let mut hour = digits(b, i + 1, 2)?;
    let minute = digits(b, i + 4, 2)?;
    let mut second = digits(b, i + 7, 2)?;
    i += 9;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let count = b
            .get(i..)?
            .iter()
            .take(9)
            .take_while(|c| c.is_ascii_digit())
            .count();
        for k in 0..9 {
            nanos = nanos * 10 + if k < count { digits(b, i + k, 1)? } else { 0 };
        }
        i += count;
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' => {
            i += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            let oh = digits(b, i + 1, 2)?;
            if !at(i + 3, b':') {
                return None;
            }
            let om = digits(b, i + 4, 2)?;
            let mut end = i + 6;
            let mut os = 0;
            if at(end, b':') {
                os = digits(b, end + 1, 2)?;
                end += 3;
            }
            if oh > 18 || om > 59 || os > 59 {
                return None;
            }
            let total = oh * 3600 + om * 60 + os;
            if total > 18 * 3600 {
                return None;
            }
            i = end;
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };
    if i != b.len() {
        return None;
    }
    let mut extra_days = 0;
    if hour == 24 && minute == 0 && second == 0 && nanos == 0 {
        hour = 0;
        extra_days = 1;
    } else if hour == 23 && minute == 59 && second == 60 {
        second = 59;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = i128::from(days_from_civil(year, month, day)) + extra_days;
    let secs =
        days * 86_400 + i128::from(hour * 3600 + minute * 60 + second) - i128::from(offset_secs);
    i64::try_from(secs * 1000 + i128::from(nanos / 1_000_000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_as_java_parses_them() {
        assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_instant("2024-01-02T03:04:05.678Z"),
            Some(1_704_164_645_678)
        );
        assert_eq!(
            parse_instant("2024-01-02t04:04:05.678999999+01:00"),
            Some(1_704_164_645_678)
        );
        assert_eq!(
            parse_instant("1970-01-01T00:00:00.5-00:00:30"),
            Some(30_500)
        );
        assert_eq!(parse_instant("1969-12-31T24:00:00Z"), Some(0));
        assert_eq!(parse_instant("1969-12-31T23:59:60Z"), Some(-1000));
        assert_eq!(parse_instant("1970-01-01T00:00:00.Z"), Some(0));
        assert_eq!(
            parse_instant("-0001-01-01T00:00:00Z"),
            Some(-62_198_755_200_000)
        );
        assert_eq!(
            parse_instant("+10000-01-01T00:00:00Z"),
            Some(253_402_300_800_000)
        );
        for bad in [
            "",
            "1970-01-01",
            "1970-01-01T00:00Z",
            "1970-01-01T00:00:00",
            "1970-02-30T00:00:00Z",
            "1970-01-01T00:00:60Z",
            "1970-01-01T24:00:01Z",
            "1970-01-01T00:00:00.1234567890Z",
            "1970-01-01T00:00:00+19:00",
            "1970-01-01T00:00:00+0100",
            "+1970-01-01T00:00:00Z",
            "19700-01-01T00:00:00Z",
            "1970-01-01T00:00:00Zx",
            "+999999999-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn epoch_seconds_truncate_like_clojure() {
        assert_eq!(epoch_millis(&Value::Float(-1.0005)), Ok(-1000));
        assert_eq!(epoch_millis(&Value::Float(f64::NAN)), Ok(0));
        assert_eq!(
            epoch_millis(&Value::Float(9_223_372_036_854_775.808)),
            Ok(i64::MAX)
        );
        assert!(epoch_millis(&Value::Float(f64::INFINITY)).is_err());
        assert!(epoch_millis(&Value::Int(i64::MAX / 999)).is_err());
        assert_eq!(epoch_millis(&Value::Int(-2)), Ok(-2000));
    }
}
