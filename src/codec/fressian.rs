//! konserve's serializer 1, Fressian, as Clojure's konserve writes and reads
//! it: `clojure.data.fressian` 1.0.0 over the Java reference `fressian`
//! 0.6.6, with konserve's handler stack (data.fressian's
//! `clojure-write-handlers` / `clojure-read-handlers` plus incognito's
//! `pvec`, `plist`, `set` and `irecord` handlers).
//!
//! [`encode`] writes what that writer writes for the same data (one object,
//! no footer: konserve's segments have none), [`decode`] reads the first
//! object of a segment. Decoding is a hand-written parser over the byte
//! slice: every declared length is checked against the bytes that are left
//! before anything is allocated, nesting is bounded by [`MAX_NESTING`] and
//! kept on the heap rather than the call stack (the encoder does not recurse
//! either), what cache references copy is bounded (see [`MAX_EXPANSION`]), and
//! any input gives a value or a [`CodecError`], never a panic.
//!
//! # Mapping
//!
//! | [`Value`] | Fressian written (as Clojure writes it) | also read |
//! | --- | --- | --- |
//! | `Nil`, `Bool` | `NULL` `f7`, `TRUE` `f5` / `FALSE` `f6` | |
//! | `Int` | Fressian's packed integer forms, exactly as `FressianWriter.writeInt` picks them (`-1`..`63` one byte, then 2–8 bytes, `INT` `f8` + 8 bytes) | |
//! | `BigInt` | `BIGINT` `c6` over the two's-complement bytes (data.fressian's `bigint` handler for `clojure.lang.BigInt`) | normalised into `Int` when it fits |
//! | `Float` | `DOUBLE_0` `fb` for `0.0`, `DOUBLE_1` `fc` for `1.0`, else `DOUBLE` `fa` + the 8 bytes of the bits (see below for `-0.0` and NaN) | `FLOAT` `f9` (widened) |
//! | `String` | `STRING_PACKED_LENGTH_START` + n below 8 bytes, else `STRING` `e3`; chunked (`STRING_CHUNK` `e2`) past 64 KiB, as Java does | |
//! | `Char` | struct `"char"` over the code point (data.fressian's handler); a character outside the BMP, which a Java `char` cannot hold, as a one-character **string** (reads back as a `String`, like the boring codec) | |
//! | `Keyword`, `Symbol` | `KEY` `ca` / `SYM` `c9` over namespace (or `nil`) and name, both strings through the priority cache, as data.fressian's `write-named` does | |
//! | `Uuid` | `UUID` `c3` over 16 bytes | |
//! | `Inst` | `INST` `c8` over the epoch milliseconds (a `java.util.Date`) | |
//! | `Bytes` | `BYTES_PACKED_LENGTH_START` + n below 8, else `BYTES` `d9`; chunks (`BYTES_CHUNK` `d8`) of 65 535 bytes past that | |
//! | `Vector` | struct `"pvec"` (incognito): count, then the elements | a plain Fressian list (`e4`–`eb`, `LIST`, `BEGIN_CLOSED_LIST`, `BEGIN_OPEN_LIST`; a `java.util.List` in Java, printed `[…]` by Clojure); typed arrays (`int[]`, `long[]`, `float[]`, `double[]`, `boolean[]`, `Object[]`) |
//! | `List` | struct `"plist"` (incognito): count, then the elements | |
//! | `Map` | `MAP` `c0` over a list of alternating keys and values, in [`Value`]'s order | a later duplicate key wins |
//! | `Set` | `SET` `c1` over a list, in [`Value`]'s order | duplicates merge, as in Clojure |
//! | `Tagged(sym, Map)` | struct `"irecord"` (incognito's record frame): entry count, the tag as a symbol, then each entry as a two-element list; Clojure reads it as the record registered for `sym`, else as an `IncognitoTaggedLiteral` | data.fressian's own `"record"` struct |
//! | `Tagged(fressian/regex, String)`, `Tagged(fressian/uri, String)` | `REGEX` `c4`, `URI` `c5` | |
//! | `Tagged(fressian/bigdec, [unscaled scale])` | `BIGDEC` `c7` (a `java.math.BigDecimal`) | |
//! | `Tagged(fressian/ratio, [numerator denominator])` | struct `"ratio"` over two `BIGINT`s (a `clojure.lang.Ratio`) | |
//! | any other `Tagged(sym, v)` | a struct tagged with `sym`'s full name and one field, `v` (Clojure reads a `TaggedObject`) | any struct of an unknown string tag: one field reads as `Tagged(tag, field)`, other counts as `Tagged(tag, [fields…])` |
//!
//! Struct tags (`pvec`, `plist`, `char`, `irecord`, …) go through Fressian's
//! struct cache and keyword and symbol parts through its priority cache,
//! numbered in writing order as `FressianWriter` numbers them, so that for
//! values whose maps and sets are written in the same order the bytes are
//! Clojure's own. Maps and sets are written in [`Value`]'s order; Clojure
//! writes array maps in insertion order and hash maps and sets in hash order,
//! which a [`Value`] does not keep: such values differ in bytes but read
//! back equal.
//!
//! A `Tagged` value whose tag's full name is one of the struct tags this
//! module interprets (`pvec`, `plist`, `char`, `key`, `irecord`, …) and whose
//! content is not a map is written under that tag, as Java writes a
//! `TaggedObject`, and reads back with that tag's meaning (or an error).
//!
//! # Deliberate differences from Java's writer
//!
//! * `-0.0` is written as `DOUBLE` with its bits, so it keeps its sign (Java
//!   compares `d == 0.0` and writes `DOUBLE_0`, which reads back as `0.0`).
//! * NaN keeps its payload bits (Java's `doubleToLongBits` writes the
//!   canonical `7ff8000000000000`); every NaN reads back as a NaN in Java.
//!
//! # Reading
//!
//! Strings are decoded as Java does: each UTF-16 unit in one to three bytes
//! (surrogates one by one, `NUL` as `00`; lenient about continuation bytes,
//! as `Fns.readUTF8Chars` is), then joined; an unpaired surrogate is an
//! error, since a Rust string cannot hold it. `RESET_CACHES` and footers
//! (`FOOTER`, magic and length checked, the checksum not, as konserve's
//! reader does not) are honoured. Lengths, counts and cache indices must be
//! written as integers, as every Fressian writer writes them.
//!
//! ```
//! use konserve_s3::internals::codec::fressian::{decode, encode};
//! use konserve_s3::value::Value;
//!
//! let v: Value = r#"{:a 1, :b {:c [1 2]}}"#.parse().unwrap();
//! let bytes = encode(&v);
//! assert_eq!(bytes[..2], [0xc0, 0xe8]); // MAP over a list of 4
//! assert_eq!(decode(&bytes)?, v);
//! # Ok::<(), konserve_s3::internals::codec::CodecError>(())
//! ```

use std::collections::HashMap;

use num_bigint::BigInt;

use super::{CodecError, SegmentCap};

use super::reader::{MAX_PREALLOC, Reader, malformed};
use crate::value::{Keyword, MAX_DEPTH, Map, Set, Symbol, Value};

/// How deeply [`decode`] lets Fressian objects nest: 1024 (twice
/// [`MAX_DEPTH`]). Every list, struct (a vector, keyword, map, …) and cache
/// entry being read counts one level; a value taken from the cache counts
/// the levels it had when it was cached.
///
/// ```
/// use konserve_s3::internals::codec::{CodecError, fressian};
/// let deep = vec![0xe5; fressian::MAX_NESTING + 1]; // lists of one list of …
/// assert_eq!(fressian::decode(&deep), Err(CodecError::TooDeep(fressian::MAX_NESTING)));
/// ```
pub const MAX_NESTING: usize = 2 * MAX_DEPTH;

