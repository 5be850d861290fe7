//! A hostile (or broken) server: a tiny HTTP server on 127.0.0.1, run in
//! this test's threads, that echoes the signed request into its error
//! answers, declares more body than it sends, sends an endless body, sends
//! its head one byte a second, answers a first attempt late with a 503, or
//! says the clock is skewed. The client must keep every secret out of its
//! errors, stay bounded in time and memory, sign each attempt afresh, and
//! report the skew as a typed error.
//!
//! Each case runs in a thread joined with a deadline ([`WALL_LIMIT`]): a
//! case that does not finish fails the test.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use konserve_s3::Error;
use konserve_s3::blocking::{S3Backing, S3Client, S3Store, Store};
use konserve_s3::config::{Credentials, HttpOptions, RetryPolicy, S3Config};
use konserve_s3::value::Value;
use uuid::Uuid;

/// Gate for fix (4) (server text in errors redacted): until it is merged,
/// secrets the server echoes into its own `<Message>` and request id are
/// counted and printed rather than asserted absent. Secrets the client
/// itself puts into an error are asserted absent either way.
const STRICT_AFTER_REDACTION_FIX: bool = true;
/// The endless-body limit (`http.max-body-bytes`): the memory an endless
/// answer made the client hold is asserted, not only printed.
const STRICT_AFTER_BODY_LIMIT: bool = true;
/// The clock hint in the `RequestTimeTooSkewed` error is asserted; its
/// `Display` names the S3 code in any case.
const STRICT_CLOCK_HINT: bool = true;

const ACCESS_KEY: &str = "AKIAHOSTILETEST00001";
const SECRET: &str = "hostile-secret-key-0123456789abcdefghij";
const TOKEN: &str = "hostile-session-token-FQoGZXIvYXdzEJr";
/// Each case must finish within this (generous) time.
const WALL_LIMIT: Duration = Duration::from_secs(60);
/// The client's timeouts in these tests.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Most bytes the endless body sends before it stalls (a guard for the
/// machine should the client have no limit).
const ENDLESS_CAP: usize = 96 << 20;
/// The client's `http.max-body-bytes` here.
const MAX_BODY: u64 = 8 << 20;

/// What the server does with each request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    /// Echo the request target into the `<Message>` and `x-amz-request-id`
    /// of an S3 error with this status.
    Echo(u16),
    /// Declare 1000 body bytes, send 10, close.
    ShortBody,
    /// Declare a terabyte, send up to [`ENDLESS_CAP`], then stall.
    Endless,
    /// Send chunks without declaring a length, up to [`ENDLESS_CAP`], then
    /// stall.
    EndlessChunked,
    /// Send the head one byte a second.
    Slowloris,
    /// First request: wait 1.5 s, then 503 `SlowDown`; later ones: 200.
    SlowFirst503,
    /// 403 `RequestTimeTooSkewed`.
    Skewed,
}

