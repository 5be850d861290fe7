//! konserve's serializer 3, "boring": CBOR (RFC 8949) as the Clojure library
//! boring (0.1.x) writes and reads it.
//!
//! [`encode`] writes one CBOR data item, [`decode`] reads the first one and
//! ignores whatever follows (boring appends an index frame after large
//! values). Decoding is a small hand-written parser over the byte slice: every
//! declared length is checked against the bytes that are left before anything
//! is allocated, nesting is bounded by [`MAX_NESTING`] and kept on the heap
//! rather than the call stack (the encoder does not recurse either), and any
//! input gives a value or a [`CodecError`], never a panic.
//!
//! # Mapping
//!
//! | [`Value`] | CBOR written | also read |
//! | --- | --- | --- |
//! | `Nil`, `Bool` | `f6`, `f5`/`f4` | |
//! | `Int` | major 0/1, shortest head | |
//! | `BigInt` | tag 2/3 over the big-endian magnitude (like boring for a Clojure `BigInt`) | major 0/1 beyond `i64`; tags 2/3 are normalised into `Int` when they fit |
//! | `Float` | `fb` + 8 bytes, the exact bits (NaN payloads and `-0.0` survive) | `f9` half and `fa` single floats |
//! | `String` | text string | indefinite-length text |
//! | `Char` | tag 27 `["clojure/char", "c"]` (boring's reserved name); a character outside the BMP, which a Java `char` cannot hold and boring refuses in that frame, as a one-character text string (reads back as a `String`) | |
//! | `Keyword` | tag 39 over `":ns/name"` | |
//! | `Symbol` | tag 39 over `"ns/name"` (no colon) | |
//! | `Uuid` | tag 37 over 16 bytes | |
//! | `Inst` | tag 0 over `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (Java's `ISO_INSTANT`) for years 0000–9999; outside them tag 1 over epoch seconds: an integer for whole seconds, else a double that reads back as exactly that millisecond (every instant within ±2⁴³ s, about ±278 000 years, has one, and so does every instant read from a double); failing that, integer seconds truncated towards zero | tag 0 with any RFC 3339 offset (fractions beyond milliseconds are truncated, as boring does); tag 1 over an integer or a float |
//! | `Bytes` | byte string | indefinite-length bytes |
//! | `Vector`, `List` | array (a list reads back as a **vector**, as in Clojure) | tag 27 `clojure/with-meta` (the metadata is dropped), tag 27 `clojure/queue` (→ `List`) |
//! | `Map` | map, entries in [`Value`]'s order | tag 27 `clojure/sorted-map`; duplicate keys are an error |
//! | `Set` | tag 258 over an array | tag 27 `clojure/sorted-set`; duplicate elements are an error |
//! | `Tagged(sym, v)` | tag 27 `["ns/name", v]` (boring's record / tagged-literal frame) | any other tag-27 name |
//! | | | tag 39649 (boring's shaped array, `:shapes true`) → vector of maps |
//! | | | tag 256 / tag 25 (stringref namespaces and references) |
//! | | | tag 55799 (self-described CBOR) is skipped |
//!
//! Anything else is kept rather than refused, so that a value read from a
//! store can be written back unchanged:
//!
//! * Another CBOR tag `N` (decimals, rationals, URIs, typed arrays, …) reads
//!   as `Tagged(cbor/tag-N, content)`, and [`encode`] writes such a value back
//!   as tag `N` (for tags this module does not interpret itself; for those it
//!   writes an ordinary tag-27 frame, which reads back as the same `Tagged`).
//! * A simple value other than false/true/null (including `undefined`, `f7`)
//!   reads as `Tagged(cbor/simple, Int(n))` and is written back as that
//!   simple value.
//! * A `Tagged` value whose tag is one of boring's reserved tag-27 names
//!   (`clojure/with-meta`, `clojure/char`, `clojure/sorted-map`,
//!   `clojure/sorted-set`, `clojure/queue`) reads back with that meaning.
//!
//! # Stringrefs
//!
//! boring opens a stringref namespace (tag 256) for large values: a text or
//! byte string at least as long as a reference would be (3 bytes for indices
//! 0–23, 4 below 256, 5 below 65 536, 7 below 2³², 11 beyond) takes the next
//! index, and tag 25 over an index repeats it. Keywords and symbols are text
//! under tag 39 and take part; chunks of an indefinite-length string each take
//! an index, the joined string does not (as in boring). The decoder follows
//! those rules, with nested namespaces shadowing the outer one and a reference
//! outside any namespace refused. The bytes materialised through references
//! (and through shaped-array keys) are limited to [`MAX_EXPANSION`] per
//! document.
//!
//! [`encode`] writes plain CBOR for small values and tries the stringref
//! form from [`STRINGREF_MIN_SIZE`] bytes on, keeping it when it is smaller.
//! Like boring's writer, it references repeated **text** only; byte strings
//! take an index but are never referenced.
//!
//! ```
//! use konserve_s3::internals::codec::boring::{decode, encode};
//! use konserve_s3::value::Value;
//!
//! let v: Value = r#"{:a 1, :b {:c [1 2]}}"#.parse().unwrap();
//! let bytes = encode(&v);
//! assert_eq!(bytes[0], 0xa2); // a CBOR map of two entries
//! assert_eq!(decode(&bytes)?, v);
//! # Ok::<(), konserve_s3::internals::codec::CodecError>(())
//! ```

use std::collections::{BTreeSet, HashMap};

use num_bigint::{BigInt, Sign};

use super::cbor::{Frame, Items, cbor_tag, read_value};
use super::reader::{Budget, Depth, Reader, malformed};
use super::{CodecError, SegmentCap};
use crate::value::calendar::{MS_PER_DAY, civil_from_days, days_from_civil, days_in_month};
use crate::value::{Keyword, MAX_DEPTH, Map, Set, Symbol, Value};

/// How deeply [`decode`] lets CBOR items nest: arrays, maps and tags count one
/// level each; 1024 (twice [`MAX_DEPTH`]), the depth boring itself reads up
/// to. A set or a tag-27 frame takes two levels (tag and array), a keyword
/// one (tag 39).
///
/// ```
/// use konserve_s3::internals::codec::{CodecError, boring};
/// let deep = vec![0x81; boring::MAX_NESTING + 1]; // [[[[…
/// assert_eq!(boring::decode(&deep), Err(CodecError::TooDeep(boring::MAX_NESTING)));
/// ```
pub const MAX_NESTING: usize = 2 * MAX_DEPTH;

/// The most bytes [`decode`] copies out of stringref references (tag 25) and
/// shaped-array keys for one document (256 MiB). A reference costs two or
/// three input bytes and can repeat a long string, so without a limit a small
/// input could ask for a quadratic amount of memory.
///
/// ```
/// assert_eq!(konserve_s3::internals::codec::boring::MAX_EXPANSION, 256 << 20);
/// ```
pub const MAX_EXPANSION: usize = 256 << 20;

/// [`encode`] writes plain CBOR when that is shorter than this many bytes;
/// from this size on it also tries the stringref form (see
/// [`encode_stringref`]) and keeps the shorter of the two.
///
/// ```
/// use konserve_s3::internals::codec::boring::{STRINGREF_MIN_SIZE, encode};
/// use konserve_s3::value::Value;
/// let small = Value::vector(vec![Value::keyword("repeated"); 10]);
/// assert!(encode(&small).len() < STRINGREF_MIN_SIZE);
/// assert_eq!(encode(&small)[0], 0x8a); // plain array, no tag 256
/// ```
pub const STRINGREF_MIN_SIZE: usize = 4096;

/// CBOR tags this module gives a meaning of its own; a `Tagged(cbor/tag-N, …)`
/// with one of these `N` is written as a tag-27 frame, not as tag `N`.
const INTERPRETED_TAGS: [u64; 12] = [0, 1, 2, 3, 25, 27, 37, 39, 256, 258, 39_649, 55_799];

