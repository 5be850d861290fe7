//! Self-test of the fault-injecting proxy, with raw presigned requests
//! against a real SeaweedFS. (The launcher's own tests are in
//! `dev-server/tests/`.)

#[path = "common/fault_proxy.rs"]
mod fault_proxy;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use fault_proxy::{Fault, FaultProxy, Gate, Matcher, Outcome, Rule};
use konserve_s3_dev::SeaweedFs;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use url::Url;

const EXPIRY: Duration = Duration::from_secs(600);

fn server() -> &'static SeaweedFs {
    static SERVER: OnceLock<SeaweedFs> = OnceLock::new();
    SERVER.get_or_init(|| SeaweedFs::start().unwrap_or_else(|e| panic!("starting SeaweedFS: {e}")))
}

fn credentials() -> Credentials {
    Credentials::new(server().access_key(), server().secret_key())
}

fn bucket_at(endpoint: &str, name: &str) -> Bucket {
    let url = Url::parse(endpoint).unwrap();
    Bucket::new(url, UrlStyle::Path, name.to_owned(), "us-east-1").unwrap()
}

fn unique_bucket() -> String {
    format!("selftest-{}", uuid::Uuid::new_v4().simple())
}

/// A bucket created directly on SeaweedFS.
fn fresh_bucket() -> String {
    let name = unique_bucket();
    let url = bucket_at(server().endpoint(), &name)
        .create_bucket(&credentials())
        .sign(EXPIRY);
    let response = request("PUT", &url, b"").unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    name
}

/// Whether `key` exists, asked directly of SeaweedFS.
fn exists_directly(bucket: &str, key: &str) -> bool {
    let url = bucket_at(server().endpoint(), bucket)
        .head_object(Some(&credentials()), key)
        .sign(EXPIRY);
    match request("HEAD", &url, b"").unwrap().status {
        200 => true,
        404 => false,
        other => panic!("HEAD {key} answered {other}"),
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn connect(url: &Url) -> TcpStream {
    let addr = (url.host_str().unwrap(), url.port().unwrap());
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// One request on a fresh connection.
fn request(method: &str, url: &Url, body: &[u8]) -> io::Result<Response> {
    let mut stream = BufReader::new(connect(url));
    send(&mut stream, method, url, body)
}

/// One keep-alive request on `stream`, read back by `Content-Length`.
fn send(
    stream: &mut BufReader<TcpStream>,
    method: &str,
    url: &Url,
    body: &[u8],
) -> io::Result<Response> {
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut bytes = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    stream.get_mut().write_all(&bytes)?;
    read_response(stream, method == "HEAD")
}

fn read_response(stream: &mut BufReader<TcpStream>, head: bool) -> io::Result<Response> {
    let mut line = String::new();
    if stream.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a response",
        ));
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, line.clone()))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        stream.read_line(&mut line)?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').unwrap();
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if !head {
        let length: usize = response
            .header("content-length")
            .expect("test responses carry Content-Length")
            .parse()
            .unwrap();
        response.body.resize(length, 0);
        stream.read_exact(&mut response.body)?;
    }
    Ok(response)
}

#[test]
fn create_bucket_and_objects_through_the_proxy() {
    let proxy = FaultProxy::start(server().endpoint());
    let name = unique_bucket();
    let via_proxy = bucket_at(&proxy.endpoint(), &name);
    let creds = credentials();

    // The signature covers the proxy's host:port, and SeaweedFS accepts it.
    let response = request("PUT", &via_proxy.create_bucket(&creds).sign(EXPIRY), b"").unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    let put = via_proxy.put_object(Some(&creds), "a/key").sign(EXPIRY);
    assert_eq!(request("PUT", &put, b"hello").unwrap().status, 200);
    assert!(exists_directly(&name, "a/key"));

    // Keep-alive: two requests on one client connection.
    let get = via_proxy.get_object(Some(&creds), "a/key").sign(EXPIRY);
    let mut stream = BufReader::new(connect(&get));
    let first = send(&mut stream, "GET", &get, b"").unwrap();
    let second = send(&mut stream, "GET", &get, b"").unwrap();
    assert_eq!((first.status, first.text().as_str()), (200, "hello"));
    assert_eq!((second.status, second.text().as_str()), (200, "hello"));
    assert_eq!(first.header("connection"), None);

    let seen = proxy.requests();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[2].connection, seen[3].connection);
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(seen[1].path, format!("/{name}/a/key"));
    assert!(seen[1].query.contains("X-Amz-Signature="));
    assert_eq!(seen[1].body, b"hello");
    assert_eq!(
        seen[1].header("Host"),
        Some(proxy.addr().to_string().as_str())
    );
    assert!(seen.iter().all(|r| r.forwarded() && r.fault.is_none()));
    assert_eq!(proxy.count("put"), 2);
    assert_eq!(proxy.count("GET"), 2);
}

