//! A fault-injecting HTTP/1.1 proxy for tests against a real S3 server.
//!
//! [`FaultProxy`] listens on 127.0.0.1 and relays each request of a client
//! (keep-alive connections included) over a fresh upstream connection,
//! byte for byte except for the `Connection` and `Expect` headers; the `Host`
//! header is kept, so presigned SigV4 URLs made for the proxy's address stay
//! valid. [`Rule`]s pushed with [`FaultProxy::push`] make matching requests
//! fail in the ways of [`Fault`], and every request is recorded as a
//! [`SeenRequest`].
//!
//! Include it with `#[path = "common/fault_proxy.rs"] mod fault_proxy;`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Longest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// How long the proxy waits on the upstream server.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);

/// What a [`Rule`] does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `503` with an S3 `SlowDown` error; nothing is forwarded.
    SlowDown,
    /// Answer `status` with an S3 error of this `code`; nothing is forwarded.
    Status {
        /// The HTTP status, e.g. 500.
        status: u16,
        /// The S3 error code, e.g. `InternalError`.
        code: String,
    },
    /// Read the request, then close the client connection without an answer;
    /// nothing is forwarded. (The close is an orderly FIN: a true RST would
    /// need `SO_LINGER`, which std cannot set.)
    Reset,
    /// Forward the request (so a write takes effect), then close the client
    /// connection without an answer.
    ResetAfterForward,
    /// Sleep this long, then forward normally (even if the client has given
    /// up by then, so a write still takes effect).
    Delay(Duration),
    /// Answer `status` with this XML `body` without forwarding: a made-up
    /// answer, e.g. a `DeleteObjects` result with per-key `<Error>` entries.
    Answer {
        /// The HTTP status, e.g. 200.
        status: u16,
        /// The XML body.
        body: String,
    },
    /// Answer `200 OK` with a made-up ETag without forwarding: plays a
    /// provider that accepts a write (say, a conditional one it ignores)
    /// without doing what was asked.
    FakeSuccess,
    /// Forward and relay the answer, then close the connection without
    /// having sent `Connection: close`, as servers do after some errors: the
    /// client's next request on that pooled connection fails, unless the
    /// client notices the close first (ureq 3 does, and quietly reconnects).
    CloseAfterErrorResponse,
    /// Forward and relay the answer keeping the connection open, then read
    /// the client's next request on it and close without answering or
    /// forwarding it: a pooled connection the server closed just as it was
    /// reused. Unlike [`Fault::CloseAfterErrorResponse`], the next request
    /// on the connection fails for every client.
    StaleConnection,
    /// Forward and, if the server answers `upstream`, answer `status` with
    /// an S3 error of this `code` instead (other answers are relayed): a
    /// provider that reports, say, a lost conditional-write race (412) as
    /// a 500, as Ceph RGW does.
    Replace {
        /// The server's status to replace, e.g. 412.
        upstream: u16,
        /// The status the client gets instead, e.g. 500.
        status: u16,
        /// The S3 error code the client gets, e.g. `InternalError`.
        code: String,
    },
    /// Forward with one bit of the body flipped (its middle byte; headers,
    /// checksums included, untouched): corruption in flight that TCP's
    /// own checksum missed.
    FlipBodyBit,
    /// Wait until the [`Gate`] is opened, then forward normally: holds a
    /// request back while the test does something else, without timing.
    Hold(Gate),
}

/// A gate for [`Fault::Hold`]: closed until [`Gate::open`]; tells whether
/// a request is waiting at it. Gates compare by identity.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<GateState>, std::sync::Condvar)>);

#[derive(Default)]
struct GateState {
    open: bool,
    waiting: usize,
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Opens the gate: held requests go on, later ones pass.
    pub fn open(&self) {
        lock(&self.0.0).open = true;
        self.0.1.notify_all();
    }

