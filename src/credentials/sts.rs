//! STS's query protocol: the form bodies of `AssumeRole` and
//! `AssumeRoleWithWebIdentity`, and their XML answers (credentials, or an
//! `<ErrorResponse>` with a code and message).

use super::sigv4::form_encode;
use super::{Credentials, parse_time};

/// The form body of `AssumeRole`.
pub(crate) fn assume_role_body(
    role_arn: &str,
    session_name: &str,
    external_id: Option<&str>,
    duration_seconds: Option<u32>,
) -> String {
    let duration = duration_seconds.map(|d| d.to_string());
    let mut pairs = vec![
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
    ];
    if let Some(e) = external_id {
        pairs.push(("ExternalId", e));
    }
    if let Some(d) = &duration {
        pairs.push(("DurationSeconds", d));
    }
    form_encode(&pairs)
}

/// The form body of `AssumeRoleWithWebIdentity`; `encoded_token` is the
/// token already form-encoded (or a placeholder for it, see the blocking
/// transport's `hide_in_body`).
pub(crate) fn web_identity_body(role_arn: &str, session_name: &str, encoded_token: &str) -> String {
    let head = form_encode(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
    ]);
    format!("{head}&WebIdentityToken={encoded_token}")
}

/// The text of the first `<name>…</name>` in `xml`, unescaped.
pub(crate) fn tag(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// The credentials of a successful answer.
///
/// # Errors
/// A message naming what is missing (never a value).
pub(crate) fn parse_credentials(xml: &str) -> Result<Credentials, String> {
    let need = |name: &str| {
        tag(xml, name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("STS answer has no {name}"))
    };
    let c = Credentials::new(need("AccessKeyId")?, need("SecretAccessKey")?)
        .with_session_token(need("SessionToken")?);
    let expiration = need("Expiration")?;
    let expiry = parse_time(&expiration)
        .ok_or_else(|| format!("STS answer's Expiration {expiration:?} is not a timestamp"))?;
    Ok(c.with_expiry(expiry))
}

/// `status`, code and message of an STS error answer, for messages.
pub(crate) fn describe_error(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match (tag(&text, "Code"), tag(&text, "Message")) {
        (Some(code), Some(message)) => format!("STS said {code} (HTTP {status}): {message}"),
        (Some(code), None) => format!("STS said {code} (HTTP {status})"),
        _ => format!("STS answered HTTP {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credentials_and_errors() {
        let ok = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA1</AccessKeyId>\
                  <SecretAccessKey>s/e+c</SecretAccessKey><SessionToken>t&amp;k</SessionToken>\
                  <Expiration>2026-11-29T20:13:40.421993Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>";
        let c = parse_credentials(ok).unwrap();
        assert_eq!(c.access_key, "ASIA1");
        assert_eq!(c.secret.expose(), "s/e+c");
        assert_eq!(c.session_token.unwrap().expose(), "t&k");
        assert!(c.expiry.is_some());
        let e = parse_credentials("<x><AccessKeyId>A</AccessKeyId></x>").unwrap_err();
        assert_eq!(e, "STS answer has no SecretAccessKey");
        let err = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                   <Message>not allowed to assume r</Message></Error></ErrorResponse>";
        assert_eq!(
            describe_error(403, err.as_bytes()),
            "STS said AccessDenied (HTTP 403): not allowed to assume r"
        );
        assert_eq!(describe_error(502, b"<html>"), "STS answered HTTP 502");
    }

    #[test]
    fn bodies() {
        assert_eq!(
            assume_role_body("arn:r", "s", Some("e x"), Some(900)),
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Ar&RoleSessionName=s&ExternalId=e%20x&DurationSeconds=900"
        );
        assert!(web_identity_body("arn:r", "s", "a.b-c").ends_with("&WebIdentityToken=a.b-c"));
    }
}