#[test]
fn slow_down_answers_503_without_forwarding() {
    let name = fresh_bucket();
    let proxy = FaultProxy::start(server().endpoint());
    let bucket = bucket_at(&proxy.endpoint(), &name);
    proxy.push(Rule::new(Matcher::method("PUT"), 1, Fault::SlowDown));
    let put = bucket.put_object(Some(&credentials()), "k").sign(EXPIRY);

    let mut stream = BufReader::new(connect(&put));
    let first = send(&mut stream, "PUT", &put, b"v").unwrap();
    assert_eq!(first.status, 503);
    let body = first.text();
    assert!(body.contains("<Code>SlowDown</Code>"), "{body}");
    assert!(body.contains("<RequestId>proxy-"), "{body}");
    assert!(!exists_directly(&name, "k"));
    // The connection stays usable and the rule is used up.
    assert_eq!(send(&mut stream, "PUT", &put, b"v").unwrap().status, 200);
    assert!(exists_directly(&name, "k"));
    assert!(proxy.pending_rules().is_empty());
    let seen = proxy.requests();
    assert_eq!(seen[0].fault, Some(Fault::SlowDown));
    assert_eq!(
        seen[0].outcome,
        Outcome::Answered {
            status: 503,
            forwarded: false
        }
    );
    assert!(seen[1].forwarded());
}

#[test]
fn status_rules_are_used_times_times_and_only_on_matches() {
    let name = fresh_bucket();
    let proxy = FaultProxy::start(server().endpoint());
    let bucket = bucket_at(&proxy.endpoint(), &name);
    let creds = credentials();
    proxy.push(Rule::new(
        Matcher::method("GET").path_contains("/target"),
        2,
        Fault::Status {
            status: 500,
            code: "InternalError".into(),
        },
    ));
    let other = bucket.get_object(Some(&creds), "other").sign(EXPIRY);
    let target = bucket.get_object(Some(&creds), "target").sign(EXPIRY);

    assert_eq!(request("GET", &other, b"").unwrap().status, 404);
    for _ in 0..2 {
        let response = request("GET", &target, b"").unwrap();
        assert_eq!(response.status, 500);
        assert!(response.text().contains("<Code>InternalError</Code>"));
    }
    assert!(proxy.pending_rules().is_empty());
    assert_eq!(request("GET", &target, b"").unwrap().status, 404);
    let forwarded: Vec<bool> = proxy.requests().iter().map(|r| r.forwarded()).collect();
    assert_eq!(forwarded, [true, false, false, true]);

    // HEAD gets the status without a body; clear() drops rules.
    proxy.push(Rule::once(Fault::Status {
        status: 503,
        code: "ServiceUnavailable".into(),
    }));
    let head = bucket.head_object(Some(&creds), "target").sign(EXPIRY);
    assert_eq!(request("HEAD", &head, b"").unwrap().status, 503);
    proxy.push(Rule::new(Matcher::any(), 5, Fault::Reset));
    proxy.clear();
    assert_eq!(request("HEAD", &head, b"").unwrap().status, 404);
}

