//! A whole blob on arbitrary bytes: header, every serializer, LZ4, zstd and
//! AES (with a fixed key), as the store reads them.
#![no_main]

use konserve_s3::internals::codec::blob::{Encoding, Encryptor};
use konserve_s3::value::Value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let enc = Encoding {
        encryptor: Encryptor::Aes {
            key: Value::from("fuzz"),
        },
        ..Encoding::default()
    };
    if let Ok((header, _)) = enc.decode_meta(data) {
        let _ = enc.decode_value(&header, data);
    }
});
