//! What an S3 provider does with the requests optimistic locking relies
//! on, as the connect-time probe found it ([`Capabilities`]), and the
//! verdicts drawn from it. Pure code: the probe itself (requests) lives in
//! the engine, which fills these in.
//!
//! Providers differ where it hurts: Ceph RGW 16 matches `If-Match` on a PUT
//! only against the unquoted ETag and ignores it on DELETE and on
//! `CompleteMultipartUpload`; moto ignores it on `CompleteMultipartUpload`;
//! Garage ignores `If-None-Match`. Each finding says what the client does
//! about it (see the field docs).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::request::BodyChecksum;

/// How a provider treats one condition (or checksum header) of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Support {
    /// Checked: a request whose condition does not hold is refused (412,
    /// or 400 for a wrong checksum).
    Honoured,
    /// Accepted but not checked: the request goes ahead anyway.
    Ignored,
    /// The header (or the request with it) is refused outright, whether
    /// or not it holds (e.g. 501 Not Implemented).
    Rejected,
    /// Not probed (the probe stopped earlier, or it does not apply).
    Unknown,
}

impl Support {
    /// Whether the provider checks it.
    pub fn is_honoured(self) -> bool {
        self == Support::Honoured
    }
}

impl fmt::Display for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Support::Honoured => "honoured",
            Support::Ignored => "ignored",
            Support::Rejected => "rejected",
            Support::Unknown => "unknown",
        })
    }
}

/// Which form of an ETag a provider matches `If-Match` against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EtagForm {
    /// `"abc…"`, as S3 sends it and as RFC 9110 says (AWS, SeaweedFS,
    /// MinIO, moto).
    Quoted,
    /// `abc…` without the quotes (Ceph RGW 16 on PUT).
    Unquoted,
}

/// The outcome of the probe's race: several writers send a conditional
/// PUT on the same ETag at once, in a few rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RaceOutcome {
    /// Writers per round.
    pub writers: u32,
    /// Rounds run.
    pub rounds: u32,
    /// Rounds in which more than one writer was told it won, or the
    /// object ended up holding a loser's bytes.
    pub violations: u32,
    /// Losers answered with a server error (500) rather than 412, in rounds
    /// that show they did not land (Ceph RGW answers a write that passed the
    /// `If-Match` check but lost the race at its index with 500).
    #[serde(default)]
    pub server_errors: u32,
}

impl RaceOutcome {
    /// Whether every round had exactly one winner, whose bytes stayed.
    pub fn is_exclusive(&self) -> bool {
        self.rounds > 0 && self.violations == 0
    }
}

/// What the provider behind an endpoint does with conditional writes,
/// checksums and listings: the result of the probe that
/// [`S3Client::capabilities`](crate::blocking::S3Client::capabilities)
/// runs (once per endpoint, then cached).
///
/// ```
/// use konserve_s3::s3::{Capabilities, EtagForm, Support};
///
/// let caps = Capabilities::assumed();
/// assert_eq!(caps.if_match, Some(EtagForm::Quoted));
/// assert!(caps.locking_verdict().is_ok());
/// assert_eq!(caps.conditional_delete, Support::Honoured);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct Capabilities {
    /// The `Server` header of the provider's answers, if it sends one.
    pub server: Option<String>,
    /// `If-None-Match: *` on PUT (create only): needed for new keys under
    /// optimistic locking.
    pub if_none_match: Support,
    /// The ETag form that `If-Match` on PUT matches; `None` when it matches
    /// neither, or a wrong ETag is not refused. The client sends every
    /// `If-Match` in this form.
    pub if_match: Option<EtagForm>,
    /// `If-Match` on PUT with a wrong ETag: honoured (412) or ignored.
    pub if_match_put: Support,
    /// `If-Match` on DELETE. Where it is not honoured, a conditional delete
    /// (`dissoc_with` `if_unchanged`) is refused rather than sent.
    pub conditional_delete: Support,
    /// `If-Match` on `CompleteMultipartUpload`. Where it is not honoured,
    /// a conditional multipart write checks the object's ETag just before
    /// completing (a window of one round trip, see docs/providers.md).
    pub complete_if_match: Support,
    /// `If-None-Match: *` on `CompleteMultipartUpload`; as
    /// [`Capabilities::complete_if_match`].
    pub complete_if_none_match: Support,
    /// Concurrent conditional PUTs on one ETag: exactly one must win.
    pub race: Option<RaceOutcome>,
    /// A wrong `Content-MD5` is refused (400 `BadDigest`).
    pub content_md5: Support,
    /// A wrong `x-amz-checksum-crc32c` is refused.
    pub checksum_crc32c: Support,
    /// A wrong `x-amz-checksum-crc64nvme` is refused.
    pub checksum_crc64nvme: Support,
    /// The flexible checksum that `PutObject` is checked with (CRC-32C
    /// where both are, as [`Capabilities::checksum_crc32c`] and
    /// [`Capabilities::checksum_crc64nvme`] found) on `UploadPart`, in an
    /// upload that declared it (`x-amz-checksum-algorithm`): a wrong one
    /// refused, a right one and the `CompleteMultipartUpload` listing it
    /// accepted. `Unknown` where no flexible checksum is checked on
    /// `PutObject`.
    pub part_checksum: Support,
    /// A request with a forged signature is refused (403): the provider
    /// checks signatures (moto does not).
    pub signatures_checked: Option<bool>,
    /// A key with spaces, `+`, `%` and non-ASCII comes back from a listing
    /// exactly as written.
    pub listing_keys_exact: Option<bool>,
    /// A multipart object's ETag is S3's `"<md5 of the part MD5s>-<parts>"`.
    pub multipart_etag_is_md5_of_parts: Option<bool>,
    /// The probe's cost when it ran: requests sent.
    pub probe_requests: u32,
    /// The probe's cost when it ran: milliseconds.
    pub probe_millis: u64,
}

