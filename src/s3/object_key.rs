//! Validation of object keys before they are put into a URL.
//!
//! rusty-s3 appends the key to the bucket's path, and HTTP stacks resolve `.`
//! and `..` segments like file paths, so `a/../b` would address `b`, and an
//! empty key addresses the bucket itself (a `DeleteObject` would become a
//! `DeleteBucket`). Control characters cannot travel in the XML of
//! `DeleteObjects`. Keys that the crate builds are checked here first.

use crate::error::{Error, Result};

/// The longest object key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// Checks that `key` is safe to use as an S3 object key.
///
/// ```
/// use konserve_s3::internals::s3::object_key::validate;
/// assert!(validate("store_2c8e57a6.ksv").is_ok());
/// assert!(validate("").is_err());
/// assert!(validate("a/../b").is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidObjectKey`] naming the key and the rule it breaks.
pub fn validate(key: &str) -> Result<()> {
    let reason = if key.is_empty() {
        Some("empty key")
    } else if key.len() > MAX_KEY_BYTES {
        Some("longer than 1024 bytes")
    } else if key.split('/').any(|seg| seg == "." || seg == "..") {
        Some("contains a `.` or `..` path segment")
    } else if key.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidObjectKey {
            key: key.chars().take(200).collect(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for k in [
            "a",
            "x_y.ksv",
            "dir/file",
            "a.b/c..d",
            "ü é+%=&",
            ".hidden",
            "..x",
        ] {
            validate(k).unwrap();
        }
    }

    #[test]
    fn rejects_bad_keys() {
        for k in [
            "", ".", "..", "a/.", "./a", "a/../b", "a/..", "x\ny", "x\u{7f}",
        ] {
            let err = validate(k).unwrap_err();
            assert!(matches!(err, Error::InvalidObjectKey { .. }), "{k:?}");
        }
        assert!(validate(&"k".repeat(1025)).is_err());
        assert!(validate(&"k".repeat(1024)).is_ok());
    }
}
