//! `credential_process`: the JSON a process prints (`Version: 1`).

use serde::Deserialize;

use super::metadata::json_error;
use super::{Credentials, parse_time};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Output {
    version: Option<u32>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    expiration: Option<String>,
}

/// Credentials from a process's standard output.
///
/// # Errors
/// A message (never a value): not JSON, `Version` not 1, missing keys,
/// a bad `Expiration`.
pub(crate) fn parse_output(stdout: &[u8]) -> Result<Credentials, String> {
    let o: Output = serde_json::from_slice(stdout)
        .map_err(|e| format!("its output is not the credentials JSON: {}", json_error(&e)))?;
    if o.version != Some(1) {
        return Err(format!(
            "its output has Version {:?}; only 1 is known",
            o.version
        ));
    }
    let (Some(key), Some(secret)) = (o.access_key_id, o.secret_access_key) else {
        return Err("its output has no AccessKeyId / SecretAccessKey".to_owned());
    };
    let mut c = Credentials::new(key, secret);
    if let Some(t) = o.session_token.filter(|t| !t.is_empty()) {
        c = c.with_session_token(t);
    }
    if let Some(e) = o.expiration {
        c = c.with_expiry(
            parse_time(&e).ok_or_else(|| format!("its Expiration {e:?} is not a timestamp"))?,
        );
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_version_1() {
        let c = parse_output(
            br#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":"S","SessionToken":"T","Expiration":"2030-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(c.access_key, "A");
        assert!(c.expiry.is_some());
        let c = parse_output(br#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":"S"}"#).unwrap();
        assert_eq!(c.expiry, None);
        assert!(parse_output(br#"{"Version":2,"AccessKeyId":"A","SecretAccessKey":"S"}"#).is_err());
        assert!(parse_output(br#"{"Version":1}"#).is_err());
        let e =
            parse_output(br#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":7,"x":"SECRET"}"#)
                .unwrap_err();
        assert!(!e.contains("SECRET"));
        assert!(parse_output(b"not json").is_err());
    }
}