impl Capabilities {
    /// What `conditional-writes: on` assumes without probing: everything
    /// S3 documents (quoted ETags, conditions on PUT, DELETE and
    /// `CompleteMultipartUpload`, both checksums).
    pub fn assumed() -> Self {
        Capabilities {
            server: None,
            if_none_match: Support::Honoured,
            if_match: Some(EtagForm::Quoted),
            if_match_put: Support::Honoured,
            conditional_delete: Support::Honoured,
            complete_if_match: Support::Honoured,
            complete_if_none_match: Support::Honoured,
            race: None,
            content_md5: Support::Honoured,
            checksum_crc32c: Support::Honoured,
            checksum_crc64nvme: Support::Honoured,
            part_checksum: Support::Honoured,
            signatures_checked: Some(true),
            listing_keys_exact: None,
            multipart_etag_is_md5_of_parts: None,
            probe_requests: 0,
            probe_millis: 0,
        }
    }

    /// Nothing known yet: the starting point of a probe.
    pub(crate) fn unknown() -> Self {
        Capabilities {
            server: None,
            if_none_match: Support::Unknown,
            if_match: None,
            if_match_put: Support::Unknown,
            conditional_delete: Support::Unknown,
            complete_if_match: Support::Unknown,
            complete_if_none_match: Support::Unknown,
            race: None,
            content_md5: Support::Unknown,
            checksum_crc32c: Support::Unknown,
            checksum_crc64nvme: Support::Unknown,
            part_checksum: Support::Unknown,
            signatures_checked: None,
            listing_keys_exact: None,
            multipart_etag_is_md5_of_parts: None,
            probe_requests: 0,
            probe_millis: 0,
        }
    }

    /// The provider, as its `Server` header names it (or "this provider").
    pub fn provider(&self) -> &str {
        self.server.as_deref().unwrap_or("this provider")
    }