    /// Blocks until at least one request waits at the gate.
    pub fn wait_for_arrival(&self) {
        let mut state = lock(&self.0.0);
        while state.waiting == 0 {
            state = self.0.1.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn pass(&self) {
        let mut state = lock(&self.0.0);
        state.waiting += 1;
        self.0.1.notify_all();
        while !state.open {
            state = self.0.1.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Gate) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Gate {}

/// Which requests a [`Rule`] applies to; `None` fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matcher {
    /// The HTTP method, compared case-insensitively.
    pub method: Option<String>,
    /// A substring of the path (without the query).
    pub path_contains: Option<String>,
    /// A substring of the query string (without the `?`).
    pub query_contains: Option<String>,
    /// A header the request must carry (name in lowercase).
    pub has_header: Option<String>,
}

impl Matcher {
    /// Matches every request.
    pub fn any() -> Matcher {
        Matcher::default()
    }

    /// Matches requests with this method.
    pub fn method(method: &str) -> Matcher {
        Matcher {
            method: Some(method.to_owned()),
            ..Matcher::default()
        }
    }

    /// Also requires `needle` in the path.
    pub fn path_contains(mut self, needle: &str) -> Matcher {
        self.path_contains = Some(needle.to_owned());
        self
    }

    /// Also requires `needle` in the query string.
    pub fn query_contains(mut self, needle: &str) -> Matcher {
        self.query_contains = Some(needle.to_owned());
        self
    }

    /// Also requires a header (name in lowercase).
    pub fn has_header(mut self, name: &str) -> Matcher {
        self.has_header = Some(name.to_owned());
        self
    }

    /// Whether a request with these headers (lowercase names) matches.
    pub fn matches_with_headers(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(String, String)],
    ) -> bool {
        self.matches(method, path, query)
            && self
                .has_header
                .as_deref()
                .is_none_or(|h| headers.iter().any(|(name, _)| name == h))
    }

    /// Whether a request matches (headers not considered).
    pub fn matches(&self, method: &str, path: &str, query: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|n| path.contains(n))
            && self
                .query_contains
                .as_deref()
                .is_none_or(|n| query.contains(n))
    }
}

/// Applies `fault` to the next `times` requests that match `matcher`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Which requests.
    pub matcher: Matcher,
    /// How many of them (then the rule is gone).
    pub times: usize,
    /// What happens to them.
    pub fault: Fault,
}

impl Rule {
    /// A rule for the next `times` requests matching `matcher`.
    pub fn new(matcher: Matcher, times: usize, fault: Fault) -> Rule {
        Rule {
            matcher,
            times,
            fault,
        }
    }

    /// A rule for the next request, whatever it is.
    pub fn once(fault: Fault) -> Rule {
        Rule::new(Matcher::any(), 1, fault)
    }
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still being handled.
    InFlight,
    /// The client got a response with this status; `forwarded` tells whether
    /// the request reached the upstream server.
    Answered {
        /// The status sent to the client.
        status: u16,
        /// Whether the request was sent upstream.
        forwarded: bool,
    },
    /// The connection was closed without a response.
    Dropped {
        /// Whether the request was sent upstream.
        forwarded: bool,
    },
    /// The upstream server could not be reached or answered garbage; the
    /// client got a 502.
    UpstreamFailed(String),
    /// The proxy refused the request (e.g. chunked bodies) with this status
    /// and closed the connection.
    Rejected {
        /// The status sent to the client.
        status: u16,
    },
}

/// A request the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// Which client connection it came on (numbered from 0 per proxy).
    pub connection: u64,
    /// The method, e.g. `PUT`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, without the `?` (empty if none).
    pub query: String,
    /// The headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The fault applied, if a rule matched.
    pub fault: Option<Fault>,
    /// What became of it.
    pub outcome: Outcome,
}

impl SeenRequest {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the request reached the upstream server.
    pub fn forwarded(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Answered {
                forwarded: true,
                ..
            } | Outcome::Dropped { forwarded: true }
        )
    }
}

