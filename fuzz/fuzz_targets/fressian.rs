//! Fressian decoder on arbitrary bytes; what decodes re-encodes and decodes
//! to the same value.
#![no_main]

use konserve_s3::internals::codec::fressian;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = fressian::decode(data) {
        let again = fressian::decode(&fressian::encode(&value)).expect("our own output decodes");
        assert_eq!(again, value);
    }
});
