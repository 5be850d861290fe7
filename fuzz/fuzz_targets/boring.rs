//! boring (CBOR) decoder on arbitrary bytes; what decodes re-encodes and
//! decodes to the same value.
#![no_main]

use konserve_s3::internals::codec::boring;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = boring::decode(data) {
        let again = boring::decode(&boring::encode(&value)).expect("our own output decodes");
        assert_eq!(again, value);
    }
});