/// The fixed part of what [`decode`] lets one document copy through
/// Fressian's caches: 256 MiB, plus 128 bytes for every input byte. Counted
/// roughly, as a [`Value`]'s own size plus the text or bytes it holds, for
/// every value put into the priority cache, every reference to one, and every
/// struct tag a struct cache reference repeats. A reference costs one input
/// byte and can repeat a large value, so without a limit a small input could
/// ask for an exponential amount of memory; the per-byte allowance keeps
/// large legitimate documents, which repeat short keyword names millions of
/// times, readable.
///
/// ```
/// assert_eq!(konserve_s3::internals::codec::fressian::MAX_EXPANSION, 256 << 20);
/// ```
pub const MAX_EXPANSION: usize = 256 << 20;

/// The per-input-byte part of the expansion budget (see [`MAX_EXPANSION`]).
const EXPANSION_PER_INPUT_BYTE: usize = 128;

/// Fressian's codes (`org.fressian.impl.Codes`).
mod code {
    pub const PRIORITY_CACHE_PACKED_START: u8 = 0x80;
    pub const PRIORITY_CACHE_PACKED_END: u8 = 0xA0;
    pub const STRUCT_CACHE_PACKED_START: u8 = 0xA0;
    pub const STRUCT_CACHE_PACKED_END: u8 = 0xB0;
    pub const LONG_ARRAY: u8 = 0xB0;
    pub const DOUBLE_ARRAY: u8 = 0xB1;
    pub const BOOLEAN_ARRAY: u8 = 0xB2;
    pub const INT_ARRAY: u8 = 0xB3;
    pub const FLOAT_ARRAY: u8 = 0xB4;
    pub const OBJECT_ARRAY: u8 = 0xB5;
    pub const MAP: u8 = 0xC0;
    pub const SET: u8 = 0xC1;
    pub const UUID: u8 = 0xC3;
    pub const REGEX: u8 = 0xC4;
    pub const URI: u8 = 0xC5;
    pub const BIGINT: u8 = 0xC6;
    pub const BIGDEC: u8 = 0xC7;
    pub const INST: u8 = 0xC8;
    pub const SYM: u8 = 0xC9;
    pub const KEY: u8 = 0xCA;
    pub const GET_PRIORITY_CACHE: u8 = 0xCC;
    pub const PUT_PRIORITY_CACHE: u8 = 0xCD;
    pub const FOOTER: u8 = 0xCF;
    pub const BYTES_PACKED_LENGTH_START: u8 = 0xD0;
    pub const BYTES_PACKED_LENGTH_END: u8 = 0xD8;
    pub const BYTES_CHUNK: u8 = 0xD8;
    pub const BYTES: u8 = 0xD9;
    pub const STRING_PACKED_LENGTH_START: u8 = 0xDA;
    pub const STRING_PACKED_LENGTH_END: u8 = 0xE2;
    pub const STRING_CHUNK: u8 = 0xE2;
    pub const STRING: u8 = 0xE3;
    pub const LIST_PACKED_LENGTH_START: u8 = 0xE4;
    pub const LIST_PACKED_LENGTH_END: u8 = 0xEC;
    pub const LIST: u8 = 0xEC;
    pub const BEGIN_CLOSED_LIST: u8 = 0xED;
    pub const BEGIN_OPEN_LIST: u8 = 0xEE;
    pub const STRUCTTYPE: u8 = 0xEF;
    pub const STRUCT: u8 = 0xF0;
    pub const TRUE: u8 = 0xF5;
    pub const FALSE: u8 = 0xF6;
    pub const NULL: u8 = 0xF7;
    pub const INT: u8 = 0xF8;
    pub const FLOAT: u8 = 0xF9;
    pub const DOUBLE: u8 = 0xFA;
    pub const DOUBLE_0: u8 = 0xFB;
    pub const DOUBLE_1: u8 = 0xFC;
    pub const END_COLLECTION: u8 = 0xFD;
    pub const RESET_CACHES: u8 = 0xFE;
}

/// `Ranges.BYTE_CHUNK_SIZE`: the largest chunk of a chunked byte array.
const BYTE_CHUNK_SIZE: usize = 65_535;
/// The largest chunk of a chunked string (Java's string buffer).
const STRING_CHUNK_SIZE: usize = 65_536;
/// Priority cache indices below this have a one-byte reference.
const PRIORITY_CACHE_PACKED: usize = 32;
/// Struct cache indices below this have a one-byte reference.
const STRUCT_CACHE_PACKED: usize = 16;
/// Lengths below this are packed into the code (strings, bytes, lists).
const PACKED_LENGTH: usize = 8;

/// The namespace of the symbols tagging values this module has no variant
/// for (`fressian/regex`, `fressian/uri`, `fressian/bigdec`,
/// `fressian/ratio`).
const OWN_NS: &str = "fressian";

/// Encodes `value` as one Fressian object the way konserve's Clojure
/// serializer does (see the [module documentation](self) for the mapping).
///
/// Never fails and never recurses, whatever the nesting of `value`.
///
/// ```
/// use konserve_s3::internals::codec::fressian::encode;
/// use konserve_s3::value::Value;
///
/// assert_eq!(encode(&Value::from(42)), [0x2a]);
/// assert_eq!(encode(&Value::from(-7)), [0x4f, 0xf9]);
/// assert_eq!(encode(&Value::keyword("kw")), b"\xca\xf7\xcd\xdckw");
/// assert_eq!(encode(&Value::Float(3.25)), [0xfa, 0x40, 0x0a, 0, 0, 0, 0, 0, 0]);
/// assert_eq!(encode(&Value::vector([1, 2])), b"\xef\xdepvec\x02\x02\x01\x02");
/// ```
pub fn encode(value: &Value) -> Vec<u8> {
    Encoder::default().run(value)
}

/// [`encode`], appended to `out` (the bytes already there are kept, and
/// play no part in the encoding).
pub(crate) fn encode_into(value: &Value, out: &mut Vec<u8>) {
    let encoder = Encoder {
        out: std::mem::take(out),
        ..Encoder::default()
    };
    *out = encoder.run(value);
}

/// Decodes the first Fressian object of `bytes`; bytes after it are ignored.
///
/// # Errors
///
/// [`CodecError::Truncated`] when the object ends early (or declares more
/// bytes or elements than are left), [`CodecError::TooDeep`] beyond
/// [`MAX_NESTING`] levels, and [`CodecError::Malformed`] for anything else
/// that is not a value: unknown codes, invalid string encodings, cache
/// references out of range, a struct whose fields do not fit its tag (a uuid
/// that is not 16 bytes, a keyword name that is not a string, …), more than
/// [`MAX_EXPANSION`] through the cache.
///
/// ```
/// use konserve_s3::internals::codec::{CodecError, fressian::decode};
/// use konserve_s3::value::Value;
///
/// // {:a 1} as Clojure writes it: MAP, a list of 2, KEY nil "a" (cached), 1.
/// let v = decode(b"\xc0\xe6\xca\xf7\xcd\xdba\x01")?;
/// assert_eq!(v, Value::map([(Value::keyword("a"), 1)]));
/// assert!(matches!(decode(&[0xe3, 0x7f, 0xff]), Err(CodecError::Truncated(_))));
/// assert!(matches!(decode(&[0xcb]), Err(CodecError::Malformed(_))));
/// # Ok::<(), CodecError>(())
/// ```
#[cfg_attr(not(feature = "internals"), allow(dead_code))] // the tests' entry
pub fn decode(bytes: &[u8]) -> Result<Value, CodecError> {
    decode_prefix(bytes).map(|(value, _)| value)
}