/// Encodes `value` as one CBOR data item the way boring does (see the
/// [module documentation](self) for the mapping); values of
/// [`STRINGREF_MIN_SIZE`] bytes or more use a stringref namespace when that
/// makes them smaller.
///
/// Never fails and never recurses, whatever the nesting of `value`.
///
/// ```
/// use konserve_s3::internals::codec::boring::encode;
/// use konserve_s3::value::Value;
///
/// assert_eq!(encode(&Value::from(42)), [0x18, 0x2a]);
/// assert_eq!(encode(&Value::keyword("kw")), b"\xd8\x27\x63:kw");
/// assert_eq!(encode(&Value::Float(3.25)), [0xfb, 0x40, 0x0a, 0, 0, 0, 0, 0, 0]);
/// ```
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// [`encode`], appended to `out` (the bytes already there are kept, and
/// play no part in the encoding): the plain form is written in place, and
/// replaced by the stringref form only when that is shorter.
pub(crate) fn encode_into(value: &Value, out: &mut Vec<u8>) {
    let start = out.len();
    let mut plain = Encoder::new(false);
    plain.out = std::mem::take(out);
    *out = plain.run(value);
    let plain_len = out.len() - start;
    if plain_len < STRINGREF_MIN_SIZE || !has_text(value) {
        return;
    }
    let packed = encode_stringref(value);
    if packed.len() < plain_len {
        out.truncate(start);
        out.extend_from_slice(&packed);
    }
}

/// Whether `value` holds any text that stringrefs could share (strings,
/// keywords, symbols, map keys): without any, the stringref form is the
/// plain one plus its tag, never shorter, and is not worth encoding.
fn has_text(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Bytes(_) | Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
            Value::Vector(items) | Value::List(items) => stack.extend(items.iter()),
            Value::Set(items) => stack.extend(items.iter()),
            Value::Map(m) => {
                for (k, v) in m.iter() {
                    stack.push(k);
                    stack.push(v);
                }
            }
            _ => return true,
        }
    }
    false
}

/// Encodes `value` as plain CBOR, without stringrefs: standard CBOR any
/// decoder reads. For most small values this is byte-identical to boring.
///
/// ```
/// use konserve_s3::internals::codec::boring::encode_plain;
/// use konserve_s3::value::Value;
///
/// let v: Value = r#"[1 "two" :three]"#.parse().unwrap();
/// assert_eq!(encode_plain(&v), b"\x83\x01\x63two\xd8\x27\x66:three");
/// ```
#[cfg_attr(not(feature = "internals"), allow(dead_code))] // tests and fuzzers
pub fn encode_plain(value: &Value) -> Vec<u8> {
    Encoder::new(false).run(value)
}

/// Encodes `value` inside a stringref namespace (tag 256): every text string
/// that repeats an earlier one long enough to have taken an index is written
/// as tag 25 over that index. boring reads this form (it is what boring writes
/// for large values); it pays off when strings, keywords or map keys repeat.
///
/// ```
/// use konserve_s3::internals::codec::boring::{decode, encode_plain, encode_stringref};
/// use konserve_s3::value::Value;
///
/// let v = Value::vector((0..100).map(|i| Value::map([(Value::keyword("id"), Value::from(i))])));
/// let packed = encode_stringref(&v);
/// assert_eq!(packed[..3], [0xd9, 0x01, 0x00]); // tag 256
/// assert!(packed.len() < encode_plain(&v).len());
/// assert_eq!(decode(&packed)?, v);
/// # Ok::<(), konserve_s3::internals::codec::CodecError>(())
/// ```
pub fn encode_stringref(value: &Value) -> Vec<u8> {
    Encoder::new(true).run(value)
}

/// Decodes the first CBOR data item of `bytes`; bytes after it (boring's index
/// frame) are ignored.
///
/// # Errors
///
/// [`CodecError::Truncated`] when the item ends early,
/// [`CodecError::TooDeep`] beyond [`MAX_NESTING`] levels, and
/// [`CodecError::Malformed`] for anything else that is not a value: invalid
/// UTF-8, reserved or misplaced heads, a tag whose content does not fit it
/// (a uuid that is not 16 bytes, an invalid RFC 3339 instant, …), duplicate map
/// keys or set elements, a stringref outside a namespace or out of range, more
/// than [`MAX_EXPANSION`] bytes through references.
///
/// ```
/// use konserve_s3::internals::codec::{CodecError, boring::decode};
/// use konserve_s3::value::Value;
///
/// let v = decode(b"\xa1\xd8\x27\x62:a\x01")?;
/// assert_eq!(v, Value::map([(Value::keyword("a"), 1)]));
/// assert!(matches!(decode(&[0x7a, 0xff, 0xff, 0xff, 0xff]), Err(CodecError::Truncated(_))));
/// assert!(matches!(decode(&[0x62, 0xc3, 0x28]), Err(CodecError::Malformed(_))));
/// # Ok::<(), CodecError>(())
/// ```
#[cfg_attr(not(feature = "internals"), allow(dead_code))] // the tests' entry
pub fn decode(bytes: &[u8]) -> Result<Value, CodecError> {
    decode_prefix(bytes).map(|(value, _)| value)
}

/// Like [`decode`], and also says how many bytes the first item took (where
/// boring's index frame, if any, begins).
///
/// # Errors
///
/// As [`decode`].
///
/// ```
/// use konserve_s3::internals::codec::boring::decode_prefix;
/// use konserve_s3::value::Value;
///
/// assert_eq!(decode_prefix(&[0x18, 0x2a, 0xf6])?, (Value::from(42), 2));
/// # Ok::<(), konserve_s3::internals::codec::CodecError>(())
/// ```
#[cfg_attr(not(feature = "internals"), allow(dead_code))] // the tests' entry
pub fn decode_prefix(bytes: &[u8]) -> Result<(Value, usize), CodecError> {
    decode_prefix_capped(bytes, SegmentCap::VALUE)
}

/// Like [`decode`], for a segment capped at `cap`: the decoded items (at
/// their size in memory), the bytes copied out of references (at most
/// [`MAX_EXPANSION`] too) and the stringref tables (at their size in memory,
/// summed over every namespace of the document) may each be at most `cap`.
///
/// # Errors
///
/// As [`decode`]; [`CodecError::TooLarge`] past `cap`.
///
/// ```
/// use konserve_s3::internals::codec::{CodecError, SegmentCap, boring::{decode_capped, encode_stringref}};
/// use konserve_s3::value::Value;
///
/// let v = Value::Vector(vec![Value::from("repeated"); 1000]);
/// let packed = encode_stringref(&v);
/// assert_eq!(decode_capped(&packed, SegmentCap::METADATA)?, v);
/// let tiny = SegmentCap::METADATA.with_limit(100);
/// assert_eq!(decode_capped(&packed, tiny), Err(tiny.exceeded()));
/// # Ok::<(), CodecError>(())
/// ```
pub fn decode_capped(bytes: &[u8], cap: SegmentCap) -> Result<Value, CodecError> {
    decode_prefix_capped(bytes, cap).map(|(value, _)| value)
}

fn decode_prefix_capped(bytes: &[u8], cap: SegmentCap) -> Result<(Value, usize), CodecError> {
    let mut decoder = Decoder {
        r: Reader::new(bytes),
        depth: Depth::new(MAX_NESTING),
        refs: None,
        table: Budget::new(cap),
        items: Budget::new(cap),
        expanded: 0,
        cap,
    };
    let value = read_value(&mut decoder)?;
    Ok((value, decoder.r.pos()))
}

// ---------------------------------------------------------------------------
// Shared helpers

/// The shortest string that earns stringref index `index` (the stringref
/// spec's rule: at least as long as the reference to it).
fn min_ref_len(index: u64) -> usize {
    if index < 24 {
        3
    } else if index < 256 {
        4
    } else if index < 65_536 {
        5
    } else if index < 1 << 32 {
        7
    } else {
        11
    }
}

/// The CBOR tag `N` of a `cbor/tag-N` symbol, if it names one to write raw.
fn raw_tag(sym: &Symbol) -> Option<u64> {
    if sym.namespace() != Some("cbor") {
        return None;
    }
    let digits = sym.name().strip_prefix("tag-")?;
    let tag: u64 = digits.parse().ok()?;
    // Canonical digits only, so that the name reads back identically.
    if tag.to_string() != digits || INTERPRETED_TAGS.contains(&tag) {
        return None;
    }
    Some(tag)
}

