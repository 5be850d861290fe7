//! Describing S3 requests and presigning them with rusty-s3.
//!
//! An [`S3Request`] says *what* to do (action, object key, conditions, body);
//! a [`Signer`] turns it into a [`SignedRequest`] — a presigned URL plus the
//! exact headers that were signed and must be sent. Requests are signed afresh
//! for every attempt, so a retry never reuses an expired signature.
//!
//! Every header the crate sends is signed: `content-md5`, `content-type`,
//! `if-match`, `if-none-match`, `range` and `x-amz-copy-source`. Signing
//! binds them to the URL, so a leaked URL cannot be replayed with other
//! conditions. The payload is not covered by a presigned signature, so every
//! request with a body carries a checksum of it and S3 rejects a corrupted
//! body: `Content-MD5` unless the client chose another for a `PutObject` or
//! an `UploadPart` ([`S3Request::with_body_checksum`]:
//! `x-amz-checksum-crc32c` or `-crc64nvme`, signed like the other headers,
//! where the provider checks them; see `config::Checksum`; the upload's
//! `CreateMultipartUpload` declares it and its `CompleteMultipartUpload`
//! lists each part's, see [`complete_multipart_xml`]).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use md5::{Digest as _, Md5};
use rusty_s3::actions::{
    AbortMultipartUpload, CompleteMultipartUpload, CreateBucket, CreateMultipartUpload,
    DeleteObjects, ListObjectsV2, ObjectIdentifier, UploadPart,
};
use rusty_s3::{Bucket, Credentials as SigningCredentials, S3Action, UrlStyle};
use url::Url;

use super::Action;
use super::object_key;
use super::redact::redact_url;
use crate::conditions::Conditions;
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::s3::capabilities::Capabilities;

/// The most keys one `DeleteObjects` request may carry (an S3 limit).
pub const MAX_DELETE_BATCH: usize = 1000;

/// The most parts one multipart upload may have (an S3 limit).
const MAX_PARTS: u16 = 10_000;

/// A byte range of an object, for a ranged `GetObject`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte, inclusive.
    pub start: u64,
    /// Last byte, inclusive; `None` reads to the end.
    pub end_inclusive: Option<u64>,
}

impl ByteRange {
    fn header_value(&self) -> String {
        match self.end_inclusive {
            Some(end) => format!("bytes={}-{}", self.start, end),
            None => format!("bytes={}-", self.start),
        }
    }
}

/// What an [`S3Request`] does; object keys are already validated.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    HeadBucket,
    CreateBucket,
    DeleteBucket,
    PutObject,
    GetObject(Option<ByteRange>),
    HeadObject,
    DeleteObject,
    DeleteObjects,
    ListObjectsV2 {
        prefix: Option<String>,
        continuation_token: Option<String>,
        max_keys: Option<usize>,
    },
    CopyObject {
        source_key: String,
    },
    CreateMultipartUpload,
    UploadPart {
        upload_id: String,
        part_number: u16,
    },
    CompleteMultipartUpload {
        upload_id: String,
    },
    AbortMultipartUpload {
        upload_id: String,
    },
    ListMultipartUploads {
        prefix: Option<String>,
        key_marker: Option<String>,
        upload_id_marker: Option<String>,
    },
}

/// A request body: one buffer, or a head and a tail sent back to back
/// (header and metadata in front of a value, without copying the value
/// behind them). Transports send it with its `Content-Length`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Body {
    head: Bytes,
    tail: Bytes,
}

impl Body {
    /// `head` then `tail`, as one body.
    pub(crate) fn chained(head: Bytes, tail: Bytes) -> Self {
        Body { head, tail }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Whether it has no bytes.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // tests
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its non-empty pieces, in order.
    pub(crate) fn segments(&self) -> impl Iterator<Item = &Bytes> {
        [&self.head, &self.tail]
            .into_iter()
            .filter(|b| !b.is_empty())
    }

    /// The body as one buffer when it is one (no copy), `None` when it
    /// is chained.
    pub(crate) fn as_single(&self) -> Option<&Bytes> {
        match (self.head.is_empty(), self.tail.is_empty()) {
            (true, _) => Some(&self.tail),
            (false, true) => Some(&self.head),
            (false, false) => None,
        }
    }

    /// The body as one buffer: itself when it is one, a copy of its
    /// pieces when chained.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))] // tests
    pub fn to_bytes(&self) -> Bytes {
        match self.as_single() {
            Some(b) => b.clone(),
            None => {
                let mut all = Vec::with_capacity(self.len());
                for s in self.segments() {
                    all.extend_from_slice(s);
                }
                Bytes::from(all)
            }
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body {
            head: Bytes::new(),
            tail: bytes,
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body({} bytes)", self.len())
    }
}

/// One S3 request, before signing.
///
/// Build it with the constructor for the action; it validates object keys and
/// computes the body's `Content-MD5` once.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Request {
    op: Op,
    key: Option<String>,
    conditions: Conditions,
    content_type: Option<String>,
    body: Option<Body>,
    content_md5: Option<String>,
    /// The body's checksum is not chosen yet: `Content-MD5`, computed when
    /// signed, unless [`S3Request::with_body_checksum`] chooses first.
    checksum_pending: bool,
    /// A flexible checksum header (`x-amz-checksum-<algorithm>`) and its
    /// base64 value.
    checksum: Option<(&'static str, String)>,
    /// The checksum a `CreateMultipartUpload` declares its parts carry
    /// (`x-amz-checksum-algorithm`).
    upload_checksum: Option<BodyChecksum>,
    write_tag: Option<String>,
    /// The caller vouches that a repeat cannot change the outcome.
    repeatable: bool,
    /// Never repeated, whatever it is ([`S3Request::once`]).
    single: bool,
    /// Sent by the capability probe: not adapted to, nor waiting for, its
    /// findings.
    probe: bool,
}

impl fmt::Debug for S3Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Request")
            .field("action", &self.action())
            .field("key", &self.key)
            .field("conditions", &self.conditions)
            .field("body_len", &self.body.as_ref().map(Body::len))
            .finish()
    }
}

/// The S3 user-metadata header in which a write of this crate tags the
/// object with a random id of its own ([`S3Request::with_write_tag`]), so
/// that after an unclear answer a HEAD can tell that write from a
/// byte-identical one of another writer.
pub const WRITE_TAG_HEADER: &str = "x-amz-meta-konserve-write";

/// The checksum a `PutObject` body carries (chosen by the client from
/// `config::Checksum` and the provider's capabilities).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyChecksum {
    /// `Content-MD5`.
    Md5,
    /// `x-amz-checksum-crc32c`.
    Crc32c,
    /// `x-amz-checksum-crc64nvme`.
    Crc64nvme,
    /// None.
    None,
}

