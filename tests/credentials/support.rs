//! What the credential tests share, in both modes: moto servers (one
//! open, one that authenticates like AWS, with two IAM users), temporary
//! directories, a log capture, and the check that no secret shows.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use konserve_s3_dev::{Identity, Moto, SeaweedFs, SeaweedFsOptions};

use crate::common::Captured;

/// The moto of this test binary (no authentication).
pub fn moto() -> &'static str {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start().unwrap_or_else(|e| panic!("no moto: {e}")))
        .endpoint()
}

/// IAM users of the authenticating moto.
pub struct AuthMoto {
    pub endpoint: String,
    /// May assume roles (policy allows `sts:AssumeRole`).
    pub alice: (String, String),
    /// Has no policy: `AssumeRole` is denied.
    pub bob: (String, String),
    _server: Moto,
}

/// The moto that checks signatures and policies, with alice and bob.
pub fn auth_moto() -> &'static AuthMoto {
    static MOTO: OnceLock<AuthMoto> = OnceLock::new();
    MOTO.get_or_init(|| {
        // Seven unauthenticated actions set up the users and the role;
        // then every request is authenticated.
        let server = Moto::start_with_auth(7).unwrap_or_else(|e| panic!("no moto: {e}"));
        let endpoint = server.endpoint().to_owned();
        let iam = |body: &str| post_form(&endpoint, "iam", body);
        iam("Action=CreateUser&Version=2010-05-08&UserName=alice");
        let alice = keys_of(&iam("Action=CreateAccessKey&Version=2010-05-08&UserName=alice"));
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
        iam(&format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=assume&PolicyDocument={}",
            url_encode(policy)
        ));
        // The role `mid` that alice assumes, allowed to assume `top`.
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        iam(&format!(
            "Action=CreateRole&Version=2010-05-08&RoleName=mid&AssumeRolePolicyDocument={}",
            url_encode(trust)
        ));
        iam(&format!(
            "Action=PutRolePolicy&Version=2010-05-08&RoleName=mid&PolicyName=assume&PolicyDocument={}",
            url_encode(policy)
        ));
        iam("Action=CreateUser&Version=2010-05-08&UserName=bob");
        let bob = keys_of(&iam("Action=CreateAccessKey&Version=2010-05-08&UserName=bob"));
        AuthMoto {
            endpoint,
            alice,
            bob,
            _server: server,
        }
    })
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn keys_of(xml: &str) -> (String, String) {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = xml.find(&open).unwrap_or_else(|| panic!("{xml}")) + open.len();
        let end = start + xml[start..].find('<').unwrap();
        xml[start..end].to_owned()
    };
    (tag("AccessKeyId"), tag("SecretAccessKey"))
}

/// A form POST to moto, routed to `service` by the credential scope of an
/// (unchecked) authorization header; the answer's body.
fn post_form(endpoint: &str, service: &str, body: &str) -> String {
    let hostport = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(hostport).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "moto setup failed: {out}");
    out
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("ks3-creds-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything logged in this test binary (tracing at TRACE, with `log`
/// records, ureq's, bridged), from the first call on.
pub fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        captured
    })
}

/// The logs so far, plus the bytes of ureq-proto's hex dumps joined back
/// together (it logs what it reads and writes in rows of 16, so a secret
/// longer than that is split over lines).
fn logs_and_dumps() -> String {
    let logs = logs().text();
    let mut joined = String::new();
    for line in logs.lines() {
        match line.split_once("ureq_proto::util: ") {
            // `hhhh hhhh … (8 groups)  ascii`: the ASCII column.
            Some((_, row)) if row.len() > 42 => joined.push_str(row[41..].trim_start()),
            _ => joined.push('\n'),
        }
    }
    format!("{logs}\n--- hex dumps joined ---\n{joined}")
}

/// Asserts that no secret shows in the texts nor in the logs so far.
pub fn assert_hidden(texts: &[String], secrets: &[&str]) {
    let logs = logs_and_dumps();
    for secret in secrets {
        assert!(!secret.is_empty());
        for t in texts {
            assert!(!t.contains(secret), "a secret shows in {t}");
        }
        if let Some(at) = logs.find(secret) {
            // Test values, safe to show: where the log gave one away.
            let from = logs[..at].rfind('\n').unwrap_or(0);
            let to = logs[at..].find('\n').map_or(logs.len(), |i| at + i);
            panic!("a secret shows in the logs: {}", &logs[from..to]);
        }
    }
}

/// A profile file's `credential_process` line running a shell script
/// written into `dir` with `body`.
pub fn process_script(dir: &TempDir, name: &str, body: &str) -> String {
    let p = dir.write(name, &format!("#!/bin/sh\n{body}\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    p.display().to_string()
}

/// A SeaweedFS of its own with identities of limited rights: `limited`
/// may read, write and list one existing bucket (no bucket creation or
/// deletion), `reader` may only read and list it, and unsigned requests
/// may read a public bucket.
pub struct Limited {
    pub endpoint: String,
    pub bucket: String,
    pub public_bucket: String,
    pub limited: (String, String),
    pub reader: (String, String),
    pub admin: (String, String),
    _server: SeaweedFs,
}

pub fn limited() -> &'static Limited {
    static LIMITED: OnceLock<Limited> = OnceLock::new();
    LIMITED.get_or_init(|| {
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let bucket = format!("lp-store-{tag}");
        let public_bucket = format!("lp-public-{tag}");
        let keys = |who: &str| {
            (
                format!("KS3{who}{tag}").to_uppercase(),
                format!("{who}-secret-{tag}"),
            )
        };
        let (limited, reader) = (keys("LTD"), keys("RDR"));
        let identity = |name: &str, keys: &(String, String), actions: &[&str]| Identity {
            name: name.to_owned(),
            keys: Some(keys.clone()),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        };
        let server = SeaweedFs::start_with(SeaweedFsOptions {
            extra_identities: vec![
                identity(
                    "limited",
                    &limited,
                    &[
                        &format!("Read:{bucket}"),
                        &format!("Write:{bucket}"),
                        &format!("List:{bucket}"),
                    ],
                ),
                identity(
                    "reader",
                    &reader,
                    &[&format!("Read:{bucket}"), &format!("List:{bucket}")],
                ),
                Identity {
                    name: "anonymous".into(),
                    keys: None,
                    actions: vec![format!("Read:{public_bucket}")],
                },
            ],
            ..SeaweedFsOptions::default()
        })
        .unwrap_or_else(|e| panic!("no SeaweedFS: {e}"));
        let admin = (
            server.access_key().to_owned(),
            server.secret_key().to_owned(),
        );
        for b in [&bucket, &public_bucket] {
            let config = konserve_s3::config::S3Config::builder()
                .bucket(b.clone())
                .endpoint(server.endpoint())
                .credentials(admin.0.clone(), admin.1.clone())
                .build()
                .unwrap();
            let client = konserve_s3::blocking::S3Client::new(&config).unwrap();
            assert!(client.create_bucket().unwrap());
        }
        Limited {
            endpoint: server.endpoint().to_owned(),
            bucket,
            public_bucket,
            limited,
            reader,
            admin,
            _server: server,
        }
    })
}