    /// Whether optimistic locking can be made safe on this provider: `Err`
    /// says why not (the reason of [`Error::Unsupported`](crate::Error::Unsupported)).
    ///
    /// It needs create-only PUTs, `If-Match` on PUT in some ETag form, and
    /// exactly one winner of a race. Conditional DELETE and
    /// `CompleteMultipartUpload` are worked around (see their fields).
    ///
    /// # Errors
    /// The reason locking would lose updates here.
    pub fn locking_verdict(&self) -> Result<(), Cow<'static, str>> {
        match self.if_none_match {
            Support::Honoured => {}
            Support::Ignored => {
                return Err(format!(
                    "{} ignores If-None-Match: a create-only write replaced an existing object, \
                     so updates would be lost",
                    self.provider()
                )
                .into());
            }
            Support::Rejected => {
                return Err(format!(
                    "{} refuses conditional writes (If-None-Match: *)",
                    self.provider()
                )
                .into());
            }
            Support::Unknown => return Err("conditional writes were not probed".into()),
        }
        match (self.if_match, self.if_match_put) {
            (Some(_), Support::Honoured) => {}
            (_, Support::Ignored) => {
                return Err(format!(
                    "{} ignores If-Match on PUT: a write on a stale version replaced a newer one",
                    self.provider()
                )
                .into());
            }
            _ => {
                return Err(format!(
                    "{} matches If-Match on PUT against neither the quoted nor the unquoted ETag",
                    self.provider()
                )
                .into());
            }
        }
        if let Some(race) = self.race
            && !race.is_exclusive()
        {
            return Err(format!(
                "{} let more than one of {} concurrent conditional writes on the same version \
                 succeed ({} of {} rounds), so concurrent updates would be lost",
                self.provider(),
                race.writers,
                race.violations,
                race.rounds
            )
            .into());
        }
        Ok(())
    }

    /// `etag` in the form `If-Match` must take here.
    pub(crate) fn if_match_value(&self, etag: &str) -> String {
        match self.if_match {
            Some(EtagForm::Unquoted) => unquote(etag).to_owned(),
            _ => etag.to_owned(),
        }
    }

    /// Whether a 500 answer to a conditional PUT means the write lost a
    /// race and did not land: the probe saw racing writes answered 500, and
    /// every such round had exactly one winner whose bytes stayed. The
    /// client then reports such an answer as a refused condition (412), so
    /// optimistic locking re-reads and retries instead of reporting
    /// [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown).
    pub fn server_error_means_lost_race(&self) -> bool {
        self.race
            .is_some_and(|r| r.is_exclusive() && r.server_errors > 0)
    }

    /// The checksum a `PutObject` body carries under `checksum: auto`:
    /// CRC-32C where the probe saw a wrong one refused, else CRC-64/NVME
    /// where it saw that refused, else `Content-MD5` (also for findings
    /// assumed rather than probed).
    pub(crate) fn body_checksum(&self) -> BodyChecksum {
        if self.probe_requests == 0 {
            BodyChecksum::Md5
        } else if self.checksum_crc32c.is_honoured() {
            BodyChecksum::Crc32c
        } else if self.checksum_crc64nvme.is_honoured() {
            BodyChecksum::Crc64nvme
        } else {
            BodyChecksum::Md5
        }
    }

    /// The checksum every part of a multipart upload carries under
    /// `checksum: auto`: the `PutObject` one
    /// ([`Capabilities::body_checksum`]) where the probe saw it checked on
    /// `UploadPart` too, else `Content-MD5`.
    pub(crate) fn part_checksum(&self) -> BodyChecksum {
        match self.body_checksum() {
            flexible @ (BodyChecksum::Crc32c | BodyChecksum::Crc64nvme)
                if self.part_checksum.is_honoured() =>
            {
                flexible
            }
            _ => BodyChecksum::Md5,
        }
    }

    /// One line for the log: every finding, short.
    pub fn summary(&self) -> String {
        let form = match self.if_match {
            Some(EtagForm::Quoted) => "quoted",
            Some(EtagForm::Unquoted) => "unquoted",
            None => "none",
        };
        let race = match self.race {
            Some(r) if r.is_exclusive() => format!(
                "exclusive ({}x{}, {} losers answered 500)",
                r.rounds, r.writers, r.server_errors
            ),
            Some(r) => format!("{} of {} rounds broken", r.violations, r.rounds),
            None => "not run".to_owned(),
        };
        let opt = |b: Option<bool>| match b {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        format!(
            "server={} if-none-match={} if-match-put={} etag-form={} delete-if-match={} \
             complete-if-match={} complete-if-none-match={} race={} content-md5={} crc32c={} \
             crc64nvme={} part-checksum={} signatures-checked={} listing-exact={} \
             multipart-etag-md5={} \
             ({} requests, {} ms)",
            self.provider(),
            self.if_none_match,
            self.if_match_put,
            form,
            self.conditional_delete,
            self.complete_if_match,
            self.complete_if_none_match,
            race,
            self.content_md5,
            self.checksum_crc32c,
            self.checksum_crc64nvme,
            self.part_checksum,
            opt(self.signatures_checked),
            opt(self.listing_keys_exact),
            opt(self.multipart_etag_is_md5_of_parts),
            self.probe_requests,
            self.probe_millis,
        )
    }
}

