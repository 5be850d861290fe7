//! A local moto server (AWS service mocks, here for STS) for konserve-s3's
//! credential tests, started and stopped like [`SeaweedFs`](crate::SeaweedFs):
//! under the same supervisor, so it dies with the launching process.
//!
//! # Finding `moto_server`
//!
//! In this order: the path in `KONSERVE_S3_MOTO` ([`MOTO_ENV`]);
//! `moto_server` on `PATH`; a cached install at
//! `$XDG_CACHE_HOME/konserve-s3/moto-5.2.1/bin/moto_server` (or under
//! `$HOME/.cache`), created on first use with `python3 -m venv` and
//! `pip install "moto[server]==5.2.1"`.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::{DevServerError, run, spawn_supervised, supervised_command, venv_bin, wait_timeout};

/// The moto release installed when no `moto_server` is found.
pub const MOTO_VERSION: &str = "5.2.1";

/// Environment variable naming the `moto_server` program to run.
pub const MOTO_ENV: &str = "KONSERVE_S3_MOTO";

static MOTO_INSTALL_LOCK: Mutex<()> = Mutex::new(());

/// A running moto server on a free loopback port; stopped when dropped,
/// and when this process ends in any way.
///
/// ```no_run
/// let moto = konserve_s3_dev::Moto::start()?;
/// assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
/// # Ok::<(), konserve_s3_dev::DevServerError>(())
/// ```
#[derive(Debug)]
pub struct Moto {
    supervisor: Option<Child>,
    lifeline: Option<ChildStdin>,
    root: PathBuf,
    endpoint: String,
}

impl Moto {
    /// Finds (or installs) `moto_server`, starts it and waits until it
    /// answers.
    ///
    /// # Errors
    /// [`DevServerError::Moto`] when it cannot be found, installed or
    /// started in time; the other variants for process and file errors.
    pub fn start() -> Result<Moto, DevServerError> {
        Self::launch(None)
    }

    /// A moto that authenticates requests as AWS does (checks SigV4
    /// signatures against its IAM users' keys, and their policies) after
    /// the first `free_actions` actions, which set up those users.
    ///
    /// # Errors
    /// As [`Moto::start`].
    pub fn start_with_auth(free_actions: u32) -> Result<Moto, DevServerError> {
        Self::launch(Some(free_actions))
    }

    fn launch(free_actions: Option<u32>) -> Result<Moto, DevServerError> {
        let program = find_moto()?;
        let port = free_port().map_err(DevServerError::io("choosing a port for moto"))?;
        let root = std::env::temp_dir().join(format!(
            "ks3moto-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        fs::create_dir_all(&root).map_err(DevServerError::io("creating moto's directory"))?;
        let mut command = supervised_command("ks3-moto-supervisor", &root, "moto.log")?;
        command
            .arg("")
            .arg(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env(
                "INITIAL_NO_AUTH_ACTION_COUNT",
                free_actions.map_or_else(|| "inf".to_owned(), |n| n.to_string()),
            );
        let mut supervisor = spawn_supervised(&mut command)?;
        let mut moto = Moto {
            lifeline: supervisor.stdin.take(),
            supervisor: Some(supervisor),
            root,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        loop {
            if get_status(port, "/moto-api/").is_ok() {
                return Ok(moto);
            }
            let exited = moto
                .supervisor
                .as_mut()
                .and_then(|s| s.try_wait().ok().flatten())
                .is_some()
                || moto.root.join("weed.exited").exists();
            if exited || started.elapsed() > Duration::from_secs(60) {
                let log = fs::read_to_string(moto.root.join("moto.log")).unwrap_or_default();
                return Err(DevServerError::Moto {
                    reason: format!(
                        "{} did not answer on port {port}{}; its output:\n{log}",
                        program.display(),
                        if exited {
                            " (it exited)"
                        } else {
                            " within 60 s"
                        }
                    ),
                });
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:<port>`: every service moto mocks (STS, S3, …).
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        drop(self.lifeline.take());
        if let Some(mut supervisor) = self.supervisor.take() {
            if !wait_timeout(&mut supervisor, Duration::from_secs(5)) {
                let _ = supervisor.kill();
            }
            let _ = supervisor.wait();
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// The status of `GET path` on 127.0.0.1:`port`.
fn get_status(port: u16, path: &str) -> io::Result<u16> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no HTTP status"))
}

fn moto_not_found(reason: String) -> DevServerError {
    DevServerError::Moto {
        reason: format!(
            "moto_server not found: {reason}. Install it with \
             `pip install \"moto[server]=={MOTO_VERSION}\"` or set {MOTO_ENV}"
        ),
    }
}

fn find_moto() -> Result<PathBuf, DevServerError> {
    if let Some(path) = std::env::var_os(MOTO_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(moto_not_found(format!(
                "{MOTO_ENV} names {}, not a file",
                path.display()
            )))
        };
    }
    let exe = format!("moto_server{}", std::env::consts::EXE_SUFFIX);
    if let Some(path) = std::env::var_os("PATH")
        && let Some(found) = std::env::split_paths(&path)
            .map(|dir| dir.join(&exe))
            .find(|p| p.is_file())
    {
        return Ok(found);
    }
    let dir = crate::cache_dir()
        .ok_or_else(|| moto_not_found("no XDG_CACHE_HOME or HOME for a cached install".into()))?
        .join(format!("moto-{MOTO_VERSION}"));
    let program = venv_bin(&dir).join(&exe);
    if !program.is_file() {
        install(&dir).map_err(|reason| DevServerError::Moto {
            reason: format!(
                "installing moto[server]=={MOTO_VERSION} into {}: {reason}",
                dir.display()
            ),
        })?;
    }
    Ok(program)
}

/// Installs moto into a venv at `dir`, under a lock, through a temporary
/// directory renamed at the end.
fn install(dir: &Path) -> Result<(), String> {
    let parent = dir.parent().ok_or("no parent directory")?;
    fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    let _guard = MOTO_INSTALL_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let lock = File::create(parent.join(format!("moto-{MOTO_VERSION}.lock")))
        .map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    if venv_bin(dir).join("moto_server").is_file() {
        return Ok(());
    }
    tracing::info!(
        "installing moto {MOTO_VERSION} into {} (one time)",
        dir.display()
    );
    let tmp = parent.join(format!(
        ".moto-{MOTO_VERSION}.tmp-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        run(Command::new("python3").arg("-m").arg("venv").arg(&tmp))?;
        let python = venv_bin(&tmp).join("python");
        run(Command::new(python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            &format!("moto[server]=={MOTO_VERSION}"),
        ]))?;
        let _ = fs::remove_dir_all(dir);
        fs::rename(&tmp, dir).map_err(|e| e.to_string())
    })();
    let _ = fs::remove_dir_all(&tmp);
    result
}
