//! Running `n` operations on `c` workers and measuring them: wall time,
//! per-operation latency, and the process's CPU time.

use std::future::Future;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::alloc;
use crate::sys::cpu_time;

/// Any failure; the benchmark stops at the first.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Result with [`BoxError`].
pub type Res<T> = Result<T, BoxError>;

/// What one or more runs of the same cell measured.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Operations done.
    pub ops: u64,
    /// Wall time, summed over runs.
    pub wall: Duration,
    /// Process CPU time (user + system), summed over runs.
    pub cpu: Duration,
    /// Every operation's latency, in nanoseconds.
    pub latencies: Vec<u64>,
    /// Requests the client repeated (the store's statistics; 0 for others).
    pub retries: u64,
    /// Heap bytes the whole process allocated during the runs (the counting
    /// allocator), summed over runs.
    pub alloc: u64,
    /// Each run on its own (ops, wall), in the order they ran.
    pub runs: Vec<(u64, Duration)>,
}

impl Sample {
    /// One run.
    fn one(latencies: Vec<u64>, wall: Duration, cpu: Duration, alloc: u64) -> Sample {
        let ops = latencies.len() as u64;
        Sample {
            ops,
            wall,
            cpu,
            latencies,
            retries: 0,
            alloc,
            runs: vec![(ops, wall)],
        }
    }

    /// Adds another run of the same cell.
    pub fn merge(&mut self, other: Sample) {
        self.ops += other.ops;
        self.wall += other.wall;
        self.cpu += other.cpu;
        self.latencies.extend(other.latencies);
        self.retries += other.retries;
        self.alloc += other.alloc;
        self.runs.extend(other.runs);
    }

    /// Heap bytes allocated per operation.
    pub fn alloc_per_op(&self) -> f64 {
        self.alloc as f64 / self.ops.max(1) as f64
    }

    /// Operations per second of each group of `per` consecutive runs.
    pub fn grouped_ops_per_sec(&self, per: usize) -> Vec<f64> {
        self.runs
            .chunks(per.max(1))
            .map(|g| {
                let ops: u64 = g.iter().map(|r| r.0).sum();
                let wall: Duration = g.iter().map(|r| r.1).sum();
                ops as f64 / wall.as_secs_f64().max(1e-9)
            })
            .collect()
    }

    /// The slowest operation, in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.latencies.iter().copied().max().unwrap_or(0) as f64 / 1e6
    }

    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile of latency (0..=1), in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted[idx.min(sorted.len() - 1)] as f64 / 1e6
    }

    /// Client CPU time per operation, in microseconds.
    pub fn cpu_us_per_op(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.ops.max(1) as f64
    }
}

/// Runs `per_worker` operations on each of `workers` threads; `op(worker, i)`.
pub fn run_threads<F>(workers: usize, per_worker: usize, op: F) -> Res<Sample>
where
    F: Fn(usize, usize) -> Res<()> + Sync,
{
    let barrier = Barrier::new(workers + 1);
    let (results, wall, cpu, alloc) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (barrier, op) = (&barrier, &op);
                scope.spawn(move || -> Res<Vec<u64>> {
                    barrier.wait();
                    let mut lat = Vec::with_capacity(per_worker);
                    for i in 0..per_worker {
                        let t = Instant::now();
                        op(w, i)?;
                        lat.push(t.elapsed().as_nanos() as u64);
                    }
                    Ok(lat)
                })
            })
            .collect();
        let cpu0 = cpu_time();
        let alloc0 = alloc::allocated();
        let t0 = Instant::now();
        barrier.wait();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("benchmark thread panicked"))
            .collect();
        (
            results,
            t0.elapsed(),
            cpu_time().saturating_sub(cpu0),
            // Each thread's latency vector is the harness's.
            (alloc::allocated() - alloc0).saturating_sub((workers * per_worker * 8) as u64),
        )
    });
    let mut latencies = Vec::with_capacity(workers * per_worker);
    for r in results {
        latencies.extend(r?);
    }
    Ok(Sample::one(latencies, wall, cpu, alloc))
}

/// Runs `per_worker` operations on each of `workers` tasks of the current
/// runtime; `op(worker, i)`.
pub async fn run_tasks<F, Fut>(workers: usize, per_worker: usize, op: F) -> Res<Sample>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Res<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Arc::new(tokio::sync::Barrier::new(workers + 1));
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let (op, start) = (Arc::clone(&op), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                let mut lat = Vec::with_capacity(per_worker);
                for i in 0..per_worker {
                    let t = Instant::now();
                    op(w, i).await?;
                    lat.push(t.elapsed().as_nanos() as u64);
                }
                Ok::<_, BoxError>(lat)
            })
        })
        .collect();
    let cpu0 = cpu_time();
    let alloc0 = alloc::allocated();
    let t0 = Instant::now();
    start.wait().await;
    let mut latencies = Vec::with_capacity(workers * per_worker);
    for h in handles {
        latencies.extend(
            h.await
                .map_err(|e| format!("benchmark task failed: {e}"))??,
        );
    }
    let wall = t0.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    // The latency vectors (each task's and this one) are the harness's.
    let alloc = (alloc::allocated() - alloc0).saturating_sub((2 * workers * per_worker * 8) as u64);
    Ok(Sample::one(latencies, wall, cpu, alloc))
}
