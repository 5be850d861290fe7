//! The tiered store and the value cache against plain S3 reads, one
//! thread, one small value: S3 `get`; tiered `get` answered by its file
//! frontend; cache hit (trusting, konserve's), revalidated hit (one
//! conditional GET answered 304) and miss (a GET and a decode).

use std::time::{Duration, Instant};

use konserve_s3::blocking::{FileBacking, S3Backing, S3Client, Store, TieredBacking};
use konserve_s3::config::{CacheOptions, S3Config, TieredOptions, WritePolicy};
use konserve_s3::value::Value;

use crate::measure::Res;

/// One measured case.
#[derive(Clone, Debug)]
pub struct Case {
    /// What was measured.
    pub name: &'static str,
    /// Every operation's latency.
    pub latencies: Vec<Duration>,
}

impl Case {
    pub fn quantile_us(&self, q: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    }

    pub fn ops_per_sec(&self) -> f64 {
        let total: Duration = self.latencies.iter().sum();
        self.latencies.len() as f64 / total.as_secs_f64().max(1e-9)
    }
}

fn measure(name: &'static str, n: usize, mut op: impl FnMut(usize) -> Res<()>) -> Res<Case> {
    for i in 0..n.min(20) {
        op(i)?; // warm-up
    }
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        op(i)?;
        latencies.push(started.elapsed());
    }
    Ok(Case { name, latencies })
}

fn expect(got: Option<Value>, want: &Value) -> Res<()> {
    if got.as_ref() == Some(want) {
        Ok(())
    } else {
        Err(format!("read {got:?}, expected {want:?}").into())
    }
}

/// Runs the cases on a fresh store per case in `config`'s bucket.
pub fn run(config: &S3Config, quick: bool) -> Res<Vec<Case>> {
    let n = if quick { 300 } else { 3000 };
    let value = Value::from("x".repeat(1024));
    let s3 = |id| -> Res<S3Backing> {
        let mut c = config.clone();
        c.id = Some(id);
        Ok(S3Backing::new(S3Client::new(&c)?, id))
    };
    let id = uuid::Uuid::new_v4();
    let plain = Store::new(s3(id)?);
    plain.assoc("k", value.clone())?;
    plain.assoc("other", value.clone())?;
    let mut cases = vec![measure("S3 get", n, |_| expect(plain.get("k")?, &value))?];

    let dir = std::env::temp_dir().join(format!("konserve-s3-bench-tiered-{id}"));
    let tiered = Store::new(TieredBacking::new(
        FileBacking::create(&dir)?,
        s3(id)?,
        TieredOptions::new(WritePolicy::WriteThrough),
    )?);
    expect(tiered.get("k")?, &value)?; // fills the frontend
    cases.push(measure("tiered get, file frontend hit", n, |_| {
        expect(tiered.get("k")?, &value)
    })?);

    let trusting = Store::cached(s3(id)?, CacheOptions::default());
    cases.push(measure("cache hit", n, |_| {
        expect(trusting.get("k")?, &value)
    })?);
    let revalidating = Store::cached(s3(id)?, CacheOptions::default().revalidate(true));
    cases.push(measure("cache revalidated hit (GET → 304)", n, |_| {
        expect(revalidating.get("k")?, &value)
    })?);
    // One entry and two keys taken in turn: every read misses.
    let missing = Store::cached(s3(id)?, CacheOptions::default().max_entries(1));
    cases.push(measure("cache miss", n, |i| {
        let key = if i % 2 == 0 { "k" } else { "other" };
        expect(missing.get(key)?, &value)
    })?);
    let stats = revalidating.cache_stats().unwrap_or_default();
    if stats.misses != 1 {
        return Err(format!(
            "the revalidating cache missed {} times, not once",
            stats.misses
        )
        .into());
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(cases)
}

/// The cases as a markdown table.
pub fn table(cases: &[Case]) -> String {
    let mut t = String::from("| case | p50 µs | p99 µs | ops/s |\n| --- | ---: | ---: | ---: |\n");
    for c in cases {
        t.push_str(&format!(
            "| {} | {:.1} | {:.1} | {:.0} |\n",
            c.name,
            c.quantile_us(0.5),
            c.quantile_us(0.99),
            c.ops_per_sec()
        ));
    }
    t
}

/// Prints the cases.
pub fn print(cases: &[Case]) {
    println!("\n## tiered store and cache: `get` of a 1 KiB value, one thread\n");
    print!("{}", table(cases));
}
