//! What the process used, and what machine this is.

use std::process::Command;
use std::time::Duration;

/// User + system CPU time of this whole process so far (all threads), from
/// `getrusage(RUSAGE_SELF)`.
pub fn cpu_time() -> Duration {
    // SAFETY: `getrusage` only writes into the zeroed struct we pass; on
    // failure (impossible with RUSAGE_SELF) the struct stays zero.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`), in KiB.
pub fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// The machine, for the report.
#[derive(Clone, Debug)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    pub rustc: String,
    pub date: String,
    /// MiB/s of MD5 (`Content-MD5`, what the store computes for every body).
    pub md5_mib_s: f64,
    /// CRC-32C, MiB/s on one core (`x-amz-checksum-crc32c`, the store's
    /// default where the provider checks it).
    pub crc32c_mib_s: f64,
    /// MiB/s of SHA-256 (what object_store computes to sign every payload).
    pub sha256_mib_s: f64,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        // 64 MiB of varied bytes, hashed by both.
        let data: Vec<u8> = (0..HASHED_MIB << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_gib: mem_kib / (1024.0 * 1024.0),
            kernel: command_line("uname", &["-sr"]),
            rustc: command_line("rustc", &["--version"]),
            date: jiff::Timestamp::now()
                .strftime("%Y-%m-%d %H:%M UTC")
                .to_string(),
            md5_mib_s: hash_speed(&data, |b| {
                std::hint::black_box(konserve_s3::internals::s3::request::content_md5(b));
            }),
            crc32c_mib_s: hash_speed(&data, |b| {
                std::hint::black_box(konserve_s3::internals::s3::request::crc32c_base64(b));
            }),
            sha256_mib_s: hash_speed(&data, |b| {
                use sha2::Digest;
                std::hint::black_box(sha2::Sha256::digest(b));
            }),
        }
    }
}

/// Size of the buffer the hashing speeds are measured on.
const HASHED_MIB: u32 = 64;

/// MiB/s of `hash` over `data`, the best of three runs.
fn hash_speed(data: &[u8], hash: impl Fn(&[u8])) -> f64 {
    let mib = data.len() as f64 / f64::from(1u32 << 20);
    (0..3)
        .map(|_| {
            let t = std::time::Instant::now();
            hash(data);
            mib / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// Free bytes on the file system holding `path` (`statvfs`), if known.
pub fn free_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `statvfs` writes only into the zeroed struct we pass and reads
    // the NUL-terminated path, which lives until the call returns.
    let stat = unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(c_path.as_ptr(), &mut stat) == 0).then_some(stat)
    }?;
    // Both are u64 on Linux, the only system the benchmark runs on.
    Some(stat.f_bavail * stat.f_frsize)
}

/// The first line a command prints, or `unknown`.
pub fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8(o.stdout)
                .ok()?
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into())
}