struct Shared {
    upstream: SocketAddr,
    stop: AtomicBool,
    next_connection: AtomicU64,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<SeenRequest>>,
    /// Clones of open client connections, shut down when the proxy stops.
    clients: Mutex<HashMap<u64, TcpStream>>,
    /// Requests being handled right now, and the most there ever were.
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

/// Locks, ignoring poisoning (a panicking test thread must not wedge the
/// proxy).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fault-injecting HTTP/1.1 proxy on 127.0.0.1, stopped when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (e.g. `http://127.0.0.1:8333`).
    ///
    /// # Panics
    ///
    /// If `upstream` is not an `http://host:port` address or no local port
    /// can be bound.
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream = parse_upstream(upstream)
            .unwrap_or_else(|e| panic!("bad upstream {upstream:?} for FaultProxy: {e}"));
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("FaultProxy: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("FaultProxy: local_addr");
        let shared = Arc::new(Shared {
            upstream,
            stop: AtomicBool::new(false),
            next_connection: AtomicU64::new(0),
            rules: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            clients: Mutex::new(HashMap::new()),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("fault-proxy-accept".into())
                .spawn(move || accept_loop(&listener, &shared))
                .expect("FaultProxy: spawn accept thread")
        };
        FaultProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The proxy's endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy's socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a rule after the existing ones. A request gets the fault of the
    /// first rule that matches it, which then has one use fewer.
    pub fn push(&self, rule: Rule) {
        if rule.times > 0 {
            lock(&self.shared.rules).push(rule);
        }
    }

    /// Removes all rules (recorded requests are kept).
    pub fn clear(&self) {
        lock(&self.shared.rules).clear();
    }

    /// The rules not yet used up, with their remaining `times`.
    pub fn pending_rules(&self) -> Vec<Rule> {
        lock(&self.shared.rules).clone()
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<SeenRequest> {
        lock(&self.shared.seen).clone()
    }

    /// The most requests this proxy was handling at one time.
    pub fn max_in_flight(&self) -> u64 {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Starts counting the in-flight maximum afresh.
    pub fn reset_max_in_flight(&self) {
        self.shared.max_in_flight.store(0, Ordering::SeqCst);
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.seen).clear();
    }

    /// How many requests with this method (case-insensitive) were received.
    pub fn count(&self, method: &str) -> usize {
        lock(&self.shared.seen)
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method))
            .count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor, then end every open client connection.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for (_, client) in lock(&self.shared.clients).drain() {
            let _ = client.shutdown(Shutdown::Both);
        }
    }
}

fn parse_upstream(upstream: &str) -> Result<SocketAddr, String> {
    let rest = upstream
        .strip_prefix("http://")
        .ok_or("only http:// upstreams are supported")?;
    let authority = rest.split('/').next().unwrap_or_default();
    authority
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| "no address".to_owned())
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            // E.g. too many open files: back off rather than spin.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let id = shared.next_connection.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.clients).insert(id, clone);
        }
        let shared_for_thread = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name(format!("fault-proxy-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, id, &shared_for_thread);
                lock(&shared_for_thread.clients).remove(&id);
            });
        if spawned.is_err() {
            lock(&shared.clients).remove(&id);
        }
    }
}

