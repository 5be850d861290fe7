//! hasch: konserve key hashing, byte-for-byte like Clojure's hasch 0.3.x.
//!
//! konserve stores the value under key `k` in the blob named
//! `hasch.core/uuid(k)`. That UUID comes from [`edn_hash`]: a SHA-512 over a
//! canonical byte coercion of the EDN value ([`coerce`]), made so that equal
//! values hash equally whatever their in-memory order (maps and sets are
//! combined with XOR).
//!
//! ```
//! use konserve_s3::hasch;
//! use konserve_s3::value::Value;
//!
//! assert_eq!(hasch::uuid(&Value::keyword("foo")).to_string(), "06cee0d3-72f7-5bfd-ae3b-af7c2f0fef8f");
//! assert_eq!(hasch::uuid(&Value::from("bar")).to_string(), "2c8e57a6-ed4e-5746-9f7e-af7ff2ac25c5");
//! let key: Value = "[1 2 3]".parse().unwrap();
//! assert_eq!(hasch::uuid(&key).to_string(), "00bd2dcb-5c15-555e-a1c8-6166a78fc808");
//! ```
//!
//! Coercion = one magic byte, then a payload:
//!
//! | value | magic | payload |
//! | --- | --- | --- |
//! | nil | 0x00 | none |
//! | boolean | 0x01 | `0x29` true, `0x28` false |
//! | number | 0x02 | UTF-8 of the JVM `toString` (`-17`, `3.25`, `1.0E10`, big integers without `N`) |
//! | string, char | 0x03 | `encode-safe(utf8)` |
//! | symbol | 0x04 | `encode-safe(utf8("ns/name"))` |
//! | keyword | 0x05 | `encode-safe(utf8(":ns/name"))` |
//! | inst | 0x06 | decimal epoch millis |
//! | uuid | 0x07 | lowercase canonical text |
//! | list | 0x08 | SHA-512 of the elements' coercions (an empty one hashes like `(nil)`) |
//! | vector | 0x09 | likewise |
//! | map | 0x0A | XOR of the first 32 bytes of each entry's coercion as a vector `[k v]` |
//! | set | 0x0B | XOR of the first 32 bytes of SHA-512 of each element's coercion |
//! | tagged literal | 0x0C | SHA-512 of `coerce(tag) ‖ coerce(value)` |
//! | bytes | 0x0D | `encode-safe(bytes)` |
//!
//! `encode-safe(a)` is `a` followed by one flag byte per byte of `a` (1 where
//! the byte is 1..=29, else 0) when `a` is shorter than 1024 bytes, and the
//! SHA-512 of `a` otherwise.
//!
//! Doubles print like Java's `Double.toString` (JDK 19+); see
//! [`crate::value`] for the rare doubles where JDK 17 and earlier print more
//! digits and so hash differently.

use sha2::{Digest, Sha512};

use crate::value::Value;

const NIL: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const NUMBER: u8 = 0x02;
const STRING: u8 = 0x03;
const SYMBOL: u8 = 0x04;
const KEYWORD: u8 = 0x05;
const INST: u8 = 0x06;
const UUID: u8 = 0x07;
const SEQ: u8 = 0x08;
const VECTOR: u8 = 0x09;
const MAP: u8 = 0x0A;
const SET: u8 = 0x0B;
const LITERAL: u8 = 0x0C;
const BINARY: u8 = 0x0D;

/// Inputs of at least this many bytes are replaced by their SHA-512 in `encode-safe`.
const SPLIT_SIZE: usize = 1024;
/// How many leading bytes of each element's hash XOR-combination keeps.
const XOR_LEN: usize = 32;

/// Where coerced bytes go: a buffer or straight into a running SHA-512.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Sha512 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// The SHA-512 of the coercion of `v` (`hasch.core/edn-hash`).
///
/// ```
/// use konserve_s3::hasch::edn_hash;
/// use konserve_s3::value::Value;
///
/// // hasch's own test vector for nil.
/// assert_eq!(&edn_hash(&Value::Nil)[..4], &[184, 36, 77, 2]);
/// ```
pub fn edn_hash(v: &Value) -> [u8; 64] {
    let mut md = Sha512::new();
    coerce_into(v, &mut md);
    md.finalize().into()
}

