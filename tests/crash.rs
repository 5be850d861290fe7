//! Crash tests: a writer process killed with SIGKILL in the middle of its
//! work leaves the previous value or the new one (never a mix) readable,
//! and no multipart upload behind once the leftovers are cleaned up.
//!
//! The writer is this test binary run again as a child, with
//! `KONSERVE_S3_CRASH_ROLE` telling [`child_process_role`] what to do (the
//! test does nothing without it); the child reaches the parent's S3 server
//! through the store configuration in `KONSERVE_S3_CONFIG`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{bucket_name, server};
use konserve_s3::blocking::{
    S3Backing, S3Client, S3Store, Store, cleanup_incomplete_uploads, connect_store, create_store,
};
use konserve_s3::config::S3Config;
use konserve_s3::value::Value;
use uuid::Uuid;

const ROLE: &str = "KONSERVE_S3_CRASH_ROLE";
const CONFIG: &str = "KONSERVE_S3_CONFIG";
/// The smallest part S3 accepts.
const PART: usize = 5 << 20;
/// Items in each value of the update loop.
const ITEMS: usize = 1000;
/// Longest wait for a child's progress line.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(120);

fn k(name: &str) -> Value {
    Value::keyword(name)
}

fn config_json(bucket: &str, id: Uuid) -> String {
    let s = server();
    serde_json::json!({
        "bucket": bucket,
        "id": id.to_string(),
        "region": s.region,
        "endpoint": s.endpoint,
        "access-key": s.access_key,
        "secret": s.secret_key,
        "config": { "optimistic-locking-retries": 100 }
    })
    .to_string()
}

fn handle(config: &S3Config) -> S3Store {
    let client = S3Client::new(config).unwrap();
    let backing = S3Backing::new(client, config.id.unwrap()).with_part_size(PART);
    Store::with_options(backing, config.store.clone())
}

/// The value the update loop writes at step `n`: `n`, `ITEMS` times.
fn step(n: i64) -> Value {
    Value::vector(vec![Value::from(n); ITEMS])
}

/// The update loop's function: the next step after the stored one.
fn next_step(old: Option<Value>) -> Value {
    let n = old
        .as_ref()
        .and_then(Value::as_seq)
        .and_then(|s| s.first())
        .and_then(Value::as_i64)
        .unwrap_or(0);
    step(n + 1)
}

/// Tells the parent that the step `new` is acknowledged.
fn acked(new: &Value) {
    let n = new.as_seq().unwrap()[0].as_i64().unwrap();
    println!("acked {n}");
    std::io::stdout().flush().unwrap();
}

/// A reader of `total` patterned bytes that says on stdout when it has
/// produced more than two parts (so the upload exists and its first parts
/// are sent) and from then on is slow, so that the kill lands mid-upload.
struct SlowReader {
    produced: usize,
    total: usize,
    announced: bool,
}

impl Read for SlowReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(64 << 10).min(self.total - self.produced);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = ((self.produced + i) % 251) as u8;
        }
        self.produced += n;
        if self.produced > 2 * PART {
            if !self.announced {
                self.announced = true;
                println!("uploading");
                std::io::stdout().flush()?;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(n)
    }
}

/// What a child process does; nothing when run as an ordinary test.
#[test]
fn child_process_role() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let config = S3Config::from_json(&std::env::var(CONFIG).unwrap()).unwrap();
    let store = handle(&config);
    match role.as_str() {
        "update-loop" => loop {
            let (_, new) = store.update_in(&[k("state")], next_step).unwrap();
            acked(&new);
        },
        #[cfg(feature = "async")]
        "update-loop-async" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use konserve_s3::nonblocking as nb;
                let client = nb::S3Client::new(&config).unwrap();
                let backing = nb::S3Backing::new(client, config.id.unwrap());
                let store = nb::Store::with_options(backing, config.store.clone());
                loop {
                    let (_, new) = store.update_in(&[k("state")], next_step).await.unwrap();
                    acked(&new);
                }
            });
        }
        "bassoc-reader" => {
            let mut reader = SlowReader {
                produced: 0,
                total: 4 * PART,
                announced: false,
            };
            store.bassoc_reader(k("big"), &mut reader).unwrap();
            println!("upload complete");
        }
        other => panic!("unknown role {other}"),
    }
}

/// A child process, killed when dropped (so a failing test leaves none).
struct Worker {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Worker {
    fn start(role: &str, config_json: &str) -> Worker {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "child_process_role",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, role)
            .env(CONFIG, config_json)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Worker { child, lines }
    }