/// The simple value `n` of a `Tagged(cbor/simple, Int(n))`, if it is one that
/// reads back as that same value.
fn raw_simple(sym: &Symbol, inner: &Value) -> Option<u8> {
    if sym.namespace() != Some("cbor") || sym.name() != "simple" {
        return None;
    }
    match inner {
        Value::Int(n) => {
            let n = u8::try_from(*n).ok()?;
            (n < 20 || n == 23 || n >= 32).then_some(n)
        }
        _ => None,
    }
}

/// Within ±2⁴³ s (about ±278 000 years) every millisecond has a double of
/// epoch seconds that reads back as exactly that millisecond.
#[cfg(test)]
const FLOAT_EXACT_MS: i64 = (1 << 43) * 1000;

/// A double of epoch seconds that [`epoch_seconds_to_millis`] reads back as
/// exactly `ms`: the nearest double to `ms / 1000` or one of its two
/// neighbours. Every millisecond within ±2⁴³ s has one, and so does every
/// instant this decoder produced from a double, however large; other
/// instants beyond that range have none.
fn exact_epoch_seconds(ms: i64) -> Option<f64> {
    let nearest = ms as f64 / 1000.0;
    [nearest, nearest.next_up(), nearest.next_down()]
        .into_iter()
        .find(|&secs| epoch_seconds_to_millis(secs) == Some(ms))
}

/// `ms` as Java's `ISO_INSTANT` prints it (`2024-01-02T03:04:05.678Z`, no
/// fraction when it is zero), or `None` outside the years 0000–9999 that RFC
/// 3339 can express.
fn format_instant(ms: i64) -> Option<String> {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let (h, rest) = (in_day / 3_600_000, in_day % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1000, rest % 1000);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    if milli != 0 {
        out.push_str(&format!(".{milli:03}"));
    }
    out.push('Z');
    Some(out)
}

/// What an RFC 3339 text under tag 0 denotes.
#[derive(Debug, PartialEq)]
enum Instant {
    /// Epoch milliseconds (sub-millisecond digits truncated, as boring does).
    Millis(i64),
    /// A valid timestamp whose second is 60 (a leap second), which boring
    /// keeps as an uninterpreted tag-0 value.
    LeapSecond,
}

/// Parses RFC 3339 (section 5.6) as boring accepts it: four-digit year,
/// `T`/`t`, seconds up to 60, 1–9 fraction digits, `Z`/`z` or an offset
/// within ±18:00.
fn parse_rfc3339(text: &str) -> Option<Instant> {
    let b = text.as_bytes();
    fn num(b: &[u8], from: usize, len: usize) -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    }
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let year = num(b, 0, 4)?;
    let month = num(b, 5, 2)?;
    let day = num(b, 8, 2)?;
    let hour = num(b, 11, 2)?;
    let minute = num(b, 14, 2)?;
    let second = num(b, 17, 2)?;
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut milli = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let count = b
            .get(start..)?
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if !(1..=9).contains(&count) {
            return None;
        }
        // Milliseconds: the first three digits, zero-padded.
        for k in 0..3 {
            let digit = if k < count { num(b, start + k, 1)? } else { 0 };
            milli = milli * 10 + digit;
        }
        i = start + count;
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && sep(i + 3, b":") => {
            let oh = num(b, i + 1, 2)?;
            let om = num(b, i + 4, 2)?;
            if !(oh < 18 && om <= 59 || oh == 18 && om == 0) {
                return None;
            }
            let minutes = oh * 60 + om;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    if second == 60 {
        return Some(Instant::LeapSecond);
    }
    let local = days_from_civil(year, month, day) * MS_PER_DAY
        + hour * 3_600_000
        + minute * 60_000
        + second * 1000
        + milli;
    Some(Instant::Millis(local - offset_minutes * 60_000))
}

/// Epoch seconds given as a double, in milliseconds the way boring reads tag
/// 1: through the shortest decimal of the double, rounded half-even at
/// nanoseconds, then floored to milliseconds.
fn epoch_seconds_to_millis(secs: f64) -> Option<i64> {
    if !secs.is_finite() {
        return None;
    }
    // Display prints the shortest round-tripping decimal, never an exponent.
    let text = format!("{}", secs.abs());
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    if int_part.len() > 20 {
        return None;
    }
    let whole: i128 = int_part.parse().ok()?;
    let frac = frac_part.as_bytes();
    let mut nanos: i128 = 0;
    for k in 0..9 {
        let digit = frac.get(k).map_or(0, |d| i128::from(d.wrapping_sub(b'0')));
        nanos = nanos * 10 + digit;
    }
    let rest = frac.get(9..).unwrap_or(&[]);
    if let Some((&first, tail)) = rest.split_first() {
        let above_half = first > b'5' || (first == b'5' && tail.iter().any(|&d| d != b'0'));
        let exactly_half = first == b'5' && tail.iter().all(|&d| d == b'0');
        if above_half || (exactly_half && nanos % 2 == 1) {
            nanos += 1;
        }
    }
    let mut total = whole.checked_mul(1_000_000_000)?.checked_add(nanos)?;
    if secs.is_sign_negative() {
        total = -total;
    }
    i64::try_from(total.div_euclid(1_000_000)).ok()
}

// ---------------------------------------------------------------------------
// Encoder

/// The writer's stringref table: text already written, by index.
struct StringRefs {
    texts: HashMap<String, u64>,
    next: u64,
}

struct Encoder {
    out: Vec<u8>,
    refs: Option<StringRefs>,
}

impl Encoder {
    fn new(stringrefs: bool) -> Encoder {
        Encoder {
            out: Vec::new(),
            refs: stringrefs.then(|| StringRefs {
                texts: HashMap::new(),
                next: 0,
            }),
        }
    }

    /// A head with the shortest argument encoding.
    fn head(&mut self, major: u8, arg: u64) {
        let m = major << 5;
        if let Ok(small) = u8::try_from(arg) {
            if small < 24 {
                self.out.push(m | small);
            } else {
                self.out.extend_from_slice(&[m | 24, small]);
            }
        } else if let Ok(v) = u16::try_from(arg) {
            self.out.push(m | 25);
            self.out.extend_from_slice(&v.to_be_bytes());
        } else if let Ok(v) = u32::try_from(arg) {
            self.out.push(m | 26);
            self.out.extend_from_slice(&v.to_be_bytes());
        } else {
            self.out.push(m | 27);
            self.out.extend_from_slice(&arg.to_be_bytes());
        }
    }

    fn len_head(&mut self, major: u8, len: usize) {
        self.head(major, len as u64);
    }

    fn tag(&mut self, tag: u64) {
        self.head(6, tag);
    }

    fn text(&mut self, s: &str) {
        if let Some(refs) = &mut self.refs {
            if let Some(&index) = refs.texts.get(s) {
                self.tag(25);
                self.head(0, index);
                return;
            }
            if s.len() >= min_ref_len(refs.next) {
                refs.texts.insert(s.to_owned(), refs.next);
                refs.next += 1;
            }
        }
        self.len_head(3, s.len());
        self.out.extend_from_slice(s.as_bytes());
    }

    /// A byte string: takes a stringref index like text, but is never
    /// referenced (as in boring's writer).
    fn bytes(&mut self, b: &[u8]) {
        if let Some(refs) = &mut self.refs
            && b.len() >= min_ref_len(refs.next)
        {
            refs.next += 1;
        }
        self.len_head(2, b.len());
        self.out.extend_from_slice(b);
    }

    fn int(&mut self, i: i64) {
        match u64::try_from(i) {
            Ok(u) => self.head(0, u),
            // -1 - i, which is !i, is non-negative here.
            Err(_) => self.head(1, !i as u64),
        }
    }

    fn bigint(&mut self, n: &BigInt) {
        let (tag, magnitude) = if n.sign() == Sign::Minus {
            (3, -(n + 1u8))
        } else {
            (2, n.clone())
        };
        self.tag(tag);
        // `to_bytes_be` gives [0] for zero, like Java's `toByteArray`.
        let (_, bytes) = magnitude.to_bytes_be();
        self.bytes(&bytes);
    }

    fn float(&mut self, f: f64) {
        self.out.push(0xfb);
        self.out.extend_from_slice(&f.to_bits().to_be_bytes());
    }