/// Like [`decode`], and also says how many bytes the first object took.
///
/// # Errors
///
/// As [`decode`].
///
/// ```
/// use konserve_s3::internals::codec::fressian::decode_prefix;
/// use konserve_s3::value::Value;
///
/// assert_eq!(decode_prefix(&[0x2a, 0xf7])?, (Value::from(42), 1));
/// # Ok::<(), konserve_s3::internals::codec::CodecError>(())
/// ```
#[cfg_attr(not(feature = "internals"), allow(dead_code))] // the tests' entry
pub fn decode_prefix(bytes: &[u8]) -> Result<(Value, usize), CodecError> {
    decode_prefix_capped(bytes, SegmentCap::VALUE)
}

/// Like [`decode`], for a segment capped at `cap`: what the caches copy is
/// also at most `cap`.
///
/// # Errors
///
/// As [`decode`]; [`CodecError::TooLarge`] past `cap`.
pub fn decode_capped(bytes: &[u8], cap: SegmentCap) -> Result<Value, CodecError> {
    decode_prefix_capped(bytes, cap).map(|(value, _)| value)
}

fn decode_prefix_capped(bytes: &[u8], cap: SegmentCap) -> Result<(Value, usize), CodecError> {
    let mut decoder = Decoder {
        cap,
        r: Reader::new(bytes),
        footer_base: 0,
        cache: Vec::new(),
        structs: Vec::new(),
        generation: 0,
        produced: 0,
        expanded: 0,
        budget: MAX_EXPANSION.saturating_add(bytes.len().saturating_mul(EXPANSION_PER_INPUT_BYTE)),
    };
    let value = decoder.read_value()?;
    Ok((value, decoder.r.pos()))
}

// ---------------------------------------------------------------------------
// Encoder

/// One piece of work of [`Encoder::run`].
enum Task<'a> {
    /// Write this value.
    Value(&'a Value),
    /// Write a map entry as a two-element list (incognito's record entries).
    Entry(&'a Value, &'a Value),
}

#[derive(Default)]
struct Encoder<'a> {
    out: Vec<u8>,
    /// The priority cache: strings written with caching, by index.
    strings: HashMap<&'a str, usize>,
    /// The struct cache: tags written with `STRUCTTYPE`, by index.
    structs: HashMap<String, usize>,
    /// Scratch space for one string chunk.
    chunk: Vec<u8>,
}

impl<'a> Encoder<'a> {
    /// `FressianWriter.writeInt`: the packed form its `bitSwitch` picks.
    fn int(&mut self, i: i64) {
        let bits = if i < 0 { !i } else { i };
        let be = i.to_be_bytes();
        // Each arm: the code byte (ZERO + the high bits, wrapping into a
        // byte as Java's `writeRawByte` does) and the low bytes.
        let (lead, tail): (i64, &[u8]) = match bits.leading_zeros() {
            0..=14 => {
                self.out.push(code::INT);
                self.out.extend_from_slice(&be);
                return;
            }
            15..=22 => (0x7E + (i >> 48), &be[2..]),
            23..=30 => (0x7A + (i >> 40), &be[3..]),
            31..=38 => (0x76 + (i >> 32), &be[4..]),
            39..=44 => (0x72 + (i >> 24), &be[5..]),
            45..=51 => (0x68 + (i >> 16), &be[6..]),
            52..=57 => (0x50 + (i >> 8), &be[7..]),
            _ if i < -1 => (0x50 + (i >> 8), &be[7..]),
            _ => (i, &[]),
        };
        self.out.push(lead.to_be_bytes()[7]);
        self.out.extend_from_slice(tail);
    }

