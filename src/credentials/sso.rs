//! IAM Identity Center (SSO): the token `aws sso login` caches, and the
//! answer of the portal's `GetRoleCredentials`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use sha1::{Digest, Sha1};

use super::metadata::json_error;
use super::{Credentials, Secret, parse_time};

/// The cache file of a session (`sso_session` name) or, for legacy
/// profiles, of a start URL: `<dir>/<sha1 hex>.json`.
pub(crate) fn cache_file(dir: &Path, session: Option<&str>, start_url: &str) -> PathBuf {
    let key = session.unwrap_or(start_url);
    let hash: String = Sha1::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    dir.join(format!("{hash}.json"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CachedToken {
    access_token: Option<String>,
    expires_at: Option<String>,
}

/// The access token of a cache file, if not expired at `now`.
///
/// # Errors
/// A message that says to run `aws sso login` (never the token).
pub(crate) fn parse_cached_token(
    text: &[u8],
    now: SystemTime,
    profile_hint: &str,
) -> Result<Secret, String> {
    let login = format!("run `aws sso login{profile_hint}`");
    let t: CachedToken = serde_json::from_slice(text).map_err(|e| {
        format!(
            "the SSO token cache is not JSON ({}); {login}",
            json_error(&e)
        )
    })?;
    let (Some(token), Some(expires)) = (t.access_token, t.expires_at) else {
        return Err(format!(
            "the SSO token cache has no accessToken / expiresAt; {login}"
        ));
    };
    let expires = parse_time(&expires)
        .ok_or_else(|| format!("the SSO token's expiresAt is not a timestamp; {login}"))?;
    if expires <= now {
        return Err(format!(
            "the SSO token expired at {}; {login}",
            super::jiff_time(expires)
        ));
    }
    Ok(Secret::new(token))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleAnswer {
    role_credentials: Option<RoleCredentials>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleCredentials {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    expiration: Option<u64>,
}

/// The credentials of a `GetRoleCredentials` answer.
///
/// # Errors
/// A message (never a value).
pub(crate) fn parse_role_credentials(body: &[u8]) -> Result<Credentials, String> {
    let a: RoleAnswer = serde_json::from_slice(body)
        .map_err(|e| format!("GetRoleCredentials answer is not JSON: {}", json_error(&e)))?;
    let r = a
        .role_credentials
        .ok_or_else(|| "GetRoleCredentials answer has no roleCredentials".to_owned())?;
    let (Some(key), Some(secret)) = (r.access_key_id, r.secret_access_key) else {
        return Err("GetRoleCredentials answer has no accessKeyId / secretAccessKey".to_owned());
    };
    let mut c = Credentials::new(key, secret);
    if let Some(t) = r.session_token {
        c = c.with_session_token(t);
    }
    if let Some(ms) = r.expiration {
        c = c.with_expiry(SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_file_names_are_sha1_of_the_session_or_url() {
        // The SHA-1 of "my-sso" and AWS's documented example URL.
        let dir = Path::new("/c");
        assert_eq!(
            cache_file(dir, None, "https://d-abc123.awsapps.com/start"),
            dir.join(format!(
                "{}.json",
                Sha1::digest(b"https://d-abc123.awsapps.com/start")
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ))
        );
        assert_eq!(
            cache_file(dir, Some("abc"), "ignored"),
            dir.join("a9993e364706816aba3e25717850c26c9cd0d89d.json")
        );
    }

    #[test]
    fn cached_tokens_and_role_credentials() {
        let now = parse_time("2026-01-01T00:00:00Z").unwrap();
        let good = br#"{"accessToken":"SSOTOKEN","expiresAt":"2026-01-01T01:00:00Z"}"#;
        assert_eq!(
            parse_cached_token(good, now, "").unwrap().expose(),
            "SSOTOKEN"
        );
        let old = br#"{"accessToken":"SSOTOKEN","expiresAt":"2025-12-31T00:00:00Z"}"#;
        let e = parse_cached_token(old, now, " --profile p").unwrap_err();
        assert!(
            e.contains("aws sso login --profile p") && !e.contains("SSOTOKEN"),
            "{e}"
        );
        let c = parse_role_credentials(
            br#"{"roleCredentials":{"accessKeyId":"A","secretAccessKey":"S","sessionToken":"T","expiration":1767229200000}}"#,
        )
        .unwrap();
        assert_eq!(c.access_key, "A");
        assert_eq!(c.expiry, parse_time("2026-01-01T01:00:00Z"));
        assert!(parse_role_credentials(b"{}").is_err());
    }
}