struct Hostile {
    endpoint: String,
    /// The request heads seen, in order.
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn start(behaviour: Behaviour) -> Hostile {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (h, s) = (Arc::clone(&heads), Arc::clone(&stop));
    std::thread::spawn(move || {
        let served = Arc::new(AtomicUsize::new(0));
        while !s.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let (h, s, served) = (Arc::clone(&h), Arc::clone(&s), Arc::clone(&served));
                    std::thread::spawn(move || serve(stream, behaviour, &h, &s, &served));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    Hostile {
        endpoint,
        heads,
        stop,
    }
}

/// Serves the requests of one connection.
fn serve(
    mut stream: TcpStream,
    behaviour: Behaviour,
    heads: &Mutex<Vec<String>>,
    stop: &AtomicBool,
    served: &AtomicUsize,
) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..end + 4);
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buffer.len() < length {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..length);
        let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
        let is_head = head.starts_with("HEAD ");
        heads.lock().unwrap().push(head);
        let number = served.fetch_add(1, Ordering::SeqCst);
        let keep_open = match behaviour {
            Behaviour::Echo(status) => {
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
                    xml_escape(&target),
                    xml_escape(&target)
                );
                let headers =
                    format!("Content-Type: application/xml\r\nx-amz-request-id: {target}\r\n");
                let bytes = answer(&format!("{status} Error"), &headers, &body, is_head);
                stream.write_all(&bytes).is_ok()
            }
            Behaviour::EndlessChunked => {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                let mut block = b"10000\r\n".to_vec();
                block.extend(std::iter::repeat_n(b'x', 0x10000));
                block.extend_from_slice(b"\r\n");
                let mut sent = 0;
                while sent < ENDLESS_CAP && !stop.load(Ordering::SeqCst) {
                    if stream.write_all(&block).is_err() {
                        return;
                    }
                    sent += 0x10000;
                }
                let deadline = Instant::now() + WALL_LIMIT;
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    if let Ok(0) | Err(_) = stream.read(&mut chunk) {
                        return;
                    }
                }
                false
            }
            Behaviour::ShortBody => {
                let _ =
                    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
                false
            }
            Behaviour::Endless => {
                let _ =
                    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n");
                let block = vec![b'x'; 64 << 10];
                let mut sent = 0;
                while sent < ENDLESS_CAP && !stop.load(Ordering::SeqCst) {
                    if stream.write_all(&block).is_err() {
                        return;
                    }
                    sent += block.len();
                }
                // Stall until the client gives up (or the test ends).
                let deadline = Instant::now() + WALL_LIMIT;
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    if let Ok(0) | Err(_) = stream.read(&mut chunk) {
                        return;
                    }
                }
                false
            }
            Behaviour::Slowloris => {
                for b in b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" {
                    if stop.load(Ordering::SeqCst) || stream.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                false
            }
            Behaviour::SlowFirst503 if number == 0 => {
                std::thread::sleep(Duration::from_millis(1500));
                let body = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                let bytes = answer("503 Service Unavailable", "", body, is_head);
                stream.write_all(&bytes).is_ok()
            }
            Behaviour::SlowFirst503 => {
                let etag = "ETag: \"0123456789abcdef0123456789abcdef\"\r\n";
                stream
                    .write_all(&answer("200 OK", etag, "", is_head))
                    .is_ok()
            }
            Behaviour::Skewed => {
                let body = "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds></Error>";
                stream
                    .write_all(&answer("403 Forbidden", "", body, is_head))
                    .is_ok()
            }
        };
        if !keep_open {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// An answer with `status` (e.g. `503 Service Unavailable`), extra
/// `headers` (each ending in CRLF) and `body` (left out for HEAD, its
/// length declared either way).
fn answer(status: &str, headers: &str, body: &str, is_head: bool) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n{}",
        body.len(),
        if is_head { "" } else { body }
    )
    .into_bytes()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn config(endpoint: &str, attempts: u32) -> S3Config {
    let mut config = S3Config::builder()
        .bucket("hostile")
        .id(Uuid::new_v4())
        .endpoint(endpoint)
        .region("us-east-1")
        .credentials_full(Credentials::new(ACCESS_KEY, SECRET).with_session_token(TOKEN))
        .http(HttpOptions {
            connect_timeout: TIMEOUT,
            response_timeout: TIMEOUT,
            io_timeout: TIMEOUT,
            max_body_bytes: MAX_BODY,
            ..HttpOptions::default()
        })
        .retry(RetryPolicy {
            max_attempts: attempts,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            total_budget: Duration::from_secs(20),
        })
        .build()
        .unwrap();
    config.store.optimistic_locking_retries = 0;
    config
}

fn store(config: &S3Config) -> S3Store {
    let client = S3Client::new(config).unwrap();
    Store::with_options(
        S3Backing::new(client, config.id.unwrap()),
        config.store.clone(),
    )
}

/// The API a case runs through.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Blocking,
    #[cfg(feature = "async")]
    Async,
}

/// Every mode this build has.
const MODES: &[Mode] = &[
    Mode::Blocking,
    #[cfg(feature = "async")]
    Mode::Async,
];

#[cfg(feature = "async")]
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `Store::get` of a key, in `mode`.
fn get(mode: Mode, config: &S3Config) -> Result<Option<Value>, Error> {
    match mode {
        Mode::Blocking => store(config).get(Value::keyword("k")),
        #[cfg(feature = "async")]
        Mode::Async => runtime().block_on(async {
            use konserve_s3::nonblocking as nb;
            let client = nb::S3Client::new(config)?;
            let backing = nb::S3Backing::new(client, config.id.unwrap());
            let store = nb::Store::with_options(backing, config.store.clone());
            store.get(Value::keyword("k")).await
        }),
    }
}

