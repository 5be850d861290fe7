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

/// One listing at one store size.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub keys: usize,
    pub lister: Lister,
    pub secs: f64,
    pub cpu_secs: f64,
    /// The largest live heap during the listing above the live heap before
    /// it (the counting allocator: exact, whatever the allocator keeps).
    pub heap_mib: f64,
    /// Peak RSS (`VmHWM`, reset through `/proc/self/clear_refs` just before
    /// the listing) above the RSS before it; memory the allocator kept from
    /// earlier parts is reused first, so this can read lower than the heap.
    pub rss_growth_mib: f64,
    /// That peak RSS of the whole process.
    pub rss_peak_mib: f64,
}

/// Resets the process's peak RSS to its current RSS (`echo 5 >
/// /proc/self/clear_refs`); whether the kernel allowed it.
fn reset_hwm() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// One listing by `who`, with its memory.
fn measure(ctx: &KeysCtx<'_>, n: usize, who: Lister) -> Res<Row> {
    let reset = reset_hwm();
    let rss0 = status_kib("VmRSS").unwrap_or(0);
    let heap0 = alloc::reset_peak();
    let mut timing = Timing::default();
    let found = keys::run(ctx, who, &mut timing)?;
    let heap_peak = alloc::peak();
    let hwm = status_kib("VmHWM").unwrap_or(0);
    if found != n {
        return Err(format!("{}: found {found} keys of {n}", who.name()).into());
    }
    let mib = |kib: u64| kib as f64 / 1024.0;
    Ok(Row {
        keys: n,
        lister: who,
        secs: timing.secs(),
        cpu_secs: timing.cpu_secs(),
        heap_mib: heap_peak.saturating_sub(heap0) as f64 / f64::from(1u32 << 20),
        rss_growth_mib: if reset {
            mib(hwm.saturating_sub(rss0))
        } else {
            f64::NAN
        },
        rss_peak_mib: mib(hwm),
    })
}

/// Populates a store of each size in `counts` and lists it with every
/// lister of [`LISTERS`], the order rotating between sizes.
pub fn run(counts: &[usize], rt: &tokio::runtime::Runtime, target: &Target) -> Res<Vec<Row>> {
    let mut rows = Vec::new();
    for (round, &n) in counts.iter().enumerate() {
        let id = Uuid::new_v4();
        let cfg = config(target, id)?;
        let store = konserve_s3::blocking::create_store(&cfg)?;
        let floor = Arc::new(Floor::new(target)?);
        let t0 = std::time::Instant::now();
        keys::populate(&floor, id, n)?;
        println!(
            "\nscale: {n} keys written in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        let ctx = KeysCtx {
            rt,
            client: store.backing().client().clone(),
            store_async: rt.block_on(konserve_s3::nonblocking::connect_store(&cfg))?,
            store,
            floor,
            object_store: object_store_for(target)?,
            prefix: konserve_s3::internals::layout::store_prefix(id),
        };
        for j in 0..LISTERS.len() {
            let who = LISTERS[(j + round) % LISTERS.len()];
            let row = measure(&ctx, n, who)?;
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
        let objects: Vec<String> = ctx
            .client
            .list_objects(None)?
            .into_iter()
            .map(|o| o.key)
            .collect();
        ctx.client.delete_objects(&objects)?;
    }
    Ok(rows)
}

/// Wall seconds of `who` at `n` keys.
pub fn secs(rows: &[Row], n: usize, who: Lister) -> Option<f64> {
    rows.iter()
        .find(|r| r.keys == n && r.lister == who)
        .map(|r| r.secs)
}