/// The konserve blob UUID of a key (`hasch.core/uuid`): the first 16 bytes
/// of [`edn_hash`] with `b[0] &= 0x3f` (hash version 0), the version nibble
/// set to 5 and the RFC 4122 variant bits.
///
/// ```
/// use konserve_s3::{hasch, value::Value};
/// assert_eq!(hasch::uuid(&Value::from(42)).to_string(), "0fc20a9a-c153-592d-888a-707ff306fbb6");
/// ```
pub fn uuid(v: &Value) -> uuid::Uuid {
    uuid_from_hash(&edn_hash(v))
}

/// `hasch.platform/uuid5` applied to a 64-byte [`edn_hash`] digest.
///
/// ```
/// use konserve_s3::{hasch, value::Value};
/// let v = Value::keyword("counter");
/// assert_eq!(hasch::uuid_from_hash(&hasch::edn_hash(&v)), hasch::uuid(&v));
/// ```
pub fn uuid_from_hash(hash: &[u8; 64]) -> uuid::Uuid {
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    b[0] &= 0x3f;
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b)
}

/// The byte coercion of `v` (`hasch.benc/-coerce`) that [`edn_hash`] hashes.
///
/// ```
/// use konserve_s3::{hasch, value::Value};
/// assert_eq!(hasch::coerce(&Value::Nil), vec![0x00]);
/// assert_eq!(hasch::coerce(&Value::Bool(true)), vec![0x01, 0x29]);
/// assert_eq!(hasch::coerce(&Value::from(-17)), b"\x02-17".to_vec());
/// assert_eq!(hasch::coerce(&Value::keyword("a")), b"\x05:a\x00\x00".to_vec());
/// assert_eq!(hasch::coerce(&"{}".parse().unwrap()), vec![0x0A]);
/// ```
pub fn coerce(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    coerce_into(v, &mut out);
    out
}

/// `encode-safe` of `bytes` into `sink`.
fn encode_safe<S: Sink>(bytes: &[u8], sink: &mut S) {
    if bytes.len() >= SPLIT_SIZE {
        sink.put(&Sha512::digest(bytes));
        return;
    }
    sink.put(bytes);
    let mut flags = [0u8; 128];
    for chunk in bytes.chunks(flags.len()) {
        for (f, &b) in flags.iter_mut().zip(chunk) {
            // Java bytes are signed: bytes >= 0x80 are negative, never flagged.
            *f = u8::from((1..30).contains(&b));
        }
        sink.put(&flags[..chunk.len()]);
    }
}

/// Writes `Keyword`/`Symbol` text (`prefix` + `ns/name`) through encode-safe.
fn encode_named<S: Sink>(prefix: &str, ns: Option<&str>, name: &str, sink: &mut S) {
    let len = prefix.len() + ns.map_or(0, |n| n.len() + 1) + name.len();
    if len < 256 {
        let mut buf = [0u8; 256];
        let mut i = 0;
        for part in [
            prefix,
            ns.unwrap_or(""),
            if ns.is_some() { "/" } else { "" },
            name,
        ] {
            buf[i..i + part.len()].copy_from_slice(part.as_bytes());
            i += part.len();
        }
        encode_safe(&buf[..i], sink);
    } else {
        let mut s = String::with_capacity(len);
        s.push_str(prefix);
        if let Some(ns) = ns {
            s.push_str(ns);
            s.push('/');
        }
        s.push_str(name);
        encode_safe(s.as_bytes(), sink);
    }
}

fn put_i64<S: Sink>(n: i64, sink: &mut S) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    sink.put(&buf[i..]);
}

/// `coerce-seq`: SHA-512 over the elements' coercions (`coerce(nil)` for an
/// empty sequence, as hasch does).
fn coerce_seq<'a, S: Sink>(magic: u8, items: impl IntoIterator<Item = &'a Value>, sink: &mut S) {
    let mut md = Sha512::new();
    let mut empty = true;
    for item in items {
        empty = false;
        coerce_into(item, &mut md);
    }
    if empty {
        md.update([NIL]);
    }
    sink.put(&[magic]);
    sink.put(&md.finalize());
}

