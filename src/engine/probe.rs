//! The capability probe: a short series of requests on throwaway objects
//! that finds out what the provider does with conditional writes,
//! checksums and listings ([`Capabilities`]), and the cache that keeps
//! the findings per endpoint.
//!
//! Cost: about 30 requests (on loopback ~50 ms; at 20 ms a round trip
//! about 0.7 s), all under `.konserve-s3-probe/<random>/`, removed at the
//! end by one `DeleteObjects`.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use uuid::Uuid;

use super::client::S3Client;
use super::{io, mode};
use crate::Conditions;
use crate::config::CapabilityCache;
use crate::error::{Error, ErrorContext, Result};
use crate::s3::S3Request;
use crate::s3::capabilities::{
    self, CacheEntry, Capabilities, EtagForm, RaceOutcome, Support, is_multipart_etag,
};
use crate::s3::request::{
    BodyChecksum, CRC32C_HEADER, CRC64NVME_HEADER, CompletedPart, crc32c_base64, crc64nvme_base64,
};

/// Where the probe's objects go (removed when it ends).
pub(crate) const PROBE_PREFIX: &str = ".konserve-s3-probe/";
/// Writers in each round of the race.
const RACE_WRITERS: u32 = 4;
/// Rounds of the race in the probe.
const RACE_ROUNDS: u32 = 2;
/// Rounds of the race run again (see [`race_again`]), at most: they stop at
/// the first loser answered 500 (or a broken round). Ceph RGW answers a
/// lost race with 500 only when two writes pass the `If-Match` check
/// together; on a loaded machine here, an async probe on a current-thread
/// runtime saw none in its two rounds about one time in ten, and with up to
/// eight rounds none of 30 runs missed it.
const RACE_MAX_ROUNDS: u32 = 8;
/// How long a finding kept on disk is trusted.
const DISK_TTL_SECS: u64 = 24 * 3600;
/// An ETag no object has.
const WRONG_ETAG: &str = "\"00000000000000000000000000000000\"";

/// How a write of the probe turned out.
enum Outcome {
    /// It landed; the new ETag.
    Landed(Option<String>),
    /// A condition did not hold (412, or 409 for a concurrent one).
    Refused,
    /// The server refused the request itself (501, 400, …).
    Rejected(Error),
}

impl Outcome {
    /// How a provider treats a condition that should have refused this write.
    fn support_if_refused(&self) -> Support {
        match self {
            Outcome::Refused => Support::Honoured,
            Outcome::Landed(_) => Support::Ignored,
            Outcome::Rejected(_) => Support::Rejected,
        }
    }
}

/// Findings kept in this process, by endpoint.
fn process_cache() -> &'static Mutex<HashMap<String, Capabilities>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<String, Capabilities>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The directory of the disk cache.
fn cache_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("KONSERVE_S3_CACHE_DIR") {
        return Some(PathBuf::from(d).join("capabilities"));
    }
    let base = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("konserve-s3").join("capabilities"))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `mode` keeps findings for `key` on disk.
fn uses_disk(mode: CapabilityCache, loopback: bool) -> bool {
    match mode {
        CapabilityCache::Disk => true,
        CapabilityCache::Auto => !loopback,
        CapabilityCache::Process | CapabilityCache::Off => false,
    }
}

/// The cached findings for `key`, if any are fresh.
pub(crate) fn cached(key: &str, mode: CapabilityCache, loopback: bool) -> Option<Capabilities> {
    if mode == CapabilityCache::Off {
        return None;
    }
    let map = process_cache()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(c) = map.get(key) {
        return Some(c.clone());
    }
    drop(map);
    if !uses_disk(mode, loopback) {
        return None;
    }
    let path = cache_dir()?.join(capabilities::cache_file_name(key));
    let text = std::fs::read(&path).ok()?;
    // A damaged or foreign file is no finding: probe again.
    let entry: CacheEntry = serde_json::from_slice(&text).ok()?;
    capabilities::fresh_entry(entry, key, now_secs(), DISK_TTL_SECS)
}