    fn count(&mut self, n: usize) {
        self.int(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// `writeDouble`, except that `-0.0` keeps its sign (see the module
    /// documentation).
    fn double(&mut self, f: f64) {
        if f.to_bits() == 0 {
            self.out.push(code::DOUBLE_0);
        } else if f == 1.0 {
            self.out.push(code::DOUBLE_1);
        } else {
            self.out.push(code::DOUBLE);
            self.out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
    }

    /// `writeString`: Java's UTF-16 units in one to three bytes each, in
    /// chunks of at most 64 KiB.
    fn string(&mut self, s: &str) {
        let units = s.encode_utf16().count();
        let buffer = units.saturating_mul(3).min(STRING_CHUNK_SIZE);
        let mut chunk = std::mem::take(&mut self.chunk);
        let mut rest = s.encode_utf16().peekable();
        loop {
            chunk.clear();
            while let Some(&unit) = rest.peek() {
                let size = match unit {
                    0..=0x7f => 1,
                    0x80..=0x7ff => 2,
                    _ => 3,
                };
                if chunk.len() + size > buffer {
                    break;
                }
                let [hi, lo] = unit.to_be_bytes();
                match size {
                    1 => chunk.push(lo),
                    2 => {
                        chunk.extend_from_slice(&[0xc0 | (hi << 2) | (lo >> 6), 0x80 | (lo & 0x3f)])
                    }
                    _ => chunk.extend_from_slice(&[
                        0xe0 | (hi >> 4),
                        0x80 | ((hi & 0x0f) << 2) | (lo >> 6),
                        0x80 | (lo & 0x3f),
                    ]),
                }
                rest.next();
            }
            let done = rest.peek().is_none();
            if chunk.len() < PACKED_LENGTH {
                self.out
                    .push(code::STRING_PACKED_LENGTH_START + chunk.len() as u8);
            } else {
                self.out.push(if done {
                    code::STRING
                } else {
                    code::STRING_CHUNK
                });
                self.count(chunk.len());
            }
            self.out.extend_from_slice(&chunk);
            if done {
                break;
            }
        }
        self.chunk = chunk;
    }

    /// `writeBytes`: packed below 8 bytes, else chunks of 65 535.
    fn bytes(&mut self, b: &[u8]) {
        if b.len() < PACKED_LENGTH {
            self.out
                .push(code::BYTES_PACKED_LENGTH_START + b.len() as u8);
            self.out.extend_from_slice(b);
            return;
        }
        let mut rest = b;
        while rest.len() > BYTE_CHUNK_SIZE {
            let (chunk, tail) = rest.split_at(BYTE_CHUNK_SIZE);
            self.out.push(code::BYTES_CHUNK);
            self.count(BYTE_CHUNK_SIZE);
            self.out.extend_from_slice(chunk);
            rest = tail;
        }
        self.out.push(code::BYTES);
        self.count(rest.len());
        self.out.extend_from_slice(rest);
    }

    /// `BIGINT` over `BigInteger.toByteArray()`.
    fn bigint(&mut self, n: &BigInt) {
        self.out.push(code::BIGINT);
        self.bytes(&n.to_signed_bytes_be());
    }

    /// `writeObject(s, true)` for a string: through the priority cache
    /// (the empty string skips it, as in Java).
    fn cached_string(&mut self, s: &'a str) {
        if s.is_empty() {
            self.string(s);
            return;
        }
        match self.strings.get(s) {
            Some(&index) if index < PRIORITY_CACHE_PACKED => {
                self.out
                    .push(code::PRIORITY_CACHE_PACKED_START + index as u8);
            }
            Some(&index) => {
                self.out.push(code::GET_PRIORITY_CACHE);
                self.count(index);
            }
            None => {
                let index = self.strings.len();
                self.strings.insert(s, index);
                self.out.push(code::PUT_PRIORITY_CACHE);
                self.string(s);
            }
        }
    }

    /// data.fressian's `write-named`: the code, then namespace (or nil) and
    /// name through the cache.
    fn named(&mut self, tag_code: u8, namespace: Option<&'a str>, name: &'a str) {
        self.out.push(tag_code);
        match namespace {
            Some(ns) => self.cached_string(ns),
            None => self.out.push(code::NULL),
        }
        self.cached_string(name);
    }

    fn list_header(&mut self, len: usize) {
        if len < PACKED_LENGTH {
            self.out.push(code::LIST_PACKED_LENGTH_START + len as u8);
        } else {
            self.out.push(code::LIST);
            self.count(len);
        }
    }

    /// `writeTag` for a tag without a code of its own: a struct type the
    /// first time, a struct cache reference after that.
    fn struct_tag(&mut self, tag: &str, fields: usize) {
        match self.structs.get(tag) {
            Some(&index) if index < STRUCT_CACHE_PACKED => {
                self.out.push(code::STRUCT_CACHE_PACKED_START + index as u8);
            }
            Some(&index) => {
                self.out.push(code::STRUCT);
                self.count(index);
            }
            None => {
                self.structs.insert(tag.to_owned(), self.structs.len());
                self.out.push(code::STRUCTTYPE);
                self.string(tag);
                self.count(fields);
            }
        }
    }

    /// Writes `root` without recursion: `stack` holds the work still to do,
    /// the next piece on top.
    fn run(mut self, root: &'a Value) -> Vec<u8> {
        let mut stack: Vec<Task<'a>> = vec![Task::Value(root)];
        while let Some(task) = stack.pop() {
            let v = match task {
                Task::Value(v) => v,
                Task::Entry(k, v) => {
                    self.list_header(2);
                    stack.push(Task::Value(v));
                    stack.push(Task::Value(k));
                    continue;
                }
            };
            match v {
                Value::Nil => self.out.push(code::NULL),
                Value::Bool(b) => self.out.push(if *b { code::TRUE } else { code::FALSE }),
                Value::Int(i) => self.int(*i),
                Value::BigInt(n) => self.bigint(n),
                Value::Float(f) => self.double(*f),
                Value::String(s) => self.string(s),
                Value::Char(c) if u32::from(*c) > 0xffff => {
                    self.string(c.encode_utf8(&mut [0; 4]));
                }
                Value::Char(c) => {
                    self.struct_tag("char", 1);
                    self.int(i64::from(u32::from(*c)));
                }
                Value::Keyword(k) => self.named(code::KEY, k.namespace(), k.name()),
                Value::Symbol(s) => self.named(code::SYM, s.namespace(), s.name()),
                Value::Uuid(u) => {
                    self.out.push(code::UUID);
                    self.bytes(u.as_bytes());
                }
                Value::Inst(ms) => {
                    self.out.push(code::INST);
                    self.int(*ms);
                }
                Value::Bytes(b) => self.bytes(b),
                Value::Vector(items) | Value::List(items) => {
                    let tag = if matches!(v, Value::Vector(_)) {
                        "pvec"
                    } else {
                        "plist"
                    };
                    self.struct_tag(tag, 2);
                    self.count(items.len());
                    stack.extend(items.iter().rev().map(Task::Value));
                }
                Value::Map(m) => {
                    self.out.push(code::MAP);
                    self.list_header(m.len().saturating_mul(2));
                    for (k, v) in m.iter().rev() {
                        stack.push(Task::Value(v));
                        stack.push(Task::Value(k));
                    }
                }
                Value::Set(s) => {
                    self.out.push(code::SET);
                    self.list_header(s.len());
                    stack.extend(s.iter().rev().map(Task::Value));
                }
                Value::Tagged(sym, inner) => self.tagged(sym, inner, &mut stack),
            }
        }
        self.out
    }

    fn tagged(&mut self, sym: &'a Symbol, inner: &'a Value, stack: &mut Vec<Task<'a>>) {
        if sym.namespace() == Some(OWN_NS) {
            match (sym.name(), inner) {
                ("regex", Value::String(s)) => {
                    self.out.push(code::REGEX);
                    self.string(s);
                    return;
                }
                ("uri", Value::String(s)) => {
                    self.out.push(code::URI);
                    self.string(s);
                    return;
                }
                ("bigdec", Value::Vector(parts)) => {
                    if let [unscaled, Value::Int(scale)] = &parts[..]
                        && let Some(unscaled) = as_bigint(unscaled)
                        && i32::try_from(*scale).is_ok()
                    {
                        self.out.push(code::BIGDEC);
                        self.bytes(&unscaled.to_signed_bytes_be());
                        self.int(*scale);
                        return;
                    }
                }
                ("ratio", Value::Vector(parts)) => {
                    if let [num, den] = &parts[..]
                        && let (Some(num), Some(den)) = (as_bigint(num), as_bigint(den))
                    {
                        self.struct_tag("ratio", 2);
                        self.bigint(&num);
                        self.bigint(&den);
                        return;
                    }
                }
                _ => {}
            }
        }
        if let Value::Map(m) = inner {
            // incognito's record-writer.
            self.struct_tag("irecord", 2);
            self.count(m.len());
            self.named(code::SYM, sym.namespace(), sym.name());
            for (k, v) in m.iter().rev() {
                stack.push(Task::Entry(k, v));
            }
        } else {
            self.struct_tag(&sym.full_name(), 1);
            stack.push(Task::Value(inner));
        }
    }
}

/// The integer of an `Int` or `BigInt`.
fn as_bigint(v: &Value) -> Option<BigInt> {
    match v {
        Value::Int(i) => Some(BigInt::from(*i)),
        Value::BigInt(n) => Some(n.clone()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Decoder

type R<T> = Result<T, CodecError>;

/// Roughly what one value costs in memory, without its children.
const VALUE_COST: usize = std::mem::size_of::<Value>();

/// A value in the priority cache.
struct Cached {
    value: Value,
    /// Its cost (see [`MAX_EXPANSION`]), children and cache copies included.
    weight: usize,
    /// How many levels it nests (counted like [`MAX_NESTING`]).
    height: usize,
}

/// What an open [`Frame`] makes of the values it collects.
enum Kind {
    /// A plain list (packed, `LIST`, closed or open): a vector.
    List,
    /// incognito's `pvec`.
    Pvec,
    /// incognito's `plist`.
    Plist,
    /// A typed array (`int[]`, …): a vector of elements of one kind.
    Array(&'static str),
    Key,
    Sym,
    Map,
    Set,
    Uuid,
    Inst,
    BigInt,
    BigDec,
    Char,
    Regex,
    Uri,
    Ratio,
    /// data.fressian's `record`: class name and map.
    Record,
    /// incognito's `irecord`: tag, then the entries.
    Irecord,
    /// A struct of a tag this module does not interpret.
    Unknown(String),
    /// `STRUCTTYPE`, reading its tag.
    StructType,
    /// `PUT_PRIORITY_CACHE`, reading the value for cache slot `index`.
    Put {
        index: usize,
        generation: u64,
        produced: usize,
    },
}

/// An object being read by [`Decoder::read_value`].
struct Frame {
    kind: Kind,
    items: Vec<Value>,
    /// Values still to come; `None`: until `END_COLLECTION` (an open list
    /// also ends with the input).
    left: Option<usize>,
    open: bool,
    /// One more than the tallest value collected so far.
    height: usize,
}

/// What a finished frame gives: a value (with its height), or a frame to
/// go on with (a struct type whose tag has been read).
enum Step {
    Done(Value, usize),
    /// A value that only passes through (a cache entry): no cost of its own.
    PassThrough(Value, usize),
    Continue(Frame),
}

struct Decoder<'a> {
    r: Reader<'a>,
    /// Where the bytes a footer counts begin.
    footer_base: usize,
    /// The priority cache; `None` while its value is being read.
    cache: Vec<Option<Cached>>,
    /// The struct cache: tag and field count.
    structs: Vec<(Value, usize)>,
    /// Bumped whenever the caches are reset.
    generation: u64,
    /// Cost of the values produced so far (see [`MAX_EXPANSION`]).
    produced: usize,
    /// Cost copied through the cache so far.
    expanded: usize,
    budget: usize,
    /// The segment's cap (on `expanded` too).
    cap: SegmentCap,
}

impl<'a> Decoder<'a> {
    /// A big-endian integer of `width` bytes (two's complement for 8).
    fn uint(&mut self, width: u64) -> R<i64> {
        Ok(self.r.uint(width, "integer")? as i64)
    }

    /// The integer of an integer code `c` (its further bytes are read), or
    /// `None` for any other code.
    fn int_of(&mut self, c: u8) -> R<Option<i64>> {
        let hi = i64::from(c);
        Ok(Some(match c {
            0x00..=0x3F => hi,
            0xFF => -1,
            0x40..=0x5F => ((hi - 0x50) << 8) | self.uint(1)?,
            0x60..=0x6F => ((hi - 0x68) << 16) | self.uint(2)?,
            0x70..=0x73 => ((hi - 0x72) << 24) | self.uint(3)?,
            0x74..=0x77 => ((hi - 0x76) << 32) | self.uint(4)?,
            0x78..=0x7B => ((hi - 0x7A) << 40) | self.uint(5)?,
            0x7C..=0x7F => ((hi - 0x7E) << 48) | self.uint(6)?,
            code::INT => self.uint(8)?,
            _ => return Ok(None),
        }))
    }

    /// A length, count or index: an integer code from 0 to `i32::MAX`
    /// (Java's `readInt32`).
    fn count(&mut self, what: &str) -> R<usize> {
        let at = self.r.pos();
        let c = self.r.byte()?;
        let n = self.int_of(c)?.ok_or_else(|| {
            malformed(format!(
                "{what} at offset {at} must be an integer, not code {c:#04x}"
            ))
        })?;
        if !(0..=i64::from(i32::MAX)).contains(&n) {
            return Err(malformed(format!("{what} {n} at offset {at} out of range")));
        }
        usize::try_from(n).map_err(|_| malformed(format!("{what} {n} out of range")))
    }

    /// A count of objects still to read: each takes at least one byte.
    fn element_count(&mut self, what: &str) -> R<usize> {
        let n = self.count(what)?;
        if n > self.r.remaining() {
            return Err(CodecError::Truncated(format!(
                "{what} {n} at offset {}, only {} bytes left",
                self.r.pos(),
                self.r.remaining()
            )));
        }
        Ok(n)
    }

    /// Counts `cost` of decoded values, at most the segment's cap in all.
    fn produce(&mut self, cost: usize) -> R<()> {
        self.produced = self.produced.saturating_add(cost);
        if self.produced > self.cap.bytes() {
            return Err(self.cap.exceeded());
        }
        Ok(())
    }

    fn charge(&mut self, cost: usize) -> R<()> {
        self.expanded = self.expanded.saturating_add(cost);
        if self.expanded > self.cap.bytes() {
            return Err(self.cap.exceeded());
        }
        if self.expanded > self.budget {
            return Err(malformed(format!(
                "cache references expand to more than {} bytes",
                self.budget
            )));
        }
        Ok(())
    }

    fn reset_caches(&mut self) {
        self.cache.clear();
        self.structs.clear();
        self.generation += 1;
    }

    fn push(&self, stack: &mut Vec<Frame>, kind: Kind, left: Option<usize>) -> R<()> {
        if stack.len() >= MAX_NESTING {
            return Err(CodecError::TooDeep(MAX_NESTING));
        }
        stack.push(Frame {
            kind,
            items: Vec::with_capacity(left.unwrap_or(0).min(MAX_PREALLOC)),
            left,
            open: false,
            height: 0,
        });
        Ok(())
    }

    /// Reads one object without recursion: `stack` holds the objects still
    /// open, innermost on top, so nesting costs heap (at most
    /// [`MAX_NESTING`] frames), not call stack.
    fn read_value(&mut self) -> R<Value> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            let (value, height) = match self.complete_top(&mut stack)? {
                Some(done) => done,
                None => match self.read_item(&mut stack)? {
                    Some(done) => done,
                    None => continue,
                },
            };
            match stack.last_mut() {
                None => return Ok(value),
                Some(frame) => {
                    frame.items.push(value);
                    frame.height = frame.height.max(height + 1);
                    if let Some(n) = &mut frame.left {
                        *n = n.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// The value of the top frame if it is complete (a frame that continues
    /// as another is replaced by it).
    fn complete_top(&mut self, stack: &mut Vec<Frame>) -> R<Option<(Value, usize)>> {
        loop {
            if let Some(step) = self.complete_once(stack)? {
                match step {
                    Step::Done(value, height) => {
                        self.produce(VALUE_COST)?;
                        return Ok(Some((value, height)));
                    }
                    Step::PassThrough(value, height) => return Ok(Some((value, height))),
                    // A struct type whose body may already be complete.
                    Step::Continue(next) => stack.push(next),
                }
            } else {
                return Ok(None);
            }
        }
    }

    /// Finishes the top frame if it is complete.
    fn complete_once(&mut self, stack: &mut Vec<Frame>) -> R<Option<Step>> {
        let done = match stack.last() {
            None => false,
            Some(Frame { left: Some(n), .. }) => *n == 0,
            Some(Frame {
                left: None, open, ..
            }) => match self.r.peek() {
                Some(code::END_COLLECTION) => self.r.eat(code::END_COLLECTION),
                Some(_) => false,
                None if *open => true,
                None => return Err(self.r.truncated("closed list not ended")),
            },
        };
        if !done {
            return Ok(None);
        }
        match stack.pop() {
            Some(frame) => self.finish(frame).map(Some),
            None => Ok(None),
        }
    }

    /// Reads the code of the next object: a scalar comes back whole, a
    /// collection, struct or cache entry is pushed onto `stack` (`None`, as
    /// for codes that are no object, like `RESET_CACHES`).
    fn read_item(&mut self, stack: &mut Vec<Frame>) -> R<Option<(Value, usize)>> {
        let at = self.r.pos();
        let c = self.r.byte()?;
        if let Some(i) = self.int_of(c)? {
            self.produce(VALUE_COST)?;
            return Ok(Some((Value::Int(i), 0)));
        }
        let value = match c {
            code::NULL => Value::Nil,
            code::TRUE => Value::Bool(true),
            code::FALSE => Value::Bool(false),
            code::DOUBLE => Value::Float(f64::from_bits(self.uint(8)? as u64)),
            code::DOUBLE_0 => Value::Float(0.0),
            code::DOUBLE_1 => Value::Float(1.0),
            code::FLOAT => {
                let bits = u32::try_from(self.uint(4)?).unwrap_or(0);
                Value::Float(f64::from(f32::from_bits(bits)))
            }
            code::PRIORITY_CACHE_PACKED_START..code::PRIORITY_CACHE_PACKED_END => {
                return self
                    .cache_get(usize::from(c - code::PRIORITY_CACHE_PACKED_START), stack)
                    .map(Some);
            }
            code::GET_PRIORITY_CACHE => {
                let index = self.count("cache index")?;
                return self.cache_get(index, stack).map(Some);
            }
            code::PUT_PRIORITY_CACHE => {
                let index = self.cache.len();
                self.cache.push(None);
                let kind = Kind::Put {
                    index,
                    generation: self.generation,
                    produced: self.produced,
                };
                self.push(stack, kind, Some(1))?;
                return Ok(None);
            }
            code::STRUCT_CACHE_PACKED_START..code::STRUCT_CACHE_PACKED_END => {
                self.struct_ref(usize::from(c - code::STRUCT_CACHE_PACKED_START), stack)?;
                return Ok(None);
            }
            code::STRUCT => {
                let index = self.count("struct index")?;
                self.struct_ref(index, stack)?;
                return Ok(None);
            }
            code::STRUCTTYPE => {
                self.push(stack, Kind::StructType, Some(1))?;
                return Ok(None);
            }
            code::MAP => return self.begin("map", stack),
            code::SET => return self.begin("set", stack),
            code::UUID => return self.begin("uuid", stack),
            code::REGEX => return self.begin("regex", stack),
            code::URI => return self.begin("uri", stack),
            code::BIGINT => return self.begin("bigint", stack),
            code::BIGDEC => return self.begin("bigdec", stack),
            code::INST => return self.begin("inst", stack),
            code::SYM => return self.begin("sym", stack),
            code::KEY => return self.begin("key", stack),
            code::INT_ARRAY => return self.begin("int[]", stack),
            code::LONG_ARRAY => return self.begin("long[]", stack),
            code::FLOAT_ARRAY => return self.begin("float[]", stack),
            code::DOUBLE_ARRAY => return self.begin("double[]", stack),
            code::BOOLEAN_ARRAY => return self.begin("boolean[]", stack),
            code::OBJECT_ARRAY => return self.begin("Object[]", stack),
            code::BYTES_PACKED_LENGTH_START..code::BYTES_PACKED_LENGTH_END => {
                let len = usize::from(c - code::BYTES_PACKED_LENGTH_START);
                Value::Bytes(self.r.take(len as u64, "bytes")?.to_vec())
            }
            code::BYTES => {
                let len = self.count("byte count")?;
                Value::Bytes(self.r.take(len as u64, "bytes")?.to_vec())
            }
            code::BYTES_CHUNK => Value::Bytes(self.chunked_bytes()?),
            code::STRING_PACKED_LENGTH_START..code::STRING_PACKED_LENGTH_END => {
                let len = usize::from(c - code::STRING_PACKED_LENGTH_START);
                Value::String(self.string(len)?)
            }
            code::STRING => {
                let len = self.count("string length")?;
                Value::String(self.string(len)?)
            }
            code::STRING_CHUNK => Value::String(self.chunked_string()?),
            code::LIST_PACKED_LENGTH_START..code::LIST_PACKED_LENGTH_END => {
                let n = usize::from(c - code::LIST_PACKED_LENGTH_START);
                self.push(stack, Kind::List, Some(n))?;
                return Ok(None);
            }
            code::LIST => {
                let n = self.element_count("list length")?;
                self.push(stack, Kind::List, Some(n))?;
                return Ok(None);
            }
            code::BEGIN_CLOSED_LIST | code::BEGIN_OPEN_LIST => {
                self.push(stack, Kind::List, None)?;
                if let Some(frame) = stack.last_mut() {
                    frame.open = c == code::BEGIN_OPEN_LIST;
                }
                return Ok(None);
            }
            code::RESET_CACHES => {
                self.reset_caches();
                return Ok(None);
            }
            code::FOOTER => {
                self.footer(at)?;
                return Ok(None);
            }
            code::END_COLLECTION => {
                return Err(malformed(format!(
                    "END_COLLECTION outside a list at offset {at}"
                )));
            }
            _ => {
                return Err(malformed(format!("unknown code {c:#04x} at offset {at}")));
            }
        };
        let heap = match &value {
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.len(),
            _ => 0,
        };
        self.produce(VALUE_COST.saturating_add(heap))?;
        Ok(Some((value, 0)))
    }

    /// A footer whose code is at `at`: magic, the length of what came since
    /// the last footer (or the start), a checksum (not checked, as konserve's
    /// reader does not); the caches start afresh.
    fn footer(&mut self, at: usize) -> R<()> {
        let magic = self.r.take(3, "footer magic")?;
        if magic != [code::FOOTER; 3] {
            return Err(malformed(format!("invalid footer magic at offset {at}")));
        }
        let length = self.uint(4)?;
        let expected = at.saturating_sub(self.footer_base);
        if usize::try_from(length).ok() != Some(expected) {
            return Err(malformed(format!(
                "footer at offset {at} gives length {length}, not {expected}"
            )));
        }
        self.r.take(4, "footer checksum")?;
        self.footer_base = self.r.pos();
        self.reset_caches();
        Ok(())
    }

    fn cache_get(&mut self, index: usize, stack: &[Frame]) -> R<(Value, usize)> {
        let entry = match self.cache.get(index) {
            Some(Some(entry)) => entry,
            Some(None) => {
                return Err(malformed(format!(
                    "cache reference {index} to a value still being read"
                )));
            }
            None => {
                return Err(malformed(format!(
                    "cache reference {index}, but the cache holds {}",
                    self.cache.len()
                )));
            }
        };
        if stack.len().saturating_add(entry.height) > MAX_NESTING {
            return Err(CodecError::TooDeep(MAX_NESTING));
        }
        let (weight, height) = (entry.weight, entry.height);
        let value = entry.value.clone();
        self.charge(weight)?;
        self.produce(weight)?;
        Ok((value, height))
    }

    fn struct_ref(&mut self, index: usize, stack: &mut Vec<Frame>) -> R<()> {
        let Some((tag, fields)) = self.structs.get(index) else {
            return Err(malformed(format!(
                "struct reference {index}, but the cache holds {}",
                self.structs.len()
            )));
        };
        // The tag is copied: a one-byte reference can repeat a long one.
        let cost = match tag {
            Value::String(s) => s.len(),
            _ => VALUE_COST,
        };
        let (tag, fields) = (tag.clone(), *fields);
        self.charge(cost)?;
        self.begin_struct(tag, fields, stack)
    }

    /// A struct with a built-in code.
    fn begin(&mut self, tag: &str, stack: &mut Vec<Frame>) -> R<Option<(Value, usize)>> {
        self.begin_struct(Value::String(tag.to_owned()), 0, stack)?;
        Ok(None)
    }

    /// Starts reading the body of a struct tagged `tag` (a struct type
    /// declaring `fields` fields), as the handler konserve's reader has
    /// for that tag reads it.
    fn begin_struct(&mut self, tag: Value, fields: usize, stack: &mut Vec<Frame>) -> R<()> {
        let Value::String(tag) = tag else {
            return Err(malformed(format!("struct tag {tag} is not a string")));
        };
        let (kind, left) = match tag.as_str() {
            "map" => (Kind::Map, 1),
            "set" => (Kind::Set, 1),
            "uuid" => (Kind::Uuid, 1),
            "regex" => (Kind::Regex, 1),
            "uri" => (Kind::Uri, 1),
            "bigint" => (Kind::BigInt, 1),
            "bigdec" => (Kind::BigDec, 2),
            "inst" => (Kind::Inst, 1),
            "sym" => (Kind::Sym, 2),
            "key" => (Kind::Key, 2),
            "char" => (Kind::Char, 1),
            "ratio" => (Kind::Ratio, 2),
            "record" => (Kind::Record, 2),
            "pvec" => (Kind::Pvec, self.element_count("pvec count")?),
            "plist" => (Kind::Plist, self.element_count("plist count")?),
            "irecord" => {
                let n = self.element_count("irecord count")?;
                // The tag comes before the entries.
                (Kind::Irecord, n.saturating_add(1))
            }
            "int[]" => (Kind::Array("int[]"), self.element_count("array size")?),
            "long[]" => (Kind::Array("long[]"), self.element_count("array size")?),
            "float[]" => (Kind::Array("float[]"), self.element_count("array size")?),
            "double[]" => (Kind::Array("double[]"), self.element_count("array size")?),
            "boolean[]" => (Kind::Array("boolean[]"), self.element_count("array size")?),
            "Object[]" => (Kind::Array("Object[]"), self.element_count("array size")?),
            _ => {
                if fields > self.r.remaining() {
                    return Err(CodecError::Truncated(format!(
                        "struct {tag:?} of {fields} fields at offset {}, only {} bytes left",
                        self.r.pos(),
                        self.r.remaining()
                    )));
                }
                (Kind::Unknown(tag), fields)
            }
        };
        self.push(stack, kind, Some(left))
    }

    fn chunked_bytes(&mut self) -> R<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let len = self.count("byte chunk length")?;
            out.extend_from_slice(self.r.take(len as u64, "byte chunk")?);
            let at = self.r.pos();
            match self.r.byte()? {
                code::BYTES_CHUNK => continue,
                code::BYTES => {
                    let len = self.count("byte count")?;
                    out.extend_from_slice(self.r.take(len as u64, "bytes")?);
                    return Ok(out);
                }
                c => {
                    return Err(malformed(format!(
                        "chunked bytes end with code {c:#04x} at offset {at}"
                    )));
                }
            }
        }
    }

    /// A string of `len` bytes.
    fn string(&mut self, len: usize) -> R<String> {
        let at = self.r.pos();
        let bytes = self.r.take(len as u64, "string")?;
        // Valid UTF-8 without four-byte sequences is exactly what Java
        // decodes the same way.
        if !bytes.iter().any(|&b| b >= 0xf0)
            && let Ok(text) = std::str::from_utf8(bytes)
        {
            return Ok(text.to_owned());
        }
        let mut units = Vec::with_capacity(len);
        java_utf16(bytes, at, &mut units)?;
        from_utf16(&units, at)
    }

    /// A chunked string: `STRING_CHUNK`s up to a final string code.
    fn chunked_string(&mut self) -> R<String> {
        let start = self.r.pos();
        let mut units = Vec::new();
        let mut len = self.count("string chunk length")?;
        loop {
            let at = self.r.pos();
            let bytes = self.r.take(len as u64, "string chunk")?;
            java_utf16(bytes, at, &mut units)?;
            let at = self.r.pos();
            let c = self.r.byte()?;
            match c {
                code::STRING_CHUNK => len = self.count("string chunk length")?,
                code::STRING => {
                    len = self.count("string length")?;
                    let at = self.r.pos();
                    java_utf16(self.r.take(len as u64, "string")?, at, &mut units)?;
                    break;
                }
                code::STRING_PACKED_LENGTH_START..code::STRING_PACKED_LENGTH_END => {
                    len = usize::from(c - code::STRING_PACKED_LENGTH_START);
                    let at = self.r.pos();
                    java_utf16(self.r.take(len as u64, "string")?, at, &mut units)?;
                    break;
                }
                _ => {
                    return Err(malformed(format!(
                        "chunked string continues with code {c:#04x} at offset {at}"
                    )));
                }
            }
        }
        from_utf16(&units, start)
    }

    /// The value (or next frame) of a complete frame.
    fn finish(&mut self, frame: Frame) -> R<Step> {
        let Frame {
            kind,
            mut items,
            height,
            ..
        } = frame;
        let value = match kind {
            Kind::List | Kind::Pvec => Value::Vector(items),
            Kind::Plist => Value::List(items),
            Kind::Array(what) => {
                let fits = |v: &Value| match (what, v) {
                    ("int[]", Value::Int(i)) => i32::try_from(*i).is_ok(),
                    ("long[]", Value::Int(_)) => true,
                    ("float[]" | "double[]", Value::Float(_)) => true,
                    ("boolean[]", Value::Bool(_)) => true,
                    ("Object[]", _) => true,
                    _ => false,
                };
                if let Some(bad) = items.iter().find(|v| !fits(v)) {
                    return Err(malformed(format!("{what} holds {}", bad.kind_name())));
                }
                Value::Vector(items)
            }
            Kind::Key | Kind::Sym => {
                let (Some(name), Some(ns)) = (items.pop(), items.pop()) else {
                    return Err(malformed("keyword or symbol without its two fields"));
                };
                let (ns, name) = match (ns, name) {
                    (Value::Nil, Value::String(name)) => (None, name),
                    (Value::String(ns), Value::String(name)) => (Some(ns), name),
                    (ns, name) => {
                        return Err(malformed(format!(
                            "keyword or symbol of {} and {}",
                            ns.kind_name(),
                            name.kind_name()
                        )));
                    }
                };
                if matches!(kind, Kind::Key) {
                    Value::Keyword(match ns {
                        Some(ns) => Keyword::ns(ns, name),
                        None => Keyword::simple(name),
                    })
                } else {
                    Value::Symbol(match ns {
                        Some(ns) => Symbol::ns(ns, name),
                        None => Symbol::simple(name),
                    })
                }
            }
            Kind::Map => match items.pop() {
                Some(Value::Vector(kvs) | Value::List(kvs)) => {
                    if kvs.len() % 2 != 0 {
                        return Err(malformed(format!(
                            "map over a list of {} (odd) items",
                            kvs.len()
                        )));
                    }
                    let mut map = Map::new();
                    let mut it = kvs.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        map.insert(k, v);
                    }
                    Value::Map(map)
                }
                other => return Err(malformed(format!("map over {}", kind_of(other.as_ref())))),
            },
            Kind::Set => match items.pop() {
                Some(Value::Vector(xs) | Value::List(xs)) => {
                    Value::Set(xs.into_iter().collect::<Set>())
                }
                Some(Value::Set(s)) => Value::Set(s),
                other => return Err(malformed(format!("set over {}", kind_of(other.as_ref())))),
            },
            Kind::Uuid => match items.pop() {
                Some(Value::Bytes(b)) => uuid::Uuid::from_slice(&b)
                    .map(Value::Uuid)
                    .map_err(|_| malformed(format!("uuid of {} bytes", b.len())))?,
                other => return Err(malformed(format!("uuid of {}", kind_of(other.as_ref())))),
            },
            Kind::Inst => match items.pop() {
                Some(Value::Int(ms)) => Value::Inst(ms),
                other => return Err(malformed(format!("inst of {}", kind_of(other.as_ref())))),
            },
            Kind::BigInt => Value::integer(bigint_of(items.pop())?),
            Kind::BigDec => {
                let (Some(scale), Some(unscaled)) = (items.pop(), items.pop()) else {
                    return Err(malformed("bigdec without its two fields"));
                };
                let scale = match scale {
                    Value::Int(s) if i32::try_from(s).is_ok() => s,
                    other => {
                        return Err(malformed(format!("bigdec scale {}", other.kind_name())));
                    }
                };
                let unscaled = Value::integer(bigint_of(Some(unscaled))?);
                own_tagged("bigdec", Value::Vector(vec![unscaled, Value::Int(scale)]))
            }
            Kind::Char => match items.pop() {
                Some(Value::Int(cp)) => u32::try_from(cp)
                    .ok()
                    .and_then(char::from_u32)
                    .map(Value::Char)
                    .ok_or_else(|| malformed(format!("char of code point {cp}")))?,
                other => return Err(malformed(format!("char of {}", kind_of(other.as_ref())))),
            },
            Kind::Regex | Kind::Uri => match items.pop() {
                Some(Value::String(s)) => {
                    let name = if matches!(kind, Kind::Regex) {
                        "regex"
                    } else {
                        "uri"
                    };
                    own_tagged(name, Value::String(s))
                }
                other => {
                    return Err(malformed(format!(
                        "regex or uri of {}",
                        kind_of(other.as_ref())
                    )));
                }
            },
            Kind::Ratio => {
                let (Some(den), Some(num)) = (items.pop(), items.pop()) else {
                    return Err(malformed("ratio without its two fields"));
                };
                let (num, den) = match (num, den) {
                    (
                        num @ (Value::Int(_) | Value::BigInt(_)),
                        den @ (Value::Int(_) | Value::BigInt(_)),
                    ) => (num, den),
                    (num, den) => {
                        return Err(malformed(format!(
                            "ratio of {} and {}",
                            num.kind_name(),
                            den.kind_name()
                        )));
                    }
                };
                own_tagged("ratio", Value::Vector(vec![num, den]))
            }
            Kind::Record => {
                let (Some(map), Some(name)) = (items.pop(), items.pop()) else {
                    return Err(malformed("record without its two fields"));
                };
                let Value::Map(map) = map else {
                    return Err(malformed(format!("record of {}", map.kind_name())));
                };
                Value::Tagged(record_tag(name)?, Box::new(Value::Map(map)))
            }
            Kind::Irecord => {
                let mut it = items.into_iter();
                let tag = record_tag(it.next().unwrap_or_default())?;
                let mut map = Map::new();
                for entry in it {
                    match entry {
                        Value::Vector(pair) | Value::List(pair) if pair.len() == 2 => {
                            let mut pair = pair.into_iter();
                            if let (Some(k), Some(v)) = (pair.next(), pair.next()) {
                                map.insert(k, v);
                            }
                        }
                        other => {
                            return Err(malformed(format!(
                                "irecord entry is {}, not a pair",
                                other.kind_name()
                            )));
                        }
                    }
                }
                Value::Tagged(tag, Box::new(Value::Map(map)))
            }
            Kind::Unknown(tag) => {
                self.produce(tag.len())?;
                let content = if items.len() == 1 {
                    items.pop().unwrap_or_default()
                } else {
                    Value::Vector(items)
                };
                Value::Tagged(Symbol::new(tag), Box::new(content))
            }
            Kind::StructType => {
                let tag = items.pop().unwrap_or_default();
                let fields = self.count("struct field count")?;
                self.structs.push((tag.clone(), fields));
                let mut next = Vec::with_capacity(1);
                self.begin_struct(tag, fields, &mut next)?;
                return match next.pop() {
                    Some(frame) => Ok(Step::Continue(frame)),
                    None => Err(malformed("struct type without a body")),
                };
            }
            Kind::Put {
                index,
                generation,
                produced,
            } => {
                let value = items.pop().unwrap_or_default();
                // The value passes through: no level of its own.
                let height = height.saturating_sub(1);
                if generation != self.generation {
                    return Err(malformed(
                        "caches reset while a value for the cache was being read",
                    ));
                }
                let weight = self.produced.saturating_sub(produced);
                self.charge(weight)?;
                let slot = self
                    .cache
                    .get_mut(index)
                    .ok_or_else(|| malformed("cache slot lost"))?;
                *slot = Some(Cached {
                    value: value.clone(),
                    weight,
                    height,
                });
                return Ok(Step::PassThrough(value, height));
            }
        };
        Ok(Step::Done(value, height))
    }
}

/// A value of this module's own `fressian/…` tags.
fn own_tagged(name: &str, content: Value) -> Value {
    Value::Tagged(Symbol::ns(OWN_NS, name), Box::new(content))
}

fn kind_of(v: Option<&Value>) -> &'static str {
    v.map_or("nothing", Value::kind_name)
}

/// The tag of a record: a symbol (or a string, read as one).
fn record_tag(v: Value) -> R<Symbol> {
    match v {
        Value::Symbol(s) => Ok(s),
        Value::String(s) => Ok(Symbol::new(s)),
        other => Err(malformed(format!("record tag is {}", other.kind_name()))),
    }
}

/// `new BigInteger(bytes)`: two's complement, big-endian, at least one byte.
fn bigint_of(v: Option<Value>) -> R<BigInt> {
    match v {
        Some(Value::Bytes(b)) if !b.is_empty() => Ok(BigInt::from_signed_bytes_be(&b)),
        Some(Value::Bytes(_)) => Err(malformed("big integer of zero bytes")),
        other => Err(malformed(format!(
            "big integer of {}",
            kind_of(other.as_ref())
        ))),
    }
}

/// `Fns.readUTF8Chars`: Java's decoding of a string chunk into UTF-16
/// units (`at` is the chunk's offset, for errors).
fn java_utf16(bytes: &[u8], at: usize, out: &mut Vec<u16>) -> R<()> {
    let mut it = bytes.iter().copied().enumerate();
    while let Some((i, b)) = it.next() {
        let b16 = u16::from(b);
        let mut next = || {
            it.next().map(|(_, x)| u16::from(x) & 0x3f).ok_or_else(|| {
                malformed(format!(
                    "string at offset {at}: sequence at byte {i} cut off by the end of the chunk"
                ))
            })
        };
        let unit = match b >> 4 {
            0..=7 => b16,
            12 | 13 => ((b16 & 0x1f) << 6) | next()?,
            14 => {
                let b1 = next()?;
                let b2 = next()?;
                ((b16 & 0x0f) << 12) | (b1 << 6) | b2
            }
            _ => {
                return Err(malformed(format!(
                    "string at offset {at}: invalid byte {b:#04x} at {i}"
                )));
            }
        };
        out.push(unit);
    }
    Ok(())
}

fn from_utf16(units: &[u16], at: usize) -> R<String> {
    String::from_utf16(units)
        .map_err(|_| malformed(format!("string at offset {at} holds an unpaired surrogate")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints() -> Vec<i64> {
        let mut v = vec![0, 1, -1, -2, 63, 64, -64, -65, i64::MIN, i64::MAX];
        for shift in 0..63 {
            let p = 1i64 << shift;
            v.extend([p, p - 1, p + 1, -p, -p - 1, -p + 1]);
        }
        v
    }

    /// `FressianWriter.internalWriteInt`'s lengths, spelled out per range.
    fn java_len(i: i64) -> usize {
        let l = if i < 0 { !i } else { i };
        match l.leading_zeros() {
            0..=14 => 9,
            15..=22 => 7,
            23..=30 => 6,
            31..=38 => 5,
            39..=44 => 4,
            45..=51 => 3,
            52..=57 => 2,
            _ if i < -1 => 2,
            _ => 1,
        }
    }

    #[test]
    fn ints_round_trip_with_java_lengths() {
        for i in ints() {
            let mut e = Encoder::default();
            e.int(i);
            assert_eq!(e.out.len(), java_len(i), "{i}");
            assert_eq!(decode(&e.out), Ok(Value::Int(i)), "{i}");
        }
    }

    #[test]
    fn int_ranges_match_ranges_java() {
        // Ranges.java: PACKED_n_START..PACKED_n_END per length.
        let bounds: [(i64, i64, usize); 7] = [
            (-1, 64, 1),
            (-0x1000, 0x1000, 2),
            (-0x8_0000, 0x8_0000, 3),
            (-0x200_0000, 0x200_0000, 4),
            (-0x2_0000_0000, 0x2_0000_0000, 5),
            (-0x200_0000_0000, 0x200_0000_0000, 6),
            (-0x2_0000_0000_0000, 0x2_0000_0000_0000, 7),
        ];
        for i in ints() {
            let expected = bounds
                .iter()
                .find(|(lo, hi, _)| (*lo..*hi).contains(&i))
                .map_or(9, |b| b.2);
            // -64..-2 take two bytes in Java's writer.
            let expected = if (-64..-1).contains(&i) { 2 } else { expected };
            assert_eq!(java_len(i), expected, "{i}");
        }
    }

    #[test]
    fn strings_use_java_units() {
        let mut e = Encoder::default();
        e.string("a\u{0}é✓🦀");
        // 🦀 as two three-byte surrogates, NUL as one byte.
        assert_eq!(
            e.out,
            [
                0xe3, 0x0d, b'a', 0x00, 0xc3, 0xa9, 0xe2, 0x9c, 0x93, 0xed, 0xa0, 0xbe, 0xed, 0xb6,
                0x80
            ]
        );
        assert_eq!(decode(&e.out), Ok(Value::from("a\u{0}é✓🦀")));
        // Java's decoder accepts an overlong NUL.
        assert_eq!(decode(&[0xdc, 0xc0, 0x80]), Ok(Value::from("\u{0}")));
    }
}