/// The requests whose `If-Match` the client refuses to send where the
/// provider would not check it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IfMatchOn {
    /// PutObject.
    Put,
    /// DeleteObject.
    Delete,
}

impl Capabilities {
    /// The refusal of an `If-Match` request on `on` that this provider
    /// would not check (it would overwrite or delete a value written since
    /// it was read); `None` where it checks it.
    pub(crate) fn unchecked_if_match(&self, on: IfMatchOn) -> Option<crate::Error> {
        let (support, operation, method, act, verb) = match on {
            IfMatchOn::Put => (
                self.if_match_put,
                "conditional write (If-Match on PUT)",
                "PUT",
                "the write could replace",
                "write",
            ),
            IfMatchOn::Delete => (
                self.conditional_delete,
                "conditional delete (If-Match on DELETE)",
                "DELETE",
                "the delete could remove",
                "delete",
            ),
        };
        (!support.is_honoured()).then(|| crate::Error::Unsupported {
            operation,
            reason: format!(
                "{} does not check If-Match on {method} ({support}), so {act} a value written \
                 since it was read; {verb} without the condition, or use a provider that checks it",
                self.provider()
            )
            .into(),
        })
    }
}

/// `etag` without its surrounding double quotes (and a weak `W/` prefix).
pub(crate) fn unquote(etag: &str) -> &str {
    let e = etag.strip_prefix("W/").unwrap_or(etag);
    e.strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(e)
}

/// Whether `etag` has the shape of a multipart ETag with `parts` parts:
/// `"<32 hex>-<parts>"`.
pub(crate) fn is_multipart_etag(etag: &str, parts: usize) -> bool {
    let e = unquote(etag);
    match e.split_once('-') {
        Some((hex, n)) => {
            hex.len() == 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
                && n.parse::<usize>().ok() == Some(parts)
        }
        None => false,
    }
}

/// The key under which an endpoint's capabilities are cached: what
/// addresses the provider (endpoint, addressing style, region), never
/// credentials.
pub(crate) fn cache_key(endpoint: &str, path_style: bool, region: &str) -> String {
    format!(
        "{}|{}|{region}",
        endpoint.trim_end_matches('/'),
        if path_style { "path" } else { "virtual" }
    )
}

/// A cached probe result with the time it was taken (seconds since the
/// Unix epoch), as kept on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct CacheEntry {
    /// The [`cache_key`] it was stored under (checked on reading: a hash
    /// collision must not hand out another endpoint's findings).
    pub key: String,
    /// When the probe ran.
    pub probed_at: u64,
    /// What it found.
    pub capabilities: Capabilities,
}

/// The file name of the cache entry for `key`: a hex SHA-256 of it (keys
/// hold URLs, which make poor file names).
pub(crate) fn cache_file_name(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let mut name = String::with_capacity(69);
    for b in &digest[..16] {
        name.push_str(&format!("{b:02x}"));
    }
    name.push_str(".json");
    name
}