    fn inst(&mut self, ms: i64) {
        if let Some(text) = format_instant(ms) {
            self.tag(0);
            self.text(&text);
        } else {
            self.tag(1);
            match (ms % 1000 != 0).then(|| exact_epoch_seconds(ms)).flatten() {
                Some(secs) => self.float(secs),
                None => self.int(ms / 1000),
            }
        }
    }

    /// Writes `root` without recursion: `stack` holds the values still to be
    /// written, the next one on top.
    fn run(mut self, root: &Value) -> Vec<u8> {
        if self.refs.is_some() {
            self.tag(256);
        }
        let mut stack: Vec<&Value> = vec![root];
        while let Some(v) = stack.pop() {
            match v {
                Value::Nil => self.out.push(0xf6),
                Value::Bool(b) => self.out.push(if *b { 0xf5 } else { 0xf4 }),
                Value::Int(i) => self.int(*i),
                Value::BigInt(n) => self.bigint(n),
                Value::Float(f) => self.float(*f),
                Value::String(s) => self.text(s),
                Value::Char(c) if u32::from(*c) > 0xffff => {
                    self.text(c.encode_utf8(&mut [0; 4]));
                }
                Value::Char(c) => {
                    self.tag(27);
                    self.head(4, 2);
                    self.text("clojure/char");
                    self.text(c.encode_utf8(&mut [0; 4]));
                }
                Value::Keyword(k) => {
                    self.tag(39);
                    self.text(&format!(":{}", k.full_name()));
                }
                Value::Symbol(s) => {
                    self.tag(39);
                    self.text(&s.full_name());
                }
                Value::Uuid(u) => {
                    self.tag(37);
                    self.bytes(u.as_bytes());
                }
                Value::Inst(ms) => self.inst(*ms),
                Value::Bytes(b) => self.bytes(b),
                Value::Vector(items) | Value::List(items) => {
                    self.len_head(4, items.len());
                    stack.extend(items.iter().rev());
                }
                Value::Map(m) => {
                    self.len_head(5, m.len());
                    for (k, v) in m.iter().rev() {
                        stack.push(v);
                        stack.push(k);
                    }
                }
                Value::Set(s) => {
                    self.tag(258);
                    self.len_head(4, s.len());
                    stack.extend(s.iter().rev());
                }
                Value::Tagged(sym, inner) => {
                    if let Some(tag) = raw_tag(sym) {
                        self.tag(tag);
                        stack.push(inner);
                    } else if let Some(n) = raw_simple(sym, inner) {
                        if n < 24 {
                            self.out.push(0xe0 | n);
                        } else {
                            self.out.extend_from_slice(&[0xf8, n]);
                        }
                    } else {
                        self.tag(27);
                        self.head(4, 2);
                        self.text(&sym.full_name());
                        stack.push(inner);
                    }
                }
            }
        }
        self.out
    }
}

// ---------------------------------------------------------------------------
// Decoder

/// Records a definite-length string in the open namespace `refs`, if it is
/// long enough to earn the next index.
fn register(
    refs: &mut Option<Vec<StringRef>>,
    budget: &mut Budget,
    start: usize,
    len: usize,
    text: bool,
) -> R<()> {
    if let Some(table) = refs
        && len >= min_ref_len(table.len() as u64)
    {
        budget.charge(size_of::<StringRef>())?;
        table.push(StringRef { start, len, text });
    }
    Ok(())
}

/// `bytes`, found at offset `start`, as UTF-8 text.
fn utf8(start: usize, bytes: &[u8]) -> R<&str> {
    std::str::from_utf8(bytes).map_err(|e| malformed(format!("text string at offset {start}: {e}")))
}

/// One entry of a stringref table: a definite-length string in the input.
#[derive(Clone, Copy)]
struct StringRef {
    start: usize,
    len: usize,
    text: bool,
}

struct Decoder<'a> {
    r: Reader<'a>,
    depth: Depth,
    /// The innermost open stringref namespace, if any.
    refs: Option<Vec<StringRef>>,
    /// What the stringref tables of the document have taken.
    table: Budget,
    /// What the decoded items take in memory.
    items: Budget,
    /// Bytes materialised through references so far (see [`MAX_EXPANSION`]).
    expanded: usize,
    /// The segment's cap.
    cap: SegmentCap,
}

type R<T> = Result<T, CodecError>;

impl<'a> Decoder<'a> {
    fn charge(&mut self, bytes: usize) -> R<()> {
        self.expanded = self.expanded.saturating_add(bytes);
        if self.expanded > self.cap.bytes() {
            return Err(self.cap.exceeded());
        }
        if self.expanded > MAX_EXPANSION {
            return Err(malformed(format!(
                "references expand to more than {MAX_EXPANSION} bytes"
            )));
        }
        Ok(())
    }

    fn definite_bytes(&mut self, info: u8) -> R<&'a [u8]> {
        let len = self.r.cbor_arg(info)?;
        let start = self.r.pos();
        let bytes = self.r.take(len, "byte string")?;
        register(&mut self.refs, &mut self.table, start, bytes.len(), false)?;
        Ok(bytes)
    }

    fn definite_text(&mut self, info: u8) -> R<&'a str> {
        let len = self.r.cbor_arg(info)?;
        let start = self.r.pos();
        let bytes = self.r.take(len, "text string")?;
        let text = utf8(start, bytes)?;
        register(&mut self.refs, &mut self.table, start, bytes.len(), true)?;
        Ok(text)
    }

    /// The value of tag `tag` over its decoded content.
    fn apply_tag(&mut self, tag: u64, content: Value) -> R<Value> {
        match tag {
            0 => match content {
                Value::String(text) => match parse_rfc3339(&text) {
                    Some(Instant::Millis(ms)) => Ok(Value::Inst(ms)),
                    Some(Instant::LeapSecond) => Ok(cbor_tag(0, Value::String(text))),
                    None => Err(malformed(format!(
                        "tag 0 is not an RFC 3339 instant: {text:?}"
                    ))),
                },
                _ => Err(malformed("tag 0 must wrap a text string")),
            },
            1 => {
                let ms = match content {
                    Value::Int(secs) => secs.checked_mul(1000),
                    Value::Float(secs) => epoch_seconds_to_millis(secs),
                    Value::BigInt(_) => None,
                    _ => return Err(malformed("tag 1 must wrap a number")),
                };
                ms.map(Value::Inst)
                    .ok_or_else(|| malformed("tag 1 epoch out of range"))
            }
            2 | 3 => match content {
                Value::Bytes(b) => {
                    let magnitude = BigInt::from_bytes_be(Sign::Plus, &b);
                    let n = if tag == 2 { magnitude } else { -1 - magnitude };
                    Ok(Value::integer(n))
                }
                _ => Err(malformed(format!("tag {tag} must wrap a byte string"))),
            },
            27 => frame(content),
            37 => match content {
                Value::Bytes(b) => uuid::Uuid::from_slice(&b)
                    .map(Value::Uuid)
                    .map_err(|_| malformed("tag 37 must wrap 16 bytes")),
                _ => Err(malformed("tag 37 must wrap a byte string")),
            },
            39 => Ok(match content {
                Value::String(text) => match text.strip_prefix(':') {
                    Some(name) => Value::Keyword(Keyword::new(name)),
                    None => Value::Symbol(Symbol::new(text)),
                },
                other => cbor_tag(39, other),
            }),
            256 | 55_799 => Ok(content),
            258 => match content {
                Value::Vector(items) => to_set(items, "set"),
                _ => Err(malformed("tag 258 must wrap an array")),
            },
            39_649 => self.shaped(content),
            _ => Ok(cbor_tag(tag, content)),
        }
    }

    fn read_stringref(&mut self) -> R<Value> {
        let ib = self.r.byte()?;
        if ib >> 5 != 0 {
            return Err(malformed(format!(
                "tag 25 must wrap an unsigned integer, not head {ib:#04x}"
            )));
        }
        let index = self.r.cbor_arg(ib & 0x1f)?;
        let table = self
            .refs
            .as_ref()
            .ok_or_else(|| malformed("stringref outside any tag-256 namespace"))?;
        let entry = usize::try_from(index)
            .ok()
            .and_then(|i| table.get(i))
            .copied()
            .ok_or_else(|| {
                malformed(format!(
                    "stringref {index}, but the namespace holds {} strings",
                    table.len()
                ))
            })?;
        self.charge(entry.len)?;
        let bytes = self
            .r
            .input()
            .get(entry.start..entry.start + entry.len)
            .ok_or_else(|| malformed("stringref outside the input"))?;
        if entry.text {
            let text = std::str::from_utf8(bytes).map_err(|e| malformed(e.to_string()))?;
            Ok(Value::String(text.to_owned()))
        } else {
            Ok(Value::Bytes(bytes.to_vec()))
        }
    }

    /// Tag 39649, boring's shaped array `[keys, rows]`: a vector of maps that
    /// share keys. A row may be shorter than the keys, and `undefined` (`f7`)
    /// marks an absent key.
    fn shaped(&mut self, content: Value) -> R<Value> {
        let Value::Vector(mut parts) = content else {
            return Err(malformed("tag 39649 must wrap an array"));
        };
        let (Some(rows), Some(keys), None) = (parts.pop(), parts.pop(), parts.pop()) else {
            return Err(malformed("tag 39649 must wrap [keys rows]"));
        };
        let (Value::Vector(keys), Value::Vector(rows)) = (keys, rows) else {
            return Err(malformed("tag 39649 keys and rows must be arrays"));
        };
        if keys.is_empty() {
            return Err(malformed("tag 39649 needs at least one key"));
        }
        if keys.iter().collect::<BTreeSet<_>>().len() != keys.len() {
            return Err(malformed("tag 39649 has a duplicate key"));
        }
        let weights: Vec<usize> = keys.iter().map(weight).collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let Value::Vector(values) = row else {
                return Err(malformed("tag 39649 row must be an array"));
            };
            if values.len() > keys.len() {
                return Err(malformed(format!(
                    "tag 39649 row of {} values for {} keys",
                    values.len(),
                    keys.len()
                )));
            }
            let mut map = Map::new();
            for ((key, &cost), value) in keys.iter().zip(&weights).zip(values) {
                if is_undefined(&value) {
                    continue;
                }
                self.charge(cost)?;
                map.insert(key.clone(), value);
            }
            out.push(Value::Map(map));
        }
        Ok(Value::Vector(out))
    }
}