/// A parsed request head plus its body.
#[derive(Clone)]
struct Request {
    method: String,
    path: String,
    query: String,
    /// The request line, without CRLF.
    request_line: String,
    /// Raw header lines (without CRLF), in order.
    header_lines: Vec<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Set when the proxy refuses the request: status and reason.
    reject: Option<(u16, &'static str)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The bytes sent upstream: unchanged, except that `Connection` is
    /// forced to `close` and `Expect` is dropped (the proxy already answered
    /// it).
    fn upstream_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 1024);
        out.extend_from_slice(self.request_line.as_bytes());
        out.extend_from_slice(b"\r\n");
        for line in &self.header_lines {
            let name = line.split(':').next().unwrap_or_default().trim();
            if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("expect") {
                continue;
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// Why reading a request stopped.
enum ReadError {
    /// The client closed or broke the connection.
    Gone,
    /// The request is unacceptable: answer this status and close.
    Reject(u16, &'static str),
}

/// Serves the keep-alive requests of one client connection.
fn serve_connection(mut client: TcpStream, id: u64, shared: &Shared) {
    let mut buffer = Vec::new();
    // Set after a `StaleConnection` reply: the next request is dropped.
    let mut stale = false;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let request = match read_request(&mut client, &mut buffer) {
            Ok(request) => request,
            Err(ReadError::Gone) => return,
            Err(ReadError::Reject(status, reason)) => {
                let _ = client.write_all(&reject_response(status, reason));
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
        };
        let fault = match request.reject {
            Some(_) => None,
            None if stale => None,
            None => take_fault(shared, &request),
        };
        let index = {
            let mut seen = lock(&shared.seen);
            seen.push(SeenRequest {
                connection: id,
                method: request.method.clone(),
                path: request.path.clone(),
                query: request.query.clone(),
                headers: request.headers.clone(),
                body: request.body.clone(),
                fault: fault.clone(),
                outcome: Outcome::InFlight,
            });
            seen.len() - 1
        };
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let reply = match request.reject {
            Some((status, reason)) => Reply {
                bytes: Some(reject_response(status, reason)),
                outcome: Outcome::Rejected { status },
                forwarded: false,
                keep_open: false,
            },
            None if stale => Reply::drop_connection(false),
            None => handle(&request, fault.as_ref(), shared),
        };
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        stale = fault == Some(Fault::StaleConnection);
        set_outcome(shared, index, reply.outcome);
        let sent = reply.bytes.is_none_or(|bytes| {
            client
                .write_all(&bytes)
                .and_then(|()| client.flush())
                .is_ok()
        });
        if !sent {
            set_outcome(
                shared,
                index,
                Outcome::Dropped {
                    forwarded: reply.forwarded,
                },
            );
        }
        let client_closes = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if !sent || !reply.keep_open || client_closes {
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    }
}

fn set_outcome(shared: &Shared, index: usize, outcome: Outcome) {
    if let Some(entry) = lock(&shared.seen).get_mut(index) {
        entry.outcome = outcome;
    }
}

/// The answer to an unacceptable request (the connection is then closed,
/// since its framing may be unknown).
fn reject_response(status: u16, reason: &str) -> Vec<u8> {
    let code = if status == 501 {
        "NotImplemented"
    } else {
        "BadRequest"
    };
    error_response(status, code, reason, false, true)
}

/// Finds the first rule matching `request` and uses it up once.
fn take_fault(shared: &Shared, request: &Request) -> Option<Fault> {
    let mut rules = lock(&shared.rules);
    let position = rules.iter().position(|r| {
        r.matcher.matches_with_headers(
            &request.method,
            &request.path,
            &request.query,
            &request.headers,
        )
    })?;
    let rule = &mut rules[position];
    let fault = rule.fault.clone();
    rule.times = rule.times.saturating_sub(1);
    if rule.times == 0 {
        rules.remove(position);
    }
    Some(fault)
}

/// What to send the client, decided before sending so that the outcome is
/// recorded before the client can see it.
struct Reply {
    /// Bytes for the client, if any.
    bytes: Option<Vec<u8>>,
    outcome: Outcome,
    forwarded: bool,
    /// Whether the connection stays open afterwards.
    keep_open: bool,
}

impl Reply {
    fn answer(bytes: Vec<u8>, status: u16, forwarded: bool, keep_open: bool) -> Reply {
        Reply {
            bytes: Some(bytes),
            outcome: Outcome::Answered { status, forwarded },
            forwarded,
            keep_open,
        }
    }

    fn drop_connection(forwarded: bool) -> Reply {
        Reply {
            bytes: None,
            outcome: Outcome::Dropped { forwarded },
            forwarded,
            keep_open: false,
        }
    }
}

/// Applies `fault`, or forwards.
fn handle(request: &Request, fault: Option<&Fault>, shared: &Shared) -> Reply {
    let head = request.method.eq_ignore_ascii_case("HEAD");
    match fault {
        Some(Fault::SlowDown) => {
            let message = "Please reduce your request rate.";
            let bytes = error_response(503, "SlowDown", message, head, false);
            Reply::answer(bytes, 503, false, true)
        }
        Some(Fault::Status { status, code }) => {
            let bytes = error_response(*status, code, "Injected by FaultProxy.", head, false);
            Reply::answer(bytes, *status, false, true)
        }
        Some(Fault::Answer { status, body }) => {
            let bytes = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nx-amz-request-id: proxy-answer\r\n\r\n{body}",
                reason_phrase(*status),
                body.len()
            )
            .into_bytes();
            Reply::answer(bytes, *status, false, true)
        }
        Some(Fault::FakeSuccess) => {
            let bytes = format!(
                "HTTP/1.1 200 OK\r\nETag: \"{:032x}\"\r\nContent-Length: 0\r\nx-amz-request-id: proxy-fake\r\n\r\n",
                fastrand::u128(..)
            )
            .into_bytes();
            Reply::answer(bytes, 200, false, true)
        }
        Some(Fault::Reset) => Reply::drop_connection(false),
        Some(Fault::ResetAfterForward) => {
            let _ = forward(shared.upstream, request);
            Reply::drop_connection(true)
        }
        Some(Fault::Delay(delay)) => {
            thread::sleep(*delay);
            relay(request, shared)
        }
        Some(Fault::CloseAfterErrorResponse) => Reply {
            keep_open: false,
            ..relay(request, shared)
        },
        Some(Fault::StaleConnection) => relay(request, shared),
        Some(Fault::Replace {
            upstream,
            status,
            code,
        }) => {
            let reply = relay(request, shared);
            if !matches!(reply.outcome, Outcome::Answered { status: s, .. } if s == *upstream) {
                return reply;
            }
            let message = "Replaced by FaultProxy.";
            let bytes = error_response(*status, code, message, head, false);
            Reply::answer(bytes, *status, true, true)
        }
        Some(Fault::Hold(gate)) => {
            gate.pass();
            relay(request, shared)
        }
        Some(Fault::FlipBodyBit) => {
            let mut flipped = request.clone();
            let middle = flipped.body.len() / 2;
            if let Some(byte) = flipped.body.get_mut(middle) {
                *byte ^= 0x01;
            }
            relay(&flipped, shared)
        }
        None => relay(request, shared),
    }
}

/// Forwards `request` and prepares the upstream answer for the client.
fn relay(request: &Request, shared: &Shared) -> Reply {
    let head = request.method.eq_ignore_ascii_case("HEAD");
    let failed = |error: String| Reply {
        bytes: Some(error_response(502, "BadGateway", &error, head, true)),
        outcome: Outcome::UpstreamFailed(error),
        forwarded: false,
        keep_open: false,
    };
    let response = match forward(shared.upstream, request) {
        Ok(raw) => raw,
        Err(e) => return failed(e.to_string()),
    };
    match rewrite_response(&response, head) {
        Some((bytes, status, framed)) => Reply::answer(bytes, status, true, framed),
        None => failed("malformed upstream response".into()),
    }
}

/// Sends `request` over a fresh connection and reads the response to EOF.
fn forward(upstream: SocketAddr, request: &Request) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    stream.set_write_timeout(Some(UPSTREAM_TIMEOUT))?;
    stream.write_all(&request.upstream_bytes())?;
    stream.flush()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(response)
}

/// Drops `Connection`/`Keep-Alive` headers from a raw response. Returns the
/// bytes, the status and whether its length is known without EOF.
fn rewrite_response(raw: &[u8], head_request: bool) -> Option<(Vec<u8>, u16, bool)> {
    let end = find_head_end(raw)?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = parse_status(status_line)?;
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(status_line.as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut framed = head_request || status == 204 || status == 304 || (100..200).contains(&status);
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let name = name.trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        if name.eq_ignore_ascii_case("content-length")
            || (name.eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked"))
        {
            framed = true;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&raw[end + 4..]);
    Some((out, status, framed))
}

fn parse_status(line: &str) -> Option<u16> {
    let mut parts = line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() == 3 {
        code.parse().ok()
    } else {
        None
    }
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Reads one request (head and `Content-Length` body) from `client`;
/// `buffer` carries bytes read past it over to the next call.
fn read_request(client: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<Request, ReadError> {
    let mut chunk = [0u8; 16 * 1024];
    let end = loop {
        if let Some(end) = find_head_end(buffer) {
            break end;
        }
        if buffer.len() > MAX_HEAD {
            return Err(ReadError::Reject(431, "request head too large"));
        }
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(ReadError::Gone),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head: Vec<u8> = buffer.drain(..end + 4).collect();
    let head = String::from_utf8(head).map_err(|_| ReadError::Reject(400, "head is not UTF-8"))?;
    let mut lines = head.trim_end_matches("\r\n").split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Reject(400, "bad request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Reject(400, "not HTTP/1.x"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (method, path, query) = (method.to_owned(), path.to_owned(), query.to_owned());
    let header_lines: Vec<String> = lines.map(str::to_owned).collect();
    let mut headers = Vec::with_capacity(header_lines.len());
    for line in &header_lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Reject(400, "bad header line"));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut request = Request {
        method,
        path,
        query,
        request_line,
        header_lines,
        headers,
        body: Vec::new(),
        reject: None,
    };
    if request.header("transfer-encoding").is_some() {
        request.reject = Some((501, "chunked request bodies are not supported"));
        return Ok(request);
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| ReadError::Reject(400, "bad content-length"))?,
    };
    if request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        && buffer.len() < length
    {
        client
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(|_| ReadError::Gone)?;
    }
    while buffer.len() < length {
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(ReadError::Gone),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    request.body = buffer.drain(..length).collect();
    Ok(request)
}

/// An S3-style XML error response.
fn error_response(
    status: u16,
    code: &str,
    message: &str,
    head_request: bool,
    close: bool,
) -> Vec<u8> {
    let request_id = format!("proxy-{:016x}", fastrand::u64(..));
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{request_id}</RequestId></Error>",
        xml_escape(code),
        xml_escape(message)
    );
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nx-amz-request-id: {request_id}\r\n{}\r\n",
        reason_phrase(status),
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
    .into_bytes();
    if !head_request {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}