#[test]
fn replace_forwards_and_swaps_only_the_named_status() {
    let name = fresh_bucket();
    let proxy = FaultProxy::start(server().endpoint());
    let bucket = bucket_at(&proxy.endpoint(), &name);
    proxy.push(Rule::new(
        Matcher::method("GET"),
        2,
        Fault::Replace {
            upstream: 404,
            status: 500,
            code: "InternalError".into(),
        },
    ));
    let put = bucket.put_object(Some(&credentials()), "k").sign(EXPIRY);
    assert_eq!(request("PUT", &put, b"v").unwrap().status, 200);
    let missing = bucket.get_object(Some(&credentials()), "nope").sign(EXPIRY);
    let response = request("GET", &missing, b"").unwrap();
    assert_eq!(response.status, 500);
    assert!(response.text().contains("<Code>InternalError</Code>"));
    // Another status is relayed as the server sent it.
    let present = bucket.get_object(Some(&credentials()), "k").sign(EXPIRY);
    let response = request("GET", &present, b"").unwrap();
    assert_eq!((response.status, response.text()), (200, "v".to_owned()));
    let outcomes: Vec<Outcome> = proxy.requests().iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(
        outcomes[1..],
        [
            Outcome::Answered {
                status: 500,
                forwarded: true
            },
            Outcome::Answered {
                status: 200,
                forwarded: true
            }
        ]
    );
}

#[test]
fn hold_keeps_a_request_until_its_gate_opens() {
    let name = fresh_bucket();
    let proxy = FaultProxy::start(server().endpoint());
    let bucket = bucket_at(&proxy.endpoint(), &name);
    let gate = Gate::new();
    proxy.push(Rule::new(
        Matcher::method("PUT"),
        1,
        Fault::Hold(gate.clone()),
    ));
    let put = bucket.put_object(Some(&credentials()), "k").sign(EXPIRY);
    thread::scope(|s| {
        let held = s.spawn(|| request("PUT", &put, b"v").unwrap().status);
        gate.wait_for_arrival();
        assert!(!exists_directly(&name, "k"), "held, not forwarded yet");
        gate.open();
        assert_eq!(held.join().unwrap(), 200);
    });
    assert!(exists_directly(&name, "k"));
}

#[test]
fn reset_closes_without_an_answer_or_a_write() {
    let name = fresh_bucket();
    let proxy = FaultProxy::start(server().endpoint());
    let bucket = bucket_at(&proxy.endpoint(), &name);
    proxy.push(Rule::once(Fault::Reset));
    let put = bucket.put_object(Some(&credentials()), "k").sign(EXPIRY);

    assert!(request("PUT", &put, b"v").is_err());
    assert!(!exists_directly(&name, "k"));
    assert_eq!(
        proxy.requests()[0].outcome,
        Outcome::Dropped { forwarded: false }
    );
}

#[test]
fn reset_after_forward_applies_the_write() {
    let name = fresh_bucket();
    let proxy = FaultProxy::start(server().endpoint());
    let bucket = bucket_at(&proxy.endpoint(), &name);
    proxy.push(Rule::new(
        Matcher::method("PUT"),
        1,
        Fault::ResetAfterForward,
    ));
    let put = bucket.put_object(Some(&credentials()), "k").sign(EXPIRY);

    assert!(request("PUT", &put, b"v").is_err());
    assert!(exists_directly(&name, "k"));
    assert_eq!(
        proxy.requests()[0].outcome,
        Outcome::Dropped { forwarded: true }
    );
}