    /// The rest of the next line the child prints that holds `prefix`,
    /// from `prefix` on (libtest's own text may precede it on its line).
    fn next_line(&self, prefix: &str) -> String {
        let mut other = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(PROGRESS_DEADLINE)
                .unwrap_or_else(|e| panic!("no {prefix:?} line from the child ({e}): {other:?}"));
            if let Some(at) = line.find(prefix) {
                return line[at..].to_owned();
            }
            other.push(line);
        }
    }

    /// SIGKILL, then reap; returns the lines the child printed that were
    /// not read yet.
    fn kill(mut self) -> Vec<String> {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "the child was killed, not finished");
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(PROGRESS_DEADLINE) {
            rest.push(line);
        }
        rest
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The multipart uploads in progress in the bucket of `config`, as
/// (key, upload id), through a presigned `ListMultipartUploads` (the
/// library has no call for it yet).
fn multipart_uploads(config: &S3Config) -> Vec<(String, String)> {
    let s = server();
    let url = url::Url::parse(&format!("{}/{}/", s.endpoint, config.bucket)).unwrap();
    let signed = rusty_s3::signing::sign(
        &jiff::Timestamp::now(),
        rusty_s3::Method::Get,
        url,
        &s.access_key,
        &s.secret_key,
        None,
        &s.region,
        300,
        std::iter::once(("uploads", "")),
        std::iter::empty(),
    );
    let mut answer = ureq::get(signed.as_str()).call().unwrap();
    let body = answer.body_mut().read_to_string().unwrap();
    let tag = |within: &str, name: &str| {
        let open = format!("<{name}>");
        let start = within.find(&open)? + open.len();
        let end = within[start..].find(&format!("</{name}>"))? + start;
        Some(within[start..end].to_owned())
    };
    body.split("<Upload>")
        .skip(1)
        .filter_map(|u| Some((tag(u, "Key")?, tag(u, "UploadId")?)))
        .collect()
}

/// Cleans up after a killed writer and checks no upload is left.
///
/// Pending the library's `cleanup_incomplete_uploads` (another change),
/// this aborts what `ListMultipartUploads` shows; once that call exists,
/// call it here instead and keep the final assertion.
fn cleanup_and_check_no_upload_left(config: &S3Config) -> usize {
    let left = multipart_uploads(config);
    let aborted = cleanup_incomplete_uploads(config, Duration::ZERO).unwrap();
    assert_eq!(aborted, left.len(), "cleanup aborts every upload it found");
    let after = multipart_uploads(config);
    assert!(after.is_empty(), "multipart uploads left: {after:?}");
    left.len()
}

fn new_store() -> (S3Config, String) {
    let json = config_json(&bucket_name("crash"), Uuid::new_v4());
    let config = S3Config::from_json(&json).unwrap();
    create_store(&config).unwrap();
    (config, json)
}

#[test]
fn killed_update_loop_leaves_the_old_or_the_new_value_whole() {
    killed_update_loop("update-loop");
}

#[cfg(feature = "async")]
#[test]
fn killed_async_update_loop_leaves_the_old_or_the_new_value_whole() {
    killed_update_loop("update-loop-async");
}

fn killed_update_loop(role: &str) {
    let (config, json) = new_store();
    let worker = Worker::start(role, &json);
    let mut last = 0;
    for _ in 0..15 {
        let line = worker.next_line("acked ");
        last = line["acked ".len()..].parse::<i64>().unwrap();
    }
    // Somewhere in the next update's read or write.
    std::thread::sleep(Duration::from_millis(fastrand::u64(..40)));
    for line in worker.kill() {
        if let Some(at) = line.find("acked ") {
            last = line[at + "acked ".len()..].parse::<i64>().unwrap();
        }
    }
    let store = connect_store(&config).unwrap();
    let got = store.get(k("state")).unwrap().expect("a value");
    let items = got.as_seq().expect("a vector");
    let n = items[0].as_i64().unwrap();
    assert_eq!(items.len(), ITEMS, "a whole value");
    assert!(
        items.iter().all(|i| i.as_i64() == Some(n)),
        "one step's value, not a mix"
    );
    assert!(
        n == last || n == last + 1,
        "the last acknowledged step {last} or the one in flight, read {n}"
    );
    eprintln!("crash [{role}]: killed after step {last} was acknowledged; read step {n}");
    let left = cleanup_and_check_no_upload_left(&config);
    assert_eq!(left, 0, "the update loop uses no multipart upload");
}

#[test]
fn killed_multipart_bassoc_reader_leaves_the_old_value_and_no_upload() {
    let (config, json) = new_store();
    let old = b"the old value".to_vec();
    connect_store(&config)
        .unwrap()
        .bassoc(k("big"), old.clone())
        .unwrap();
    let worker = Worker::start("bassoc-reader", &json);
    worker.next_line("uploading");
    std::thread::sleep(Duration::from_millis(300));
    let rest = worker.kill();
    assert!(
        !rest.iter().any(|l| l.contains("upload complete")),
        "the upload finished before the kill: {rest:?}"
    );
    let store = connect_store(&config).unwrap();
    let mut value = store.bget(k("big")).unwrap().expect("a value");
    let mut bytes = Vec::new();
    value.reader.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, old, "the old value, whole");
    let left = cleanup_and_check_no_upload_left(&config);
    eprintln!(
        "crash [bassoc_reader]: killed mid-upload; old value intact; {left} upload(s) left, aborted"
    );
    assert!(
        left >= 1,
        "the killed upload was seen by ListMultipartUploads"
    );
}