/// Keeps `caps` for `key` as `mode` says. A cache that cannot be written
/// is only a lost shortcut, never an error.
pub(crate) fn remember(key: &str, caps: &Capabilities, mode: CapabilityCache, loopback: bool) {
    if mode == CapabilityCache::Off {
        return;
    }
    process_cache()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key.to_owned(), caps.clone());
    if !uses_disk(mode, loopback) {
        return;
    }
    let Some(dir) = cache_dir() else { return };
    let entry = CacheEntry {
        key: key.to_owned(),
        probed_at: now_secs(),
        capabilities: caps.clone(),
    };
    let Ok(json) = serde_json::to_vec_pretty(&entry) else {
        return;
    };
    let path = dir.join(capabilities::cache_file_name(key));
    let tmp = dir.join(format!(".{}.tmp", Uuid::new_v4().simple()));
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&tmp, &json))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        tracing::debug!(error = %e, "could not keep the capability probe's findings on disk");
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One run of the probe.
struct Probe<'a> {
    client: &'a S3Client,
    base: String,
    requests: u32,
    written: BTreeSet<String>,
    caps: Capabilities,
}

#[io(AFIT)]
impl Probe<'_> {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.base)
    }

    /// Sends `req` (a write of `key`), sorting the answer into an
    /// [`Outcome`]. A repeat refused after an attempt whose answer was lost
    /// is checked by the write tag: if the object carries it, the write
    /// landed.
    async fn write(&mut self, key: &str, req: S3Request) -> Result<Outcome> {
        self.write_with(key, req.for_probe()).await
    }

    /// [`Probe::write`] of a body with a wrong checksum: sent once, since
    /// the retry policy repeats a refused checksum (as corruption in flight).
    async fn write_wrong_checksum(&mut self, key: &str, req: S3Request) -> Result<Outcome> {
        self.write_with(key, req.for_probe().once()).await
    }

    async fn write_with(&mut self, key: &str, req: S3Request) -> Result<Outcome> {
        let tag = Uuid::new_v4().simple().to_string();
        let req = req.with_write_tag(tag.clone());
        self.requests += 1;
        self.written.insert(key.to_owned());
        match self.client.execute(&req).await {
            Ok((head, _)) => {
                if self.caps.server.is_none() {
                    self.caps.server = head.server;
                }
                Ok(Outcome::Landed(head.etag))
            }
            Err(Error::PreconditionFailed(c)) if c.attempts > 1 => {
                self.requests += 1;
                let head = S3Request::head_object(key)?.for_probe();
                match self.client.execute(&head).await {
                    Ok((h, _)) if h.write_tag.as_deref() == Some(tag.as_str()) => {
                        Ok(Outcome::Landed(h.etag))
                    }
                    _ => Ok(Outcome::Refused),
                }
            }
            Err(Error::PreconditionFailed(_) | Error::Conflict(_) | Error::ChecksumMismatch(_)) => {
                Ok(Outcome::Refused)
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e @ (Error::AccessDenied(_) | Error::NoSuchBucket(_))) => Err(e),
            Err(e) => Ok(Outcome::Rejected(e)),
        }
    }

    async fn put(&mut self, key: &str, body: &'static [u8], c: Conditions) -> Result<Outcome> {
        let req = S3Request::put_object(key, Bytes::from_static(body))?.with_conditions(c);
        self.write(key, req).await
    }

    /// The object's ETag now (one HEAD).
    async fn etag_of(&mut self, key: &str) -> Result<Option<String>> {
        self.requests += 1;
        let head = S3Request::head_object(key)?.for_probe();
        match self.client.execute(&head).await {
            Ok((head, _)) => Ok(head.etag),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `If-None-Match: *`, then `If-Match` (which form, and whether a wrong
    /// ETag is refused). Returns the object's ETag.
    async fn conditional_puts(&mut self, key: &str) -> Result<Option<String>> {
        let first = self.put(key, b"probe-1", Conditions::if_absent()).await?;
        let mut etag = match first {
            Outcome::Landed(etag) => etag,
            Outcome::Refused => {
                // Nobody else writes this random key: a refusal of a
                // create-only write of a missing key is a broken check.
                self.caps.if_none_match = Support::Ignored;
                None
            }
            Outcome::Rejected(e) => {
                tracing::debug!(error = %e, "If-None-Match: * rejected");
                self.caps.if_none_match = Support::Rejected;
                match self.put(key, b"probe-1", Conditions::NONE).await? {
                    Outcome::Landed(etag) => etag,
                    _ => return Ok(None),
                }
            }
        };
        if self.caps.if_none_match == Support::Unknown {
            let second = self.put(key, b"probe-2", Conditions::if_absent()).await?;
            self.caps.if_none_match = second.support_if_refused();
            if let Outcome::Landed(e) = second {
                etag = e;
            }
        }
        let etag = match etag {
            Some(e) => Some(e),
            None => self.etag_of(key).await?,
        };
        let Some(current) = etag else {
            self.caps.if_match_put = Support::Unknown;
            return Ok(None);
        };
        let mut current = current;
        let mut form = None;
        for (f, value) in [
            (EtagForm::Quoted, current.clone()),
            (
                EtagForm::Unquoted,
                capabilities::unquote(&current).to_owned(),
            ),
        ] {
            match self
                .put(key, b"probe-3", Conditions::if_match(value))
                .await?
            {
                Outcome::Landed(e) => {
                    form = Some(f);
                    current = match e {
                        Some(e) => e,
                        None => self.etag_of(key).await?.unwrap_or_default(),
                    };
                    break;
                }
                Outcome::Refused => {}
                Outcome::Rejected(e) => {
                    tracing::debug!(error = %e, "If-Match rejected");
                    self.caps.if_match_put = Support::Rejected;
                    return Ok(Some(current));
                }
            }
        }
        self.caps.if_match = form;
        let Some(form) = form else {
            self.caps.if_match_put = Support::Rejected;
            return Ok(Some(current));
        };
        let wrong = match form {
            EtagForm::Quoted => WRONG_ETAG.to_owned(),
            EtagForm::Unquoted => capabilities::unquote(WRONG_ETAG).to_owned(),
        };
        let outcome = self
            .put(key, b"probe-4", Conditions::if_match(wrong))
            .await?;
        self.caps.if_match_put = outcome.support_if_refused();
        if let Outcome::Landed(e) = outcome {
            current = e.unwrap_or_default();
        }
        Ok(Some(current))
    }

    /// Rounds of [`RACE_WRITERS`] conditional PUTs on the same ETag at
    /// once: exactly one may win, and its bytes must stay. [`RACE_ROUNDS`]
    /// rounds, then more up to `max_rounds` until a loser is seen answered
    /// 500 (or a round is broken).
    async fn race(
        &mut self,
        key: &str,
        mut current: String,
        max_rounds: u32,
    ) -> Result<RaceOutcome> {
        let mut outcome = RaceOutcome {
            writers: RACE_WRITERS,
            rounds: 0,
            violations: 0,
            server_errors: 0,
        };
        for round in 0..max_rounds {
            if round >= RACE_ROUNDS && (outcome.server_errors > 0 || outcome.violations > 0) {
                break;
            }
            let expected = self.caps.if_match_value(&current);
            let client = self.client;
            let writers: Vec<(u32, Bytes, String)> = (0..RACE_WRITERS)
                .map(|i| {
                    let body = Bytes::from(format!("race-{round}-{i}"));
                    (i, body, Uuid::new_v4().simple().to_string())
                })
                .collect();
            let bodies: Vec<Bytes> = writers.iter().map(|w| w.1.clone()).collect();
            let answers = mode::run_bounded(
                writers,
                RACE_WRITERS as usize,
                |(_, body, tag): (u32, Bytes, String)| {
                    let conditions = Conditions::if_match(expected.clone());
                    async move {
                        let req = S3Request::put_object(key, body)?
                            .with_conditions(conditions)
                            .with_write_tag(tag)
                            .for_probe()
                            .once();
                        client.execute(&req).await.map(|_| ())
                    }
                },
            )
            .await;
            self.requests += RACE_WRITERS;
            // Winners (200), losers answered 500, and writers whose answer
            // was lost (a timeout, a reset): those may or may not have landed.
            let mut winners = Vec::new();
            let mut server_errors = Vec::new();
            let mut unclear = Vec::new();
            for (i, answer) in answers.into_iter().enumerate() {
                match answer {
                    Ok(()) => winners.push(i),
                    Err(Error::PreconditionFailed(_) | Error::Conflict(_)) => {}
                    Err(e) if e.context().and_then(|c| c.status) == Some(500) => {
                        server_errors.push(i);
                    }
                    Err(e) if e.is_retryable() => unclear.push(i),
                    Err(e) => return Err(e),
                }
            }
            self.requests += 1;
            let (head, body) = self
                .client
                .execute(&S3Request::get_object(key, None)?.for_probe())
                .await?;
            let stayed = bodies.iter().position(|b| b.as_ref() == &body[..]);
            outcome.rounds += 1;
            if race_round_is_exclusive(&winners, &unclear, stayed) {
                // The writes answered 500 did not land.
                outcome.server_errors += u32::try_from(server_errors.len()).unwrap_or(u32::MAX);
            } else {
                outcome.violations += 1;
            }
            match head.etag {
                Some(e) => current = e,
                None => break,
            }
        }
        Ok(outcome)
    }

    /// `If-Match` with a wrong ETag on DELETE.
    async fn conditional_delete(&mut self, key: &str) -> Result<()> {
        let wrong = self.caps.if_match_value(WRONG_ETAG);
        let req = S3Request::delete_object(key)?.with_conditions(Conditions::if_match(wrong));
        self.requests += 1;
        self.caps.conditional_delete = match self.client.execute(&req.for_probe()).await {
            Ok(_) => Support::Ignored,
            Err(Error::PreconditionFailed(_)) => Support::Honoured,
            Err(e) if e.is_retryable() => return Err(e),
            Err(_) => Support::Rejected,
        };
        Ok(())
    }

    /// One `CompleteMultipartUpload` of `upload` with `conditions`.
    async fn complete(
        &mut self,
        key: &str,
        upload: &str,
        part: &str,
        conditions: Conditions,
    ) -> Result<Outcome> {
        let req = S3Request::complete_multipart_upload(key, upload, &[part])?
            .with_conditions(conditions)
            .for_probe();
        self.requests += 1;
        match self.client.execute(&req).await {
            Ok((head, body)) => match crate::s3::responses::check_embedded_error(
                &body,
                &crate::error::ErrorContext::new(req.action(), self.client.bucket(), Some(key)),
            ) {
                Ok(()) => Ok(Outcome::Landed(head.etag)),
                Err(Error::PreconditionFailed(_)) => Ok(Outcome::Refused),
                Err(e) => Ok(Outcome::Rejected(e)),
            },
            Err(Error::PreconditionFailed(_) | Error::Conflict(_)) => Ok(Outcome::Refused),
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => Ok(Outcome::Rejected(e)),
        }
    }

    /// A new multipart upload of `key` with one small part: its id and
    /// the part's ETag.
    async fn upload(&mut self, key: &str) -> Result<(String, String)> {
        self.requests += 2;
        let create = S3Request::create_multipart_upload(key)?.for_probe();
        let (_, body) = self.client.execute(&create).await?;
        let ctx = crate::error::ErrorContext::new(create.action(), self.client.bucket(), Some(key));
        let upload = crate::s3::responses::parse_upload_id(&body, &ctx)?;
        let part = S3Request::upload_part(key, &upload, 1, Bytes::from_static(b"part"))?
            .with_body_checksum(BodyChecksum::Md5);
        match self.client.execute(&part.for_probe()).await {
            Ok((head, _)) => Ok((upload, head.etag.unwrap_or_default())),
            Err(e) => {
                self.abort(key, &upload).await;
                Err(e)
            }
        }
    }

    async fn abort(&mut self, key: &str, upload: &str) {
        self.requests += 1;
        if let Ok(req) = S3Request::abort_multipart_upload(key, upload) {
            let _ = self.client.execute(&req.for_probe()).await;
        }
    }

    /// Conditions on `CompleteMultipartUpload` over an existing object
    /// (each on an upload of its own where one was completed regardless),
    /// and the ETag of the multipart object.
    async fn multipart(&mut self, key: &str) -> Result<()> {
        let base = self.put(key, b"base", Conditions::NONE).await?;
        if !matches!(base, Outcome::Landed(_)) {
            return Ok(());
        }
        let wrong = self.caps.if_match_value(WRONG_ETAG);
        let mut open: Option<(String, String)> = None;
        let mut landed: Option<Option<String>> = None;
        for if_match in [false, true] {
            let (upload, part) = match open.take() {
                Some(u) => u,
                None => self.upload(key).await?,
            };
            let conditions = if if_match {
                Conditions::if_match(wrong.clone())
            } else {
                Conditions::if_absent()
            };
            let outcome = self.complete(key, &upload, &part, conditions).await;
            let outcome = match outcome {
                Ok(o) => o,
                Err(e) => {
                    self.abort(key, &upload).await;
                    return Err(e);
                }
            };
            let support = outcome.support_if_refused();
            if if_match {
                self.caps.complete_if_match = support;
            } else {
                self.caps.complete_if_none_match = support;
            }
            match outcome {
                Outcome::Landed(e) => landed = Some(e),
                _ => open = Some((upload, part)),
            }
        }
        if let Some((upload, part)) = open {
            match self.complete(key, &upload, &part, Conditions::NONE).await {
                Ok(Outcome::Landed(e)) => landed = Some(e),
                Ok(_) => self.abort(key, &upload).await,
                Err(e) => {
                    self.abort(key, &upload).await;
                    return Err(e);
                }
            }
        }
        let etag = match landed {
            Some(Some(e)) => Some(e),
            Some(None) => self.etag_of(key).await?,
            None => return Ok(()),
        };
        self.caps.multipart_etag_is_md5_of_parts =
            Some(etag.is_some_and(|e| is_multipart_etag(&e, 1)));
        Ok(())
    }

    /// A checksum header with a right, then a wrong value, without
    /// `Content-MD5` (as the client sends it).
    async fn checksum(&mut self, key: &str, name: &'static str, right: String) -> Result<Support> {
        let body = Bytes::from_static(b"checksum");
        let req = S3Request::put_object(key, body.clone())?
            .with_content_md5(None)
            .with_checksum_header(name, right);
        match self.write(key, req).await? {
            Outcome::Landed(_) => {}
            Outcome::Refused | Outcome::Rejected(_) => return Ok(Support::Rejected),
        }
        let wrong = b64(&vec![0u8; if name.ends_with("crc32c") { 4 } else { 8 }]);
        let req = S3Request::put_object(key, body)?
            .with_content_md5(None)
            .with_checksum_header(name, wrong);
        Ok(match self.write_wrong_checksum(key, req).await? {
            Outcome::Landed(_) => Support::Ignored,
            Outcome::Refused | Outcome::Rejected(_) => Support::Honoured,
        })
    }

    async fn checksums(&mut self, key: &str) -> Result<()> {
        let body: &[u8] = b"checksum";
        let wrong_md5 = crate::s3::request::content_md5(b"something else");
        let req = S3Request::put_object(key, Bytes::from_static(b"checksum"))?
            .with_content_md5(Some(wrong_md5));
        self.caps.content_md5 = match self.write_wrong_checksum(key, req).await? {
            Outcome::Landed(_) => Support::Ignored,
            Outcome::Refused | Outcome::Rejected(_) => Support::Honoured,
        };
        self.caps.checksum_crc32c = self
            .checksum(key, CRC32C_HEADER, crc32c_base64(body))
            .await?;
        self.caps.checksum_crc64nvme = self
            .checksum(key, CRC64NVME_HEADER, crc64nvme_base64(body))
            .await?;
        Ok(())
    }

    /// The flexible checksum `PutObject` is checked with, on `UploadPart`
    /// ([`Capabilities::part_checksum`]): an upload that declares it, a
    /// part with a wrong one (refused?), the part with the right one and a
    /// `CompleteMultipartUpload` that lists it (accepted?).
    async fn part_checksum(&mut self, key: &str) -> Result<()> {
        let checksum = if self.caps.checksum_crc32c.is_honoured() {
            BodyChecksum::Crc32c
        } else if self.caps.checksum_crc64nvme.is_honoured() {
            BodyChecksum::Crc64nvme
        } else {
            return Ok(());
        };
        self.requests += 1;
        let create = S3Request::create_multipart_upload(key)?
            .declaring_part_checksum(checksum)
            .for_probe();
        let upload = match self.client.execute(&create).await {
            Ok((_, body)) => {
                let ctx = ErrorContext::new(create.action(), self.client.bucket(), Some(key));
                crate::s3::responses::parse_upload_id(&body, &ctx)?
            }
            Err(e) if e.is_retryable() => return Err(e),
            Err(e @ (Error::AccessDenied(_) | Error::NoSuchBucket(_))) => return Err(e),
            Err(_) => {
                self.caps.part_checksum = Support::Rejected;
                return Ok(());
            }
        };
        match self.checked_parts(key, &upload, checksum).await {
            Ok(Some(support)) => {
                self.caps.part_checksum = support;
                Ok(())
            }
            Ok(None) => {
                self.caps.part_checksum = Support::Honoured;
                Ok(())
            }
            Err(e) => {
                self.abort(key, &upload).await;
                Err(e)
            }
        }
    }

    /// The parts of [`Probe::part_checksum`] in `upload`: `None` when a
    /// wrong checksum was refused and the right one completed the upload,
    /// else what the provider does (the upload aborted).
    async fn checked_parts(
        &mut self,
        key: &str,
        upload: &str,
        checksum: BodyChecksum,
    ) -> Result<Option<Support>> {
        let body = Bytes::from_static(b"part");
        let (header, wrong) = match checksum {
            BodyChecksum::Crc32c => (CRC32C_HEADER, b64(&[0; 4])),
            _ => (CRC64NVME_HEADER, b64(&[0; 8])),
        };
        self.requests += 1;
        let req = S3Request::upload_part(key, upload, 1, body.clone())?
            .with_content_md5(None)
            .with_checksum_header(header, wrong)
            .for_probe()
            .once();
        match self.client.execute(&req).await {
            Ok(_) => {
                self.abort(key, upload).await;
                return Ok(Some(Support::Ignored));
            }
            // Refused, as it should be (a checksum mismatch counts as
            // retryable, as corruption in flight would be).
            Err(Error::ChecksumMismatch(_)) => {}
            Err(e) if e.is_retryable() => return Err(e),
            Err(_) => {}
        }
        self.requests += 1;
        let req = S3Request::upload_part(key, upload, 1, body)?
            .with_body_checksum(checksum)
            .for_probe();
        let etag = match self.client.execute(&req).await {
            Ok((head, _)) => head.etag.unwrap_or_default(),
            Err(e) if e.is_retryable() && !matches!(e, Error::ChecksumMismatch(_)) => {
                return Err(e);
            }
            Err(_) => {
                self.abort(key, upload).await;
                return Ok(Some(Support::Rejected));
            }
        };
        let part = CompletedPart {
            checksum: checksum
                .xml_element()
                .zip(req.flexible_checksum())
                .map(|(element, value)| (element, value.to_owned())),
            etag,
        };
        self.requests += 1;
        self.written.insert(key.to_owned());
        let req = S3Request::complete_parts(key, upload, &[part])?.for_probe();
        let ctx = ErrorContext::new(req.action(), self.client.bucket(), Some(key));
        let completed = match self.client.execute(&req).await {
            Ok((_, body)) => crate::s3::responses::check_embedded_error(&body, &ctx),
            Err(e) => Err(e),
        };
        match completed {
            Ok(()) => Ok(None),
            Err(e) if e.is_retryable() && !matches!(e, Error::ChecksumMismatch(_)) => Err(e),
            Err(_) => {
                self.abort(key, upload).await;
                Ok(Some(Support::Rejected))
            }
        }
    }

    /// A key with a space, `+`, `%` and non-ASCII, listed back.
    async fn listing(&mut self) -> Result<()> {
        let key = self.key("list/a b+c%25d é~");
        let listed = self.put(&key, b"list", Conditions::NONE).await?;
        if !matches!(listed, Outcome::Landed(_)) {
            return Ok(());
        }
        self.requests += 1;
        let prefix = self.key("list/");
        let page = self.client.list_page(Some(&prefix), None, None).await?;
        self.caps.listing_keys_exact = Some(page.objects.iter().any(|o| o.key == key));
        Ok(())
    }

    async fn steps(&mut self) -> Result<()> {
        let a = self.key("conditional-write-probe");
        let current = self.conditional_puts(&a).await?;
        if let Some(current) = current
            && self.caps.if_match.is_some()
            && self.caps.if_match_put.is_honoured()
        {
            let race = self.race(&a, current, RACE_ROUNDS).await?;
            self.caps.race = Some(race);
        }
        self.conditional_delete(&a).await?;
        self.multipart(&self.key("multipart")).await?;
        self.checksums(&self.key("checksum")).await?;
        self.part_checksum(&self.key("part-checksum")).await?;
        self.requests += 1;
        let status = self
            .client
            .send_with_forged_signature(&S3Request::head_bucket())
            .await?;
        self.caps.signatures_checked = match status {
            Some(403) => Some(true),
            Some(200..=299) => Some(false),
            _ => None,
        };
        self.listing().await
    }
}

/// Whether one round of the race went as atomic conditional writes must:
/// at most one writer landed, and it is the one told so (`winners`: told
/// 200; `unclear`: no answer, may have landed; `stayed`: whose bytes the
/// object holds afterwards, `None` for none of this round's).
fn race_round_is_exclusive(winners: &[usize], unclear: &[usize], stayed: Option<usize>) -> bool {
    match (winners, stayed) {
        ([w], Some(s)) => s == *w,
        // A winner whose bytes are gone: another write landed over it.
        ([_], None) => false,
        // Nobody was told: at most a writer whose answer was lost landed.
        ([], Some(s)) => unclear.contains(&s),
        ([], None) => true,
        _ => false,
    }
}

/// Runs the probe on `client`'s bucket.
///
/// # Errors
/// Failures that say nothing about the provider's conditions: access
/// denied, a missing bucket, transient failures beyond the retry policy.
#[io(AFIT)]
pub(crate) async fn run(client: &S3Client) -> Result<Capabilities> {
    let started = Instant::now();
    let mut probe = Probe {
        client,
        base: format!("{PROBE_PREFIX}{}/", Uuid::new_v4().simple()),
        requests: 0,
        written: BTreeSet::new(),
        caps: Capabilities::unknown(),
    };
    let result = probe.steps().await;
    let written: Vec<String> = std::mem::take(&mut probe.written).into_iter().collect();
    probe.requests += 1;
    let cleanup = client.delete_objects(&written).await;
    result?;
    cleanup?;
    let mut caps = probe.caps;
    caps.probe_requests = probe.requests;
    caps.probe_millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(caps)
}

/// The probe's race alone, run again on a fresh object with up to
/// [`RACE_MAX_ROUNDS`] rounds, in the ETag form of `caps`: for a client
/// whose conditional write was answered 500 where the probe had seen no
/// lost race answered so (its two rounds may all have been serialized).
///
/// # Errors
/// As [`run`].
#[io(AFIT)]
pub(crate) async fn race_again(client: &S3Client, caps: &Capabilities) -> Result<RaceOutcome> {
    let mut probe = Probe {
        client,
        base: format!("{PROBE_PREFIX}{}/", Uuid::new_v4().simple()),
        requests: 0,
        written: BTreeSet::new(),
        caps: caps.clone(),
    };
    let key = probe.key("race");
    let result = match probe.put(&key, b"race", Conditions::NONE).await {
        Ok(Outcome::Landed(Some(etag))) => probe.race(&key, etag, RACE_MAX_ROUNDS).await,
        Ok(_) => Ok(RaceOutcome {
            writers: RACE_WRITERS,
            rounds: 0,
            violations: 0,
            server_errors: 0,
        }),
        Err(e) => Err(e),
    };
    let written: Vec<String> = std::mem::take(&mut probe.written).into_iter().collect();
    let cleanup = client.delete_objects(&written).await;
    let outcome = result?;
    cleanup?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::race_round_is_exclusive as exclusive;

    #[test]
    fn race_rounds() {
        assert!(exclusive(&[2], &[], Some(2)));
        assert!(!exclusive(&[2], &[], Some(1)), "a loser's bytes stayed");
        assert!(!exclusive(&[1, 2], &[], Some(2)), "two winners");
        assert!(!exclusive(&[2], &[], None));
        assert!(exclusive(&[], &[3], Some(3)), "a lost answer that landed");
        assert!(
            !exclusive(&[], &[3], Some(1)),
            "a refused or 500 write landed"
        );
        assert!(exclusive(&[], &[0, 1], None), "nothing landed");
    }
}