/// A tag waiting for its content; for tag 256, the enclosing namespace's
/// table to restore afterwards.
struct TagFrame {
    tag: u64,
    outer_refs: Option<Vec<StringRef>>,
}

impl<'a> Items<'a> for Decoder<'a> {
    type Tag = TagFrame;
    // RFC 8949: a simple value below 32 has only the one-byte form.
    const ONE_BYTE_SIMPLE_IN_TWO: bool = false;

    fn cursor(&mut self) -> (&mut Reader<'a>, &mut Depth) {
        (&mut self.r, &mut self.depth)
    }

    fn read_bytes(&mut self, info: u8) -> R<Vec<u8>> {
        if info != 31 {
            return Ok(self.definite_bytes(info)?.to_vec());
        }
        let mut out = Vec::new();
        let (refs, table) = (&mut self.refs, &mut self.table);
        self.r.cbor_chunks(2, "byte string", |start, bytes| {
            register(refs, table, start, bytes.len(), false)?;
            out.extend_from_slice(bytes);
            Ok(())
        })?;
        Ok(out)
    }

    fn read_text(&mut self, info: u8) -> R<String> {
        if info != 31 {
            return Ok(self.definite_text(info)?.to_owned());
        }
        let mut out = String::new();
        let (refs, table) = (&mut self.refs, &mut self.table);
        self.r.cbor_chunks(3, "text string", |start, bytes| {
            out.push_str(utf8(start, bytes)?);
            register(refs, table, start, bytes.len(), true)?;
            Ok(())
        })?;
        Ok(out)
    }

    fn open_tag(
        &mut self,
        tag: u64,
        _at: usize,
        stack: &mut Vec<Frame<TagFrame>>,
    ) -> R<Option<Value>> {
        let mut outer_refs = None;
        match tag {
            25 => {
                let value = self.read_stringref()?;
                self.depth.leave();
                return Ok(Some(value));
            }
            // These wrap an array, checked before it is read.
            27 | 258 | 39_649 => match self.r.peek() {
                None => return Err(self.r.truncated("tag content missing")),
                Some(b) if b >> 5 != 4 => {
                    return Err(malformed(format!(
                        "tag {tag} must wrap an array, not head {b:#04x}"
                    )));
                }
                Some(_) => {}
            },
            256 => outer_refs = self.refs.replace(Vec::new()),
            _ => {}
        }
        stack.push(Frame::Tag(TagFrame { tag, outer_refs }));
        Ok(None)
    }

    fn count_item(&mut self) -> R<()> {
        self.items.charge(size_of::<Value>())
    }

    fn close_tag(&mut self, frame: TagFrame, content: Value) -> R<Value> {
        if frame.tag == 256 {
            self.refs = frame.outer_refs;
        }
        self.apply_tag(frame.tag, content)
    }
}

/// Is this what `undefined` (`f7`) decodes to?
fn is_undefined(v: &Value) -> bool {
    matches!(v, Value::Tagged(sym, inner)
        if sym.namespace() == Some("cbor") && sym.name() == "simple" && **inner == Value::Int(23))
}

/// Tag 27, `[type-name, argument]`: boring's reserved names, else a record
/// or tagged literal.
fn frame(content: Value) -> R<Value> {
    let Value::Vector(mut parts) = content else {
        return Err(malformed("tag 27 must wrap an array"));
    };
    let (Some(argument), Some(name), None) = (parts.pop(), parts.pop(), parts.pop()) else {
        return Err(malformed("tag 27 must wrap [type-name argument]"));
    };
    let Value::String(name) = name else {
        return Err(malformed("tag 27 type name must be text"));
    };
    match name.as_str() {
        "clojure/with-meta" => match argument {
            Value::Vector(mut pair) if pair.len() == 2 => {
                if !matches!(pair.first(), Some(Value::Map(_))) {
                    return Err(malformed("clojure/with-meta metadata must be a map"));
                }
                Ok(pair.pop().unwrap_or_default())
            }
            _ => Err(malformed("clojure/with-meta must wrap [meta value]")),
        },
        "clojure/char" => match argument {
            Value::String(s) => {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Ok(Value::Char(c)),
                    _ => Err(malformed("clojure/char must wrap exactly one character")),
                }
            }
            _ => Err(malformed("clojure/char must wrap a text string")),
        },
        "clojure/sorted-map" => match argument {
            Value::Map(m) => Ok(Value::Map(m)),
            _ => Err(malformed("clojure/sorted-map must wrap a map")),
        },
        "clojure/sorted-set" => match argument {
            Value::Vector(items) => to_set(items, "clojure/sorted-set"),
            Value::Set(s) => Ok(Value::Set(s)),
            Value::Nil => Ok(Value::Set(Set::new())),
            _ => Err(malformed("clojure/sorted-set must wrap an array")),
        },
        "clojure/queue" => match argument {
            Value::Vector(items) => Ok(Value::List(items)),
            Value::Set(s) => Ok(Value::List(s.into_iter().collect())),
            Value::Nil => Ok(Value::List(Vec::new())),
            _ => Err(malformed("clojure/queue must wrap an array")),
        },
        _ => Ok(Value::Tagged(Symbol::new(name), Box::new(argument))),
    }
}

/// A set of `items`, refusing duplicates.
fn to_set(items: Vec<Value>, what: &str) -> R<Value> {
    let count = items.len();
    let set: Set = items.into_iter().collect();
    if set.len() != count {
        return Err(malformed(format!("{what} has a duplicate element")));
    }
    Ok(Value::Set(set))
}

