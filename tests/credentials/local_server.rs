//! Small HTTP/1.1 servers on 127.0.0.1 that follow AWS's documented
//! protocols for the EC2 instance metadata service (IMDSv2), the ECS / EKS
//! container credentials endpoint and the SSO portal's
//! `GetRoleCredentials`; each can also go silent (accept, never answer).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: HashMap<String, String>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What to do with a request.
pub enum Reply {
    Respond(u16, String),
    /// Hold the connection without answering.
    Silent,
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A running server; stops accepting when dropped.
pub struct LocalServer {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

impl LocalServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> LocalServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (reqs, stopping) = (requests.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (handler, reqs, stopping) = (handler.clone(), reqs.clone(), stopping.clone());
                thread::spawn(move || serve(conn, &*handler, &reqs, &stopping));
            }
        });
        LocalServer {
            addr,
            requests,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests had `target` starting with `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method && r.target.starts_with(prefix))
            .count()
    }
}

fn serve(conn: TcpStream, handler: &Handler, reqs: &Mutex<Vec<Request>>, stop: &AtomicBool) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            return;
        };
        let (method, target) = (method.to_owned(), target.to_owned());
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let req = Request {
            method,
            target,
            headers,
        };
        reqs.lock().unwrap().push(req.clone());
        match handler(&req) {
            Reply::Silent => {
                for _ in 0..100 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    thread::sleep(Duration::from_millis(50));
                }
                return;
            }
            Reply::Respond(status, body) => {
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n\r\n",
                    body.len()
                );
                if conn.write_all(head.as_bytes()).is_err()
                    || conn.write_all(body.as_bytes()).is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Credentials a metadata server hands out: fixed keys, a fresh session
/// token per fetch, an expiry `lifetime` from now.
#[derive(Clone)]
pub struct Issued {
    pub access_key: String,
    pub secret: String,
    pub token_prefix: String,
    /// Whether a session token is handed out (SeaweedFS refuses static
    /// keys with a token it did not issue).
    pub with_token: bool,
    pub lifetime: Duration,
    /// Credential fetches so far.
    pub fetches: Arc<AtomicUsize>,
    /// When set, fetches fail with 500.
    pub failing: Arc<AtomicBool>,
}

impl Issued {
    pub fn new(access_key: &str, secret: &str, lifetime: Duration) -> Issued {
        Issued {
            access_key: access_key.to_owned(),
            secret: secret.to_owned(),
            token_prefix: format!("IQoTOKEN{}", uuid::Uuid::new_v4().simple()),
            with_token: true,
            lifetime,
            fetches: Arc::default(),
            failing: Arc::default(),
        }
    }

    /// The same keys without a session token.
    pub fn without_token(mut self) -> Issued {
        self.with_token = false;
        self
    }

    fn token(&self, n: usize) -> String {
        if self.with_token {
            format!("{}{n}", self.token_prefix)
        } else {
            String::new()
        }
    }

    fn json(&self, with_code: bool) -> Reply {
        if self.failing.load(Ordering::SeqCst) {
            return Reply::Respond(500, "oops".into());
        }
        let n = self.fetches.fetch_add(1, Ordering::SeqCst);
        let expiry = jiff::Timestamp::try_from(SystemTime::now() + self.lifetime).unwrap();
        let code = if with_code {
            r#""Code":"Success","Type":"AWS-HMAC","LastUpdated":"2026-01-01T00:00:00Z","#
        } else {
            r#""RoleArn":"arn:aws:iam::123456789012:role/task","#
        };
        Reply::Respond(
            200,
            format!(
                r#"{{{code}"AccessKeyId":"{}","SecretAccessKey":"{}","Token":"{}","Expiration":"{}"}}"#,
                self.access_key,
                self.secret,
                self.token(n),
                expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
        )
    }
}

/// An IMDSv2 server: a token from `PUT /latest/api/token` (which needs
/// `X-aws-ec2-metadata-token-ttl-seconds`), then every `GET` needs it in
/// `X-aws-ec2-metadata-token` (401 without).
pub fn imds(issued: Issued, token: &str) -> LocalServer {
    let token = token.to_owned();
    LocalServer::start(
        move |req| match (req.method.as_str(), req.target.as_str()) {
            ("PUT", "/latest/api/token") => {
                match req
                    .header("x-aws-ec2-metadata-token-ttl-seconds")
                    .and_then(|v| v.parse::<u32>().ok())
                {
                    Some(1..=21600) => Reply::Respond(200, token.clone()),
                    _ => Reply::Respond(400, "missing or bad TTL".into()),
                }
            }
            ("GET", _) if req.header("x-aws-ec2-metadata-token") != Some(token.as_str()) => {
                Reply::Respond(401, String::new())
            }
            ("GET", "/latest/meta-data/iam/security-credentials/") => {
                Reply::Respond(200, "ec2-role\n".into())
            }
            ("GET", "/latest/meta-data/iam/security-credentials/ec2-role") => issued.json(true),
            _ => Reply::Respond(404, String::new()),
        },
    )
}

/// A container credentials endpoint at `path` that demands `authorization`
/// (when given) in the `Authorization` header (401 without).
pub fn container(issued: Issued, path: &str, authorization: Option<&str>) -> LocalServer {
    let (path, auth) = (path.to_owned(), authorization.map(str::to_owned));
    LocalServer::start(move |req| {
        if auth.is_some() && req.header("authorization") != auth.as_deref() {
            return Reply::Respond(401, r#"{"Code":"Unauthorized"}"#.into());
        }
        if req.method == "GET" && req.target == path {
            issued.json(false)
        } else {
            Reply::Respond(404, String::new())
        }
    })
}

/// The SSO portal's `GetRoleCredentials`: needs the bearer token in
/// `x-amz-sso_bearer_token` (401 without), answers for one account and role.
pub fn sso_portal(issued: Issued, bearer: &str, account: &str, role: &str) -> LocalServer {
    let bearer = bearer.to_owned();
    let expected = format!("/federation/credentials?account_id={account}&role_name={role}");
    LocalServer::start(move |req| {
        if req.header("x-amz-sso_bearer_token") != Some(bearer.as_str()) {
            return Reply::Respond(
                401,
                r#"{"message":"Session token not found or invalid"}"#.into(),
            );
        }
        if req.method != "GET" || req.target != expected {
            return Reply::Respond(404, String::new());
        }
        if issued.failing.load(Ordering::SeqCst) {
            return Reply::Respond(500, String::new());
        }
        let n = issued.fetches.fetch_add(1, Ordering::SeqCst);
        let expiry = SystemTime::now() + issued.lifetime;
        let ms = expiry
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        Reply::Respond(
            200,
            format!(
                r#"{{"roleCredentials":{{"accessKeyId":"{}","secretAccessKey":"{}","sessionToken":"{}","expiration":{ms}}}}}"#,
                issued.access_key,
                issued.secret,
                issued.token(n)
            ),
        )
    })
}

/// A server that accepts connections and never answers.
pub fn silent() -> LocalServer {
    LocalServer::start(|_| Reply::Silent)
}
