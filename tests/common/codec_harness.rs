//! The hostile-input checks every codec fixture test runs: each strict
//! prefix of a segment is truncation, and mutated segments or random bytes
//! give a value or an error, never a panic.
//!
//! Include it with `#[path = "common/codec_harness.rs"] mod codec_harness;`.
#![allow(dead_code)]

use konserve_s3::error::CodecError;
use konserve_s3::value::{Symbol, Value};

/// A codec's `decode`.
pub type Decode = fn(&[u8]) -> Result<Value, CodecError>;

/// Which prefixes of a segment to try: every one of a segment up to
/// `all_up_to` bytes; of a longer one, the first `head` and last `tail`
/// cuts and every `every`-th one in between, to keep debug builds quick.
pub struct Cuts {
    pub all_up_to: usize,
    pub head: usize,
    pub tail: usize,
    pub every: Every,
}

/// The spacing of the cuts in the middle of a long segment.
pub enum Every {
    /// Every cut at a multiple of this many bytes.
    Bytes(usize),
    /// About a hundred cuts, whatever the length.
    Hundredth,
}

impl Cuts {
    fn keep(&self, len: usize, cut: usize) -> bool {
        let step = match self.every {
            Every::Bytes(n) => n,
            Every::Hundredth => len / 100,
        };
        len <= self.all_up_to
            || cut < self.head
            || len - cut <= self.tail
            || cut.is_multiple_of(step)
    }
}

/// Decodes the chosen strict prefixes of every `(name, segment)` and
/// asserts each is [`CodecError::Truncated`]; returns how many were checked.
pub fn assert_prefixes_truncated(
    decode: Decode,
    segments: &[(String, Vec<u8>)],
    cuts: &Cuts,
) -> usize {
    let mut checked = 0;
    for (name, seg) in segments {
        let n = seg.len();
        for cut in (0..n).filter(|&cut| cuts.keep(n, cut)) {
            match decode(&seg[..cut]) {
                Err(CodecError::Truncated(_)) => checked += 1,
                other => panic!("{name}: cut at {cut} of {n}: {other:?}"),
            }
        }
    }
    checked
}

