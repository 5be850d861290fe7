//! The EDN reader on arbitrary text; what parses prints and parses back to
//! the same value.
#![no_main]

use konserve_s3::value::Value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(value) = text.parse::<Value>()
    {
        let again: Value = value.to_string().parse().expect("printed EDN reads back");
        assert_eq!(again, value);
    }
});
