//! Peak memory of one large `bassoc` on the memory and file backings.
//!
//! Each backing runs in a child process of its own, since the peak
//! (`VmHWM` in `/proc/self/status`, Linux only) is per process. The
//! value is built first and moved into `bassoc`; the report is how far
//! the peak rose above the resident size with the value already built,
//! i.e. how many extra copies of the value the write made.
//!
//! ```sh
//! cargo run --release --example bassoc_memory            # 300 MiB
//! cargo run --release --example bassoc_memory -- 100     # 100 MiB
//! ```

use konserve_s3::blocking::{FileBacking, MemoryBacking, Store};

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Writes `mib_size` MiB under one key with `backing`, in this process.
fn run(backing: &str, mib_size: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("bassoc-memory-{}", std::process::id()));
    // Non-zero bytes, so every page is resident before the write starts.
    let value = vec![0x5a_u8; mib_size << 20];
    let before = status_kib("VmRSS");
    match backing {
        "memory" => {
            let store = Store::new(MemoryBacking::new());
            store.bassoc("big", value)?;
            report(backing, mib_size, before);
            let back = store.bget("big")?.ok_or("value missing")?;
            assert_eq!(back.size, (mib_size << 20) as u64);
        }
        "file" => {
            let store = Store::new(FileBacking::create(&dir)?);
            store.bassoc("big", value)?;
            report(backing, mib_size, before);
            let back = store.bget("big")?.ok_or("value missing")?;
            assert_eq!(back.size, (mib_size << 20) as u64);
            std::fs::remove_dir_all(&dir)?;
        }
        other => return Err(format!("unknown backing {other}").into()),
    }
    Ok(())
}

fn report(backing: &str, mib_size: usize, before: u64) {
    let peak = status_kib("VmHWM");
    println!(
        "{backing:>6}: value {mib_size} MiB, RSS before bassoc {:.0} MiB, peak {:.0} MiB, \
         extra during bassoc {:.0} MiB ({:.2}x the value)",
        mib(before),
        mib(peak),
        mib(peak.saturating_sub(before)),
        mib(peak.saturating_sub(before)) / mib_size as f64,
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if let Some(backing @ ("memory" | "file")) = first.as_deref() {
        let size = args.next().map_or(Ok(300), |s| s.parse())?;
        return run(backing, size);
    }
    let size = first.unwrap_or_else(|| "300".into());
    let exe = std::env::current_exe()?;
    for backing in ["memory", "file"] {
        let status = std::process::Command::new(&exe)
            .args([backing, &size])
            .status()?;
        if !status.success() {
            return Err(format!("{backing} run failed: {status}").into());
        }
    }
    Ok(())
}
