//! Classifying S3 answers: status + XML error body → one typed [`Error`].
//!
//! This is the only place where HTTP statuses and S3 error codes are mapped.
//! The rest of the crate matches on [`Error`] variants.

use crate::error::{Error, ErrorContext};
use crate::s3::Action;

/// The fields of an S3 `<Error>` body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct S3ErrorBody {
    /// `<Code>`
    pub code: Option<String>,
    /// `<Message>`
    pub message: Option<String>,
    /// `<RequestId>`
    pub request_id: Option<String>,
}

/// The text of the first `<tag>…</tag>` element in `xml`, entity-decoded.
///
/// Tolerates namespaces, attributes and surrounding whitespace; returns `None`
/// for a missing or unterminated element. Never panics.
pub fn xml_element(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut from = 0;
    while let Some(pos) = xml[from..].find(&open) {
        let start = from + pos + open.len();
        let rest = &xml[start..];
        // `<Code>` or `<Code attr="…">`, not `<CodeX>`.
        match rest.chars().next() {
            Some('>') | Some(' ') | Some('\t') | Some('\n') | Some('\r') => {}
            Some('/') => return Some(String::new()),
            _ => {
                from = start;
                continue;
            }
        }
        let gt = rest.find('>')?;
        if rest[..gt].ends_with('/') {
            return Some(String::new());
        }
        let content_start = start + gt + 1;
        let end = xml[content_start..].find(&close)?;
        return Some(xml_unescape(xml[content_start..content_start + end].trim()));
    }
    None
}

/// Decodes the five predefined XML entities and numeric character references.
pub fn xml_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse::<u32>().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses an S3 `<Error>` body. Bodies that are not XML (empty HEAD answers,
/// proxies' HTML pages) give an empty [`S3ErrorBody`].
pub fn parse_error_body(body: &[u8]) -> S3ErrorBody {
    let Ok(text) = std::str::from_utf8(body) else {
        return S3ErrorBody::default();
    };
    if !text.contains("<Error") {
        return S3ErrorBody::default();
    }
    S3ErrorBody {
        code: xml_element(text, "Code"),
        message: xml_element(text, "Message").map(|m| m.chars().take(1000).collect()),
        request_id: xml_element(text, "RequestId"),
    }
}

/// What is known about a failed answer.
#[derive(Clone, Copy, Debug)]
pub struct FailedAnswer<'a> {
    /// HTTP status.
    pub status: u16,
    /// The `x-amz-request-id` header, if any.
    pub request_id_header: Option<&'a str>,
    /// The body (may be empty, e.g. for HEAD).
    pub body: &'a [u8],
    /// Whether the request carried `If-Match` (S3 answers 404 when the object
    /// vanished, which is a failed precondition).
    pub had_if_match: bool,
}