#[test]
fn delay_holds_the_request_then_forwards_it() {
    let name = fresh_bucket();
    let proxy = FaultProxy::start(server().endpoint());
    let bucket = bucket_at(&proxy.endpoint(), &name);
    let creds = credentials();
    proxy.push(Rule::new(
        Matcher::method("PUT"),
        2,
        Fault::Delay(Duration::from_millis(700)),
    ));

    let put = bucket.put_object(Some(&creds), "slow").sign(EXPIRY);
    let start = Instant::now();
    assert_eq!(request("PUT", &put, b"v").unwrap().status, 200);
    assert!(start.elapsed() >= Duration::from_millis(700));

    // A client that times out still leaves the write to happen later.
    let put = bucket.put_object(Some(&creds), "late").sign(EXPIRY);
    let mut stream = BufReader::new(connect(&put));
    stream
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let err = send(&mut stream, "PUT", &put, b"v").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    assert!(!exists_directly(&name, "late"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !exists_directly(&name, "late") {
        assert!(Instant::now() < deadline, "delayed write never happened");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn close_after_error_response_breaks_the_pooled_connection() {
    let name = fresh_bucket();
    let proxy = FaultProxy::start(server().endpoint());
    let bucket = bucket_at(&proxy.endpoint(), &name);
    proxy.push(Rule::once(Fault::CloseAfterErrorResponse));
    let get = bucket
        .get_object(Some(&credentials()), "missing")
        .sign(EXPIRY);

    let mut stream = BufReader::new(connect(&get));
    let first = send(&mut stream, "GET", &get, b"").unwrap();
    assert_eq!(first.status, 404);
    assert!(first.text().contains("NoSuchKey"), "{}", first.text());
    assert_eq!(first.header("connection"), None);
    // The next request on the same socket sees the close (EOF, or a reset
    // if the write raced the close).
    assert!(send(&mut stream, "GET", &get, b"").is_err());
    // A new connection works.
    assert_eq!(request("GET", &get, b"").unwrap().status, 404);
    assert_eq!(proxy.count("GET"), 2);
}

#[test]
fn stale_connection_drops_the_next_request_on_it() {
    let name = fresh_bucket();
    let proxy = FaultProxy::start(server().endpoint());
    let bucket = bucket_at(&proxy.endpoint(), &name);
    proxy.push(Rule::once(Fault::StaleConnection));
    let creds = credentials();
    let get = bucket.get_object(Some(&creds), "missing").sign(EXPIRY);
    let put = bucket.put_object(Some(&creds), "k").sign(EXPIRY);

    let mut stream = BufReader::new(connect(&get));
    assert_eq!(send(&mut stream, "GET", &get, b"").unwrap().status, 404);
    // Still open: the close comes only once the next request is sent.
    thread::sleep(Duration::from_millis(100));
    assert!(send(&mut stream, "PUT", &put, b"v").is_err());
    assert!(!exists_directly(&name, "k"));
    let seen = proxy.requests();
    assert_eq!(seen[1].fault, None);
    assert_eq!(seen[1].outcome, Outcome::Dropped { forwarded: false });
    // The rule is used up; a new connection works.
    assert_eq!(request("PUT", &put, b"v").unwrap().status, 200);
    assert!(exists_directly(&name, "k"));
}

#[test]
fn chunked_requests_are_refused() {
    let name = fresh_bucket();
    let proxy = FaultProxy::start(server().endpoint());
    let put = bucket_at(&proxy.endpoint(), &name)
        .put_object(Some(&credentials()), "k")
        .sign(EXPIRY);
    let mut stream = BufReader::new(connect(&put));
    let target = format!("{}?{}", put.path(), put.query().unwrap());
    write!(
        stream.get_mut(),
        "PUT {target} HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nv\r\n0\r\n\r\n",
        proxy.addr()
    )
    .unwrap();
    let response = read_response(&mut stream, false).unwrap();
    assert_eq!(response.status, 501);
    assert_eq!(
        proxy.requests()[0].outcome,
        Outcome::Rejected { status: 501 }
    );
    assert!(!exists_directly(&name, "k"));
}

#[test]
fn upstream_failure_answers_502() {
    // Nothing listens on port 1.
    let proxy = FaultProxy::start("http://127.0.0.1:1");
    let url = Url::parse(&format!("{}/b/k", proxy.endpoint())).unwrap();
    assert_eq!(request("GET", &url, b"").unwrap().status, 502);
    assert!(matches!(
        proxy.requests()[0].outcome,
        Outcome::UpstreamFailed(_)
    ));
}
