//! Scrubbing secrets out of text that may reach an error, a log or a panic.
//!
//! Presigned URLs carry the signature, the credential scope and any session
//! token in their query string. Wherever a URL or a transport message could be
//! shown, [`redact_url`] and [`redact_text`] replace those values with
//! `REDACTED`.

use url::Url;

/// Query parameters whose values must never be shown.
pub const SENSITIVE_PARAMS: [&str; 3] = [
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
];

/// Characters that end a parameter value in free text.
const VALUE_END: [char; 11] = ['&', ' ', '"', '\'', '\n', '>', '<', ')', ':', ',', ';'];

/// Replacement text for a redacted value.
pub const REDACTED: &str = "REDACTED";

/// A URL with the values of [`SENSITIVE_PARAMS`] replaced.
///
/// ```
/// let url = url::Url::parse("http://h/b/k?X-Amz-Signature=abc&x=1").unwrap();
/// assert_eq!(
///     konserve_s3::internals::s3::redact::redact_url(&url),
///     "http://h/b/k?X-Amz-Signature=REDACTED&x=1"
/// );
/// ```
pub fn redact_url(url: &Url) -> String {
    redact_text(url.as_str())
}

/// `text` with the value of every `name=value` pair whose name is one of
/// [`SENSITIVE_PARAMS`] (compared case-insensitively, also when the `=` is
/// percent-encoded as `%3D`) replaced by `REDACTED`.
pub fn redact_text(text: &str) -> String {
    // Every match needs its `=` or `%3D` (most header values, an ETag or a
    // date, have neither): one pass over the bytes instead of a search for
    // each name at each character.
    if !text.bytes().any(|b| b == b'=' || b == b'%') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for name in SENSITIVE_PARAMS {
            for sep in ["=", "%3D", "%3d"] {
                let plen = name.len() + sep.len();
                if rest.len() >= plen
                    && rest.is_char_boundary(plen)
                    && rest[..name.len()].eq_ignore_ascii_case(name)
                    && &rest[name.len()..plen] == sep
                {
                    out.push_str(&rest[..plen]);
                    out.push_str(REDACTED);
                    let value_len = rest[plen..].find(VALUE_END).unwrap_or(rest.len() - plen);
                    rest = &rest[plen + value_len..];
                    continue 'outer;
                }
            }
        }
        let ch = rest.chars().next().unwrap_or_default();
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// `text` with every occurrence of each of `secrets` (as given, and
/// percent-encoded as in a presigned URL's query) replaced by `REDACTED`:
/// for server text that quotes a session token without its parameter name.
/// Secrets shorter than 8 characters are not searched for (they would
/// redact ordinary words).
///
/// ```
/// use konserve_s3::internals::s3::redact::redact_secrets;
/// assert_eq!(redact_secrets("bad token a+b/c=12345", &["a+b/c=12345"]), "bad token REDACTED");
/// assert_eq!(redact_secrets("t=a%2Bb%2Fc%3D12345", &["a+b/c=12345"]), "t=REDACTED");
/// ```
pub fn redact_secrets(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        for form in [(*secret).to_owned(), percent_encode(secret)] {
            if out.contains(&form) {
                out = out.replace(&form, REDACTED);
            }
        }
    }
    out
}

/// `s` percent-encoded as SigV4 query values are: every byte but
/// `A-Z a-z 0-9 - _ . ~` as `%XX`.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_every_sensitive_parameter() {
        let text = "error sending http://127.0.0.1:9/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240101%2Fus-east-1&X-Amz-Security-Token=tok%2Bx&x-amz-signature=deadbeef: reset";
        let out = redact_text(text);
        assert_eq!(
            out,
            "error sending http://127.0.0.1:9/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&x-amz-signature=REDACTED: reset"
        );
        assert!(!out.contains("AKID"));
        assert!(!out.contains("deadbeef"));
        assert!(!out.contains("tok"));
    }

    #[test]
    fn redacts_encoded_separator_and_keeps_unicode() {
        assert_eq!(
            redact_text("ü X-Amz-Signature%3Dabc ü"),
            "ü X-Amz-Signature%3DREDACTED ü"
        );
        assert_eq!(redact_text("nothing here"), "nothing here");
        assert_eq!(redact_text("X-Amz-Signature="), "X-Amz-Signature=REDACTED");
    }
}