/// Roughly the bytes a clone of `v` allocates (for [`MAX_EXPANSION`]).
fn weight(v: &Value) -> usize {
    let mut total = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        let own = match v {
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Keyword(k) => k.name().len() + k.namespace().map_or(0, str::len),
            Value::Symbol(s) => s.name().len() + s.namespace().map_or(0, str::len),
            Value::BigInt(n) => usize::try_from(n.bits() / 8).unwrap_or(usize::MAX),
            Value::Vector(items) | Value::List(items) => {
                stack.extend(items);
                0
            }
            Value::Map(m) => {
                for (k, v) in m {
                    stack.push(k);
                    stack.push(v);
                }
                0
            }
            Value::Set(s) => {
                stack.extend(s);
                0
            }
            Value::Tagged(sym, inner) => {
                stack.push(inner);
                sym.name().len() + sym.namespace().map_or(0, str::len)
            }
            _ => 0,
        };
        total = total
            .saturating_add(own)
            .saturating_add(std::mem::size_of::<Value>());
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn edn(s: &str) -> Value {
        s.parse().unwrap()
    }

    #[test]
    fn small_values_match_boring_bytes() {
        for (text, bytes) in [
            (
                "{:a 1, :b {:c [1 2]}}",
                "a2d827623a6101d827623a62a1d827623a63820102",
            ),
            ("42", "182a"),
            ("-7", "26"),
            ("nil", "f6"),
            ("true", "f5"),
            ("false", "f4"),
            ("9007199254740993", "1b0020000000000001"),
            ("3.25", "fb400a000000000000"),
            ("\"text\"", "6474657874"),
            (":kw", "d827633a6b77"),
            (":ns/kw", "d827663a6e732f6b77"),
            ("sym", "d8276373796d"),
            ("{\"string-key\" 1}", "a16a737472696e672d6b657901"),
            (
                "#inst \"2024-01-02T03:04:05.678-00:00\"",
                "c07818323032342d30312d30325430333a30343a30352e3637385a",
            ),
            (
                "#uuid \"11111111-2222-3333-4444-555555555555\"",
                "d8255011111111222233334444555555555555",
            ),
            ("#{1}", "d9010281 01"),
            ("\\a", "d81b826c636c6f6a7572652f636861726161"),
        ] {
            let bytes = hex(&bytes.replace(' ', ""));
            let v = edn(text);
            assert_eq!(encode(&v), bytes, "{text}");
            assert_eq!(decode(&bytes).unwrap(), v, "{text}");
        }
    }

    #[test]
    fn boring_golden_floats_and_frames() {
        // From boring's golden corpus (0.1.27), with the d90100 prefix.
        let nan = decode(&hex("d90100fb7ff8000000000000")).unwrap();
        assert!(matches!(nan, Value::Float(f) if f.is_nan()));
        assert_eq!(decode(&hex("f93e00")).unwrap(), Value::Float(1.5));
        assert_eq!(
            decode(&hex("d90100fa40490fd0")).unwrap(),
            Value::Float(f64::from(f32::from_bits(0x40490fd0)))
        );
        assert_eq!(
            decode(&hex(
                "d90100d81b8272636c6f6a7572652f736f727465642d6d6170a2d827623a6101d827623a6202"
            ))
            .unwrap(),
            edn("{:a 1 :b 2}")
        );
        assert_eq!(
            decode(&hex(
                "d90100d81b8272636c6f6a7572652f736f727465642d73657483010203"
            ))
            .unwrap(),
            edn("#{1 2 3}")
        );
        assert_eq!(
            decode(&hex(
                "d90100d81b826d636c6f6a7572652f717565756582d827623a61d827623a62"
            ))
            .unwrap(),
            edn("(:a :b)")
        );
        assert_eq!(
            decode(&hex(
                "d90100d81b8271636c6f6a7572652f776974682d6d65746182a1d827623a6df5820102"
            ))
            .unwrap(),
            edn("[1 2]")
        );
        assert_eq!(
            decode(&hex(
                "d9010081d81b8271636c6f6a7572652f776974682d6d65746182a1d827623a6901a1d827623a6101"
            ))
            .unwrap(),
            edn("[{:a 1}]")
        );
        assert_eq!(
            decode(&hex("d90100d81b826c636c6f6a7572652f6368617263e0b2ac")).unwrap(),
            Value::Char('ಬ')
        );
        assert_eq!(
            decode(&hex(
                "d90100c07818323030392d30322d31335432333a33313a33302e3132335a"
            ))
            .unwrap(),
            edn("#inst \"2009-02-13T23:31:30.123Z\"")
        );
    }

    #[test]
    fn instants() {
        assert_eq!(format_instant(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(format_instant(-1).unwrap(), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_instant(1_234_567_890_120).unwrap(),
            "2009-02-13T23:31:30.120Z"
        );
        assert_eq!(
            format_instant(-62_167_219_200_000).unwrap(),
            "0000-01-01T00:00:00Z"
        );
        assert_eq!(format_instant(-62_167_219_200_001), None);
        assert_eq!(
            format_instant(253_402_300_799_999).unwrap(),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(format_instant(253_402_300_800_000), None);
        let ms = |s: &str| match parse_rfc3339(s) {
            Some(Instant::Millis(ms)) => Some(ms),
            _ => None,
        };
        assert_eq!(ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(ms("1970-01-01t01:00:00+01:00"), Some(0));
        assert_eq!(ms("1969-12-31T19:00:00.5-05:00"), Some(500));
        assert_eq!(
            ms("2024-01-02T03:04:05.678999999z"),
            Some(1_704_164_645_678)
        );
        assert_eq!(ms("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
        assert_eq!(ms("1960-01-01T00:00:00.001Z"), Some(-315_619_199_999));
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.1234567890Z",
            "2024-01-01T00:00:00+18:01",
            "2024-01-01T00:00:00+1:00",
            "2024-01-01 00:00:00Z",
            "+12024-01-01T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00Zx",
            "２０２４-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z"),
            Some(Instant::LeapSecond)
        );
        assert_eq!(
            ms("2024-01-01T00:00:00+18:00"),
            Some(1_704_067_200_000 - 18 * 3_600_000)
        );
    }

    #[test]
    fn epoch_seconds() {
        assert_eq!(
            epoch_seconds_to_millis(915_246_245.678),
            Some(915_246_245_678)
        );
        assert_eq!(epoch_seconds_to_millis(-1.5), Some(-1500));
        assert_eq!(epoch_seconds_to_millis(-0.0001), Some(-1));
        assert_eq!(epoch_seconds_to_millis(1e-10), Some(0));
        assert_eq!(epoch_seconds_to_millis(1e300), None);
        assert_eq!(epoch_seconds_to_millis(f64::NAN), None);
        assert_eq!(epoch_seconds_to_millis(f64::INFINITY), None);
        // Half-even at nanoseconds: 0.0000000005 → 0 ns, 0.0000000015 → 2 ns.
        assert_eq!(epoch_seconds_to_millis(0.000_000_000_5), Some(0));
        // tag 1 over an integer and a float
        assert_eq!(
            decode(&hex("c11a514b67b0")).unwrap(),
            Value::Inst(1_363_896_240_000)
        );
        assert_eq!(
            decode(&hex("c1fb41d452d9ec200000")).unwrap(),
            Value::Inst(1_363_896_240_500)
        );
        assert!(decode(&hex("c1fb7ff0000000000000")).is_err());
        assert!(decode(&hex("c11bffffffffffffffff")).is_err());
        assert!(decode(&hex("c16161")).is_err());
    }

    #[test]
    fn instants_outside_rfc3339_years_round_trip() {
        for ms in [
            253_402_300_800_000i64,
            253_402_300_800_001,
            -62_167_219_200_001,
            -62_167_219_200_000 - 1000,
            4_000_000_000_000_000,
            -4_000_000_000_000_123,
            i64::MAX / 1000 * 1000,
            i64::MIN / 1000 * 1000,
        ] {
            let bytes = encode(&Value::Inst(ms));
            assert_eq!(bytes[0], 0xc1, "{ms}");
            assert_eq!(decode(&bytes), Ok(Value::Inst(ms)), "{ms}");
        }
        // Beyond ±2^43 seconds only whole seconds are kept (truncated).
        assert_eq!(
            decode(&encode(&Value::Inst(i64::MAX))),
            Ok(Value::Inst(i64::MAX / 1000 * 1000))
        );
        assert_eq!(
            decode(&encode(&Value::Inst(i64::MIN))),
            Ok(Value::Inst(i64::MIN / 1000 * 1000))
        );
        let edge = FLOAT_EXACT_MS - 1;
        assert_eq!(decode(&encode(&Value::Inst(edge))), Ok(Value::Inst(edge)));
        assert_eq!(decode(&encode(&Value::Inst(-edge))), Ok(Value::Inst(-edge)));
        // Beyond it, an instant is exact when some double reads back as it,
        // and otherwise keeps its whole seconds.
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..20_000 {
            let ms = rng.i64(..);
            let Ok(Value::Inst(back)) = decode(&encode(&Value::Inst(ms))) else {
                panic!("{ms} does not come back as an instant");
            };
            assert!(back == ms || back == ms / 1000 * 1000, "{ms} -> {back}");
        }
        // An instant read from a double far beyond ±2^43 s is written back as
        // a double that reads as the same instant (found by fuzzing: it used
        // to lose its milliseconds).
        let far = [0xc1, 0xfb, 0xc2, 0xc8, 0xca, 0xc1, 0xc1, 0x5b, 0xca, 0x23];
        let value = decode(&far).unwrap();
        assert_eq!(value, Value::Inst(-54_518_226_270_100_270));
        assert_eq!(decode(&encode(&value)), Ok(value));
        // Every millisecond within the float range comes back exactly.
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let ms = rng.i64(-FLOAT_EXACT_MS + 1..FLOAT_EXACT_MS);
            assert_eq!(
                decode(&encode(&Value::Inst(ms))),
                Ok(Value::Inst(ms)),
                "{ms}"
            );
        }
    }

    #[test]
    fn integers() {
        let cases: [(&str, &str); 9] = [
            ("0", "00"),
            ("23", "17"),
            ("24", "1818"),
            ("-1", "20"),
            ("-25", "3818"),
            ("9223372036854775807", "1b7fffffffffffffff"),
            ("-9223372036854775808", "3b7fffffffffffffff"),
            ("9223372036854775808N", "c2488000000000000000"),
            ("-9223372036854775809N", "c3488000000000000000"),
        ];
        for (text, bytes) in cases {
            assert_eq!(encode(&edn(text)), hex(bytes), "{text}");
            assert_eq!(decode(&hex(bytes)).unwrap(), edn(text), "{text}");
        }
        // Major 0/1 beyond i64, bignums that fit.
        assert_eq!(
            decode(&hex("1bffffffffffffffff")).unwrap(),
            edn("18446744073709551615N")
        );
        assert_eq!(
            decode(&hex("3bffffffffffffffff")).unwrap(),
            edn("-18446744073709551616N")
        );
        assert_eq!(decode(&hex("c2412a")).unwrap(), Value::Int(42));
        assert_eq!(decode(&hex("c240")).unwrap(), Value::Int(0));
        assert_eq!(decode(&hex("c34100")).unwrap(), Value::Int(-1));
        assert_eq!(
            decode(&hex("c2490100000000000000000000"))
                .unwrap()
                .to_string(),
            "18446744073709551616N"
        );
        // Non-preferred heads are still CBOR.
        assert_eq!(decode(&hex("1b000000000000002a")).unwrap(), Value::Int(42));
        // Unnormalised BigInt round-trips to an equal value.
        let big = Value::BigInt(BigInt::from(5));
        assert_eq!(encode(&big), hex("c24105"));
        assert_eq!(decode(&encode(&big)).unwrap(), big);
        assert_eq!(encode(&Value::BigInt(BigInt::from(0))), hex("c24100"));
        assert_eq!(encode(&Value::BigInt(BigInt::from(-1))), hex("c34100"));
    }

    #[test]
    fn stringref_namespaces() {
        // ["abc", 25(0)] inside a namespace.
        assert_eq!(
            decode(&hex("d901008263616263d81900")).unwrap(),
            edn("[\"abc\" \"abc\"]")
        );
        // "ab" is too short to take an index.
        assert!(decode(&hex("d9010082626162d81900")).is_err());
        // Outside a namespace.
        assert!(decode(&hex("d81900")).is_err());
        assert!(decode(&hex("8263616263d81900")).is_err());
        // Sibling namespaces do not share a table.
        let v = decode(&hex(
            "82d901008264616263646461626364d9010082647778797ad81900",
        ))
        .unwrap();
        assert_eq!(v, edn("[[\"abcd\" \"abcd\"] [\"wxyz\" \"wxyz\"]]"));
        assert!(decode(&hex("82d90100826461626364d81900d90100826477787978d81901")).is_err());
        // A nested namespace shadows the outer one, which comes back after it.
        let v = decode(&hex("d90100836461626364d9010082636566 67d81900d81900")).unwrap();
        assert_eq!(v, edn("[\"abcd\" [\"efg\" \"efg\"] \"abcd\"]"));
        let e = decode(&hex("d9010082646162636481d90100d81900")).unwrap_err();
        assert!(matches!(e, CodecError::Malformed(_)), "{e:?}");
        // Byte strings take indices too, and a reference can yield them.
        let v = decode(&hex("d90100834301020363616263 82d81900d81901")).unwrap();
        assert_eq!(
            v,
            Value::vector([
                Value::Bytes(vec![1, 2, 3]),
                Value::from("abc"),
                Value::vector([Value::Bytes(vec![1, 2, 3]), Value::from("abc")]),
            ])
        );
        // Index out of range.
        assert!(decode(&hex("d901008263616263d81901")).is_err());
        assert!(decode(&hex("d901008263616263d8191bffffffffffffffff")).is_err());
        // A keyword through a reference; a reference to bytes under tag 39 is
        // not an identifier.
        assert_eq!(
            decode(&hex("d9010082d827633a6b77d827d81900")).unwrap(),
            edn("[:kw :kw]")
        );
        let v = decode(&hex("d901008243010203d827d81900")).unwrap();
        assert_eq!(
            v,
            Value::vector([
                Value::Bytes(vec![1, 2, 3]),
                Value::Tagged(
                    Symbol::ns("cbor", "tag-39"),
                    Box::new(Value::Bytes(vec![1, 2, 3]))
                ),
            ])
        );
        // Tag 25 over something other than an unsigned integer.
        assert!(decode(&hex("d901008263616263d81920")).is_err());
        assert!(decode(&hex("d901008263616263d81963616263")).is_err());
        // Indefinite-length chunks take indices; the joined string does not.
        let v = decode(&hex("d90100837f636162636364656fffd81900d81901")).unwrap();
        assert_eq!(v, edn("[\"abcdeo\" \"abc\" \"deo\"]"));
        // A uuid's 16 bytes take an index.
        let v = decode(&hex(
            "d9010084d8255011111111222233334444555555555555636162636461626364d81901",
        ))
        .unwrap();
        assert_eq!(v.as_seq().unwrap()[3], Value::from("abc"));
    }

    #[test]
    fn stringref_thresholds_follow_the_index() {
        // 30 distinct 3-byte strings: indices 0..23 take them, later ones are
        // too short (24+ needs 4 bytes), then a 4-byte one takes index 24.
        let mut items: Vec<Value> = (0..30).map(|i| Value::from(format!("s{i:02}"))).collect();
        items.push(Value::from("four"));
        items.push(Value::from("four"));
        items.push(Value::from("s00"));
        items.push(Value::from("s29"));
        let v = Value::Vector(items);
        let packed = encode_stringref(&v);
        assert_eq!(decode(&packed).unwrap(), v);
        let tail = &packed[packed.len() - 11..];
        // "four" → 25(24), "s00" → 25(0), "s29" is written again literally.
        assert_eq!(tail, hex("d8191818d81900 63733239").as_slice());
    }

    #[test]
    fn encode_picks_stringrefs_for_large_repetitive_values() {
        let v = Value::vector((0..500).map(|i| {
            Value::map([
                (Value::keyword("id"), Value::from(i)),
                (Value::keyword("name"), Value::from(format!("user-{i}"))),
            ])
        }));
        let plain = encode_plain(&v);
        let chosen = encode(&v);
        assert!(plain.len() >= STRINGREF_MIN_SIZE);
        assert_eq!(chosen[..3], [0xd9, 0x01, 0x00]);
        assert!(chosen.len() < plain.len());
        assert_eq!(decode(&chosen).unwrap(), v);
        // Same layout as boring's :v14: first map literal, then references.
        assert_eq!(
            chosen[..41],
            hex(
                "d9010099 01f4 a2 d827 63 3a6964 00 d827 65 3a6e616d65 66 757365722d30 a2 d827 d81900 01 d827 d81901"
            )[..]
        );
        // Nothing repeats: plain wins even when large.
        let unique = Value::vector((0..2000).map(|i| Value::from(format!("unique-{i}"))));
        assert_eq!(encode(&unique), encode_plain(&unique));
    }

    #[test]
    fn unknown_tags_and_simple_values_pass_through() {
        for bytes in [
            "c482211903e7", // decimal 9.99 (tag 4)
            "d8207368747470733a2f2f6578616d706c652e636f6d",
            "d84043010203", // uint8 typed array
            "f7",           // undefined
            "e0",           // simple 0
            "f820",         // simple 32
            "f8ff",
            "c06a2020202020202020202020", // not RFC 3339 → error, checked below
        ] {
            let b = hex(bytes);
            match decode(&b) {
                Ok(v) => {
                    assert!(matches!(v, Value::Tagged(..)), "{bytes}: {v:?}");
                    assert_eq!(encode(&v), b, "{bytes}");
                }
                Err(e) => assert!(bytes.starts_with("c0"), "{bytes}: {e}"),
            }
        }
        assert_eq!(
            decode(&hex("f7")).unwrap(),
            Value::Tagged(Symbol::ns("cbor", "simple"), Box::new(Value::Int(23)))
        );
        assert_eq!(
            decode(&hex("c482211903e7")).unwrap().to_string(),
            "#cbor/tag-4 [-2 999]"
        );
        // Interpreted tags named cbor/tag-N go out as tag-27 frames.
        let odd = Value::Tagged(Symbol::ns("cbor", "tag-25"), Box::new(Value::from(0)));
        assert_eq!(encode(&odd)[..2], [0xd8, 0x1b]);
        assert_eq!(decode(&encode(&odd)).unwrap(), odd);
        let odd = Value::Tagged(Symbol::ns("cbor", "simple"), Box::new(Value::from(21)));
        assert_eq!(decode(&encode(&odd)).unwrap(), odd);
        // Leap seconds stay uninterpreted.
        let leap = decode(&hex("c074323031362d31322d33315432333a35393a36305a")).unwrap();
        assert_eq!(leap.to_string(), "#cbor/tag-0 \"2016-12-31T23:59:60Z\"");
        assert_eq!(decode(&encode(&leap)).unwrap(), leap);
        // Self-described CBOR is skipped.
        assert_eq!(decode(&hex("d9d9f7182a")).unwrap(), Value::Int(42));
        // Tag 39 over a non-string.
        assert_eq!(
            decode(&hex("d82701")).unwrap().to_string(),
            "#cbor/tag-39 1"
        );
    }

    #[test]
    fn records_and_tagged_literals() {
        let rec = decode(&hex("d81b82696d792e6e732e526563a1d827623a7801")).unwrap();
        assert_eq!(rec.to_string(), "#my.ns.Rec {:x 1}");
        assert_eq!(
            encode(&rec),
            hex("d81b82696d792e6e732e526563a1d827623a7801")
        );
        let lit = edn("#my/tag [1 2]");
        assert_eq!(decode(&encode(&lit)).unwrap(), lit);
        // Indefinite-length frame arrays are accepted, other lengths are not.
        assert_eq!(
            decode(&hex("d81b9f617801ff")).unwrap(),
            Value::Tagged(Symbol::new("x"), Box::new(Value::from(1)))
        );
        assert!(decode(&hex("d81b83617801 02")).is_err());
        assert!(decode(&hex("d81b8101")).is_err());
        assert!(decode(&hex("d81b820101")).is_err());
        assert!(decode(&hex("d81b9f617801 02ff")).is_err());
        assert!(decode(&hex("d81b8271636c6f6a7572652f776974682d6d65746101")).is_err());
        assert!(decode(&hex("d81b8271636c6f6a7572652f776974682d6d6574618201 02")).is_err());
        assert!(decode(&hex("d81b826c636c6f6a7572652f636861726261 62")).is_err());
        assert!(decode(&hex("d81b826c636c6f6a7572652f6368617260")).is_err());
    }

    #[test]
    fn shaped_arrays() {
        // 39649([[:a, :b], [[1, 2], [3], [f7, 4], []]])
        let b = hex("d99ae18282d827623a61d827623a628482010281038 2f70480");
        assert_eq!(decode(&b).unwrap(), edn("[{:a 1 :b 2} {:a 3} {:b 4} {}]"));
        assert!(decode(&hex("d99ae182808180")).is_err()); // no keys
        assert!(decode(&hex("d99ae1828201018180")).is_err()); // duplicate keys
        assert!(decode(&hex("d99ae182810181820102")).is_err()); // row too long
        assert!(decode(&hex("d99ae1818101")).is_err()); // not [keys rows]
        assert_eq!(decode(&hex("d99ae1829f01ff8180")).unwrap(), edn("[{}]"));
        assert!(decode(&hex("d99ae1820181f6")).is_err()); // keys not an array
        assert!(decode(&hex("d99ae1a0")).is_err()); // not an array at all
    }

    #[test]
    fn maps_sets_and_duplicates() {
        assert!(decode(&hex("a201010102")).is_err());
        assert!(decode(&hex("d90102820101")).is_err());
        assert!(decode(&hex("d9010201")).is_err());
        assert_eq!(decode(&hex("d901029f0102ff")).unwrap(), edn("#{1 2}"));
        assert_eq!(decode(&hex("bf0102ff")).unwrap(), edn("{1 2}"));
        assert_eq!(decode(&hex("9f01ff")).unwrap(), edn("[1]"));
        assert_eq!(
            decode(&hex("5f4101420203ff")).unwrap(),
            Value::Bytes(vec![1, 2, 3])
        );
        assert_eq!(decode(&hex("7f6161626263ff")).unwrap(), Value::from("abc"));
        assert!(decode(&hex("7f4161ff")).is_err());
        assert!(decode(&hex("7f7f6161ffff")).is_err());
        assert!(decode(&hex("bf01ff")).is_err());
    }

    #[test]
    fn hostile_heads() {
        for bytes in [
            "",
            "18",
            "19ff",
            "1c",
            "1d",
            "1e",
            "1f",
            "3f",
            "ff",
            "dc",
            "fc",
            "f818",
            "f800",
            "5bffffffffffffffff",
            "9bffffffffffffffff",
            "bbffffffffffffffff",
            "7a7fffffff",
            "d8",
            "d82500",
            "d8254f000102030405060708090a0b0c0d0e",
            "c2f6",
            "c001",
            "c1f6",
        ] {
            let b = hex(bytes);
            assert!(decode(&b).is_err(), "{bytes}");
        }
        assert!(matches!(
            decode(&hex("9bffffffffffffffff")),
            Err(CodecError::Truncated(_))
        ));
        assert!(matches!(
            decode(&hex("5bffffffffffffffff")),
            Err(CodecError::Truncated(_))
        ));
    }

    #[test]
    fn depth_is_bounded() {
        let ok: Vec<u8> = std::iter::repeat_n(0x81, MAX_NESTING)
            .chain([0x01])
            .collect();
        assert!(decode(&ok).is_ok());
        let deep: Vec<u8> = std::iter::repeat_n(0x81, 100_000).chain([0x01]).collect();
        assert_eq!(decode(&deep), Err(CodecError::TooDeep(MAX_NESTING)));
        let tags: Vec<u8> = std::iter::repeat_n([0xd8, 0x20], 100_000)
            .flatten()
            .collect();
        assert_eq!(decode(&tags), Err(CodecError::TooDeep(MAX_NESTING)));
        let maps: Vec<u8> = std::iter::repeat_n([0xa1, 0x01], 100_000)
            .flatten()
            .collect();
        assert_eq!(decode(&maps), Err(CodecError::TooDeep(MAX_NESTING)));
        let indef: Vec<u8> = std::iter::repeat_n(0x9f, 100_000).collect();
        assert_eq!(decode(&indef), Err(CodecError::TooDeep(MAX_NESTING)));
        let sets: Vec<u8> = std::iter::repeat_n([0xd9, 0x01, 0x02, 0x81], 100_000)
            .flatten()
            .collect();
        assert_eq!(decode(&sets), Err(CodecError::TooDeep(MAX_NESTING)));
    }
}