impl BodyChecksum {
    /// The name of the algorithm in `x-amz-checksum-algorithm`, for a
    /// flexible checksum.
    fn algorithm(self) -> Option<&'static str> {
        match self {
            BodyChecksum::Crc32c => Some("CRC32C"),
            BodyChecksum::Crc64nvme => Some("CRC64NVME"),
            BodyChecksum::Md5 | BodyChecksum::None => None,
        }
    }

    /// The `x-amz-checksum-type` a multipart upload of this checksum
    /// declares: AWS supports CRC-64/NVME only as a `FULL_OBJECT`
    /// checksum (the parts' CRCs combined into the whole object's); CRC-32C
    /// keeps S3's default, `COMPOSITE` (a checksum of the parts' checksums).
    fn multipart_type(self) -> Option<&'static str> {
        match self {
            BodyChecksum::Crc64nvme => Some("FULL_OBJECT"),
            _ => None,
        }
    }

    /// The element of a `CompleteMultipartUpload` part that carries the
    /// part's flexible checksum.
    pub(crate) fn xml_element(self) -> Option<&'static str> {
        match self {
            BodyChecksum::Crc32c => Some("ChecksumCRC32C"),
            BodyChecksum::Crc64nvme => Some("ChecksumCRC64NVME"),
            BodyChecksum::Md5 | BodyChecksum::None => None,
        }
    }
}

/// One uploaded part of a multipart upload, as `CompleteMultipartUpload`
/// lists it: its ETag and, where the upload declared a flexible checksum,
/// the part's checksum (base64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CompletedPart {
    /// The ETag the `UploadPart` answer carried.
    pub(crate) etag: String,
    /// The part's checksum: its XML element (`ChecksumCRC32C`, …) and
    /// base64 value.
    pub(crate) checksum: Option<(&'static str, String)>,
}

