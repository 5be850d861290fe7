//! The hostile-input checks every codec fixture test runs: each strict
//! prefix of a segment is truncation, and mutated segments or random bytes
//! give a value or an error, never a panic.
//!
//! Include it with `#[path = "common/codec_harness.rs"] mod codec_harness;`.
#![allow(dead_code)]

use konserve_s3::codec::CodecError;
use konserve_s3::value::Value;

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
