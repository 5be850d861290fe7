//! konserve's encryptor 1: AES-256-CBC with PKCS#7 padding.
//!
//! Every encrypted segment is `salt (64 bytes) ‖ ciphertext`, with a fresh
//! random salt. The key is the first 32 bytes and the IV the first 16 bytes of
//! hasch's SHA-512 hash of `["key" salt user-key]` and
//! `["initial-value" salt user-key]`, where the salt is hashed as a sequence of
//! its bytes read as signed integers (−128…127) and the user key is any EDN
//! value (usually a string).

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

use super::CodecError;
use crate::hasch;
use crate::value::Value;

/// Length of the salt in front of every encrypted segment.
pub const SALT_LEN: usize = 64;

fn derive(label: &str, salt: &[u8], user_key: &Value) -> [u8; 64] {
    let salt_seq = Value::List(
        salt.iter()
            .map(|b| Value::Int(i64::from(*b as i8)))
            .collect(),
    );
    hasch::edn_hash(&Value::Vector(vec![
        Value::from(label),
        salt_seq,
        user_key.clone(),
    ]))
}

fn key_and_iv(salt: &[u8], user_key: &Value) -> ([u8; 32], [u8; 16]) {
    let k = derive("key", salt, user_key);
    let iv = derive("initial-value", salt, user_key);
    let mut key = [0u8; 32];
    key.copy_from_slice(&k[..32]);
    let mut v = [0u8; 16];
    v.copy_from_slice(&iv[..16]);
    (key, v)
}

/// Encrypts one segment with a fresh salt: as konserve makes it, the
/// SHA-512 hash of a random (OS-entropy) UUID v4.
pub fn encrypt(plain: &[u8], user_key: &Value) -> Vec<u8> {
    let salt = hasch::edn_hash(&Value::Uuid(uuid::Uuid::new_v4()));
    encrypt_with_salt(plain, user_key, &salt)
}

/// Encrypts one segment with the given salt (deterministic; for tests).
pub fn encrypt_with_salt(plain: &[u8], user_key: &Value, salt: &[u8; SALT_LEN]) -> Vec<u8> {
    let (key, iv) = key_and_iv(salt, user_key);
    let ct =
        cbc::Encryptor::<Aes256>::new(&key.into(), &iv.into()).encrypt_padded_vec::<Pkcs7>(plain);
    let mut out = Vec::with_capacity(SALT_LEN + ct.len());
    out.extend_from_slice(salt);
    out.extend_from_slice(&ct);
    out
}

/// Decrypts one segment.
///
/// # Errors
/// [`CodecError::Decryption`] for a segment that is too short or not whole
/// blocks, [`CodecError::BadPadding`] for one that does not decrypt with
/// this key.
pub fn decrypt(segment: &[u8], user_key: &Value) -> Result<Vec<u8>, CodecError> {
    if segment.len() < SALT_LEN + 16 || !(segment.len() - SALT_LEN).is_multiple_of(16) {
        return Err(CodecError::Decryption(format!(
            "an AES segment is 64 bytes of salt and whole 16-byte blocks; got {} bytes",
            segment.len()
        )));
    }
    let (salt, ct) = segment.split_at(SALT_LEN);
    let (key, iv) = key_and_iv(salt, user_key);
    cbc::Decryptor::<Aes256>::new(&key.into(), &iv.into())
        .decrypt_padded_vec::<Pkcs7>(ct)
        .map_err(CodecError::BadPadding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_key() {
        let key = Value::from("fixture-secret");
        for plain in [&b""[..], b"x", &[9u8; 1000]] {
            let enc = encrypt(plain, &key);
            assert_eq!(enc.len(), SALT_LEN + (plain.len() / 16 + 1) * 16);
            assert_eq!(decrypt(&enc, &key).unwrap(), plain);
            let wrong = decrypt(&enc, &Value::from("other"));
            assert!(wrong.is_err() || wrong.as_deref() != Ok(plain));
            if let Err(e) = wrong {
                assert!(matches!(e, CodecError::BadPadding(_)), "{e:?}");
                assert!(std::error::Error::source(&e).is_some());
                assert_eq!(
                    e.to_string(),
                    "cannot decrypt: wrong key or corrupt data (bad padding)"
                );
            }
        }
        assert!(matches!(
            decrypt(&[0u8; 70], &key),
            Err(CodecError::Decryption(_))
        ));
        assert!(matches!(decrypt(&[], &key), Err(CodecError::Decryption(_))));
    }
}