/// `S3Client::head_object` of a key, in `mode`.
fn head(mode: Mode, config: &S3Config) -> Result<(), Error> {
    match mode {
        Mode::Blocking => S3Client::new(config)?.head_object("k").map(|_| ()),
        #[cfg(feature = "async")]
        Mode::Async => runtime().block_on(async {
            let client = konserve_s3::nonblocking::S3Client::new(config)?;
            client.head_object("k").await.map(|_| ())
        }),
    }
}

/// Runs `f` in a thread and fails if it does not finish within
/// [`WALL_LIMIT`]; returns its result and how long it took.
fn bounded<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
    let (send, receive) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = send.send(f());
    });
    match receive.recv_timeout(WALL_LIMIT) {
        Ok(value) => (value, started.elapsed()),
        Err(_) => panic!("{name}: did not finish within {WALL_LIMIT:?}"),
    }
}

/// A `get` through a store on a server behaving so, which must fail within
/// [`WALL_LIMIT`]: the server, the error and how long it took.
fn failed_get(mode: Mode, behaviour: Behaviour, attempts: u32) -> (Hostile, Error, Duration) {
    let server = start(behaviour);
    let cfg = config(&server.endpoint, attempts);
    let name = format!("{behaviour:?} ({mode:?})");
    let (result, took) = bounded(&name, move || get(mode, &cfg));
    let e = result.expect_err(&format!("{name}: an error"));
    (server, e, took)
}

/// Every text an error shows: `Display` and `Debug` of it and of each
/// source below it.
fn error_texts(e: &Error) -> String {
    let mut out = format!("{e}\n{e:?}\n");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!("{s}\n{s:?}\n"));
        source = s.source();
    }
    out
}

/// The value of query parameter `name` in a request head's target, as sent
/// (percent-encoded) and decoded.
fn query_values(head: &str, name: &str) -> Vec<String> {
    let target = head.split(' ').nth(1).unwrap_or_default();
    let url = url::Url::parse(&format!("http://h{target}")).unwrap();
    let mut out = Vec::new();
    for (n, v) in url.query_pairs() {
        if n.eq_ignore_ascii_case(name) {
            out.push(v.clone().into_owned());
            let raw = url
                .query()
                .unwrap_or_default()
                .split('&')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .unwrap_or_default()
                .to_owned();
            out.push(raw);
        }
    }
    out.retain(|v| v.len() >= 8);
    out
}