/// Maps a non-success answer to its [`Error`].
///
/// ```
/// use konserve_s3::{Error, error::ErrorContext, s3::{Action, classify::{classify, FailedAnswer}}};
/// let body = b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message><RequestId>R1</RequestId></Error>";
/// let ctx = ErrorContext::new(Action::PutObject, "bkt", Some("k"));
/// let e = classify(ctx, FailedAnswer { status: 503, request_id_header: None, body, had_if_match: false });
/// assert!(matches!(e, Error::Throttled(_)));
/// assert_eq!(e.context().unwrap().request_id.as_deref(), Some("R1"));
/// ```
pub fn classify(mut ctx: ErrorContext, answer: FailedAnswer<'_>) -> Error {
    let parsed = parse_error_body(answer.body);
    ctx.status = Some(answer.status);
    ctx.request_id = parsed
        .request_id
        .clone()
        .or_else(|| answer.request_id_header.map(str::to_owned));
    ctx.message = parsed.message.clone();
    ctx.code = parsed.code.clone();
    let code = parsed.code.as_deref().unwrap_or("");
    let action = ctx.action;
    let c = Box::new(ctx);
    match (answer.status, code) {
        (_, "NoSuchBucket") => Error::NoSuchBucket(c),
        (
            _,
            "SignatureDoesNotMatch"
            | "InvalidAccessKeyId"
            | "ExpiredToken"
            | "InvalidToken"
            | "TokenRefreshRequired"
            | "AuthorizationQueryParametersError"
            | "RequestTimeTooSkewed"
            | "InvalidSecurity",
        ) => Error::InvalidCredentials(c),
        (_, "AccessDenied" | "AllAccessDisabled" | "AccountProblem") => Error::AccessDenied(c),
        (_, "BucketAlreadyExists" | "BucketAlreadyOwnedByYou") => Error::AlreadyExists(c),
        (_, "PreconditionFailed") | (412, _) => Error::PreconditionFailed(c),
        (_, "ConditionalRequestConflict" | "OperationAborted") | (409, "") => Error::Conflict(c),
        (
            _,
            "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "TooManyRequests"
            | "RequestLimitExceeded",
        )
        | (429, _) => Error::Throttled(c),
        // HEAD answers have no body: a bare 503 is S3's SlowDown.
        (503, "") => Error::Throttled(c),
        (_, "RequestTimeout") | (408, _) => Error::Timeout(c),
        (_, "NotImplemented") | (501, _) => Error::NotImplemented(c),
        (404, _) if answer.had_if_match => Error::PreconditionFailed(c),
        (404, _) if action == Some(Action::HeadBucket) => Error::NoSuchBucket(c),
        (404, _) => Error::NotFound(c),
        (403, _) => Error::AccessDenied(c),
        (409, _) => Error::Rejected(c),
        (499, _) | (500..=599, _) => Error::Unavailable(c),
        _ => Error::Rejected(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, code: &str) -> Error {
        let body = if code.is_empty() {
            String::new()
        } else {
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>m &amp; n</Message><Resource>/b/k</Resource><RequestId>RID</RequestId></Error>"
            )
        };
        classify(
            ErrorContext::new(Action::GetObject, "b", Some("k")),
            FailedAnswer {
                status,
                request_id_header: Some("HDR"),
                body: body.as_bytes(),
                had_if_match: false,
            },
        )
    }

    #[test]
    fn maps_every_documented_class() {
        assert!(matches!(answer(404, "NoSuchKey"), Error::NotFound(_)));
        assert!(matches!(
            answer(404, "NoSuchBucket"),
            Error::NoSuchBucket(_)
        ));
        assert!(matches!(
            answer(412, "PreconditionFailed"),
            Error::PreconditionFailed(_)
        ));
        assert!(matches!(
            answer(409, "ConditionalRequestConflict"),
            Error::Conflict(_)
        ));
        assert!(matches!(
            answer(409, "BucketAlreadyOwnedByYou"),
            Error::AlreadyExists(_)
        ));
        assert!(matches!(
            answer(409, "BucketAlreadyExists"),
            Error::AlreadyExists(_)
        ));
        assert!(matches!(
            answer(403, "AccessDenied"),
            Error::AccessDenied(_)
        ));
        assert!(matches!(
            answer(403, "SignatureDoesNotMatch"),
            Error::InvalidCredentials(_)
        ));
        assert!(matches!(
            answer(403, "InvalidAccessKeyId"),
            Error::InvalidCredentials(_)
        ));
        assert!(matches!(
            answer(400, "ExpiredToken"),
            Error::InvalidCredentials(_)
        ));
        assert!(matches!(answer(503, "SlowDown"), Error::Throttled(_)));
        assert!(matches!(answer(429, ""), Error::Throttled(_)));
        assert!(matches!(
            answer(500, "InternalError"),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            answer(503, "ServiceUnavailable"),
            Error::Unavailable(_)
        ));
        assert!(matches!(answer(499, ""), Error::Unavailable(_)));
        assert!(matches!(answer(400, "RequestTimeout"), Error::Timeout(_)));
        assert!(matches!(
            answer(501, "NotImplemented"),
            Error::NotImplemented(_)
        ));
        assert!(matches!(answer(400, "InvalidArgument"), Error::Rejected(_)));
        assert!(matches!(answer(400, "BadDigest"), Error::Rejected(_)));
    }

    #[test]
    fn context_carries_code_message_and_request_id() {
        let e = answer(404, "NoSuchKey");
        let c = e.context().unwrap();
        assert_eq!(c.status, Some(404));
        assert_eq!(c.code.as_deref(), Some("NoSuchKey"));
        assert_eq!(c.message.as_deref(), Some("m & n"));
        assert_eq!(c.request_id.as_deref(), Some("RID"));
        assert_eq!(c.key.as_deref(), Some("k"));
        // Without a body the header's request id is used.
        let e = answer(404, "");
        assert_eq!(e.context().unwrap().request_id.as_deref(), Some("HDR"));
    }

    #[test]
    fn head_404s_and_if_match_404() {
        let head = |action, status| {
            classify(
                ErrorContext::new(action, "b", None),
                FailedAnswer {
                    status,
                    request_id_header: None,
                    body: b"",
                    had_if_match: false,
                },
            )
        };
        assert!(matches!(
            head(Action::HeadBucket, 404),
            Error::NoSuchBucket(_)
        ));
        assert!(matches!(head(Action::HeadObject, 404), Error::NotFound(_)));
        let e = classify(
            ErrorContext::new(Action::PutObject, "b", Some("k")),
            FailedAnswer {
                status: 404,
                request_id_header: None,
                body: b"<Error><Code>NoSuchKey</Code></Error>",
                had_if_match: true,
            },
        );
        assert!(matches!(e, Error::PreconditionFailed(_)));
    }

    #[test]
    fn xml_helpers_are_robust() {
        assert_eq!(
            xml_element("<a><Code>X</Code></a>", "Code").as_deref(),
            Some("X")
        );
        assert_eq!(
            xml_element("<CodeX>1</CodeX><Code>2</Code>", "Code").as_deref(),
            Some("2")
        );
        assert_eq!(xml_element("<Code>unterminated", "Code"), None);
        assert_eq!(xml_element("<Code/>", "Code").as_deref(), Some(""));
        assert_eq!(xml_element("<Code", "Code"), None);
        assert_eq!(xml_unescape("a&lt;b&#65;&#x42;&bogus;&"), "a<bAB&bogus;&");
        assert_eq!(parse_error_body(&[0xff, 0xfe]), S3ErrorBody::default());
        assert_eq!(
            parse_error_body(b"<html>502</html>"),
            S3ErrorBody::default()
        );
    }
}