/// Escapes the five XML special characters of `text`.
fn xml_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// The body of a `CompleteMultipartUpload`: every part, numbered from 1 in
/// order, with its ETag and its checksum if any. (rusty-s3's builder
/// writes ETags only; an upload that declared a checksum algorithm must
/// list each part's checksum too.)
pub(crate) fn complete_multipart_xml(parts: &[CompletedPart]) -> String {
    let mut xml = String::with_capacity(64 + parts.len() * 120);
    xml.push_str("<CompleteMultipartUpload>");
    for (i, part) in parts.iter().enumerate() {
        xml.push_str("<Part><ETag>");
        xml_escape(&part.etag, &mut xml);
        xml.push_str("</ETag><PartNumber>");
        xml.push_str(&(i + 1).to_string());
        xml.push_str("</PartNumber>");
        if let Some((element, value)) = &part.checksum {
            xml.push('<');
            xml.push_str(element);
            xml.push('>');
            xml_escape(value, &mut xml);
            xml.push_str("</");
            xml.push_str(element);
            xml.push('>');
        }
        xml.push_str("</Part>");
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml
}

/// The header of a CRC-32C body checksum.
pub const CRC32C_HEADER: &str = "x-amz-checksum-crc32c";
/// The header of a CRC-64/NVME body checksum.
pub const CRC64NVME_HEADER: &str = "x-amz-checksum-crc64nvme";

/// The base64 of `body`'s CRC-32C (big-endian), as `x-amz-checksum-crc32c`
/// carries it.
pub fn crc32c_base64(body: &[u8]) -> String {
    checksum_of(BodyChecksum::Crc32c, [body]).map_or_else(String::new, |(_, v)| v)
}

/// The base64 of `body`'s CRC-64/NVME (big-endian), as
/// `x-amz-checksum-crc64nvme` carries it.
pub fn crc64nvme_base64(body: &[u8]) -> String {
    checksum_of(BodyChecksum::Crc64nvme, [body]).map_or_else(String::new, |(_, v)| v)
}

/// The base64 `Content-MD5` of `body`.
pub fn content_md5(body: &[u8]) -> String {
    checksum_of(BodyChecksum::Md5, [body]).map_or_else(String::new, |(_, v)| v)
}

/// `checksum` of a body's pieces together, base64, with its header
/// (`None` for [`BodyChecksum::None`]).
fn body_checksum_of(checksum: BodyChecksum, body: &Body) -> Option<(&'static str, String)> {
    checksum_of(checksum, body.segments().map(|s| &s[..]))
}

/// `checksum` of `pieces` one after the other, base64, with its header
/// (`None` for [`BodyChecksum::None`]): the one place each algorithm runs.
fn checksum_of<'a>(
    checksum: BodyChecksum,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Option<(&'static str, String)> {
    let b64 = |digest: &[u8]| base64::engine::general_purpose::STANDARD.encode(digest);
    let pieces = pieces.into_iter();
    match checksum {
        BodyChecksum::Md5 => {
            let mut md5 = Md5::new();
            pieces.for_each(|s| md5.update(s));
            Some(("content-md5", b64(&md5.finalize())))
        }
        BodyChecksum::Crc32c => {
            let crc = pieces.fold(0, crc32c::crc32c_append);
            Some((CRC32C_HEADER, b64(&crc.to_be_bytes())))
        }
        BodyChecksum::Crc64nvme => {
            let mut digest = crc64fast_nvme::Digest::new();
            pieces.for_each(|s| digest.write(s));
            Some((CRC64NVME_HEADER, b64(&digest.sum64().to_be_bytes())))
        }
        BodyChecksum::None => None,
    }
}

impl S3Request {
    fn new(op: Op, key: Option<&str>) -> Result<Self> {
        if let Some(k) = key {
            object_key::validate(k)?;
        }
        Ok(S3Request {
            op,
            key: key.map(str::to_owned),
            conditions: Conditions::NONE,
            content_type: None,
            body: None,
            content_md5: None,
            checksum_pending: false,
            checksum: None,
            upload_checksum: None,
            write_tag: None,
            repeatable: false,
            single: false,
            probe: false,
        })
    }

    fn bucket_op(op: Op) -> Self {
        S3Request {
            op,
            key: None,
            conditions: Conditions::NONE,
            content_type: None,
            body: None,
            content_md5: None,
            checksum_pending: false,
            checksum: None,
            upload_checksum: None,
            write_tag: None,
            repeatable: false,
            single: false,
            probe: false,
        }
    }

    fn with_body(mut self, body: Bytes) -> Self {
        self.content_md5 = Some(content_md5(&body));
        self.body = Some(body.into());
        self
    }

    /// A body whose checksum the client chooses
    /// ([`S3Request::with_body_checksum`]); `Content-MD5` if it does not.
    fn with_data(mut self, body: impl Into<Body>) -> Self {
        self.body = Some(body.into());
        self.checksum_pending = true;
        self
    }

    /// `HEAD /bucket`.
    pub fn head_bucket() -> Self {
        Self::bucket_op(Op::HeadBucket)
    }

    /// `PUT /bucket`; the body names the region as location constraint
    /// (except in `us-east-1`, where it must be absent).
    pub fn create_bucket(region: &str) -> Self {
        let req = Self::bucket_op(Op::CreateBucket);
        if region == "us-east-1" || region == "auto" || region.is_empty() {
            req
        } else {
            let bucket = body_bucket(region);
            let xml = CreateBucket::new(&bucket, &SigningCredentials::new("", "")).body();
            req.with_body(Bytes::from(xml))
        }
    }

    /// `DELETE /bucket` (the bucket must be empty).
    pub fn delete_bucket() -> Self {
        Self::bucket_op(Op::DeleteBucket)
    }

    /// `PUT /bucket/key` with `body`.
    ///
    /// # Errors
    /// [`Error::InvalidObjectKey`] for a key that [`object_key::validate`] rejects.
    pub fn put_object(key: &str, body: impl Into<Bytes>) -> Result<Self> {
        Ok(Self::new(Op::PutObject, Some(key))?.with_data(body.into()))
    }

    /// `PUT /bucket/key` of `body`, which may be chained (its pieces sent
    /// back to back, not copied into one buffer).
    pub(crate) fn put_object_body(key: &str, body: Body) -> Result<Self> {
        Ok(Self::new(Op::PutObject, Some(key))?.with_data(body))
    }

    /// `GET /bucket/key`, optionally a byte range of it.
    ///
    /// # Errors
    /// [`Error::InvalidObjectKey`].
    pub fn get_object(key: &str, range: Option<ByteRange>) -> Result<Self> {
        Self::new(Op::GetObject(range), Some(key))
    }

    /// `HEAD /bucket/key`.
    ///
    /// # Errors
    /// [`Error::InvalidObjectKey`].
    pub fn head_object(key: &str) -> Result<Self> {
        Self::new(Op::HeadObject, Some(key))
    }

    /// `DELETE /bucket/key`.
    ///
    /// # Errors
    /// [`Error::InvalidObjectKey`].
    pub fn delete_object(key: &str) -> Result<Self> {
        Self::new(Op::DeleteObject, Some(key))
    }

    /// `POST /bucket?delete` for up to [`MAX_DELETE_BATCH`] keys (quiet mode:
    /// the answer lists only the keys that failed).
    ///
    /// # Errors
    /// [`Error::InvalidObjectKey`] for a bad key; [`Error::InvalidConfig`] (field
    /// `keys`) for an empty batch or one over the limit.
    pub fn delete_objects<S: AsRef<str>>(keys: &[S]) -> Result<Self> {
        if keys.is_empty() || keys.len() > MAX_DELETE_BATCH {
            return Err(Error::config(
                "keys",
                format!(
                    "DeleteObjects takes 1 to {MAX_DELETE_BATCH} keys, got {}",
                    keys.len()
                ),
            ));
        }
        let objects = keys
            .iter()
            .map(|k| {
                object_key::validate(k.as_ref())?;
                Ok(ObjectIdentifier::new(k.as_ref().to_owned()))
            })
            .collect::<Result<Vec<_>>>()?;
        let bucket = body_bucket("");
        let mut action = DeleteObjects::new(&bucket, None, objects.iter());
        action.set_quiet(true);
        // `with_body` computes the same Content-MD5 as rusty-s3.
        let (xml, _content_md5) = action.body_with_md5();
        Ok(Self::bucket_op(Op::DeleteObjects).with_body(Bytes::from(xml)))
    }

    /// `GET /bucket?list-type=2`: one page of keys under `prefix`.
    pub fn list_objects_v2(
        prefix: Option<&str>,
        continuation_token: Option<&str>,
        max_keys: Option<usize>,
    ) -> Self {
        Self::bucket_op(Op::ListObjectsV2 {
            prefix: prefix.map(str::to_owned),
            continuation_token: continuation_token.map(str::to_owned),
            max_keys,
        })
    }

    /// `PUT /bucket/key` copying `source_key` of the same bucket (server side).
    ///
    /// # Errors
    /// [`Error::InvalidObjectKey`] for either key.
    pub fn copy_object(source_key: &str, key: &str) -> Result<Self> {
        object_key::validate(source_key)?;
        Self::new(
            Op::CopyObject {
                source_key: source_key.to_owned(),
            },
            Some(key),
        )
    }

    /// `POST /bucket/key?uploads`: start a multipart upload.
    ///
    /// # Errors
    /// [`Error::InvalidObjectKey`].
    pub fn create_multipart_upload(key: &str) -> Result<Self> {
        Self::new(Op::CreateMultipartUpload, Some(key))
    }

    /// `PUT /bucket/key?partNumber=n&uploadId=id` with one part's bytes.
    ///
    /// # Errors
    /// [`Error::InvalidObjectKey`]; [`Error::InvalidConfig`] (field
    /// `part_number`) for part 0 (parts count from 1 to 10000).
    pub fn upload_part(
        key: &str,
        upload_id: &str,
        part_number: u16,
        body: impl Into<Bytes>,
    ) -> Result<Self> {
        if part_number == 0 || part_number > MAX_PARTS {
            return Err(Error::config(
                "part_number",
                "parts are numbered 1 to 10000",
            ));
        }
        Ok(Self::new(
            Op::UploadPart {
                upload_id: upload_id.to_owned(),
                part_number,
            },
            Some(key),
        )?
        .with_data(body.into()))
    }

    /// `POST /bucket/key?uploadId=id` listing the parts' ETags in order.
    ///
    /// # Errors
    /// [`Error::InvalidObjectKey`]; [`Error::InvalidConfig`] (field
    /// `part_etags`) for more than 10000 parts.
    pub fn complete_multipart_upload<S: AsRef<str>>(
        key: &str,
        upload_id: &str,
        part_etags: &[S],
    ) -> Result<Self> {
        let parts: Vec<CompletedPart> = part_etags
            .iter()
            .map(|etag| CompletedPart {
                etag: etag.as_ref().to_owned(),
                checksum: None,
            })
            .collect();
        Self::complete_parts(key, upload_id, &parts)
    }

    /// `POST /bucket/key?uploadId=id` listing the parts in order, each
    /// with its ETag and its checksum if any.
    ///
    /// # Errors
    /// As [`S3Request::complete_multipart_upload`].
    pub(crate) fn complete_parts(
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<Self> {
        if parts.len() > usize::from(MAX_PARTS) {
            return Err(Error::config(
                "part_etags",
                format!(
                    "a multipart upload has at most {MAX_PARTS} parts, got {}",
                    parts.len()
                ),
            ));
        }
        let xml = complete_multipart_xml(parts);
        Ok(Self::new(
            Op::CompleteMultipartUpload {
                upload_id: upload_id.to_owned(),
            },
            Some(key),
        )?
        .with_body(Bytes::from(xml)))
    }

    /// `DELETE /bucket/key?uploadId=id`: abandon a multipart upload.
    ///
    /// # Errors
    /// [`Error::InvalidObjectKey`].
    pub fn abort_multipart_upload(key: &str, upload_id: &str) -> Result<Self> {
        Self::new(
            Op::AbortMultipartUpload {
                upload_id: upload_id.to_owned(),
            },
            Some(key),
        )
    }

    /// `GET /bucket?uploads`: one page of the multipart uploads in progress
    /// under `prefix`, after the (`key_marker`, `upload_id_marker`) of the
    /// previous page's last entry.
    pub fn list_multipart_uploads(
        prefix: Option<&str>,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
    ) -> Self {
        Self::bucket_op(Op::ListMultipartUploads {
            prefix: prefix.map(str::to_owned),
            key_marker: key_marker.map(str::to_owned),
            upload_id_marker: upload_id_marker.map(str::to_owned),
        })
    }

    /// Adds conditions (`If-Match` / `If-None-Match`).
    pub fn with_conditions(mut self, conditions: Conditions) -> Self {
        self.conditions = conditions;
        self
    }

    /// Replaces the `Content-MD5` header computed from the body (`None`:
    /// send none). The probe sends a wrong one to see if it is checked.
    pub fn with_content_md5(mut self, md5: Option<String>) -> Self {
        self.content_md5 = md5;
        self.checksum_pending = false;
        self
    }

    /// Declares the checksum every part of a `CreateMultipartUpload`'s
    /// upload carries: `x-amz-checksum-algorithm` (and, for CRC-64/NVME,
    /// `x-amz-checksum-type: FULL_OBJECT`) for a flexible checksum, nothing
    /// for `Content-MD5` or none.
    pub(crate) fn declaring_part_checksum(mut self, checksum: BodyChecksum) -> Self {
        self.upload_checksum = Some(checksum);
        self
    }

    /// The flexible checksum the request carries, base64 (after
    /// [`S3Request::with_body_checksum`]).
    pub(crate) fn flexible_checksum(&self) -> Option<&str> {
        self.checksum.as_ref().map(|(_, v)| v.as_str())
    }

    /// Chooses the checksum of a `PutObject`'s or `UploadPart`'s body,
    /// computed once here (not per attempt), without copying the body; a
    /// request whose checksum is chosen already (any other action, or a
    /// `with_content_md5`) keeps it.
    pub(crate) fn with_body_checksum(mut self, checksum: BodyChecksum) -> Self {
        if !self.checksum_pending {
            return self;
        }
        self.checksum_pending = false;
        let Some(body) = &self.body else {
            return self;
        };
        match body_checksum_of(checksum, body) {
            Some((_, md5)) if checksum == BodyChecksum::Md5 => self.content_md5 = Some(md5),
            other => self.checksum = other,
        }
        self
    }

    /// Whether the body's checksum is still to be chosen.
    pub(crate) fn body_checksum_pending(&self) -> bool {
        self.checksum_pending && self.body.is_some()
    }

    /// Adds a flexible checksum header, e.g. `x-amz-checksum-crc32c`, with
    /// its base64 value (signed with the request).
    pub fn with_checksum_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.checksum = Some((name, value.into()));
        self
    }

    /// Tags the object a `PutObject` or `CreateMultipartUpload` writes with
    /// `tag` (user metadata [`WRITE_TAG_HEADER`],
    /// signed like every other header).
    pub fn with_write_tag(mut self, tag: impl Into<String>) -> Self {
        self.write_tag = Some(tag.into());
        self
    }

    /// Sets the `Content-Type` of a request with a body.
    #[cfg(test)]
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// The action.
    pub fn action(&self) -> Action {
        match self.op {
            Op::HeadBucket => Action::HeadBucket,
            Op::CreateBucket => Action::CreateBucket,
            Op::DeleteBucket => Action::DeleteBucket,
            Op::PutObject => Action::PutObject,
            Op::GetObject(_) => Action::GetObject,
            Op::HeadObject => Action::HeadObject,
            Op::DeleteObject => Action::DeleteObject,
            Op::DeleteObjects => Action::DeleteObjects,
            Op::ListObjectsV2 { .. } => Action::ListObjectsV2,
            Op::CopyObject { .. } => Action::CopyObject,
            Op::CreateMultipartUpload => Action::CreateMultipartUpload,
            Op::UploadPart { .. } => Action::UploadPart,
            Op::CompleteMultipartUpload { .. } => Action::CompleteMultipartUpload,
            Op::AbortMultipartUpload { .. } => Action::AbortMultipartUpload,
            Op::ListMultipartUploads { .. } => Action::ListMultipartUploads,
        }
    }

    /// The object key, for object-level actions.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The conditions.
    pub fn conditions(&self) -> &Conditions {
        &self.conditions
    }

    /// The body, if any, as one buffer.
    #[cfg(test)]
    pub fn body(&self) -> Option<Bytes> {
        self.body.as_ref().map(Body::to_bytes)
    }

    /// Marks a request of the capability probe: it goes out exactly as
    /// built (no ETag form applied) and is repeatable (the probe's keys are
    /// its own; it checks write tags after an unclear answer).
    pub(crate) fn for_probe(mut self) -> Self {
        self.probe = true;
        self.repeatable = true;
        self
    }

    /// Whether the capability probe sends it.
    pub(crate) fn is_probe(&self) -> bool {
        self.probe
    }

    /// This request with its `If-Match` in the ETag form the provider
    /// matches (`None`: it is right as it is).
    pub(crate) fn in_etag_form(&self, caps: &Capabilities) -> Option<S3Request> {
        let etag = self.conditions.if_match.as_deref()?;
        let wanted = caps.if_match_value(etag);
        (wanted != etag).then(|| {
            let mut req = self.clone();
            req.conditions.if_match = Some(wanted);
            req
        })
    }

    /// Marks a conditional write as safe to repeat, for a caller that knows
    /// a repeat cannot change the outcome and checks a refused repeat
    /// itself (a create-only write tagged with a write tag): the client then
    /// retries it like any request, and a refused repeat carries
    /// `attempts > 1` in its error.
    pub(crate) fn repeatable(mut self) -> Self {
        self.repeatable = true;
        self
    }

    /// Not repeated after an unclear answer, even for the probe (its race
    /// needs every answer as the server gave it).
    pub(crate) fn once(mut self) -> Self {
        self.repeatable = false;
        self.single = true;
        self
    }

    /// Whether sending it needs the provider's capabilities first: a write
    /// with `If-Match` (whose ETag form differs between providers), or a
    /// conditional `CompleteMultipartUpload` (whose conditions some
    /// providers ignore).
    pub(crate) fn needs_capabilities(&self) -> bool {
        if self.probe {
            return false;
        }
        match self.op {
            Op::CompleteMultipartUpload { .. } => self.conditions.is_conditional(),
            Op::PutObject | Op::DeleteObject => self.conditions.if_match.is_some(),
            _ => false,
        }
    }

    /// Whether repeating this request after an unclear outcome (timeout,
    /// reset, 5xx) cannot change the result: reads, listings, deletes,
    /// unconditional puts, part uploads and `CompleteMultipartUpload`.
    /// Other conditional writes are not: their retries are decided by the
    /// caller (optimistic locking), which can check what landed.
    ///
    /// `CompleteMultipartUpload` is repeated, with its conditions, because
    /// its upload id makes it single-use: a repeat after an attempt that
    /// landed cannot write anything else, it fails (`NoSuchUpload`, or 412
    /// under a condition) — with `attempts > 1` in the error's context,
    /// which tells the caller that the outcome is unclear.
    pub fn is_safe_to_repeat(&self) -> bool {
        if self.single {
            return false;
        }
        if self.repeatable || matches!(self.op, Op::CompleteMultipartUpload { .. }) {
            return true;
        }
        !self.conditions.is_conditional() || self.action() == Action::GetObject
    }
}

/// Percent-encodes everything but unreserved characters and `/`, as S3
/// expects in `x-amz-copy-source`.
fn percent_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A placeholder [`Bucket`] for rusty-s3's body builders: they take one, but
/// only `CreateBucket` reads anything from it (the region). Never signed.
fn body_bucket(region: &str) -> Bucket {
    let endpoint = Url::parse("http://body.invalid/").expect("a constant, valid URL");
    Bucket::new(endpoint, UrlStyle::Path, "body", region.to_owned())
        .expect("an http URL with a host is a valid endpoint")
}

/// A presigned request, ready to send: method, URL, headers, body.
///
/// Its `Debug` output redacts the URL's signature and credential.
#[derive(Clone)]
pub struct SignedRequest {
    /// The action.
    pub action: Action,
    /// The HTTP method.
    pub method: &'static str,
    /// The presigned URL (secret: never print it; see [`SignedRequest::redacted_url`]).
    pub url: Url,
    /// Headers to send exactly as given (they are signed).
    pub headers: Vec<(&'static str, String)>,
    /// The body, if any (sent with `Content-Length`).
    pub body: Option<Body>,
}

impl SignedRequest {
    /// The URL with signature, credential and token redacted, for logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("action", &self.action)
            .field("method", &self.method)
            .field("url", &self.redacted_url())
            .field("headers", &self.headers)
            .field("body_len", &self.body.as_ref().map(Body::len))
            .finish()
    }
}

/// Presigns [`S3Request`]s for one bucket with one set of credentials
/// (none: unsigned requests, for public buckets).
#[derive(Clone)]
pub struct Signer {
    bucket: Bucket,
    credentials: Option<SigningCredentials>,
    expiry: Duration,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("bucket", &self.bucket.name())
            .field("region", &self.bucket.region())
            .field("endpoint", &self.bucket.base_url().as_str())
            .field("access_key", &self.credentials.as_ref().map(|c| c.key()))
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `bucket` at `endpoint`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] (field `endpoint`) when rusty-s3 cannot build
    /// the bucket URL (not http/https, no host, virtual-host style with an IP).
    pub fn new(
        endpoint: Url,
        path_style: bool,
        bucket: &str,
        region: &str,
        credentials: &Credentials,
        expiry: Duration,
    ) -> Result<Self> {
        let style = if path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(endpoint, style, bucket.to_owned(), region.to_owned())
            .map_err(|e| Error::config("endpoint", e.to_string()))?;
        Ok(Signer {
            bucket,
            credentials: Some(signing_credentials(credentials)),
            expiry,
        })
    }

    /// This signer with other credentials; `None`: unsigned requests.
    pub fn with_credentials(&self, credentials: Option<&Credentials>) -> Signer {
        Signer {
            bucket: self.bucket.clone(),
            credentials: credentials.map(signing_credentials),
            expiry: self.expiry,
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        self.bucket.name()
    }

    /// `text` (from a server or a transport) with this signer's secret and
    /// session token replaced, as sent and percent-encoded; see
    /// [`redact_secrets`](crate::s3::redact::redact_secrets).
    pub fn redact_secrets(&self, text: &str) -> String {
        let Some(c) = &self.credentials else {
            return text.to_owned();
        };
        let secrets = [Some(c.secret()), c.token()];
        let secrets: Vec<&str> = secrets.into_iter().flatten().collect();
        crate::s3::redact::redact_secrets(text, &secrets)
    }

    /// The host and port every request of this signer goes to, as
    /// `host:port` (with the bucket in front of the endpoint's host in
    /// virtual-hosted style); never a path or query.
    pub fn authority(&self) -> String {
        let url = self.bucket.base_url();
        let host = url.host_str().unwrap_or("");
        match url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// Whether requests go to a bucket-prefixed host (virtual-hosted style).
    pub fn is_virtual_hosted(&self) -> bool {
        self.bucket
            .base_url()
            .host_str()
            .is_some_and(|h| h.starts_with(&format!("{}.", self.bucket.name())))
    }

    /// The access key id, abbreviated to its first 4 characters and `…`
    /// (enough to tell keys apart in a message, not to use one); `None`
    /// for unsigned requests.
    pub fn access_key_hint(&self) -> Option<String> {
        self.credentials
            .as_ref()
            .map(|c| format!("{}…", c.key().chars().take(4).collect::<String>()))
    }

    /// The signing region.
    pub fn region(&self) -> &str {
        self.bucket.region()
    }

    /// Presigns `req` now.
    pub fn sign(&self, req: &S3Request) -> SignedRequest {
        self.sign_at(req, &jiff::Timestamp::now())
    }

    /// Presigns `req` as if at `time` (deterministic tests).
    pub fn sign_at(&self, req: &S3Request, time: &jiff::Timestamp) -> SignedRequest {
        let mut headers: Vec<(&'static str, String)> = Vec::new();
        if let Some(md5) = &req.content_md5 {
            headers.push(("content-md5", md5.clone()));
        } else if req.checksum_pending
            && let Some((name, md5)) = req
                .body
                .as_ref()
                .and_then(|body| body_checksum_of(BodyChecksum::Md5, body))
        {
            // Not chosen by a client: the checksum every provider knows.
            headers.push((name, md5));
        }
        if let Some((name, value)) = &req.checksum {
            headers.push((name, value.clone()));
        }
        if let Some(declared) = req.upload_checksum {
            if let Some(algorithm) = declared.algorithm() {
                headers.push(("x-amz-checksum-algorithm", algorithm.to_owned()));
            }
            if let Some(kind) = declared.multipart_type() {
                headers.push(("x-amz-checksum-type", kind.to_owned()));
            }
        }
        if let Some(ct) = &req.content_type {
            headers.push(("content-type", ct.clone()));
        }
        if let Some(m) = &req.conditions.if_match {
            headers.push(("if-match", m.clone()));
        }
        if let Some(m) = &req.conditions.if_none_match {
            headers.push(("if-none-match", m.clone()));
        }
        if let Some(tag) = &req.write_tag {
            headers.push((WRITE_TAG_HEADER, tag.clone()));
        }
        if let Op::GetObject(Some(range)) = &req.op {
            headers.push(("range", range.header_value()));
        }
        if let Op::CopyObject { source_key } = &req.op {
            let source = format!("{}/{}", self.bucket.name(), percent_encode_path(source_key));
            headers.push(("x-amz-copy-source", source));
        }
        headers.sort_by(|a, b| a.0.cmp(b.0));

        let creds = self.credentials.as_ref();
        let key = req.key.as_deref().unwrap_or_default();
        let b = &self.bucket;
        let url = match &req.op {
            Op::HeadBucket => finish(b.head_bucket(creds), &headers, self.expiry, time),
            // rusty-s3 has these two only signed; unsigned (anonymous),
            // they are the bare bucket URL.
            Op::CreateBucket => match creds {
                Some(c) => finish(b.create_bucket(c), &headers, self.expiry, time),
                None => b.base_url().clone(),
            },
            Op::DeleteBucket => match creds {
                Some(c) => finish(b.delete_bucket(c), &headers, self.expiry, time),
                None => b.base_url().clone(),
            },
            Op::PutObject => finish(b.put_object(creds, key), &headers, self.expiry, time),
            Op::GetObject(_) => finish(b.get_object(creds, key), &headers, self.expiry, time),
            Op::HeadObject => finish(b.head_object(creds, key), &headers, self.expiry, time),
            Op::DeleteObject => finish(b.delete_object(creds, key), &headers, self.expiry, time),
            Op::DeleteObjects => finish(
                DeleteObjects::new(b, creds, std::iter::empty::<&ObjectIdentifier>()),
                &headers,
                self.expiry,
                time,
            ),
            Op::ListObjectsV2 {
                prefix,
                continuation_token,
                max_keys,
            } => {
                let mut action = ListObjectsV2::new(b, creds);
                if let Some(p) = prefix {
                    action.with_prefix(p.as_str());
                }
                if let Some(t) = continuation_token {
                    action.with_continuation_token(t.as_str());
                }
                if let Some(m) = max_keys {
                    action.with_max_keys(*m);
                }
                finish(action, &headers, self.expiry, time)
            }
            Op::CopyObject { .. } => self.sign_raw(
                rusty_s3::Method::Put,
                b.object_url(key),
                &[],
                &headers,
                time,
            ),
            Op::CreateMultipartUpload => finish(
                CreateMultipartUpload::new(b, creds, key),
                &headers,
                self.expiry,
                time,
            ),
            Op::UploadPart {
                upload_id,
                part_number,
            } => finish(
                UploadPart::new(b, creds, key, *part_number, upload_id),
                &headers,
                self.expiry,
                time,
            ),
            Op::CompleteMultipartUpload { upload_id } => finish(
                CompleteMultipartUpload::new(b, creds, key, upload_id, std::iter::empty()),
                &headers,
                self.expiry,
                time,
            ),
            Op::AbortMultipartUpload { upload_id } => finish(
                AbortMultipartUpload::new(b, creds, key, upload_id),
                &headers,
                self.expiry,
                time,
            ),
            Op::ListMultipartUploads {
                prefix,
                key_marker,
                upload_id_marker,
            } => {
                // rusty-s3 0.11 has no ListMultipartUploads action.
                let mut query: Vec<(&str, &str)> = vec![("uploads", "")];
                for (name, value) in [
                    ("prefix", prefix),
                    ("key-marker", key_marker),
                    ("upload-id-marker", upload_id_marker),
                ] {
                    if let Some(v) = value {
                        query.push((name, v.as_str()));
                    }
                }
                query.sort_unstable();
                self.sign_raw(
                    rusty_s3::Method::Get,
                    b.base_url().clone(),
                    &query,
                    &headers,
                    time,
                )
            }
        };
        SignedRequest {
            action: req.action(),
            method: method_of(req.action()),
            url,
            headers,
            body: req.body.clone(),
        }
    }
}

impl Signer {
    /// Presigns a request that rusty-s3 has no action type for: `url`
    /// with the (sorted) `query` and `headers`.
    fn sign_raw(
        &self,
        method: rusty_s3::Method,
        url: Url,
        query: &[(&str, &str)],
        headers: &[(&'static str, String)],
        time: &jiff::Timestamp,
    ) -> Url {
        let Some(c) = &self.credentials else {
            let mut url = url;
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query.iter().copied());
            }
            return url;
        };
        rusty_s3::signing::sign(
            time,
            method,
            url,
            c.key(),
            c.secret(),
            c.token(),
            self.bucket.region(),
            self.expiry.as_secs().max(1),
            query.iter().copied(),
            headers.iter().map(|(k, v)| (*k, v.as_str())),
        )
    }
}

/// rusty-s3's credentials for `c`.
fn signing_credentials(c: &Credentials) -> SigningCredentials {
    let (key, secret) = (&c.access_key, c.secret.expose());
    match &c.session_token {
        Some(t) if !t.expose().is_empty() => {
            SigningCredentials::new_with_token(key, secret, t.expose())
        }
        _ => SigningCredentials::new(key, secret),
    }
}

fn method_of(action: Action) -> &'static str {
    match action {
        Action::HeadBucket | Action::HeadObject => "HEAD",
        Action::GetObject | Action::ListObjectsV2 | Action::ListMultipartUploads => "GET",
        Action::CreateBucket | Action::PutObject | Action::CopyObject | Action::UploadPart => "PUT",
        Action::DeleteBucket | Action::DeleteObject | Action::AbortMultipartUpload => "DELETE",
        Action::DeleteObjects | Action::CreateMultipartUpload | Action::CompleteMultipartUpload => {
            "POST"
        }
    }
}

fn finish<'a, A: S3Action<'a>>(
    mut action: A,
    headers: &'a [(&'static str, String)],
    expiry: Duration,
    time: &jiff::Timestamp,
) -> Url {
    let map = action.headers_mut();
    for (k, v) in headers {
        map.insert(*k, v.as_str());
    }
    action.sign_with_time(expiry, time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::md5_etag;

    fn signer() -> Signer {
        Signer::new(
            "http://127.0.0.1:9000".parse().unwrap(),
            true,
            "bkt",
            "us-east-1",
            &Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
                .with_session_token("SESSIONTOKEN"),
            Duration::from_secs(300),
        )
        .unwrap()
    }

    fn at() -> jiff::Timestamp {
        "2024-01-02T03:04:05Z".parse().unwrap()
    }

    #[test]
    fn put_signs_md5_and_conditions() {
        let req = S3Request::put_object("a/b.ksv", &b"hello"[..])
            .unwrap()
            .with_conditions(Conditions::if_match("\"abc\""))
            .with_content_type("application/octet-stream");
        let s = signer().sign_at(&req, &at());
        assert_eq!(s.method, "PUT");
        assert_eq!(s.url.path(), "/bkt/a/b.ksv");
        let names: Vec<_> = s.headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["content-md5", "content-type", "if-match"]);
        assert_eq!(s.headers[0].1, "XUFAKrxLKna5cZ2REBfFkg==");
        let q = s.url.query().unwrap();
        assert!(
            q.contains("X-Amz-SignedHeaders=content-md5%3Bcontent-type%3Bhost%3Bif-match"),
            "{q}"
        );
        assert!(q.contains("X-Amz-Security-Token=SESSIONTOKEN"));
        assert!(!req.is_safe_to_repeat());
        assert!(req.clone().for_probe().is_safe_to_repeat());
        assert!(
            S3Request::put_object("k", &b""[..])
                .unwrap()
                .is_safe_to_repeat()
        );
    }

    #[test]
    fn a_write_tag_is_a_signed_user_metadata_header() {
        for req in [
            S3Request::put_object("k", &b"v"[..]).unwrap(),
            S3Request::create_multipart_upload("k").unwrap(),
        ] {
            let s = signer().sign_at(&req.clone().with_write_tag("0123abcd"), &at());
            assert!(
                s.headers
                    .contains(&("x-amz-meta-konserve-write", "0123abcd".to_owned()))
            );
            let q = s.url.query().unwrap();
            assert!(q.contains("x-amz-meta-konserve-write"), "{q}");
            let untagged = signer().sign_at(&req, &at());
            assert!(
                untagged
                    .headers
                    .iter()
                    .all(|(k, _)| !k.starts_with("x-amz-meta"))
            );
        }
    }

    #[test]
    fn signing_is_deterministic_and_debug_is_redacted() {
        let req = S3Request::get_object(
            "k",
            Some(ByteRange {
                start: 0,
                end_inclusive: Some(19),
            }),
        )
        .unwrap();
        let a = signer().sign_at(&req, &at());
        let b = signer().sign_at(&req, &at());
        assert_eq!(a.url, b.url);
        assert_eq!(a.headers, vec![("range", "bytes=0-19".to_owned())]);
        let dbg = format!("{a:?}");
        assert!(!dbg.contains("SESSIONTOKEN"), "{dbg}");
        assert!(!dbg.contains("AKIDEXAMPLE"), "{dbg}");
        assert!(dbg.contains("X-Amz-Signature=REDACTED"), "{dbg}");
        let sdbg = format!("{:?}", signer());
        assert!(!sdbg.contains("wJalr"), "{sdbg}");
    }

    #[test]
    fn every_action_has_its_method_and_path() {
        let cases: Vec<(S3Request, &str, &str, Option<&str>)> = vec![
            (S3Request::head_bucket(), "HEAD", "/bkt/", None),
            (S3Request::create_bucket("us-east-1"), "PUT", "/bkt/", None),
            (S3Request::delete_bucket(), "DELETE", "/bkt/", None),
            (S3Request::head_object("k").unwrap(), "HEAD", "/bkt/k", None),
            (
                S3Request::delete_object("k").unwrap(),
                "DELETE",
                "/bkt/k",
                None,
            ),
            (
                S3Request::delete_objects(&["a", "b"]).unwrap(),
                "POST",
                "/bkt/",
                Some("delete"),
            ),
            (
                S3Request::list_objects_v2(Some("p_"), Some("tok"), Some(2)),
                "GET",
                "/bkt/",
                Some("list-type=2"),
            ),
            (
                S3Request::copy_object("src", "dst").unwrap(),
                "PUT",
                "/bkt/dst",
                None,
            ),
            (
                S3Request::create_multipart_upload("k").unwrap(),
                "POST",
                "/bkt/k",
                Some("uploads"),
            ),
            (
                S3Request::upload_part("k", "UP", 3, vec![1u8]).unwrap(),
                "PUT",
                "/bkt/k",
                Some("partNumber=3"),
            ),
            (
                S3Request::complete_multipart_upload("k", "UP", &["\"e1\""]).unwrap(),
                "POST",
                "/bkt/k",
                Some("uploadId=UP"),
            ),
            (
                S3Request::abort_multipart_upload("k", "UP").unwrap(),
                "DELETE",
                "/bkt/k",
                Some("uploadId=UP"),
            ),
            (
                S3Request::list_multipart_uploads(Some("p_"), Some("k m"), Some("U")),
                "GET",
                "/bkt/",
                Some("key-marker=k%20m"),
            ),
        ];
        for (req, method, path, query_part) in cases {
            let s = signer().sign_at(&req, &at());
            assert_eq!(s.method, method, "{req:?}");
            assert_eq!(s.url.path(), path, "{req:?}");
            if let Some(q) = query_part {
                assert!(s.url.query().unwrap().contains(q), "{req:?}: {}", s.url);
            }
        }
    }

    #[test]
    fn complete_xml_lists_each_parts_etag_and_checksum_in_order() {
        let etags = ["\"e1\"", "\"e<2>&\""];
        // ETags alone: what rusty-s3 builds, byte for byte.
        let plain: Vec<CompletedPart> = etags
            .iter()
            .map(|e| CompletedPart {
                etag: (*e).to_owned(),
                checksum: None,
            })
            .collect();
        let rusty =
            CompleteMultipartUpload::new(&body_bucket(""), None, "k", "UP", etags.into_iter())
                .body();
        assert_eq!(complete_multipart_xml(&plain), rusty);
        // With checksums: each next to its part's ETag.
        let parts = [
            CompletedPart {
                etag: "\"e1\"".into(),
                checksum: Some(("ChecksumCRC32C", "AAAAAA==".into())),
            },
            CompletedPart {
                etag: "\"e2\"".into(),
                checksum: Some(("ChecksumCRC32C", "yZRlqg==".into())),
            },
        ];
        assert_eq!(
            complete_multipart_xml(&parts),
            "<CompleteMultipartUpload>\
             <Part><ETag>&quot;e1&quot;</ETag><PartNumber>1</PartNumber>\
             <ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></Part>\
             <Part><ETag>&quot;e2&quot;</ETag><PartNumber>2</PartNumber>\
             <ChecksumCRC32C>yZRlqg==</ChecksumCRC32C></Part>\
             </CompleteMultipartUpload>"
        );
        assert_eq!(
            complete_multipart_xml(&[]),
            "<CompleteMultipartUpload></CompleteMultipartUpload>"
        );
        let req = S3Request::complete_parts("k", "UP", &parts).unwrap();
        assert_eq!(
            req.body().unwrap().as_ref(),
            complete_multipart_xml(&parts).as_bytes()
        );
        let too_many = vec![parts[0].clone(); usize::from(MAX_PARTS) + 1];
        assert!(matches!(
            S3Request::complete_parts("k", "UP", &too_many),
            Err(Error::InvalidConfig { .. })
        ));
    }

    #[test]
    fn a_multipart_upload_declares_and_signs_its_parts_checksum() {
        let signed_names = |req: &S3Request| -> Vec<(&'static str, String)> {
            signer().sign_at(req, &at()).headers
        };
        let create = |c| {
            S3Request::create_multipart_upload("k")
                .unwrap()
                .declaring_part_checksum(c)
        };
        assert_eq!(
            signed_names(&create(BodyChecksum::Crc32c)),
            [("x-amz-checksum-algorithm", "CRC32C".to_owned())]
        );
        let s = signer().sign_at(&create(BodyChecksum::Crc64nvme), &at());
        assert_eq!(
            s.headers,
            [
                ("x-amz-checksum-algorithm", "CRC64NVME".to_owned()),
                ("x-amz-checksum-type", "FULL_OBJECT".to_owned()),
            ]
        );
        let q = s.url.query().unwrap();
        assert!(
            q.contains("X-Amz-SignedHeaders=host%3Bx-amz-checksum-algorithm%3Bx-amz-checksum-type"),
            "{q}"
        );
        for undeclared in [BodyChecksum::Md5, BodyChecksum::None] {
            assert!(signed_names(&create(undeclared)).is_empty());
        }

        let body = Bytes::from_static(b"part bytes");
        let part = |c| {
            S3Request::upload_part("k", "UP", 2, body.clone())
                .unwrap()
                .with_body_checksum(c)
        };
        let crc = part(BodyChecksum::Crc32c);
        // The checksum is computed once, on the request, over the very
        // bytes it sends (no copy).
        assert_eq!(crc.flexible_checksum(), Some(crc32c_base64(&body).as_str()));
        assert_eq!(crc.body().unwrap().as_ptr(), body.as_ptr());
        assert_eq!(signed_names(&crc), [(CRC32C_HEADER, crc32c_base64(&body))]);
        assert_eq!(
            signed_names(&part(BodyChecksum::Crc64nvme)),
            [(CRC64NVME_HEADER, crc64nvme_base64(&body))]
        );
        assert_eq!(
            signed_names(&part(BodyChecksum::Md5)),
            [("content-md5", content_md5(&body))]
        );
        assert!(signed_names(&part(BodyChecksum::None)).is_empty());
        assert_eq!(BodyChecksum::Crc32c.xml_element(), Some("ChecksumCRC32C"));
        assert_eq!(
            BodyChecksum::Crc64nvme.xml_element(),
            Some("ChecksumCRC64NVME")
        );
        assert_eq!(BodyChecksum::Md5.xml_element(), None);
    }

    #[test]
    fn complete_is_repeated_with_its_conditions() {
        let complete = S3Request::complete_multipart_upload("k", "UP", &["\"e1\""]).unwrap();
        assert!(complete.is_safe_to_repeat());
        assert!(
            complete
                .with_conditions(Conditions::if_absent())
                .is_safe_to_repeat()
        );
        let put = S3Request::put_object("k", &b""[..]).unwrap();
        assert!(
            !put.with_conditions(Conditions::if_absent())
                .is_safe_to_repeat()
        );
        assert!(S3Request::list_multipart_uploads(None, None, None).is_safe_to_repeat());
    }

    #[test]
    fn copy_object_signs_copy_source() {
        let req = S3Request::copy_object("dir/a b", "dst").unwrap();
        let s = signer().sign_at(&req, &at());
        assert_eq!(
            s.headers,
            vec![("x-amz-copy-source", "bkt/dir/a%20b".to_owned())]
        );
        assert!(
            s.url
                .query()
                .unwrap()
                .contains("X-Amz-SignedHeaders=host%3Bx-amz-copy-source")
        );
    }

    #[test]
    fn delete_objects_body_is_escaped_and_bounded() {
        let req = S3Request::delete_objects(&["a&b", "<c>"]).unwrap();
        let body = std::str::from_utf8(&req.body().unwrap())
            .unwrap()
            .to_owned();
        assert!(
            body.contains("<Key>a&amp;b</Key><Key>&lt;c&gt;</Key>")
                || body.contains(
                    "<Object><Key>a&amp;b</Key></Object><Object><Key>&lt;c&gt;</Key></Object>"
                ),
            "{body}"
        );
        assert!(body.contains("<Quiet>true</Quiet>"));
        let many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
        assert!(S3Request::delete_objects(&many).is_err());
        assert!(S3Request::delete_objects::<&str>(&[]).is_err());
        assert!(S3Request::delete_objects(&many[..1000]).is_ok());
        assert!(S3Request::delete_objects(&["ok", "a/../b"]).is_err());
    }

    #[test]
    fn complete_multipart_upload_body_lists_parts_in_order() {
        let req = S3Request::complete_multipart_upload("k", "UP", &["\"e1\"", "\"e&2\""]).unwrap();
        let body = std::str::from_utf8(&req.body().unwrap())
            .unwrap()
            .to_owned();
        assert!(
            body.contains("<Part><ETag>&quot;e1&quot;</ETag><PartNumber>1</PartNumber></Part>"),
            "{body}"
        );
        assert!(
            body.contains(
                "<Part><ETag>&quot;e&amp;2&quot;</ETag><PartNumber>2</PartNumber></Part>"
            ),
            "{body}"
        );
        let s = signer().sign_at(&req, &at());
        assert_eq!(s.headers[0], ("content-md5", content_md5(body.as_bytes())));
        let too_many = vec!["\"e\""; 10_001];
        assert!(matches!(
            S3Request::complete_multipart_upload("k", "UP", &too_many),
            Err(Error::InvalidConfig { .. })
        ));
        assert!(S3Request::complete_multipart_upload("k", "UP", &too_many[..10_000]).is_ok());
    }

    #[test]
    fn create_bucket_has_location_outside_us_east_1() {
        assert!(S3Request::create_bucket("us-east-1").body().is_none());
        let r = S3Request::create_bucket("eu-west-1");
        let body = std::str::from_utf8(&r.body().unwrap()).unwrap().to_owned();
        assert!(body.contains("<LocationConstraint>eu-west-1</LocationConstraint>"));
    }

    #[test]
    fn md5_forms() {
        assert_eq!(md5_etag(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn invalid_keys_are_refused_before_signing() {
        assert!(S3Request::get_object("", None).is_err());
        assert!(S3Request::put_object("../x", Vec::new()).is_err());
        assert!(S3Request::copy_object("..", "x").is_err());
        assert!(S3Request::upload_part("k", "u", 0, Vec::new()).is_err());
    }
}
