//! A 1 GiB binary value streamed in and out, each case in a child process
//! of this binary so its peak RSS (`VmHWM`) is its own.

use std::io::Read;

use std::process::Command;
use std::time::Instant;
use tokio::io::AsyncReadExt;

use konserve_s3::config::S3Config;
use konserve_s3::value::Value;
use uuid::Uuid;

use crate::floor::{Floor, FloorAsync, Target, drain, drain_async};
use crate::measure::Res;
use crate::ops::Key;
use crate::sys::{cpu_time, status_kib};

/// The argument that makes this binary a streaming child.
pub const CHILD_ARG: &str = "stream-child";
/// Part size of the floor's multipart upload: the store's default.
pub const PART_SIZE: usize = 8 << 20;

/// What a child does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    FloorPut,
    StorePut,
    StoreAsyncPut,
    FloorGet,
    FloorAsyncGet,
    StoreGet,
    StoreAsyncGet,
}

impl Case {
    pub const ALL: [Case; 7] = [
        Case::FloorPut,
        Case::StorePut,
        Case::StoreAsyncPut,
        Case::FloorGet,
        Case::FloorAsyncGet,
        Case::StoreGet,
        Case::StoreAsyncGet,
    ];

    pub fn arg(self) -> &'static str {
        match self {
            Case::FloorPut => "floor-put",
            Case::StorePut => "store-put",
            Case::StoreAsyncPut => "store-async-put",
            Case::FloorGet => "floor-get",
            Case::FloorAsyncGet => "floor-async-get",
            Case::StoreGet => "store-get",
            Case::StoreAsyncGet => "store-async-get",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Case::FloorPut => "floor ureq: presigned multipart upload, 8 MiB parts",
            Case::StorePut => "konserve-s3 blocking `bassoc_reader`",
            Case::StoreAsyncPut => "konserve-s3 async `bassoc_reader`",
            Case::FloorGet => "floor ureq: presigned GET into a sink",
            Case::FloorAsyncGet => "floor reqwest: presigned GET into a sink",
            Case::StoreGet => "konserve-s3 blocking `bget` into a sink",
            Case::StoreAsyncGet => "konserve-s3 async `bget` into a sink",
        }
    }

    pub fn is_put(self) -> bool {
        matches!(self, Case::FloorPut | Case::StorePut | Case::StoreAsyncPut)
    }

    fn parse(s: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.arg() == s)
    }
}

/// What one child measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamResult {
    pub bytes: u64,
    pub secs: f64,
    pub peak_rss_kib: u64,
    pub cpu_secs: f64,
}

impl StreamResult {
    pub fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / self.secs.max(1e-9)
    }
}

/// Where the children find the server and the store.
#[derive(Clone, Debug)]
pub struct StreamSetup {
    pub target: Target,
    pub store_id: Uuid,
    pub size: u64,
}

const STORE_KEY: &str = "big";
const FLOOR_KEY: &str = "big-floor";

/// Runs `case` in a child process and reads what it measured.
pub fn run_child(setup: &StreamSetup, case: Case) -> Res<StreamResult> {
    let t = &setup.target;
    let mut child = Command::new(std::env::current_exe()?);
    t.to_child(&mut child);
    let out = child
        .arg(CHILD_ARG)
        .arg(case.arg())
        .env("KSB_STORE_ID", setup.store_id.to_string())
        .env("KSB_SIZE", setup.size.to_string())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{} child failed ({}): {}{}",
            case.arg(),
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("{} child printed no result: {stdout}", case.arg()))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != 4 {
        return Err(format!("bad child result: {line}").into());
    }
    Ok(StreamResult {
        bytes: f[0].parse()?,
        secs: f[1].parse()?,
        peak_rss_kib: f[2].parse()?,
        cpu_secs: f[3].parse()?,
    })
}

/// The child's `main`: runs the case named by `arg`, prints
/// `RESULT bytes secs peak_rss_kib cpu_secs`.
pub fn child_main(arg: &str) -> Res<()> {
    let case = Case::parse(arg).ok_or_else(|| format!("unknown case {arg}"))?;
    let target = Target::from_env()?;
    let var = |n: &str| std::env::var(n).map_err(|_| format!("{n} not set"));
    let store_id: Uuid = var("KSB_STORE_ID")?.parse()?;
    let size: u64 = var("KSB_SIZE")?.parse()?;
    let config = S3Config::builder()
        .bucket(target.bucket.clone())
        .id(store_id)
        .endpoint(target.endpoint.clone())
        .region(target.region.clone())
        .credentials(target.access_key.clone(), target.secret_key.clone())
        .build()?;
    let source = || std::io::repeat(0x5a).take(size);
    let (bytes, secs, cpu) = match case {
        Case::FloorPut | Case::FloorGet => {
            let floor = Floor::new(&target)?;
            let (cpu0, t0) = (cpu_time(), Instant::now());
            let bytes = if case == Case::FloorPut {
                let key = Key::new(store_id, FLOOR_KEY.into());
                floor.put_multipart(&key.object, &mut source(), PART_SIZE)?
            } else {
                // The store's object: header, metadata, then the value.
                let key = Key::new(store_id, STORE_KEY.into());
                floor.get_to_sink(&key.object)?
            };
            (bytes, t0.elapsed(), cpu_time() - cpu0)
        }
        Case::StorePut | Case::StoreGet => {
            let store = konserve_s3::blocking::connect_store(&config)?;
            let (cpu0, t0) = (cpu_time(), Instant::now());
            let bytes = if case == Case::StorePut {
                let mut reader = source();
                store.bassoc_reader(Value::from(STORE_KEY), &mut reader)?;
                size
            } else {
                let mut value = store.bget(Value::from(STORE_KEY))?.ok_or("bget: missing")?;
                let n = drain(&mut value.reader)?;
                if n != value.size {
                    return Err("bget: short".into());
                }
                n
            };
            (bytes, t0.elapsed(), cpu_time() - cpu0)
        }
        Case::FloorAsyncGet => {
            let floor = FloorAsync::new(&target)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let key = Key::new(store_id, STORE_KEY.into());
            let (cpu0, t0) = (cpu_time(), Instant::now());
            let bytes = rt.block_on(floor.get_to_sink(&key.object))?;
            (bytes, t0.elapsed(), cpu_time() - cpu0)
        }
        Case::StoreAsyncPut | Case::StoreAsyncGet => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let store = konserve_s3::nonblocking::connect_store(&config).await?;
                let (cpu0, t0) = (cpu_time(), Instant::now());
                let bytes = if case == Case::StoreAsyncPut {
                    let mut reader = tokio::io::repeat(0x5a).take(size);
                    store
                        .bassoc_reader(Value::from(STORE_KEY), &mut reader)
                        .await?;
                    size
                } else {
                    let mut value = store
                        .bget(Value::from(STORE_KEY))
                        .await?
                        .ok_or("bget: missing")?;
                    let n = drain_async(&mut value.reader).await?;
                    if n != value.size {
                        return Err("bget: short".into());
                    }
                    n
                };
                Ok::<_, crate::measure::BoxError>((bytes, t0.elapsed(), cpu_time() - cpu0))
            })?
        }
    };
    let peak = status_kib("VmHWM").unwrap_or(0);
    println!(
        "RESULT {bytes} {:.6} {peak} {:.6}",
        secs.as_secs_f64(),
        cpu.as_secs_f64()
    );
    Ok(())
}