fn coerce_into<S: Sink>(v: &Value, sink: &mut S) {
    match v {
        Value::Nil => sink.put(&[NIL]),
        Value::Bool(b) => sink.put(&[BOOLEAN, if *b { 41 } else { 40 }]),
        Value::Int(i) => {
            sink.put(&[NUMBER]);
            put_i64(*i, sink);
        }
        Value::BigInt(b) => {
            sink.put(&[NUMBER]);
            sink.put(b.to_string().as_bytes());
        }
        Value::Float(f) => {
            let mut s = String::with_capacity(24);
            // Writing to a String cannot fail.
            let _ = crate::value::write_java_double(*f, &mut s);
            sink.put(&[NUMBER]);
            sink.put(s.as_bytes());
        }
        Value::String(s) => {
            sink.put(&[STRING]);
            encode_safe(s.as_bytes(), sink);
        }
        Value::Char(c) => {
            sink.put(&[STRING]);
            encode_safe(c.encode_utf8(&mut [0u8; 4]).as_bytes(), sink);
        }
        Value::Symbol(s) => {
            sink.put(&[SYMBOL]);
            encode_named("", s.namespace(), s.name(), sink);
        }
        Value::Keyword(k) => {
            sink.put(&[KEYWORD]);
            encode_named(":", k.namespace(), k.name(), sink);
        }
        Value::Inst(ms) => {
            sink.put(&[INST]);
            put_i64(*ms, sink);
        }
        Value::Uuid(u) => {
            sink.put(&[UUID]);
            let mut buf = uuid::Uuid::encode_buffer();
            sink.put(u.hyphenated().encode_lower(&mut buf).as_bytes());
        }
        Value::List(items) => coerce_seq(SEQ, items, sink),
        Value::Vector(items) => coerce_seq(VECTOR, items, sink),
        Value::Map(m) => {
            sink.put(&[MAP]);
            if m.is_empty() {
                return;
            }
            // Each entry coerces as the vector [k v]: 0x09 ‖ SHA-512(k ‖ v);
            // its first 32 bytes are 0x09 and 31 digest bytes.
            let mut acc = [0u8; XOR_LEN];
            for (k, val) in m {
                let mut md = Sha512::new();
                coerce_into(k, &mut md);
                coerce_into(val, &mut md);
                let d = md.finalize();
                acc[0] ^= VECTOR;
                for (a, b) in acc[1..].iter_mut().zip(d.iter()) {
                    *a ^= b;
                }
            }
            sink.put(&acc);
        }
        Value::Set(s) => {
            sink.put(&[SET]);
            if s.is_empty() {
                return;
            }
            let mut acc = [0u8; XOR_LEN];
            for e in s {
                let mut md = Sha512::new();
                coerce_into(e, &mut md);
                let d = md.finalize();
                for (a, b) in acc.iter_mut().zip(d.iter()) {
                    *a ^= b;
                }
            }
            sink.put(&acc);
        }
        Value::Tagged(tag, inner) => {
            let mut md = Sha512::new();
            md.update([SYMBOL]);
            encode_named("", tag.namespace(), tag.name(), &mut md);
            coerce_into(inner, &mut md);
            sink.put(&[LITERAL]);
            sink.put(&md.finalize());
        }
        Value::Bytes(b) => {
            sink.put(&[BINARY]);
            encode_safe(b, sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Symbol;

    fn u(s: &str) -> String {
        uuid(&s.parse::<Value>().unwrap()).to_string()
    }

    fn h(v: &Value) -> Vec<u8> {
        edn_hash(v).to_vec()
    }

    #[test]
    fn golden_uuids() {
        assert_eq!(u("\"bar\""), "2c8e57a6-ed4e-5746-9f7e-af7ff2ac25c5");
        assert_eq!(u("\"foo\""), "3b99ff05-3a69-5570-8133-fb72ea5f4db6");
        assert_eq!(u(":foo"), "06cee0d3-72f7-5bfd-ae3b-af7c2f0fef8f");
        assert_eq!(u(":bar"), "17d10627-3289-511e-a666-723ba78092bc");
        assert_eq!(u(":counter"), "103f0d02-3588-51f2-a99f-2fdd26069e53");
        assert_eq!(u("42"), "0fc20a9a-c153-592d-888a-707ff306fbb6");
        assert_eq!(u("[1 2 3]"), "00bd2dcb-5c15-555e-a1c8-6166a78fc808");
        assert_eq!(u("42N"), u("42"));
    }

    // Vectors from hasch's test/hasch/api_test.cljc.
    #[test]
    fn hasch_api_test_vectors() {
        let cases: &[(&str, [u8; 4])] = &[
            ("nil", [184, 36, 77, 2]),
            ("true", [221, 223, 252, 44]),
            ("false", [54, 0, 110, 63]),
            (r"\f", [211, 133, 203, 224]),
            (r"\ä", [51, 232, 113, 238]),
            ("\"hello\"", [178, 114, 9, 243]),
            ("\"小鳩ちゃんかわいいなぁ\"", [2, 191, 84, 39]),
            ("\"😡😡😡\"", [18, 17, 129, 25]),
            ("1234567890", [65, 199, 158, 164]),
            ("123.1", [155, 181, 33, 252]),
            (":core/test", [62, 51, 214, 78]),
            (
                "#uuid \"242525f1-8ed7-5979-9232-6992dd1e11e4\"",
                [42, 243, 183, 237],
            ),
            ("core/+", [164, 63, 64, 77]),
            ("(1 2 3)", [244, 105, 186, 110]),
            ("[1 2 3 4]", [172, 52, 37, 123]),
            ("{:a \"hello\" :balloon \"world\"}", [135, 204, 255, 206]),
            ("#{1 2 3 4}", [42, 216, 217, 238]),
            ("#hasch.api_test.Bar {:name \"hello\"}", [236, 35, 140, 74]),
            ("#bytes \"AQIDKpU=\"", [135, 209, 248, 171]),
        ];
        for (edn, prefix) in cases {
            let v: Value = edn.parse().unwrap();
            assert_eq!(&h(&v)[..4], prefix, "{edn}");
        }
        // Full digest of nil.
        assert_eq!(
            h(&Value::Nil),
            [
                184, 36, 77, 2, 137, 129, 214, 147, 175, 123, 69, 106, 248, 239, 164, 202, 214, 61,
                40, 46, 25, 255, 20, 148, 44, 36, 110, 80, 217, 53, 29, 34, 112, 74, 128, 42, 113,
                195, 88, 11, 99, 112, 222, 76, 235, 41, 60, 50, 74, 132, 35, 52, 37, 87, 212, 229,
                195, 132, 56, 240, 227, 105, 16, 238
            ]
        );
        assert_eq!(
            h(&Value::Inst(1_000_000_000_000))[..4],
            [177, 226, 212, 235]
        );
        assert_eq!(
            h(&Value::Tagged(
                Symbol::new("hasch.api_test.Bar"),
                Box::new(Value::map([(Value::keyword("name"), "hello")]))
            ))[..4],
            [236, 35, 140, 74]
        );
    }

    #[test]
    fn code_hashing() {
        let fib = "(fn fib [n] (if (or (= n 0) (= n 1)) 1 (+ (fib (- n 1)) (fib (- n 2)))))";
        assert_eq!(u(fib), "386eabb0-8adc-52a2-a715-5a74c9197646");
    }

    #[test]
    fn b64_hash() {
        use base64::Engine as _;
        let v: Value = "[1 2 3 {:key 5 :value 10}]".parse().unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(edn_hash(&v)),
            "TREJlRrK211AASiqQMFG9RLFW0CPC/arrCxeaUj27Qho2USJU40T01uCdjUg/OMiPGttyL1ELPCrVXXhMIroRQ=="
        );
    }

    #[test]
    fn quirks() {
        // An empty vector hashes like [nil].
        assert_eq!(u("[]"), u("[nil]"));
        assert_eq!(u("()"), u("(nil)"));
        assert_ne!(u("[]"), u("()"));
        assert_eq!(coerce(&"#{}".parse().unwrap()), vec![SET]);
        // encode-safe flags.
        assert_eq!(
            coerce(&Value::Bytes(vec![0, 1, 29, 30, 0x80])),
            vec![BINARY, 0, 1, 29, 30, 0x80, 0, 1, 1, 0, 0]
        );
        // >= 1024 bytes: digest instead.
        let big = vec![7u8; 1024];
        let c = coerce(&Value::Bytes(big.clone()));
        assert_eq!(c.len(), 65);
        assert_eq!(&c[1..], Sha512::digest(&big).as_slice());
        assert_eq!(coerce(&Value::Bytes(vec![7u8; 1023])).len(), 1 + 2046);
        // Long names use the heap path but hash the same as the text.
        let long = "x".repeat(300);
        let mut expect = vec![KEYWORD];
        encode_safe(format!(":ns/{long}").as_bytes(), &mut expect);
        assert_eq!(coerce(&Value::keyword_ns("ns", long)), expect);
        assert_eq!(
            coerce(&Value::Int(i64::MIN)),
            b"\x02-9223372036854775808".to_vec()
        );
        assert_eq!(coerce(&Value::Float(1e10)), b"\x021.0E10".to_vec());
        assert_eq!(
            coerce(&Value::from(u64::MAX)),
            b"\x0218446744073709551615".to_vec()
        );
        assert_eq!(coerce(&Value::Char('a')), coerce(&Value::from("a")));
    }
}
