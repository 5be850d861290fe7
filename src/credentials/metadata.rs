//! The answers of the EC2 instance metadata service and of the ECS / EKS
//! container credentials endpoint: the same JSON shape.

use serde::Deserialize;

use super::{Credentials, parse_time};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    code: Option<String>,
    message: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    token: Option<String>,
    expiration: Option<String>,
}

/// Credentials from a metadata answer.
///
/// # Errors
/// A message (never a value): not JSON, a `Code` other than `Success`,
/// missing fields, a bad `Expiration`.
pub(crate) fn parse_credentials(body: &[u8]) -> Result<Credentials, String> {
    let a: Answer = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the answer is not the credentials JSON: {}",
            e.classify_text()
        )
    })?;
    if let Some(code) = a.code.as_deref().filter(|c| *c != "Success") {
        return Err(format!(
            "the endpoint answered Code {code:?}: {}",
            a.message.unwrap_or_default()
        ));
    }
    let (Some(key), Some(secret)) = (a.access_key_id, a.secret_access_key) else {
        return Err("the answer has no AccessKeyId / SecretAccessKey".to_owned());
    };
    let mut c = Credentials::new(key, secret);
    if let Some(t) = a.token.filter(|t| !t.is_empty()) {
        c = c.with_session_token(t);
    }
    if let Some(e) = a.expiration {
        c = c.with_expiry(
            parse_time(&e).ok_or_else(|| format!("Expiration {e:?} is not a timestamp"))?,
        );
    }
    Ok(c)
}

/// What kind of JSON error, without quoting the input.
trait ClassifyText {
    fn classify_text(&self) -> String;
}

impl ClassifyText for serde_json::Error {
    fn classify_text(&self) -> String {
        format!(
            "{:?} error at line {} column {}",
            self.classify(),
            self.line(),
            self.column()
        )
    }
}

/// The JSON error `e` described without any of the input (serde_json
/// messages can quote values).
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    e.classify_text()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_imds_and_container_answers() {
        let imds = br#"{"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC",
            "AccessKeyId":"ASIA","SecretAccessKey":"SEC","Token":"TOK","Expiration":"2026-01-01T06:00:00Z"}"#;
        let c = parse_credentials(imds).unwrap();
        assert_eq!(c.access_key, "ASIA");
        assert!(c.expiry.is_some());
        let ecs = br#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"2026-01-01T06:00:00Z","RoleArn":"r"}"#;
        assert!(parse_credentials(ecs).is_ok());
        let failed = br#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"no"}"#;
        assert!(
            parse_credentials(failed)
                .unwrap_err()
                .contains("AssumeRoleUnauthorizedAccess")
        );
        let leaky = br#"{"AccessKeyId":"A","SecretAccessKey":"SECRETVALUE","Token":1}"#;
        let e = parse_credentials(leaky).unwrap_err();
        assert!(!e.contains("SECRETVALUE"), "{e}");
        assert!(parse_credentials(b"{").is_err());
    }
}
