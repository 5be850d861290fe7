//! Classifying S3 answers: status + XML error body → one typed [`Error`].
//!
//! This is the only place where HTTP statuses and S3 error codes are mapped.
//! The rest of the crate matches on [`Error`] variants.

use instant_xml::AnyElement;

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

/// The longest `<Message>` kept, in characters.
const MAX_MESSAGE_CHARS: usize = 1000;

/// The `<Error>` element of an S3 error body: the root, or a child of the
/// root (`<ErrorResponse><Error>…`, as some S3-compatible stores send it).
/// Element names match whatever their namespace. `None` for anything that is
/// not well-formed XML (empty HEAD answers, proxies' HTML pages, truncated or
/// hostile bodies): instant-xml bounds nesting, attributes and namespace
/// declarations, never expands custom entities, and reports every problem as
/// an error rather than panicking.
fn error_element(body: &[u8]) -> Option<AnyElement<'_>> {
    // S3 may send whitespace before the declaration of a 200 answer that
    // carries an `<Error>` (CompleteMultipartUpload keeps the connection alive).
    let text = std::str::from_utf8(body).ok()?.trim();
    // instant-xml takes the end of the input for the end of open elements, so
    // a truncated `<Code>SlowDo` would read as a code. A text that ends with
    // a complete tag (an incomplete one is a parse error) has every text node
    // followed by a tag, hence complete.
    if !text.ends_with('>') {
        return None;
    }
    let root: AnyElement<'_> = instant_xml::from_str(text).ok()?;
    if root.name == "Error" {
        return Some(root);
    }
    root.children.into_iter().find(|c| c.name == "Error")
}

/// Whether `body` is an S3 error document: well-formed XML whose root, or a
/// child of the root, is an `<Error>` element.
pub fn is_error_body(body: &[u8]) -> bool {
    error_element(body).is_some()
}

/// Parses an S3 `<Error>` body. Bodies that are not well-formed XML with an
/// `<Error>` element give an empty [`S3ErrorBody`].
///
/// ```
/// use konserve_s3::internals::s3::classify::parse_error_body;
/// let e = parse_error_body(b"<Error><Code>NoSuchKey</Code><Message>a &amp; b</Message></Error>");
/// assert_eq!(e.code.as_deref(), Some("NoSuchKey"));
/// assert_eq!(e.message.as_deref(), Some("a & b"));
/// assert_eq!(parse_error_body(b"<html>502</html>").code, None);
/// ```
pub fn parse_error_body(body: &[u8]) -> S3ErrorBody {
    let Some(error) = error_element(body) else {
        return S3ErrorBody::default();
    };
    let field = |name: &str| {
        error
            .children
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.text.as_deref().unwrap_or_default().trim().to_owned())
    };
    S3ErrorBody {
        code: field("Code"),
        message: field("Message").map(bounded_message),
        request_id: field("RequestId"),
    }
}

