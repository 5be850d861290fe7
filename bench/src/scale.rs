//! `keys` as the store grows (1 000, 10 000, 100 000 keys): time, client
//! CPU and the memory of one listing, the store (blocking and async) next
//! to the floor's same requests. The sequential Clojure pattern is left out
//! (at 100 000 keys it alone would take minutes; the `keys` part has it).

use std::sync::Arc;

use uuid::Uuid;

use crate::floor::{Floor, Target};
use crate::keys::{self, KeysCtx, Lister, Timing};
use crate::measure::Res;
use crate::sys::status_kib;
use crate::{alloc, config, object_store_for};

/// The listers measured at every size.
pub const LISTERS: [Lister; 3] = [Lister::Store, Lister::StoreAsync, Lister::Floor];

/// One listing at one store size, in a child process of its own.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub keys: usize,
    pub lister: Lister,
    pub secs: f64,
    pub cpu_secs: f64,
    /// The largest live heap during the listing above the live heap before
    /// it (the counting allocator).
    pub heap_mib: f64,
    /// Peak RSS (`VmHWM`, reset through `/proc/self/clear_refs` just before
    /// the listing) above the RSS before it (the connected handles).
    pub rss_growth_mib: f64,
    /// That peak RSS of the child process.
    pub rss_peak_mib: f64,
}

/// Resets the process's peak RSS to its current RSS (`echo 5 >
/// /proc/self/clear_refs`); whether the kernel allowed it.
fn reset_hwm() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The argument that makes the benchmark binary a `scale` child.
pub const CHILD_ARG: &str = "scale-child";

fn lister_arg(who: Lister) -> &'static str {
    match who {
        Lister::Store => "store",
        Lister::StoreAsync => "store-async",
        _ => "floor",
    }
}

/// One listing by `who` in a child process of its own, so that nothing
/// else of the benchmark allocates or frees while its memory is measured.
fn measure(target: &Target, id: Uuid, n: usize, who: Lister) -> Res<Row> {
    let mut child = std::process::Command::new(std::env::current_exe()?);
    target.to_child(&mut child);
    let out = child
        .arg(CHILD_ARG)
        .arg(lister_arg(who))
        .env("KSB_STORE_ID", id.to_string())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "scale child {} failed ({}): {stdout}{}",
            lister_arg(who),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("scale child printed no result: {stdout}"))?;
    let f: Vec<f64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let [
        found,
        secs,
        cpu_secs,
        heap_mib,
        rss_growth_mib,
        rss_peak_mib,
    ] = f[..]
    else {
        return Err(format!("bad scale child result: {line}").into());
    };
    if found as usize != n {
        return Err(format!("{}: found {found} keys of {n}", who.name()).into());
    }
    Ok(Row {
        keys: n,
        lister: who,
        secs,
        cpu_secs,
        heap_mib,
        rss_growth_mib,
        rss_peak_mib,
    })
}

/// The child's `main`: connects to the store, lists it once as `arg`
/// says, prints `RESULT found secs cpu_secs heap_mib rss_growth_mib
/// rss_peak_mib`.
pub fn child_main(arg: &str) -> Res<()> {
    let who = match arg {
        "store" => Lister::Store,
        "store-async" => Lister::StoreAsync,
        "floor" => Lister::Floor,
        other => return Err(format!("unknown lister {other}").into()),
    };
    let target = Target::from_env()?;
    let var = |n: &str| std::env::var(n).map_err(|_| format!("{n} not set"));
    let id: Uuid = var("KSB_STORE_ID")?.parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cfg = config(&target, id)?;
    let store = konserve_s3::blocking::connect_store(&cfg)?;
    let ctx = KeysCtx {
        rt: &rt,
        client: store.backing().client().clone(),
        store_async: rt.block_on(konserve_s3::nonblocking::connect_store(&cfg))?,
        store,
        floor: Arc::new(Floor::new(&target)?),
        object_store: object_store_for(&target)?,
        prefix: konserve_s3::internals::layout::store_prefix(id),
    };
    let reset = reset_hwm();
    let rss0 = status_kib("VmRSS").unwrap_or(0);
    let heap0 = alloc::reset_peak();
    let mut timing = Timing::default();
    let found = keys::run(&ctx, who, &mut timing)?;
    let heap = alloc::peak().saturating_sub(heap0);
    let hwm = status_kib("VmHWM").unwrap_or(0);
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "RESULT {found} {:.6} {:.6} {:.3} {:.3} {:.3}",
        timing.secs(),
        timing.cpu_secs(),
        heap as f64 / f64::from(1u32 << 20),
        if reset {
            mib(hwm.saturating_sub(rss0))
        } else {
            f64::NAN
        },
        mib(hwm)
    );
    Ok(())
}

/// Populates a store of each size in `counts` and lists it with every
/// lister of [`LISTERS`], the order rotating between sizes.
pub fn run(counts: &[usize], target: &Target) -> Res<Vec<Row>> {
    let mut rows = Vec::new();
    for (round, &n) in counts.iter().enumerate() {
        let id = Uuid::new_v4();
        let cfg = config(target, id)?;
        let store = konserve_s3::blocking::create_store(&cfg)?;
        let t0 = std::time::Instant::now();
        keys::populate(&Floor::new(target)?, id, n)?;
        println!(
            "\nscale: {n} keys written in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        for j in 0..LISTERS.len() {
            let who = LISTERS[(j + round) % LISTERS.len()];
            let row = measure(target, id, n, who)?;
            println!(
                "  {:<55} {:>7.2} s  CPU {:>6.2} s  heap +{:>6.1} MiB  RSS +{:>6.1} MiB (peak {:.1})",
                who.name(),
                row.secs,
                row.cpu_secs,
                row.heap_mib,
                row.rss_growth_mib,
                row.rss_peak_mib
            );
            rows.push(row);
        }
        // Free the server's disk for the next size.
        crate::empty_bucket(store.backing().client())?;
    }
    Ok(rows)
}

/// Wall seconds of `who` at `n` keys.
pub fn secs(rows: &[Row], n: usize, who: Lister) -> Option<f64> {
    rows.iter()
        .find(|r| r.keys == n && r.lister == who)
        .map(|r| r.secs)
}