/// `entry` if it is for `key` and younger than `ttl_secs` at `now`.
pub(crate) fn fresh_entry(
    entry: CacheEntry,
    key: &str,
    now: u64,
    ttl_secs: u64,
) -> Option<Capabilities> {
    (entry.key == key && now.saturating_sub(entry.probed_at) < ttl_secs && entry.probed_at <= now)
        .then_some(entry.capabilities)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgw() -> Capabilities {
        Capabilities {
            server: Some("Ceph".into()),
            if_match: Some(EtagForm::Unquoted),
            conditional_delete: Support::Ignored,
            complete_if_match: Support::Ignored,
            complete_if_none_match: Support::Ignored,
            ..Capabilities::assumed()
        }
    }

    #[test]
    fn parts_carry_the_put_checksum_only_where_the_multipart_form_is_checked() {
        let mut caps = Capabilities::unknown();
        caps.probe_requests = 30;
        caps.content_md5 = Support::Honoured;
        caps.checksum_crc32c = Support::Honoured;
        caps.checksum_crc64nvme = Support::Honoured;
        caps.part_checksum = Support::Honoured;
        assert_eq!(caps.body_checksum(), BodyChecksum::Crc32c);
        assert_eq!(caps.part_checksum(), BodyChecksum::Crc32c);
        for refused in [Support::Ignored, Support::Rejected, Support::Unknown] {
            caps.part_checksum = refused;
            assert_eq!(caps.body_checksum(), BodyChecksum::Crc32c);
            assert_eq!(caps.part_checksum(), BodyChecksum::Md5, "{refused}");
        }
        caps.checksum_crc32c = Support::Ignored;
        caps.part_checksum = Support::Honoured;
        assert_eq!(caps.part_checksum(), BodyChecksum::Crc64nvme);
        caps.checksum_crc64nvme = Support::Rejected;
        assert_eq!(caps.part_checksum(), BodyChecksum::Md5);
        // Assumed, not probed: Content-MD5, as for PutObject.
        assert_eq!(Capabilities::assumed().part_checksum(), BodyChecksum::Md5);
    }

    #[test]
    fn verdicts() {
        assert!(Capabilities::assumed().locking_verdict().is_ok());
        assert!(rgw().locking_verdict().is_ok());
        let garage = Capabilities {
            if_none_match: Support::Ignored,
            ..Capabilities::assumed()
        };
        assert!(
            garage
                .locking_verdict()
                .unwrap_err()
                .contains("ignores If-None-Match")
        );
        let no_match = Capabilities {
            if_match: None,
            if_match_put: Support::Rejected,
            ..Capabilities::assumed()
        };
        assert!(no_match.locking_verdict().is_err());
        let ignored = Capabilities {
            if_match_put: Support::Ignored,
            ..Capabilities::assumed()
        };
        assert!(ignored.locking_verdict().unwrap_err().contains("stale"));
        let racy = Capabilities {
            race: Some(RaceOutcome {
                writers: 4,
                rounds: 3,
                violations: 1,
                server_errors: 0,
            }),
            ..Capabilities::assumed()
        };
        let why = racy.locking_verdict().unwrap_err();
        assert!(why.contains("1 of 3 rounds"), "{why}");
        assert!(Capabilities::unknown().locking_verdict().is_err());
    }

    #[test]
    fn etag_forms() {
        assert_eq!(rgw().if_match_value("\"abc\""), "abc");
        assert_eq!(Capabilities::assumed().if_match_value("\"abc\""), "\"abc\"");
        assert_eq!(unquote("W/\"x\""), "x");
        assert_eq!(unquote("x"), "x");
        assert!(is_multipart_etag(
            "\"0123456789abcdef0123456789abcdef-2\"",
            2
        ));
        assert!(!is_multipart_etag(
            "\"0123456789abcdef0123456789abcdef-2\"",
            1
        ));
        assert!(!is_multipart_etag(
            "\"0123456789abcdef0123456789abcdef\"",
            1
        ));
        assert!(!is_multipart_etag("\"xyz-1\"", 1));
    }

    #[test]
    fn cache_entries() {
        let key = cache_key("http://127.0.0.1:9000/", true, "us-east-1");
        assert_eq!(key, "http://127.0.0.1:9000|path|us-east-1");
        let name = cache_file_name(&key);
        assert_eq!(name.len(), 37);
        assert_ne!(
            name,
            cache_file_name("http://127.0.0.1:9001|path|us-east-1")
        );
        let entry = CacheEntry {
            key: key.clone(),
            probed_at: 1000,
            capabilities: rgw(),
        };
        let json = serde_json::to_string(&entry).unwrap();
        let back: CacheEntry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, entry);
        assert_eq!(fresh_entry(back.clone(), &key, 1500, 3600), Some(rgw()));
        assert_eq!(fresh_entry(back.clone(), &key, 5000, 3600), None);
        assert_eq!(fresh_entry(back.clone(), "other", 1500, 3600), None);
        // A clock that went backwards does not make an entry live forever.
        assert_eq!(fresh_entry(back, &key, 10, 3600), None);
    }

    #[test]
    fn summary_names_every_finding() {
        let s = rgw().summary();
        for part in [
            "server=Ceph",
            "etag-form=unquoted",
            "delete-if-match=ignored",
        ] {
            assert!(s.contains(part), "{s}");
        }
    }
}