/// Feeds `decode` `mutated` copies of random `segments` with one to three
/// bytes changed, flipped or inserted, then `random` strings of up to 63
/// random bytes (seeded, so every run is the same). Whatever decodes is
/// handed to `check` with its input. Returns how many mutated segments
/// decoded and how many were errors.
pub fn never_panics(
    decode: Decode,
    segments: &[Vec<u8>],
    mutated: usize,
    random: usize,
    mut check: impl FnMut(&Value, &[u8]),
) -> (usize, usize) {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..mutated {
        let mut seg = segments[rng.usize(..segments.len())].clone();
        for _ in 0..rng.usize(1..4) {
            let i = rng.usize(..seg.len());
            match rng.u8(..3) {
                0 => seg[i] = rng.u8(..),
                1 => seg[i] ^= 1 << rng.u8(..8),
                _ => seg.insert(i, rng.u8(..)),
            }
        }
        match decode(&seg) {
            Ok(v) => {
                ok += 1;
                check(&v, &seg);
            }
            Err(_) => err += 1,
        }
    }
    for _ in 0..random {
        let len = rng.usize(..64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        if let Ok(v) = decode(&bytes) {
            check(&v, &bytes);
        }
    }
    (ok, err)
}

/// Random values for a codec's round-trip test: the kinds every codec
/// handles, with the ranges and sizes a codec picks, and the kinds only it
/// has (`special`).
pub struct ValueGen {
    /// Small integers are drawn from `-small_int..small_int`.
    pub small_int: i64,
    /// The floats drawn besides random bits and ranges.
    pub special_floats: &'static [f64],
    /// Draws the epoch millis of an instant.
    pub inst: fn(&mut fastrand::Rng) -> i64,
    /// Whether a list may be a map key or set element (where a codec reads
    /// lists back as vectors, two keys could become equal).
    pub lists_in_keys: bool,
    /// Vectors and lists have fewer elements than this.
    pub max_vector: usize,
    /// Maps have fewer entries than this.
    pub max_map: usize,
    /// Kinds 12 to 14 (at any depth) and 20 (nested, `depth` above 0):
    /// `special(gen, rng, kind, depth, key)`.
    pub special: fn(&ValueGen, &mut fastrand::Rng, usize, usize, bool) -> Value,
}

impl ValueGen {
    /// A random value of at most `depth` nesting; `key` for map keys and
    /// set elements (see [`ValueGen::lists_in_keys`]; characters beyond the
    /// BMP, which read back as strings, are avoided there).
    pub fn value(&self, rng: &mut fastrand::Rng, depth: usize, key: bool) -> Value {
        let kinds = if depth == 0 { 15 } else { 21 };
        match rng.usize(..kinds) {
            0 => Value::Nil,
            1 => Value::Bool(rng.bool()),
            2 => Value::Int(match rng.u8(..4) {
                0 => rng.i64(-self.small_int..self.small_int),
                1 => rng.i64(-70_000..70_000),
                2 => rng.i64(i64::from(i32::MIN)..=i64::from(u32::MAX)),
                _ => rng.i64(..),
            }),
            3 => {
                let n = num_bigint::BigInt::from(rng.u64(..)) << rng.usize(..130);
                Value::integer(if rng.bool() { n } else { -n - 1 })
            }
            4 => Value::Float(match rng.u8(..4) {
                0 => f64::from_bits(rng.u64(..)),
                1 => rng.f64() * 1e6 - 5e5,
                2 => f64::from(rng.i32(..)),
                _ => self.special_floats[rng.usize(..self.special_floats.len())],
            }),
            5 => {
                let len = if rng.u8(..10) == 0 {
                    rng.usize(..300)
                } else {
                    rng.usize(..12)
                };
                Value::String((0..len).map(|_| random_char(rng)).collect())
            }
            6 => match random_char(rng) {
                // Would read back as a string, equal to a string key.
                c if key && u32::from(c) > 0xffff => Value::Char('k'),
                c => Value::Char(c),
            },
            7 => {
                if rng.bool() {
                    Value::keyword(random_name(rng))
                } else {
                    Value::keyword_ns(random_name(rng), random_name(rng))
                }
            }
            8 => {
                if rng.bool() {
                    Value::symbol(random_name(rng))
                } else {
                    Value::Symbol(Symbol::ns(random_name(rng), random_name(rng)))
                }
            }
            9 => Value::Uuid(uuid::Uuid::from_u128(rng.u128(..))),
            10 => Value::Inst((self.inst)(rng)),
            11 => Value::Bytes((0..rng.usize(..40)).map(|_| rng.u8(..)).collect()),
            15 | 16 => {
                let items = (0..rng.usize(..self.max_vector))
                    .map(|_| self.value(rng, depth - 1, key))
                    .collect();
                let list = if self.lists_in_keys {
                    rng.bool()
                } else {
                    !key && rng.bool()
                };
                if list {
                    Value::List(items)
                } else {
                    Value::Vector(items)
                }
            }
            17 | 18 => Value::Map(
                (0..rng.usize(..self.max_map))
                    .map(|_| {
                        (
                            self.value(rng, depth - 1, true),
                            self.value(rng, depth - 1, key),
                        )
                    })
                    .collect(),
            ),
            19 => Value::Set(
                (0..rng.usize(..6))
                    .map(|_| self.value(rng, depth - 1, true))
                    .collect(),
            ),
            kind => (self.special)(self, rng, kind, depth, key),
        }
    }
}

/// A random name for a keyword, symbol or tag.
pub fn random_name(rng: &mut fastrand::Rng) -> String {
    const NAME: &[char] = &['a', 'b', 'z', '-', '.', '*', '+', '!', '?', '_', '1', 'é'];
    let mut s: String = ['a', 'k', 'x'][rng.usize(..3)].to_string();
    for _ in 0..rng.usize(..8) {
        s.push(NAME[rng.usize(..NAME.len())]);
    }
    s
}

/// A random character: ASCII, the BMP, beyond it, or one of a few that
/// need escaping or several bytes.
pub fn random_char(rng: &mut fastrand::Rng) -> char {
    match rng.u8(..4) {
        0 => rng.char('\u{0}'..='\u{7f}'),
        1 => rng.char('\u{80}'..='\u{ffff}'),
        2 => rng.char('\u{10000}'..='\u{10ffff}'),
        _ => ['a', 'é', '✓', '日', '🦀', '"', '\\'][rng.usize(..7)],
    }
}
