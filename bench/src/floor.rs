//! The floor: the same HTTP requests as the store sends, as bare presigned
//! requests (rusty-s3 presigning, ureq or reqwest sending), with no store
//! logic: no encoding, no body checksum, no retries, no statistics.

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use rusty_s3::actions::{CompleteMultipartUpload, CreateMultipartUpload, ListObjectsV2};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::measure::{BoxError, Res};

const EXPIRY: Duration = Duration::from_secs(900);
/// Pooled connections per host, as the store's default
/// (`http.max-idle-connections-per-host`).
const IDLE_PER_HOST: usize = 64;
/// Buffer for draining streamed bodies.
pub const SINK_BUF: usize = 256 << 10;

/// Where and how to sign.
#[derive(Clone, Debug)]
pub struct Target {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    pub bucket: String,
}

impl Target {
    /// Hands this target to a child process of the benchmark (read back
    /// there with [`Target::from_env`]).
    pub fn to_child(&self, cmd: &mut std::process::Command) {
        cmd.env("KSB_ENDPOINT", &self.endpoint)
            .env("KSB_ACCESS_KEY", &self.access_key)
            .env("KSB_SECRET_KEY", &self.secret_key)
            .env("KSB_REGION", &self.region)
            .env("KSB_BUCKET", &self.bucket);
    }

    /// The target a parent gave this child process ([`Target::to_child`]).
    pub fn from_env() -> Res<Self> {
        let var = |n: &str| std::env::var(n).map_err(|_| format!("{n} not set"));
        Ok(Target {
            endpoint: var("KSB_ENDPOINT")?,
            access_key: var("KSB_ACCESS_KEY")?,
            secret_key: var("KSB_SECRET_KEY")?,
            region: var("KSB_REGION")?,
            bucket: var("KSB_BUCKET")?,
        })
    }

    fn bucket(&self) -> Res<(Bucket, Credentials)> {
        let bucket = Bucket::new(
            self.endpoint.parse()?,
            UrlStyle::Path,
            self.bucket.clone(),
            self.region.clone(),
        )?;
        Ok((
            bucket,
            Credentials::new(self.access_key.clone(), self.secret_key.clone()),
        ))
    }
}

/// Bare presigned requests with ureq (blocking).
pub struct Floor {
    bucket: Bucket,
    creds: Credentials,
    agent: ureq::Agent,
}

impl Floor {
    pub fn new(target: &Target) -> Res<Self> {
        let (bucket, creds) = target.bucket()?;
        let agent = ureq::Agent::config_builder()
            .no_delay(true)
            .max_redirects(0)
            .max_idle_connections(IDLE_PER_HOST * 2)
            .max_idle_connections_per_host(IDLE_PER_HOST)
            .build()
            .new_agent();
        Ok(Floor {
            bucket,
            creds,
            agent,
        })
    }

    fn c(&self) -> Option<&Credentials> {
        Some(&self.creds)
    }

    /// `GET`, whole body read into memory.
    pub fn get(&self, key: &str) -> Res<Vec<u8>> {
        again(|| {
            let url = self.bucket.get_object(self.c(), key).sign(EXPIRY);
            let mut resp = self.agent.get(url.as_str()).call()?;
            Ok(resp
                .body_mut()
                .with_config()
                .limit(u64::MAX)
                .read_to_vec()?)
        })
    }

    /// Ranged `GET` of the first `len` bytes.
    pub fn get_prefix(&self, key: &str, len: u64) -> Res<Vec<u8>> {
        let url = self.bucket.get_object(self.c(), key).sign(EXPIRY);
        let mut resp = self
            .agent
            .get(url.as_str())
            .header("range", format!("bytes=0-{}", len - 1))
            .call()?;
        Ok(resp
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()?)
    }

    /// `GET`, body streamed into a sink; returns the bytes read.
    pub fn get_to_sink(&self, key: &str) -> Res<u64> {
        let url = self.bucket.get_object(self.c(), key).sign(EXPIRY);
        let resp = self.agent.get(url.as_str()).call()?;
        let mut reader = resp.into_body().into_with_config().limit(u64::MAX).reader();
        drain(&mut reader)
    }

