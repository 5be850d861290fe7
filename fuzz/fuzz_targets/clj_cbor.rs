//! clj-cbor (legacy) decoder on arbitrary bytes: errors, never panics.
#![no_main]

use konserve_s3::internals::codec::clj_cbor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = clj_cbor::decode(data);
});