/// The secrets a request head carries, plus the configured ones.
fn secrets(heads: &[String]) -> Vec<String> {
    let mut out = vec![SECRET.to_owned(), TOKEN.to_owned()];
    for head in heads {
        for name in [
            "X-Amz-Signature",
            "X-Amz-Credential",
            "X-Amz-Security-Token",
        ] {
            out.extend(query_values(head, name));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn echoed_request_in_error_answers_leaks_no_secret() {
    for (&mode, status) in MODES.iter().flat_map(|m| [(m, 500), (m, 403)]) {
        let (server, e, took) = failed_get(mode, Behaviour::Echo(status), 2);
        let heads = server.heads.lock().unwrap().clone();
        assert!(!heads.is_empty(), "the request reached the server");
        let secrets = secrets(&heads);
        assert!(
            secrets.len() >= 4,
            "signature, credential and token found: {secrets:?}"
        );
        let texts = error_texts(&e);
        let shown: Vec<&String> = secrets
            .iter()
            .filter(|s| texts.contains(s.as_str()))
            .collect();
        eprintln!(
            "hostile [echo {status}, {mode:?}]: {} attempt(s) in {took:?}; error kind {}; secrets shown: {}",
            heads.len(),
            format!("{e:?}")
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or_default(),
            shown.len()
        );
        // The configured secret and token never reach a URL, so they can
        // never be echoed: they must not show whatever the server says.
        assert!(!texts.contains(SECRET), "the secret key shows: {texts}");
        if STRICT_AFTER_REDACTION_FIX {
            assert!(shown.is_empty(), "secrets shown: {shown:?} in {texts}");
        }
    }
}

#[test]
fn short_body_fails_within_bounds() {
    for &mode in MODES {
        let (_server, e, took) = failed_get(mode, Behaviour::ShortBody, 2);
        eprintln!("hostile [short body, {mode:?}]: {e} after {took:?}");
    }
}

/// A field of `/proc/self/status`, in kB.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Runs `f`, sampling the resident set every 5 ms: `f`'s result and the
/// most the resident set grew meanwhile, in kB (other tests running at the
/// same time add to it, so it is an upper bound).
fn rss_growth_during<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let base = status_kb("VmRSS:");
    let sampler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut peak = base;
            while !stop.load(Ordering::SeqCst) {
                peak = peak.max(status_kb("VmRSS:"));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let result = f();
    stop.store(true, Ordering::SeqCst);
    let peak = sampler.join().unwrap();
    (result, peak.saturating_sub(base))
}

#[test]
fn endless_body_without_a_length_stops_at_the_limit() {
    for &mode in MODES {
        let ((_server, e, took), grown) =
            rss_growth_during(|| failed_get(mode, Behaviour::EndlessChunked, 1));
        eprintln!(
            "hostile [endless chunked body, {mode:?}]: {e} after {took:?}; resident set grew up to {grown} kB"
        );
        assert!(matches!(e, Error::CorruptData { .. }), "typed: {e:?}");
        assert!(
            e.to_string().contains("http.max-body-bytes"),
            "names the setting: {e}"
        );
        assert!(
            grown < 64 << 10,
            "the client held {grown} kB of an endless body"
        );
    }
}

#[test]
fn endless_body_fails_within_bounds() {
    for &mode in MODES {
        let ((_server, e, took), grown) =
            rss_growth_during(|| failed_get(mode, Behaviour::Endless, 1));
        eprintln!(
            "hostile [endless body, {mode:?}]: {e} after {took:?}; resident set grew up to {grown} kB meanwhile (VmHWM {} kB; the server sends at most {} MiB, then stalls)",
            status_kb("VmHWM:"),
            ENDLESS_CAP >> 20
        );
        if STRICT_AFTER_BODY_LIMIT {
            assert!(
                grown < 64 << 10,
                "the client held {grown} kB of an endless body"
            );
        }
    }
}

#[test]
fn slowloris_head_fails_within_bounds() {
    for &mode in MODES {
        let (_server, e, took) = failed_get(mode, Behaviour::Slowloris, 2);
        eprintln!("hostile [slowloris, {mode:?}]: {e} after {took:?}");
        assert!(matches!(e, Error::Timeout(_)), "a timeout: {e:?}");
    }
}

#[test]
fn retry_after_presign_expiry_is_signed_afresh() {
    for &mode in MODES {
        let server = start(Behaviour::SlowFirst503);
        let mut cfg = config(&server.endpoint, 3);
        // Expires before the first answer arrives.
        cfg.http.presign_expiry = Duration::from_secs(1);
        let (result, _) = bounded("presign", move || head(mode, &cfg));
        result.expect("the retry succeeds");
        let heads = server.heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 2, "one 503, one retry");
        let dates: Vec<Vec<String>> = heads
            .iter()
            .map(|h| query_values(h, "X-Amz-Date"))
            .collect();
        let signatures: Vec<Vec<String>> = heads
            .iter()
            .map(|h| query_values(h, "X-Amz-Signature"))
            .collect();
        eprintln!("hostile [presign, {mode:?}]: dates {dates:?}");
        assert!(
            !dates[0].is_empty() && !signatures[0].is_empty(),
            "presigned"
        );
        assert_ne!(dates[0], dates[1], "the retry carries a new X-Amz-Date");
        assert_ne!(signatures[0], signatures[1], "the retry is signed afresh");
    }
}

#[test]
fn request_time_too_skewed_is_a_typed_error() {
    for &mode in MODES {
        let (server, e, _) = failed_get(mode, Behaviour::Skewed, 3);
        let text = e.to_string();
        eprintln!("hostile [skew, {mode:?}]: {text}");
        assert!(matches!(e, Error::InvalidCredentials(_)), "typed: {e:?}");
        assert_eq!(server.heads.lock().unwrap().len(), 1, "not retried");
        assert!(
            text.contains("RequestTimeTooSkewed"),
            "names the S3 code: {text}"
        );
        if STRICT_CLOCK_HINT {
            assert!(
                text.to_lowercase().contains("clock"),
                "mentions the clock: {text}"
            );
        }
    }
}