    /// `PUT` of `body`.
    pub fn put(&self, key: &str, body: &[u8]) -> Res<()> {
        again(|| {
            let url = self.bucket.put_object(self.c(), key).sign(EXPIRY);
            let mut resp = self.agent.put(url.as_str()).send(body)?;
            resp.body_mut().read_to_vec()?;
            Ok(())
        })
    }

    /// `HEAD`; whether it exists.
    pub fn head(&self, key: &str) -> Res<bool> {
        again(|| {
            let url = self.bucket.head_object(self.c(), key).sign(EXPIRY);
            match self.agent.head(url.as_str()).call() {
                Ok(_) => Ok(true),
                Err(ureq::Error::StatusCode(404)) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
    }

    /// `DELETE`.
    pub fn delete(&self, key: &str) -> Res<()> {
        again(|| {
            let url = self.bucket.delete_object(self.c(), key).sign(EXPIRY);
            let mut resp = self.agent.delete(url.as_str()).call()?;
            resp.body_mut().read_to_vec()?;
            Ok(())
        })
    }

    /// Every key under `prefix` (`ListObjectsV2`, following continuation).
    pub fn list(&self, prefix: &str) -> Res<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = ListObjectsV2::new(&self.bucket, self.c());
            action.with_prefix(prefix);
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let url = action.sign(EXPIRY);
            let mut resp = self.agent.get(url.as_str()).call()?;
            let body = resp
                .body_mut()
                .with_config()
                .limit(u64::MAX)
                .read_to_string()?;
            let page = ListObjectsV2::parse_response(&body)?;
            keys.extend(page.contents.into_iter().map(|c| c.key));
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => return Ok(keys),
            }
        }
    }

