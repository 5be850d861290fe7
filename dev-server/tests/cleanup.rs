//! The server goes away with the process that started it, however that
//! process ends, and not before.
//!
//! The cases that end a process run in a child: this test binary started
//! again with [`CHILD_ENV`] set, running only [`child_process_body`].

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use konserve_s3_dev::SeaweedFs;

/// Set in a child process to the way it is to end.
const CHILD_ENV: &str = "KONSERVE_S3_DEV_CLEANUP_CHILD";
/// Prefixes the line on which a child reports its server.
const MARKER: &str = "ks3-dev-server:";
/// How long the cleanup may take once the launching process is gone.
const GONE_WITHIN: Duration = Duration::from_secs(5);

/// In a child process only (a no-op otherwise): starts a server, reports it,
/// waits for a line on stdin, then ends as [`CHILD_ENV`] says, without ever
/// dropping the server.
#[test]
fn child_process_body() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let server = SeaweedFs::start().unwrap_or_else(|e| panic!("starting SeaweedFS: {e}"));
    println!("{MARKER} {} {}", server.pid(), server.data_dir().display());
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    match mode.as_str() {
        // No destructor runs.
        "exit" => std::process::exit(0),
        // What panic = "abort" does.
        "abort" => std::process::abort(),
        // A static is never dropped; the test harness then exits normally.
        "static" => {
            static SERVER: OnceLock<SeaweedFs> = OnceLock::new();
            SERVER.set(server).unwrap();
        }
        // The parent kills this process with SIGKILL.
        "wait" => thread::sleep(Duration::from_secs(600)),
        other => panic!("unknown {CHILD_ENV} {other:?}"),
    }
}

/// A child process running [`child_process_body`], and its server.
struct ChildWithServer {
    child: Child,
    /// The rest of the child's stdout, read to the end before waiting.
    stdout: BufReader<ChildStdout>,
    weed_pid: u32,
    data_dir: PathBuf,
}

impl ChildWithServer {
    fn start(mode: &str) -> ChildWithServer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_process_body", "--nocapture"])
            .env(CHILD_ENV, mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut report = None;
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap() > 0 {
            if let Some(rest) = std::mem::take(&mut line).strip_prefix(MARKER) {
                let (pid, dir) = rest.trim().split_once(' ').unwrap();
                report = Some((pid.parse().unwrap(), PathBuf::from(dir)));
                break;
            }
        }
        let Some((weed_pid, data_dir)) = report else {
            panic!(
                "the child ended without reporting a server: {:?}",
                child.wait()
            );
        };
        assert!(process_alive(weed_pid), "weed {weed_pid} is not running");
        assert!(data_dir.is_dir(), "{} is missing", data_dir.display());
        ChildWithServer {
            child,
            stdout,
            weed_pid,
            data_dir,
        }
    }

    /// Lets the child go on to end itself, checks that it succeeded or
    /// failed as `succeeds` says, and that weed and its directory go away.
    fn release(mut self, succeeds: bool) {
        self.child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        // Drained, so the child's test harness can print its summary.
        std::io::copy(&mut self.stdout, &mut std::io::sink()).unwrap();
        let status = self.child.wait().unwrap();
        assert_eq!(status.success(), succeeds, "{status}");
        assert_gone_soon(self.weed_pid, &self.data_dir);
    }
}

/// Whether `pid` runs; a zombie does not.
fn process_alive(pid: u32) -> bool {
    if Path::new("/proc/self/stat").exists() {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    } else {
        Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

fn assert_gone_soon(pid: u32, dir: &Path) {
    let start = Instant::now();
    while process_alive(pid) || dir.exists() {
        assert!(
            start.elapsed() < GONE_WITHIN,
            "after {GONE_WITHIN:?}: weed {pid} alive: {}, {} exists: {}",
            process_alive(pid),
            dir.display(),
            dir.exists()
        );
        thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "weed {pid} and its directory gone after {:?}",
        start.elapsed()
    );
}

#[test]
fn weed_dies_when_the_launcher_calls_process_exit() {
    ChildWithServer::start("exit").release(true);
}

#[test]
fn weed_dies_when_the_launcher_aborts() {
    ChildWithServer::start("abort").release(false);
}

#[test]
fn weed_dies_when_the_launcher_exits_with_the_server_in_a_static() {
    ChildWithServer::start("static").release(true);
}

#[test]
fn weed_dies_when_the_launcher_is_killed() {
    let mut launcher = ChildWithServer::start("wait");
    launcher.child.kill().unwrap(); // SIGKILL
    launcher.child.wait().unwrap();
    assert_gone_soon(launcher.weed_pid, &launcher.data_dir);
}

#[test]
fn stop_kills_weed_and_removes_its_data() {
    let start = Instant::now();
    let server = SeaweedFs::start().unwrap();
    let started = start.elapsed();
    let (pid, dir) = (server.pid(), server.data_dir().to_path_buf());
    assert!(process_alive(pid));
    assert!(dir.is_dir());
    let stopping = Instant::now();
    server.stop();
    // stop() waits for the cleanup, so it is done at once.
    assert!(!process_alive(pid), "weed {pid} survived stop()");
    assert!(!dir.exists());
    eprintln!(
        "started in {started:?}, stopped in {:?}",
        stopping.elapsed()
    );
}

#[test]
fn weed_outlives_the_thread_that_started_it() {
    // Unlike PR_SET_PDEATHSIG, which fires when the spawning thread ends.
    let server = thread::spawn(|| SeaweedFs::start().unwrap())
        .join()
        .unwrap();
    thread::sleep(Duration::from_millis(500));
    assert!(process_alive(server.pid()));
    let address = server.endpoint().trim_start_matches("http://");
    assert!(std::net::TcpStream::connect(address).is_ok(), "{address}");
    let (pid, dir) = (server.pid(), server.data_dir().to_path_buf());
    drop(server);
    assert!(!process_alive(pid));
    assert!(!dir.exists());
}
