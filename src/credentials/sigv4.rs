//! AWS Signature Version 4 with an `Authorization` header, for STS
//! `AssumeRole` (a form `POST`). S3 requests are presigned by rusty-s3,
//! whose signer is S3-only (its credential scope says `s3`).

use crate::s3::redact::percent_encode;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::Credentials;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The lowercase hex SHA-256 of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// What to sign: method, host (as sent in `Host`, with a non-default
/// port), path, sorted query, extra headers (lowercase names), body.
pub(crate) struct ToSign<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a [(&'static str, String)],
    pub body: &'a [u8],
    pub region: &'a str,
    pub service: &'a str,
}

/// The headers to add to the request: `x-amz-date`, the session token if
/// any, and `authorization`. `amz_date` is `YYYYMMDDTHHMMSSZ`.
pub(crate) fn sign(
    req: &ToSign<'_>,
    credentials: &Credentials,
    amz_date: &str,
) -> Vec<(&'static str, String)> {
    let date = &amz_date[..8.min(amz_date.len())];
    let mut headers: Vec<(&str, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (*k, v.trim().to_owned()))
        .collect();
    headers.push(("host", req.host.to_owned()));
    headers.push(("x-amz-date", amz_date.to_owned()));
    if let Some(t) = &credentials.session_token {
        headers.push(("x-amz-security-token", t.expose().to_owned()));
    }
    headers.sort_by(|a, b| a.0.cmp(b.0));
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.path,
        req.query,
        canonical_headers,
        signed_headers,
        sha256_hex(req.body)
    );
    let scope = format!("{date}/{}/{}/aws4_request", req.region, req.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac(
        format!("AWS4{}", credentials.secret.expose()).as_bytes(),
        date.as_bytes(),
    );
    let k_region = hmac(&k_date, req.region.as_bytes());
    let k_service = hmac(&k_region, req.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex(&hmac(&k_signing, string_to_sign.as_bytes()));
    let mut out = vec![("x-amz-date", amz_date.to_owned())];
    if let Some(t) = &credentials.session_token {
        out.push(("x-amz-security-token", t.expose().to_owned()));
    }
    out.push((
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key
        ),
    ));
    out
}

/// `t` as SigV4's `YYYYMMDDTHHMMSSZ`.
pub(crate) fn amz_date(t: std::time::SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// `application/x-www-form-urlencoded` encoding of `pairs` (RFC 3986
/// unreserved characters kept, everything else `%XX`), as AWS's query
/// protocol expects in a body.
pub(crate) fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's worked example ("Create a signed AWS API request", IAM
    /// `ListUsers`): its documented signature.
    #[test]
    fn matches_aws_documented_example() {
        let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let headers = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        )];
        let req = ToSign {
            method: "GET",
            host: "iam.amazonaws.com",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: &headers,
            body: b"",
            region: "us-east-1",
            service: "iam",
        };
        let out = sign(&req, &creds, "20150830T123600Z");
        let auth = &out.iter().find(|(k, _)| *k == "authorization").unwrap().1;
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        assert_eq!(out.len(), 2, "no token header without a session token");
    }

    #[test]
    fn the_session_token_is_signed_and_sent() {
        let creds = Credentials::new("AK", "SK").with_session_token("TOK");
        let req = ToSign {
            method: "POST",
            host: "127.0.0.1:5000",
            path: "/",
            query: "",
            headers: &[],
            body: b"Action=AssumeRole",
            region: "eu-west-1",
            service: "sts",
        };
        let out = sign(&req, &creds, "20260101T000000Z");
        assert!(out.contains(&("x-amz-security-token", "TOK".to_owned())));
        let auth = &out.iter().find(|(k, _)| *k == "authorization").unwrap().1;
        assert!(auth.contains("SignedHeaders=host;x-amz-date;x-amz-security-token"));
        assert!(auth.contains("/eu-west-1/sts/aws4_request"));
        assert!(!auth.contains("SK") && !auth.contains("TOK"));
    }

    #[test]
    fn form_encoding_escapes_reserved_characters() {
        assert_eq!(
            form_encode(&[("RoleArn", "arn:aws:iam::1:role/a b"), ("X", "é")]),
            "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b&X=%C3%A9"
        );
        assert_eq!(
            amz_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(86_400)),
            "19700102T000000Z"
        );
    }
}