fn bounded_message(message: String) -> String {
    message.chars().take(MAX_MESSAGE_CHARS).collect()
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

/// Whether an answer is `304 Not Modified` to a read that asked for it
/// (`If-None-Match: <etag>` on a GET or HEAD of an object): the object is
/// still the version the reader holds. Such an answer is no failure, and
/// it has no body.
///
/// ```
/// use konserve_s3::internals::s3::classify::is_not_modified;
/// use konserve_s3::s3::Action;
/// assert!(is_not_modified(304, Action::GetObject, true));
/// assert!(!is_not_modified(304, Action::GetObject, false));
/// assert!(!is_not_modified(304, Action::PutObject, true));
/// assert!(!is_not_modified(200, Action::GetObject, true));
/// ```
pub fn is_not_modified(status: u16, action: Action, had_if_none_match: bool) -> bool {
    status == 304 && had_if_none_match && matches!(action, Action::GetObject | Action::HeadObject)
}

/// Maps a non-success answer to its [`Error`].
///
/// ```
/// use konserve_s3::internals::s3::classify::{FailedAnswer, classify};
/// use konserve_s3::{Error, error::ErrorContext, s3::Action};
/// let body = b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message><RequestId>R1</RequestId></Error>";
/// let ctx = ErrorContext::new(Action::PutObject, "bkt", Some("k"));
/// let e = classify(ctx, FailedAnswer { status: 503, request_id_header: None, body, had_if_match: false });
/// assert!(matches!(e, Error::Throttled(_)));
/// assert_eq!(e.context().unwrap().request_id.as_deref(), Some("R1"));
/// ```
pub fn classify(ctx: ErrorContext, answer: FailedAnswer<'_>) -> Error {
    classify_parsed(
        ctx,
        answer.status,
        parse_error_body(answer.body),
        answer.request_id_header,
        answer.had_if_match,
    )
}

/// Maps a non-success answer whose error fields are already known (such as a
/// key that `DeleteObjects` reports as failed) to its [`Error`]; `classify`
/// is this after [`parse_error_body`].
///
/// ```
/// use konserve_s3::internals::s3::classify::{S3ErrorBody, classify_parsed};
/// use konserve_s3::{Error, error::ErrorContext, s3::Action};
/// let ctx = ErrorContext::new(Action::DeleteObjects, "bkt", Some("k"));
/// let fields = S3ErrorBody { code: Some("AccessDenied".into()), ..S3ErrorBody::default() };
/// assert!(matches!(classify_parsed(ctx, 400, fields, None, false), Error::AccessDenied(_)));
/// ```
pub fn classify_parsed(
    mut ctx: ErrorContext,
    status: u16,
    parsed: S3ErrorBody,
    request_id_header: Option<&str>,
    had_if_match: bool,
) -> Error {
    // Everything the server wrote is redacted before it is kept: a server or
    // proxy that echoes the request target would show the signature, the
    // credential scope and the session token in errors and logs.
    let redact = |s: String| crate::s3::redact::redact_text(&s);
    ctx.status = Some(status);
    ctx.request_id = parsed
        .request_id
        .or_else(|| request_id_header.map(str::to_owned))
        .map(redact);
    ctx.message = parsed.message.map(bounded_message).map(redact);
    // The code is matched as sent; only the kept copy is redacted.
    let code = parsed.code.clone().unwrap_or_default();
    ctx.code = parsed.code.map(redact);
    let action = ctx.action;
    let c = Box::new(ctx);
    match (status, code.as_str()) {
        (_, "NoSuchBucket") => Error::no_such_bucket(*c),
        (
            _,
            "SignatureDoesNotMatch"
            | "InvalidAccessKeyId"
            | "ExpiredToken"
            | "InvalidToken"
            | "TokenRefreshRequired"
            | "AuthorizationQueryParametersError"
            | "InvalidSecurity",
        ) => Error::InvalidCredentials(c),
        (_, "RequestTimeTooSkewed") => {
            let mut c = c;
            let said = c.message.take().unwrap_or_default();
            c.message = Some(format!(
                "{said} (this machine's clock is more than 15 minutes off the server's: \
                 set it right, e.g. with NTP)"
            ));
            Error::InvalidCredentials(c)
        }
        // Garage says "Invalid signature" under the code AccessDenied.
        (_, "AccessDenied")
            if c.message.as_deref().is_some_and(|m| {
                let m = m.to_ascii_lowercase();
                m.contains("invalid signature") || m.contains("signature does not match")
            }) =>
        {
            Error::InvalidCredentials(c)
        }
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
        (_, "BadDigest" | "XAmzContentChecksumMismatch") => {
            let mut c = c;
            c.hint = Some(
                "the body the server received does not match its checksum, so nothing was \
                 written; if this keeps happening, something between here and the server \
                 alters request bodies"
                    .to_owned(),
            );
            Error::ChecksumMismatch(c)
        }
        (_, "NotImplemented") | (501, _) => Error::NotImplemented(c),
        (404, _) if had_if_match => Error::PreconditionFailed(c),
        (404, _) if action == Some(Action::HeadBucket) => Error::no_such_bucket(*c),
        (404, _) => Error::NotFound(c),
        (403, _) => Error::AccessDenied(c),
        (409, _) => Error::Rejected(c),
        (499, _) | (500..=599, _) => Error::Unavailable(c),
        _ => Error::Rejected(c),
    }
}

/// What to do about an answer that says the request was signed for, or
/// sent to, the wrong region (S3's `AuthorizationQueryParametersError` /
/// `AuthorizationHeaderMalformed` "the region 'x' is wrong; expecting 'y'",
/// or a 301 `PermanentRedirect`), if it is one.
pub(crate) fn region_hint(code: &str, message: &str) -> Option<String> {
    let expected = message
        .split_once("expecting '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(region, _)| region);
    match (code, expected) {
        ("AuthorizationQueryParametersError" | "AuthorizationHeaderMalformed", Some(r))
            if !r.is_empty() && r.len() < 64 =>
        {
            Some(format!(
                "the bucket is in region `{r}`: set `region` to \"{r}\" (and the endpoint, if you set one, to that region's)"
            ))
        }
        ("PermanentRedirect", _) => Some(
            "the bucket is in another region: set `region` (and the endpoint, if you set \
             one) to the bucket's region"
                .to_owned(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_region_answers_say_which_region() {
        let hint = region_hint(
            "AuthorizationQueryParametersError",
            "Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; expecting 'eu-west-1'",
        )
        .unwrap();
        assert!(hint.contains("set `region` to \"eu-west-1\""), "{hint}");
        assert!(
            region_hint("PermanentRedirect", "")
                .unwrap()
                .contains("another region")
        );
        assert_eq!(region_hint("AccessDenied", "expecting 'x'"), None);
    }

    #[test]
    fn garage_signature_errors_are_credential_errors() {
        let denied = |message: &str| {
            let body =
                format!("<Error><Code>AccessDenied</Code><Message>{message}</Message></Error>");
            classify(
                ErrorContext::default(),
                FailedAnswer {
                    status: 403,
                    request_id_header: None,
                    body: body.as_bytes(),
                    had_if_match: false,
                },
            )
        };
        let e = denied("Forbidden: Invalid signature");
        assert!(matches!(e, Error::InvalidCredentials(_)), "{e}");
        let e = denied("Access Denied");
        assert!(matches!(e, Error::AccessDenied(_)), "{e}");
    }

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
        assert!(matches!(
            answer(400, "BadDigest"),
            Error::ChecksumMismatch(_)
        ));
        assert!(matches!(
            answer(400, "XAmzContentChecksumMismatch"),
            Error::ChecksumMismatch(_)
        ));
        assert!(answer(400, "BadDigest").is_retryable());
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
    fn error_body_parsing_is_tolerant() {
        let parse = |xml: &str| parse_error_body(xml.as_bytes());
        let code = |xml: &str| parse(xml).code;
        assert_eq!(code("<Error><Code>X</Code></Error>").as_deref(), Some("X"));
        // Any order, unknown siblings, namespaces, whitespace, entities.
        let e = parse(
            "<?xml version=\"1.0\"?>\n<Error xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n  <RequestId>R</RequestId>\n  <CodeX>1</CodeX>\n  <Code>\n    SlowDown\n  </Code>\n  <Message>a &lt;b&#65;&#x42;</Message>\n</Error>",
        );
        assert_eq!(e.code.as_deref(), Some("SlowDown"));
        assert_eq!(e.message.as_deref(), Some("a <bAB"));
        assert_eq!(e.request_id.as_deref(), Some("R"));
        // Some stores wrap it: `<ErrorResponse><Error>…`.
        assert_eq!(
            code("<ErrorResponse><Error><Code>Y</Code></Error></ErrorResponse>").as_deref(),
            Some("Y")
        );
        assert_eq!(code("<Error><Code/></Error>").as_deref(), Some(""));
        assert_eq!(code("<Error><Message>m</Message></Error>"), None);
        // A truncated body keeps the elements that were complete.
        assert_eq!(code("<Error><Code>X</Code><Message>").as_deref(), Some("X"));
        let long = format!("<Error><Message>{}</Message></Error>", "x".repeat(5000));
        assert_eq!(parse(&long).message.unwrap().len(), 1000);
    }

    #[test]
    fn malformed_or_hostile_error_bodies_give_empty_fields() {
        let deep = format!(
            "{}<Code>X</Code>{}",
            "<Error>".repeat(100),
            "</Error>".repeat(100)
        );
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE Error [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><Error><Code>&b;</Code></Error>";
        for body in [
            &b""[..],
            &[0xff, 0xfe],
            b"<html>502</html>",
            b"<!DOCTYPE html><html><body>Bad Gateway</body></html>",
            b"<Error><Code>unterminated",
            b"<Error><Code>SlowDo",
            b"<Error><Code>SlowDown</Co",
            b"<Error><Code>a &bogus; b</Code></Error>",
            b"<x:Error><x:Code>X</x:Code></x:Error>",
            b"<Error><y:Code>X</y:Code></Error>",
            b"<Error><Code>X</Cod></Error>",
            b"<Error",
            b"plain text",
            deep.as_bytes(),
            laughs.as_bytes(),
        ] {
            assert_eq!(parse_error_body(body), S3ErrorBody::default(), "{body:?}");
            assert!(!is_error_body(body), "{body:?}");
            // Classified by status alone.
            let e = classify(
                ErrorContext::new(Action::GetObject, "b", Some("k")),
                FailedAnswer {
                    status: 503,
                    request_id_header: None,
                    body,
                    had_if_match: false,
                },
            );
            assert!(matches!(e, Error::Throttled(_)), "{body:?}");
        }
    }

    #[test]
    fn server_text_is_redacted_before_it_is_kept() {
        let target =
            "/b/k?X-Amz-Credential=AKID%2F2024&X-Amz-Security-Token=TOK&X-Amz-Signature=abc";
        let xml = target.replace('&', "&amp;");
        let body = format!(
            "<Error><Code>SlowDown{xml}</Code><Message>{xml}</Message><RequestId>{xml}</RequestId></Error>"
        );
        for (body, header) in [(body.as_bytes(), None), (&b""[..], Some(target))] {
            let e = classify(
                ErrorContext::new(Action::GetObject, "b", Some("k")),
                FailedAnswer {
                    status: 503,
                    request_id_header: header,
                    body,
                    had_if_match: false,
                },
            );
            let text = format!("{e} {e:?} {e:#?}");
            for secret in ["AKID", "TOK", "=abc"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            assert!(text.contains("X-Amz-Signature=REDACTED"), "{text}");
        }
    }

    #[test]
    fn parsed_fields_classify_like_a_body() {
        let fields = S3ErrorBody {
            code: Some("AccessDenied".into()),
            message: Some("<&>".repeat(1000)),
            request_id: None,
        };
        let e = classify_parsed(
            ErrorContext::new(Action::DeleteObjects, "b", Some("k")),
            400,
            fields,
            Some("HDR"),
            false,
        );
        assert!(matches!(e, Error::AccessDenied(_)));
        let c = e.context().unwrap();
        assert_eq!(c.message.as_ref().unwrap().chars().count(), 1000);
        assert!(c.message.as_ref().unwrap().starts_with("<&><&>"));
        assert_eq!(c.request_id.as_deref(), Some("HDR"));
    }
}
