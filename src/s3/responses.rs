//! Parsing successful XML answers (listing, batch delete, multipart) into
//! plain types. Malformed answers become [`Error::CorruptData`].

use rusty_s3::actions::{CreateMultipartUpload, DeleteObjectsResponse, ListObjectsV2};

use crate::error::{Error, ErrorContext, Result};

/// One object of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    /// The object key, URL-decoded.
    pub key: String,
    /// Size in bytes, when the server says.
    pub size: Option<u64>,
    /// The ETag (quoted), when the server says.
    pub etag: Option<String>,
    /// Last-modified time as the server printed it (ISO 8601).
    pub last_modified: Option<String>,
}

/// One page of a `ListObjectsV2` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Objects of this page.
    pub objects: Vec<ListedObject>,
    /// Token for the next page; `None` on the last page.
    pub next_continuation_token: Option<String>,
}

fn utf8<'a>(body: &'a [u8], ctx: &ErrorContext) -> Result<&'a str> {
    std::str::from_utf8(body).map_err(|_| Error::corrupt(ctx.clone(), "answer is not UTF-8"))
}

/// Parses a `ListObjectsV2` answer (keys are URL-decoded by rusty-s3).
///
/// # Errors
/// [`Error::CorruptData`] for a body that is not a listing.
pub fn parse_list_page(body: &[u8], ctx: &ErrorContext) -> Result<ListPage> {
    let parsed = ListObjectsV2::parse_response(utf8(body, ctx)?)
        .map_err(|e| Error::corrupt(ctx.clone(), format!("bad ListObjectsV2 answer: {e}")))?;
    Ok(ListPage {
        objects: parsed
            .contents
            .into_iter()
            .map(|c| ListedObject {
                key: c.key,
                size: c.size,
                etag: c.etag,
                last_modified: c.last_modified,
            })
            .collect(),
        next_continuation_token: parsed.next_continuation_token.filter(|t| !t.is_empty()),
    })
}

/// The keys a `DeleteObjects` answer reports as failed, with code and message.
///
/// # Errors
/// [`Error::CorruptData`] for a body that is not a `DeleteResult`.
pub fn parse_delete_failures(
    body: &[u8],
    ctx: &ErrorContext,
) -> Result<Vec<(String, String, String)>> {
    let text = utf8(body, ctx)?;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let parsed = DeleteObjectsResponse::parse(text)
        .map_err(|e| Error::corrupt(ctx.clone(), format!("bad DeleteObjects answer: {e}")))?;
    Ok(parsed
        .errors
        .into_iter()
        .map(|e| (e.key, e.code, e.message))
        .collect())
}

/// Objects a `DeleteObjects` request left in place, and why: one key the
/// server named in an `<Error>` entry, or every key of a batch whose request
/// failed as a whole.
#[derive(Debug)]
#[non_exhaustive]
pub struct DeleteFailure {
    /// The object keys not deleted.
    pub keys: Vec<String>,
    /// Why (for a per-key failure, the server's code classified as for any
    /// answer, with the key in its context).
    pub error: crate::Error,
}

/// A multipart upload in progress, from a `ListMultipartUploads` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartUpload {
    /// The object key the upload will write.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// When it was started, when the server says and the time parses.
    pub initiated: Option<jiff::Timestamp>,
}

/// One page of a `ListMultipartUploads` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadsPage {
    /// The uploads of this page.
    pub uploads: Vec<MultipartUpload>,
    /// `(key-marker, upload-id-marker)` of the next page; `None` on the
    /// last page.
    pub next: Option<(String, String)>,
}

/// Parses a `ListMultipartUploads` answer (rusty-s3 0.11 has no parser for
/// it; the elements are read by name, whatever their namespace).
///
/// # Errors
/// [`Error::CorruptData`] for a body that is not a
/// `ListMultipartUploadsResult`, or an `<Upload>` without key or id.
pub fn parse_uploads_page(body: &[u8], ctx: &ErrorContext) -> Result<UploadsPage> {
    let text = utf8(body, ctx)?;
    let bad = |why: &str| {
        Error::corrupt(
            ctx.clone(),
            format!("bad ListMultipartUploads answer: {why}"),
        )
    };
    let root: instant_xml::AnyElement<'_> =
        instant_xml::from_str(text).map_err(|e| bad(&e.to_string()))?;
    if root.name != "ListMultipartUploadsResult" {
        return Err(bad(&format!("root element {}", root.name)));
    }
    let text_of = |e: &instant_xml::AnyElement<'_>, name: &str| {
        e.children
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.text.as_deref())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    };
    let mut uploads = Vec::new();
    for u in root.children.iter().filter(|c| c.name == "Upload") {
        let (Some(key), Some(upload_id)) = (text_of(u, "Key"), text_of(u, "UploadId")) else {
            return Err(bad("an Upload without Key or UploadId"));
        };
        let initiated = text_of(u, "Initiated").and_then(|t| t.parse().ok());
        uploads.push(MultipartUpload {
            key,
            upload_id,
            initiated,
        });
    }
    let truncated = text_of(&root, "IsTruncated").is_some_and(|t| t == "true");
    let next = if truncated {
        let key = text_of(&root, "NextKeyMarker").or_else(|| uploads.last().map(|u| u.key.clone()));
        let id = text_of(&root, "NextUploadIdMarker")
            .or_else(|| uploads.last().map(|u| u.upload_id.clone()));
        key.zip(id)
    } else {
        None
    };
    Ok(UploadsPage { uploads, next })
}