    /// A multipart upload of everything `reader` yields, in parts of
    /// `part_size`, one part at a time. Returns the bytes uploaded.
    pub fn put_multipart(&self, key: &str, reader: &mut dyn Read, part_size: usize) -> Res<u64> {
        let url = self
            .bucket
            .create_multipart_upload(self.c(), key)
            .sign(EXPIRY);
        let mut resp = self.agent.post(url.as_str()).send_empty()?;
        let body = resp.body_mut().read_to_string()?;
        let created = CreateMultipartUpload::parse_response(&body)?;
        let upload_id = created.upload_id();
        let mut etags = Vec::new();
        let mut buf = vec![0u8; part_size];
        let mut total = 0u64;
        loop {
            let n = fill(reader, &mut buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            let number = u16::try_from(etags.len() + 1)?;
            let url = self
                .bucket
                .upload_part(self.c(), key, number, upload_id)
                .sign(EXPIRY);
            let mut resp = self.agent.put(url.as_str()).send(&buf[..n])?;
            let etag = resp
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .ok_or("UploadPart answer has no ETag")?
                .to_owned();
            resp.body_mut().read_to_vec()?;
            etags.push(etag);
            if n < part_size {
                break;
            }
        }
        let complete = CompleteMultipartUpload::new(
            &self.bucket,
            self.c(),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = complete.sign(EXPIRY);
        let xml = complete.body();
        let mut resp = self.agent.post(url.as_str()).send(xml.as_bytes())?;
        let answer = resp.body_mut().read_to_string()?;
        if answer.contains("<Error>") {
            return Err(format!("CompleteMultipartUpload failed: {answer}").into());
        }
        Ok(total)
    }
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn fill(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Reads `reader` to its end into a reused buffer; returns the bytes read.
pub fn drain(reader: &mut dyn Read) -> Res<u64> {
    let mut buf = vec![0u8; SINK_BUF];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buf)? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

/// Reads an async `reader` to its end into a reused buffer; returns the
/// bytes read.
pub async fn drain_async(reader: &mut (dyn tokio::io::AsyncRead + Send + Unpin)) -> Res<u64> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; SINK_BUF];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buf).await? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

/// Bare presigned requests with reqwest (async).
pub struct FloorAsync {
    bucket: Bucket,
    creds: Credentials,
    client: reqwest::Client,
}

impl FloorAsync {
    pub fn new(target: &Target) -> Res<Self> {
        let (bucket, creds) = target.bucket()?;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(IDLE_PER_HOST)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(FloorAsync {
            bucket,
            creds,
            client,
        })
    }

    fn c(&self) -> Option<&Credentials> {
        Some(&self.creds)
    }

    pub async fn get(&self, key: &str) -> Res<Bytes> {
        again_async(|| async {
            let url = self.bucket.get_object(self.c(), key).sign(EXPIRY);
            let resp = self.client.get(url).send().await?.error_for_status()?;
            Ok(resp.bytes().await?)
        })
        .await
    }

    pub async fn get_prefix(&self, key: &str, len: u64) -> Res<Bytes> {
        let url = self.bucket.get_object(self.c(), key).sign(EXPIRY);
        let resp = self
            .client
            .get(url)
            .header("range", format!("bytes=0-{}", len - 1))
            .send()
            .await?
            .error_for_status()?;
        Ok(resp.bytes().await?)
    }

    pub async fn get_to_sink(&self, key: &str) -> Res<u64> {
        let url = self.bucket.get_object(self.c(), key).sign(EXPIRY);
        let resp = self.client.get(url).send().await?.error_for_status()?;
        let mut stream = resp.bytes_stream();
        let mut total = 0u64;
        // Copied once into a sink buffer, as every other client's bytes are
        // (the ureq floor and `bget` hand out readers, which copy into the
        // caller's buffer).
        let mut sink = vec![0u8; SINK_BUF];
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            for piece in chunk.chunks(SINK_BUF) {
                sink[..piece.len()].copy_from_slice(piece);
            }
            std::hint::black_box(&sink);
            total += chunk.len() as u64;
        }
        Ok(total)
    }

    pub async fn put(&self, key: &str, body: Bytes) -> Res<()> {
        again_async(|| async {
            let url = self.bucket.put_object(self.c(), key).sign(EXPIRY);
            let resp = self
                .client
                .put(url)
                .body(body.clone())
                .send()
                .await?
                .error_for_status()?;
            resp.bytes().await?;
            Ok(())
        })
        .await
    }

    pub async fn head(&self, key: &str) -> Res<bool> {
        again_async(|| async {
            let url = self.bucket.head_object(self.c(), key).sign(EXPIRY);
            let resp = self.client.head(url).send().await?;
            match resp.status().as_u16() {
                404 => Ok(false),
                _ => {
                    resp.error_for_status()?;
                    Ok(true)
                }
            }
        })
        .await
    }

    pub async fn delete(&self, key: &str) -> Res<()> {
        again_async(|| async {
            let url = self.bucket.delete_object(self.c(), key).sign(EXPIRY);
            let resp = self.client.delete(url).send().await?.error_for_status()?;
            resp.bytes().await?;
            Ok(())
        })
        .await
    }
}

/// Tries of a floor request the server answers 5xx: SeaweedFS, on the
/// benchmark's two cores, now and then answers 500 under load, and one such
/// answer cost a whole run (the store retries them too: its `retries`
/// column). Repeats are counted in [`SERVER_ERROR_REPEATS`].
const SERVER_ERROR_TRIES: u32 = 4;

/// Floor requests repeated after a 5xx answer, over the run.
pub static SERVER_ERROR_REPEATS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

fn is_server_error(e: &BoxError) -> bool {
    e.downcast_ref::<ureq::Error>()
        .is_some_and(|e| matches!(e, ureq::Error::StatusCode(s) if *s >= 500))
        || e.downcast_ref::<reqwest::Error>()
            .and_then(reqwest::Error::status)
            .is_some_and(|s| s.is_server_error())
}

fn repeat_after(e: &BoxError, tries: u32) -> bool {
    let again = tries < SERVER_ERROR_TRIES && is_server_error(e);
    if again {
        SERVER_ERROR_REPEATS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    again
}

/// `f`, repeated after a 5xx answer (see [`SERVER_ERROR_TRIES`]).
fn again<T>(mut f: impl FnMut() -> Res<T>) -> Res<T> {
    let mut tries = 1;
    loop {
        match f() {
            Err(e) if repeat_after(&e, tries) => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            done => return done,
        }
    }
}

/// [`again`] for async requests.
async fn again_async<T, F, Fut>(mut f: F) -> Res<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Res<T>>,
{
    let mut tries = 1;
    loop {
        match f().await {
            Err(e) if repeat_after(&e, tries) => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            done => return done,
        }
    }
}