/// The upload id of a `CreateMultipartUpload` answer.
///
/// # Errors
/// [`Error::CorruptData`] for a body without an upload id.
pub fn parse_upload_id(body: &[u8], ctx: &ErrorContext) -> Result<String> {
    let parsed = CreateMultipartUpload::parse_response(utf8(body, ctx)?).map_err(|e| {
        Error::corrupt(
            ctx.clone(),
            format!("bad CreateMultipartUpload answer: {e}"),
        )
    })?;
    let id = parsed.upload_id().to_owned();
    if id.is_empty() {
        return Err(Error::corrupt(ctx.clone(), "empty upload id"));
    }
    Ok(id)
}

/// Checks a `CompleteMultipartUpload` or `CopyObject` answer: S3 may answer
/// 200 and still report an `<Error>` in the body.
///
/// # Errors
/// The classified error, when the body is an `<Error>`.
pub fn check_embedded_error(body: &[u8], ctx: &ErrorContext) -> Result<()> {
    if crate::s3::classify::is_error_body(body) {
        return Err(crate::s3::classify::classify(
            ctx.clone(),
            crate::s3::classify::FailedAnswer {
                status: 500,
                request_id_header: None,
                body,
                had_if_match: false,
            },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::Action;

    fn ctx() -> ErrorContext {
        ErrorContext::new(Action::ListObjectsV2, "b", None)
    }

    #[test]
    fn parses_listing_with_encoded_keys() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><NextContinuationToken>tok</NextContinuationToken>
<Contents><Key>a%2Bb%20c</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>%C3%BC</Key><Size>0</Size></Contents></ListBucketResult>"#;
        let page = parse_list_page(xml, &ctx()).unwrap();
        assert_eq!(page.objects.len(), 2);
        assert_eq!(page.objects[0].key, "a+b c");
        assert_eq!(page.objects[0].etag.as_deref(), Some("\"e1\""));
        assert_eq!(page.objects[0].size, Some(3));
        assert_eq!(page.objects[1].key, "ü");
        assert_eq!(page.next_continuation_token.as_deref(), Some("tok"));
    }

    #[test]
    fn garbage_is_corrupt_data() {
        assert!(matches!(
            parse_list_page(b"<nope", &ctx()),
            Err(Error::CorruptData { .. })
        ));
        assert!(matches!(
            parse_list_page(&[0xff], &ctx()),
            Err(Error::CorruptData { .. })
        ));
        assert!(matches!(
            parse_upload_id(b"<x/>", &ctx()),
            Err(Error::CorruptData { .. })
        ));
        // Undeclared prefixes and deep nesting are errors, not panics.
        let ns = r#"xmlns="http://s3.amazonaws.com/doc/2006-03-01/""#;
        let deep = format!("<ListBucketResult {ns}>{}", "<a>".repeat(100));
        for body in [
            "<x:ListBucketResult/>".to_owned(),
            format!("<ListBucketResult {ns}><y:Contents/></ListBucketResult>"),
            deep,
        ] {
            assert!(parse_list_page(body.as_bytes(), &ctx()).is_err(), "{body}");
        }
        let body = format!("<DeleteResult {ns}><Error><z:Key>k</z:Key></Error></DeleteResult>");
        assert!(parse_delete_failures(body.as_bytes(), &ctx()).is_err());
        assert!(parse_upload_id(b"<q:InitiateMultipartUploadResult/>", &ctx()).is_err());
    }

    #[test]
    fn delete_failures_are_reported() {
        let xml = br#"<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Error><Key>k1</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>"#;
        let f = parse_delete_failures(xml, &ctx()).unwrap();
        assert_eq!(f, vec![("k1".into(), "AccessDenied".into(), "no".into())]);
        assert!(parse_delete_failures(b"", &ctx()).unwrap().is_empty());
    }

    #[test]
    fn parses_uploads_page() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><NextKeyMarker>p_b</NextKeyMarker><NextUploadIdMarker>U2</NextUploadIdMarker><Prefix>p_</Prefix><MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated>
<Upload><Key>p_a&amp;</Key><UploadId>U1</UploadId><Initiated>2024-01-02T03:04:05.000Z</Initiated></Upload>
<Upload><Key>p_b</Key><UploadId>U2</UploadId></Upload></ListMultipartUploadsResult>"#;
        let page = parse_uploads_page(xml, &ctx()).unwrap();
        assert_eq!(page.uploads.len(), 2);
        assert_eq!(page.uploads[0].key, "p_a&");
        assert_eq!(page.uploads[0].upload_id, "U1");
        assert_eq!(
            page.uploads[0].initiated,
            Some("2024-01-02T03:04:05Z".parse().unwrap())
        );
        assert_eq!(page.uploads[1].initiated, None);
        assert_eq!(page.next, Some(("p_b".into(), "U2".into())));
        let last = br#"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>"#;
        assert_eq!(
            parse_uploads_page(last, &ctx()).unwrap(),
            UploadsPage::default()
        );
        for bad in [&b"<x/>"[..], b"<ListMultipartUploadsResult><Upload><Key>k</Key></Upload></ListMultipartUploadsResult>", b"<nope"] {
            assert!(matches!(parse_uploads_page(bad, &ctx()), Err(Error::CorruptData { .. })));
        }
    }

    #[test]
    fn embedded_error_is_detected() {
        let body = b"<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code></Error>";
        assert!(matches!(
            check_embedded_error(body, &ctx()),
            Err(Error::Unavailable(_))
        ));
        assert!(check_embedded_error(b"<CompleteMultipartUploadResult/>", &ctx()).is_ok());
        // Whitespace S3 sends to keep the connection alive comes first.
        let body = b"  \n <?xml version=\"1.0\"?><Error><Code>SlowDown</Code></Error>";
        assert!(matches!(
            check_embedded_error(body, &ctx()),
            Err(Error::Throttled(_))
        ));
        assert!(check_embedded_error(b"", &ctx()).is_ok());
        assert!(check_embedded_error(b"<Error", &ctx()).is_ok());
    }
}
