//! Printing the results, checking the targets, writing docs/benchmarks.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::keys::{Lister, Timing};
use crate::measure::{Res, Sample};
use crate::ops::{Client, Op};
use crate::stream::Case;
use crate::sys::Machine;
use crate::{CellKey, KeysOutcome, Options, SIZES, StreamOutcome, concurrencies, rounds_per_run};

/// One client's clean release build.
#[derive(Clone, Debug)]
pub struct BuildRow {
    pub name: String,
    pub deps: String,
    pub secs: String,
    /// The 1-minute load average when the build started (other work on
    /// the machine slows a build down).
    pub load: String,
}

/// Reads the TSV `bench/build-times.sh` prints (`name deps seconds`).
pub fn read_build_times(path: &Path) -> Res<Vec<BuildRow>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 3).then(|| BuildRow {
                name: f[0].to_owned(),
                deps: f[1].to_owned(),
                secs: f[2].to_owned(),
                load: f.get(3).copied().unwrap_or("").to_owned(),
            })
        })
        .collect())
}

/// Everything measured.
pub struct Report {
    pub machine: Machine,
    pub options: Options,
    pub matrix: BTreeMap<CellKey, Sample>,
    pub keys: Option<KeysOutcome>,
    pub stream: Option<StreamOutcome>,
    /// The tiered store and the value cache against S3 `get`.
    pub tiered: Option<Vec<crate::tiered::Case>>,
    pub deps_blocking: Option<usize>,
    pub builds: Vec<BuildRow>,
    /// `keys` as the store grows.
    pub scale: Vec<crate::scale::Row>,
    /// Wall time of each part, and of the whole run.
    pub elapsed: Vec<(&'static str, std::time::Duration)>,
    /// Parts that failed, with the error (the others are reported).
    pub failures: Vec<String>,
    /// The SVG charts: (title, path relative to the report).
    pub charts: Vec<(String, String)>,
}

fn build_name(id: &str) -> &str {
    match id {
        "konserve" => "konserve-s3 (blocking only)",
        "object_store" => "object_store 0.14 (`aws`) + tokio",
        "aws" => "aws-sdk-s3 1 (defaults) + tokio",
        other => other,
    }
}

pub fn size_name(size: usize) -> String {
    if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{} KiB", size >> 10)
    }
}

/// The floor a client is compared with.
fn floor_of(client: Client) -> Option<Client> {
    match client {
        Client::Store => Some(Client::Floor),
        Client::StoreAsync => Some(Client::FloorAsync),
        _ => None,
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// Heap bytes allocated per operation ÷ the value size (the body copies of
/// an operation), or bytes per operation for operations without a value.
fn alloc_cell(s: &Sample, op: Op, size: usize) -> String {
    if op.sized() {
        format!("{:.2}", s.alloc_per_op() / size as f64)
    } else {
        format!("{:.0} B", s.alloc_per_op())
    }
}

/// Columns of a cell's table: client, ops/s, p50, p99, max, CPU/op,
/// alloc ÷ value, retries, then ratios.
fn cell_rows(cell: &BTreeMap<Client, Sample>, op: Op, size: usize) -> Vec<[String; 11]> {
    let os = cell.get(&Client::ObjectStore);
    Client::ALL
        .iter()
        .filter_map(|client| {
            let s = cell.get(client)?;
            let vs_floor = floor_of(*client)
                .and_then(|f| cell.get(&f))
                .map_or("".into(), |f| {
                    format!("{:.3}", ratio(s.ops_per_sec(), f.ops_per_sec()))
                });
            let (vs_os, cpu_os) = match os {
                Some(os) if *client != Client::ObjectStore => (
                    format!("{:.2}", ratio(s.ops_per_sec(), os.ops_per_sec())),
                    format!("{:.2}", ratio(s.cpu_us_per_op(), os.cpu_us_per_op())),
                ),
                _ => (String::new(), String::new()),
            };
            Some([
                client.name().to_owned(),
                format!("{:.0}", s.ops_per_sec()),
                format!("{:.2}", s.latency_ms(0.5)),
                format!("{:.2}", s.latency_ms(0.99)),
                format!("{:.1}", s.max_ms()),
                format!("{:.0}", s.cpu_us_per_op()),
                alloc_cell(s, op, size),
                if matches!(client, Client::Store | Client::StoreAsync) {
                    s.retries.to_string()
                } else {
                    String::new()
                },
                vs_floor,
                vs_os,
                cpu_os,
            ])
        })
        .collect()
}

const HEADERS: [&str; 11] = [
    "client",
    "ops/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "CPU µs/op",
    "alloc ÷ value",
    "retries",
    "ops/s ÷ floor",
    "ops/s ÷ object_store",
    "CPU/op ÷ object_store",
];

/// Prints one cell as it finishes.
pub fn print_cell(op: Op, size: usize, c: usize, cell: &BTreeMap<Client, Sample>) {
    let ops = cell.values().map(|s| s.ops).max().unwrap_or(0);
    println!(
        "\n{} {} c={c} ({}; {ops} ops per client)",
        op.name(),
        if op.sized() {
            size_name(size)
        } else {
            String::new()
        },
        op.requests()
    );
    println!(
        "  {:<22} {:>8} {:>7} {:>7} {:>8} {:>9} {:>8} {:>7} {:>8} {:>8} {:>8}",
        "client",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU µs/op",
        "alloc÷v",
        "retries",
        "÷floor",
        "÷o_s",
        "CPU÷o_s"
    );
    for r in cell_rows(cell, op, size) {
        println!(
            "  {:<22} {:>8} {:>7} {:>7} {:>8} {:>9} {:>8} {:>7} {:>8} {:>8} {:>8}",
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]
        );
    }
}

pub fn print_keys(k: &KeysOutcome) {
    let delay = crate::LINK_DELAY.as_millis();
    for (title, timings) in [
        (format!("keys on a store of {} keys:", k.count), &k.timings),
        (
            format!("the same, {delay} ms added to every request:"),
            &k.link,
        ),
    ] {
        println!("\n{title}");
        for (who, t) in timings {
            println!(
                "  {:<75} {:>7.2} s  CPU {:>6.2} s",
                who.name(),
                t.secs(),
                t.cpu_secs()
            );
        }
    }
    println!("\n{}", keys_requests_line(k));
}

/// The requests of a first and a repeated `keys`, as one sentence.
fn keys_requests_line(k: &KeysOutcome) -> String {
    let ((l1, g1, t1), (l2, g2, t2)) = k.requests;
    format!(
        "Requests of `keys` on {} keys: first (fresh handle) {t1} ({l1} LIST, {g1} GET); \
         repeated on the unchanged store {t2} ({l2} LIST, {g2} GET).",
        k.count
    )
}

/// Seconds per listing of `who` among `timings`.
fn keys_secs(timings: &[(Lister, Timing)], who: Lister) -> Option<f64> {
    timings
        .iter()
        .find(|(l, _)| *l == who)
        .map(|(_, t)| t.secs())
}

/// One `keys` table: every lister's time, CPU and speed-up over the
/// sequential Clojure pattern measured alongside.
fn write_keys_table(w: &mut String, timings: &[(Lister, Timing)]) {
    let seq = keys_secs(timings, Lister::Sequential);
    let _ = writeln!(
        w,
        "| who | seconds | client CPU s | speed-up over the Clojure pattern |\n| --- | --- | --- | --- |"
    );
    for (l, t) in timings {
        let _ = writeln!(
            w,
            "| {} | {:.2} | {:.2} | {} |",
            l.name(),
            t.secs(),
            t.cpu_secs(),
            seq.map_or("".into(), |s| format!("{:.1}×", s / t.secs()))
        );
    }
    let _ = writeln!(w);
}

pub fn print_stream(s: &StreamOutcome) {
    println!(
        "\nstreaming {} MiB (mean of rounds; peak RSS: max):",
        s.size >> 20
    );
    for (case, r) in stream_summary(s) {
        println!(
            "  {:<55} {:>8.1} MiB/s  peak RSS {:>6.1} MiB  CPU {:>5.2} s",
            case.name(),
            r.mib_per_sec,
            r.peak_rss_mib,
            r.cpu_secs
        );
    }
}

/// One streaming case over its rounds.
#[derive(Clone, Copy, Debug)]
pub struct StreamRow {
    pub mib_per_sec: f64,
    pub peak_rss_mib: f64,
    pub cpu_secs: f64,
    pub rounds: usize,
}

fn stream_summary(s: &StreamOutcome) -> Vec<(Case, StreamRow)> {
    Case::ALL
        .iter()
        .filter_map(|case| {
            let rs: Vec<_> = s
                .results
                .iter()
                .filter(|(c, _)| c == case)
                .map(|(_, r)| r)
                .collect();
            if rs.is_empty() {
                return None;
            }
            let n = rs.len() as f64;
            let bytes: u64 = rs.iter().map(|r| r.bytes).sum();
            let secs: f64 = rs.iter().map(|r| r.secs).sum();
            Some((
                *case,
                StreamRow {
                    mib_per_sec: bytes as f64 / (1024.0 * 1024.0) / secs.max(1e-9),
                    peak_rss_mib: rs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0) as f64
                        / 1024.0,
                    cpu_secs: rs.iter().map(|r| r.cpu_secs).sum::<f64>() / n,
                    rounds: rs.len(),
                },
            ))
        })
        .collect()
}

/// A target's verdict.
struct Verdict {
    target: String,
    measured: String,
    holds: Option<bool>,
}

fn mark(holds: Option<bool>) -> &'static str {
    match holds {
        Some(true) => "holds",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

fn geomean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

/// The clients of the cost curve up to 256 tasks.
pub const CURVE_CLIENTS: [Client; 3] =
    [Client::StoreAsync, Client::FloorAsync, Client::ObjectStore];

/// Prints the `scale` part's table.
pub fn print_scale(rows: &[crate::scale::Row]) {
    println!("\n`keys` as the store grows:");
    for r in rows {
        println!(
            "  {:>7} keys  {:<55} {:>7.2} s  CPU {:>6.2} s  heap peak +{:>6.1} MiB  RSS +{:>6.1} MiB",
            r.keys,
            r.lister.name(),
            r.secs,
            r.cpu_secs,
            r.heap_mib,
            r.rss_growth_mib
        );
    }
}

/// Client CPU per operation against the floor on the same transport.
const CPU_VS_FLOOR: f64 = 1.15;
/// Throughput against the floor (geomean).
const TPUT_VS_FLOOR: f64 = 0.97;
/// `keys` time against the floor's same requests.
const KEYS_VS_FLOOR: f64 = 1.05;
/// 1 KiB concurrency-1 overhead against the floor (median of runs).
const OVERHEAD_LIMIT: f64 = 0.03;

/// The median, min and max of `xs` (not empty).
fn median_spread(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (med, v[0], v[n - 1])
}

/// The worst ratio: the largest for CPU, the smallest for throughput.
fn worst_of(rs: &[(Op, usize, usize, f64)], cpu: bool) -> Option<(Op, usize, usize, f64)> {
    rs.iter().copied().max_by(|a, b| {
        let (x, y) = if cpu { (a.3, b.3) } else { (-a.3, -b.3) };
        x.total_cmp(&y)
    })
}

/// `get 64 KiB c=16`.
fn cell_name(op: Op, size: usize, c: usize) -> String {
    if op.sized() {
        format!("{} {} c={c}", op.name(), size_name(size))
    } else {
        format!("{} c={c}", op.name())
    }
}

impl Report {
    pub fn new(machine: Machine, options: Options) -> Report {
        Report {
            machine,
            options,
            matrix: BTreeMap::new(),
            keys: None,
            stream: None,
            tiered: None,
            deps_blocking: None,
            builds: Vec::new(),
            scale: Vec::new(),
            elapsed: Vec::new(),
            failures: Vec::new(),
            charts: Vec::new(),
        }
    }

    fn get(&self, op: Op, size: usize, c: usize, client: Client) -> Option<&Sample> {
        self.matrix.get(&(op, size, c, client))
    }

    /// Ratios `client(metric) / other(metric)` over every cell.
    fn vs(&self, client: Client, other: Client, cpu: bool) -> Vec<(Op, usize, usize, f64)> {
        self.matrix
            .iter()
            .filter(|((_, _, _, cl), _)| *cl == client)
            .filter_map(|((op, size, c, _), s)| {
                let os = self.get(*op, *size, *c, other)?;
                let r = if cpu {
                    ratio(s.cpu_us_per_op(), os.cpu_us_per_op())
                } else {
                    ratio(s.ops_per_sec(), os.ops_per_sec())
                };
                Some((*op, *size, *c, r))
            })
            .collect()
    }

    /// Overhead of `client` over its floor at 1 KiB, concurrency 1, in each
    /// run (five consecutive rounds, at least five runs): floor ops/s ÷
    /// client ops/s − 1, the runs paired as they were interleaved.
    fn overhead_runs(&self, op: Op, client: Client) -> Option<Vec<f64>> {
        let s = self.get(op, SIZES[0], 1, client)?;
        let f = self.get(op, SIZES[0], 1, floor_of(client)?)?;
        let per = rounds_per_run(s.runs.len().min(f.runs.len()));
        let ours = s.grouped_ops_per_sec(per);
        let floor = f.grouped_ops_per_sec(per);
        Some(
            ours.iter()
                .zip(&floor)
                .map(|(o, f)| ratio(*f, *o) - 1.0)
                .collect(),
        )
    }

    /// Ratios of `a ÷ b` over the cells of one size (`exists` and `dissoc`
    /// count as 1 KiB): (geomean, worst cell) where worst is the largest
    /// (CPU) or the smallest (throughput).
    fn size_stats(
        &self,
        a: Client,
        b: Client,
        cpu: bool,
        size: usize,
    ) -> Option<(f64, (Op, usize, usize, f64))> {
        let rs: Vec<_> = self
            .vs(a, b, cpu)
            .into_iter()
            .filter(|r| r.1 == size)
            .collect();
        let worst = worst_of(&rs, cpu)?;
        let ratios: Vec<f64> = rs.iter().map(|r| r.3).collect();
        Some((geomean(&ratios), worst))
    }

    fn verdicts(&self) -> Vec<Verdict> {
        let mut v = Vec::new();
        for client in [Client::Store, Client::StoreAsync] {
            let floor = floor_of(client).unwrap_or(Client::Floor);
            // (a) CPU per operation against the floor, every cell.
            let rs = self.vs(client, floor, true);
            let held = rs.iter().filter(|r| r.3 <= CPU_VS_FLOOR).count();
            let by_size: Vec<String> = SIZES
                .iter()
                .filter_map(|size| {
                    let (g, w) = self.size_stats(client, floor, true, *size)?;
                    Some(format!(
                        "{} geomean {g:.2}×, worst {:.2}× ({})",
                        size_name(*size),
                        w.3,
                        cell_name(w.0, w.1, w.2)
                    ))
                })
                .collect();
            v.push(Verdict {
                target: format!(
                    "{}: client CPU per op ≤ {CPU_VS_FLOOR}× {}, every cell",
                    client.name(),
                    floor.name()
                ),
                measured: if rs.is_empty() {
                    "—".into()
                } else {
                    format!("{held}/{} cells; {}", rs.len(), by_size.join("; "))
                },
                holds: (!rs.is_empty()).then_some(held == rs.len()),
            });
            // (b) CPU per operation against object_store, geomean.
            let rs = self.vs(client, Client::ObjectStore, true);
            let g = geomean(&rs.iter().map(|r| r.3).collect::<Vec<_>>());
            v.push(Verdict {
                target: format!(
                    "{}: client CPU per op ≤ 1.0× object_store's (geomean)",
                    client.name()
                ),
                measured: if rs.is_empty() {
                    "—".into()
                } else {
                    format!(
                        "{g:.2}× (by size: {})",
                        self.by_size(client, Client::ObjectStore, true)
                    )
                },
                holds: (!rs.is_empty()).then_some(g <= 1.0),
            });
            // (c) Throughput against the floor (both modes) and object_store
            // (async), geomean.
            let mut peers = vec![(floor, TPUT_VS_FLOOR)];
            if client == Client::StoreAsync {
                peers.push((Client::ObjectStore, 1.0));
            }
            for (other, limit) in peers {
                let rs = self.vs(client, other, false);
                let g = geomean(&rs.iter().map(|r| r.3).collect::<Vec<_>>());
                let worst = worst_of(&rs, false);
                v.push(Verdict {
                    target: format!(
                        "{}: throughput ≥ {limit}× {} (geomean)",
                        client.name(),
                        other.name()
                    ),
                    measured: match worst {
                        Some(w) => format!(
                            "{g:.2}× (by size: {}; worst cell {:.2}×, {})",
                            self.by_size(client, other, false),
                            w.3,
                            cell_name(w.0, w.1, w.2)
                        ),
                        None => "—".into(),
                    },
                    holds: worst.map(|_| g >= limit),
                });
            }
        }
        // (e) 1 KiB c=1 overhead, median of the runs.
        for client in [Client::Store, Client::StoreAsync] {
            for op in [Op::Get, Op::Assoc] {
                let runs = self.overhead_runs(op, client);
                v.push(Verdict {
                    target: format!(
                        "{} `{}` 1 KiB, c=1: overhead vs {} ≤ {:.0} % (median of ≥ 5 interleaved runs)",
                        client.name(),
                        op.name(),
                        floor_of(client).map_or("", |f| f.name()),
                        OVERHEAD_LIMIT * 100.0
                    ),
                    measured: match &runs {
                        Some(r) if !r.is_empty() => {
                            let (med, lo, hi) = median_spread(r);
                            format!(
                                "median {:+.1} % over {} runs (spread {:+.1} … {:+.1} %)",
                                med * 100.0,
                                r.len(),
                                lo * 100.0,
                                hi * 100.0
                            )
                        }
                        _ => "—".into(),
                    },
                    holds: runs
                        .filter(|r| !r.is_empty())
                        .map(|r| median_spread(&r).0 <= OVERHEAD_LIMIT),
                });
            }
        }
        // (d) `keys` against the floor's same requests.
        if let Some(k) = &self.keys {
            let delay = crate::LINK_DELAY.as_millis();
            for (timings, where_) in [
                (&k.timings, "server on loopback".to_string()),
                (&k.link, format!("{delay} ms added to every request")),
            ] {
                for l in [Lister::Store, Lister::StoreAsync] {
                    let r = match (keys_secs(timings, Lister::Floor), keys_secs(timings, l)) {
                        (Some(floor), Some(ours)) => Some(ours / floor),
                        _ => None,
                    };
                    v.push(Verdict {
                        target: format!(
                            "{} on {} keys within {KEYS_VS_FLOOR}× the floor's LIST + ranged GETs \
                             ({} in flight; {where_})",
                            l.name(),
                            k.count,
                            crate::keys::IN_FLIGHT
                        ),
                        measured: r.map_or("—".into(), |r| format!("{r:.2}×")),
                        holds: r.map(|r| r <= KEYS_VS_FLOOR),
                    });
                }
            }
        }
        if let Some(k) = &self.keys {
            let delay = crate::LINK_DELAY.as_millis();
            for (timings, where_) in [
                (&k.timings, "server on loopback".to_string()),
                (&k.link, format!("{delay} ms added to every request")),
            ] {
                for l in [Lister::Store, Lister::StoreAsync] {
                    let r = match (
                        keys_secs(timings, Lister::Sequential),
                        keys_secs(timings, l),
                    ) {
                        (Some(seq), Some(ours)) => Some(seq / ours),
                        _ => None,
                    };
                    v.push(Verdict {
                        target: format!(
                            "{} on {} keys ≥ 10× faster than the konserve-s3 (Clojure) \
                             pattern ({where_})",
                            l.name(),
                            k.count
                        ),
                        measured: r.map_or("—".into(), |r| format!("{r:.1}×")),
                        holds: r.map(|r| r >= 10.0),
                    });
                }
            }
        }
        if let Some(s) = &self.stream {
            let rows = stream_summary(s);
            let row = |c: Case| rows.iter().find(|(x, _)| *x == c).map(|(_, r)| *r);
            for (case, floor) in [
                (Case::StorePut, Case::FloorPut),
                (Case::StoreGet, Case::FloorGet),
                (Case::StoreAsyncPut, Case::FloorPut),
                (Case::StoreAsyncGet, Case::FloorAsyncGet),
            ] {
                if let (Some(r), Some(f)) = (row(case), row(floor)) {
                    v.push(Verdict {
                        target: format!(
                            "{} of {} MiB: peak RSS ≤ 64 MiB",
                            case.name(),
                            s.size >> 20
                        ),
                        measured: format!("{:.1} MiB", r.peak_rss_mib),
                        holds: Some(r.peak_rss_mib <= 64.0),
                    });
                    let q = r.mib_per_sec / f.mib_per_sec;
                    v.push(Verdict {
                        target: format!(
                            "{}: throughput ≥ 0.9× {}",
                            case.name(),
                            floor.name().split(':').next().unwrap_or("the floor")
                        ),
                        measured: format!(
                            "{q:.2}× ({:.0} vs {:.0} MiB/s)",
                            r.mib_per_sec, f.mib_per_sec
                        ),
                        holds: Some(q >= 0.9),
                    });
                }
            }
        }
        v
    }

    /// Summary rows: (client, other, ops/s geomean, ops/s min, CPU geomean,
    /// CPU max) over every cell both ran.
    fn summary(&self) -> Vec<(Client, Client, f64, f64, f64, f64)> {
        let pairs = [
            (Client::Store, Client::Floor),
            (Client::StoreAsync, Client::FloorAsync),
            (Client::Store, Client::ObjectStore),
            (Client::StoreAsync, Client::ObjectStore),
            (Client::Floor, Client::ObjectStore),
            (Client::FloorAsync, Client::ObjectStore),
            (Client::Store, Client::AwsSdk),
            (Client::StoreAsync, Client::AwsSdk),
            (Client::ObjectStore, Client::AwsSdk),
        ];
        pairs
            .iter()
            .filter_map(|(a, b)| {
                let tr: Vec<f64> = self.vs(*a, *b, false).iter().map(|r| r.3).collect();
                let cr: Vec<f64> = self.vs(*a, *b, true).iter().map(|r| r.3).collect();
                (!tr.is_empty()).then(|| {
                    (
                        *a,
                        *b,
                        geomean(&tr),
                        tr.iter().copied().fold(f64::INFINITY, f64::min),
                        geomean(&cr),
                        cr.iter().copied().fold(0.0, f64::max),
                    )
                })
            })
            .collect()
    }

    pub fn print_matrix_summary(&self) {
        println!("\nover every cell (geometric means; min/max over cells):");
        for (a, b, tg, tmin, cg, cmax) in self.summary() {
            println!(
                "  {:<22} ÷ {:<22} ops/s {:.2}× (min {:.2}×)   CPU/op {:.2}× (max {:.2}×)",
                a.name(),
                b.name(),
                tg,
                tmin,
                cg,
                cmax
            );
        }
    }

    pub fn print_targets(&self) {
        println!("\ntargets:");
        for v in self.verdicts() {
            println!(
                "  [{}] {}: {}",
                mark(v.holds).trim_matches('*'),
                v.target,
                v.measured
            );
        }
        if let Some(d) = self.deps_blocking {
            println!("  blocking build: {d} dependencies (cargo tree, normal edges, unique lines)");
        }
        for b in &self.builds {
            println!(
                "  clean release build {}: {} s, {} dependencies",
                b.name, b.secs, b.deps
            );
        }
    }

    /// Geometric mean of `a ÷ b` (ops/s, or CPU per op) over the cells of
    /// one value size (`exists` and `dissoc` count as 1 KiB).
    fn geo_by_size(&self, a: Client, b: Client, cpu: bool, size: usize) -> String {
        let rs: Vec<f64> = self
            .vs(a, b, cpu)
            .iter()
            .filter(|r| r.1 == size)
            .map(|r| r.3)
            .collect();
        if rs.is_empty() {
            "—".into()
        } else {
            format!("{:.2}×", geomean(&rs))
        }
    }

    fn by_size(&self, a: Client, b: Client, cpu: bool) -> String {
        SIZES
            .iter()
            .map(|size| {
                format!(
                    "{} {}",
                    size_name(*size),
                    self.geo_by_size(a, b, cpu, *size)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The cost curve: async clients' ops/s and CPU per operation at every
    /// concurrency, for `get`/`assoc` at 1 KiB and 64 KiB.
    fn write_curve(&self, w: &mut String) {
        let cs = concurrencies(Op::Get, SIZES[0]);
        let mut rows = Vec::new();
        for op in [Op::Get, Op::Assoc] {
            for size in [SIZES[0], SIZES[1]] {
                for cl in CURVE_CLIENTS {
                    let cells: Vec<String> = cs
                        .iter()
                        .map(|c| {
                            self.get(op, size, *c, cl).map_or("—".into(), |s| {
                                format!("{:.0} · {:.0} µs", s.ops_per_sec(), s.cpu_us_per_op())
                            })
                        })
                        .collect();
                    if cells.iter().any(|c| c != "—") {
                        rows.push(format!(
                            "| `{}` {} | {} | {} |",
                            op.name(),
                            size_name(size),
                            cl.name(),
                            cells.join(" | ")
                        ));
                    }
                }
            }
        }
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(
            w,
            "## Cost curve, async, 1 to {} tasks\n",
            crate::HIGH_CONCURRENCY
        );
        let _ = writeln!(
            w,
            "ops/s · client CPU per operation, from the matrix cells above.\n"
        );
        let head: Vec<String> = cs.iter().map(|c| format!("c={c}")).collect();
        let _ = writeln!(w, "| op | client | {} |", head.join(" | "));
        let _ = writeln!(w, "|{}", " --- |".repeat(cs.len() + 2));
        for r in rows {
            let _ = writeln!(w, "{r}");
        }
        let _ = writeln!(w);
        if let Some(line) = self.curve_sentence() {
            let _ = writeln!(w, "{line}\n");
        }
    }

    /// How throughput and CPU per operation change from 64 to 256 async
    /// tasks, per operation, size and client.
    fn curve_sentence(&self) -> Option<String> {
        let hi = crate::HIGH_CONCURRENCY;
        let mut parts = Vec::new();
        for op in [Op::Get, Op::Assoc] {
            for size in [SIZES[0], SIZES[1]] {
                let clients: Vec<String> = CURVE_CLIENTS
                    .iter()
                    .filter_map(|cl| {
                        let a = self.get(op, size, 64, *cl)?;
                        let b = self.get(op, size, hi, *cl)?;
                        Some(format!(
                            "{} ops/s ×{:.2}, CPU/op ×{:.2}",
                            cl.name(),
                            b.ops_per_sec() / a.ops_per_sec(),
                            b.cpu_us_per_op() / a.cpu_us_per_op()
                        ))
                    })
                    .collect();
                if !clients.is_empty() {
                    parts.push(format!(
                        "`{}` {}: {}",
                        op.name(),
                        size_name(size),
                        clients.join(", ")
                    ));
                }
            }
        }
        (!parts.is_empty()).then(|| {
            format!(
                "From 64 to {hi} async tasks: {}. A ratio near 1 means the server's ceiling \
                 was reached by 64 already and more tasks only queue; CPU per operation \
                 rising with the tasks is the client's cost of the wider fan-out.",
                parts.join("; ")
            )
        })
    }

    /// How `keys` grows from the smallest to the largest store measured.
    fn scale_sentence(&self) -> Option<String> {
        let counts: std::collections::BTreeSet<usize> = self.scale.iter().map(|r| r.keys).collect();
        let (lo, hi) = (*counts.first()?, *counts.last()?);
        if lo == hi {
            return None;
        }
        let row = |n: usize, who: Lister| {
            self.scale
                .iter()
                .find(|r| r.keys == n && r.lister == who)
                .copied()
        };
        let parts: Vec<String> = crate::scale::LISTERS
            .iter()
            .filter_map(|who| {
                let (a, b) = (row(lo, *who)?, row(hi, *who)?);
                Some(format!(
                    "{} {:.2} s → {:.2} s (×{:.0}; {:.3} → {:.3} ms per key), heap peak \
                     {:.1} → {:.1} MiB (×{:.0}; {:.2} KiB per key at {hi})",
                    who.name(),
                    a.secs,
                    b.secs,
                    b.secs / a.secs,
                    a.secs * 1e3 / lo as f64,
                    b.secs * 1e3 / hi as f64,
                    a.heap_mib,
                    b.heap_mib,
                    b.heap_mib / a.heap_mib.max(1e-3),
                    b.heap_mib * 1024.0 / hi as f64
                ))
            })
            .collect();
        let vs: Vec<String> = [Lister::Store, Lister::StoreAsync]
            .iter()
            .filter_map(|who| {
                let f = crate::scale::secs(&self.scale, hi, Lister::Floor)?;
                let s = crate::scale::secs(&self.scale, hi, *who)?;
                Some(format!("{} {:.2}×", who.name(), s / f))
            })
            .collect();
        Some(format!(
            "From {lo} to {hi} keys (×{}): {}. At {hi} keys against the floor: {}.",
            hi / lo.max(1),
            parts.join("; "),
            vs.join(", ")
        ))
    }

    /// What the figures say about the targets, from the figures.
    fn notes(&self) -> String {
        let mut n = String::from("### Reading the targets\n\n");
        let w = &mut n;
        for client in [Client::Store, Client::StoreAsync] {
            let Some(floor) = floor_of(client) else {
                continue;
            };
            let parts: Vec<String> = [Op::Get, Op::Assoc]
                .iter()
                .filter_map(|op| {
                    let s = self.get(*op, SIZES[0], 1, client)?;
                    let f = self.get(*op, SIZES[0], 1, floor)?;
                    let runs = self.overhead_runs(*op, client)?;
                    if runs.is_empty() {
                        return None;
                    }
                    let (med, lo, hi) = median_spread(&runs);
                    let mean = |x: &Sample| 1e6 / x.ops_per_sec();
                    Some(format!(
                        "`{}` median {:+.1} % (runs {:+.1} … {:+.1} %), {:.0} µs per operation \
                         against {:.0} µs over all runs, client CPU {:.0} against {:.0} µs",
                        op.name(),
                        med * 100.0,
                        lo * 100.0,
                        hi * 100.0,
                        mean(s),
                        mean(f),
                        s.cpu_us_per_op(),
                        f.cpu_us_per_op()
                    ))
                })
                .collect();
            if !parts.is_empty() {
                let _ = writeln!(
                    w,
                    "- **Overhead, {}** (1 KiB, concurrency 1, against {}): {}. The systematic \
                     part is the client CPU difference; the spread of the runs is the noise of \
                     this shared machine, which the median of the interleaved runs keeps from \
                     deciding the verdict.",
                    client.name(),
                    floor.name(),
                    parts.join("; ")
                );
            }
        }
        for client in [Client::Store, Client::StoreAsync] {
            let Some(floor) = floor_of(client) else {
                continue;
            };
            let rs = self.vs(client, floor, true);
            if rs.is_empty() {
                continue;
            }
            let missed: Vec<String> = SIZES
                .iter()
                .filter_map(|size| {
                    let (g, w) = self.size_stats(client, floor, true, *size)?;
                    let (op, _, c, r) = w;
                    let s = self.get(op, *size, c, client)?;
                    let f = self.get(op, *size, c, floor)?;
                    let copies = |x: &Sample| x.alloc_per_op() / *size as f64;
                    let hash_us = *size as f64 / (self.machine.crc32c_mib_s * 1048576.0) * 1e6;
                    Some(format!(
                        "{}: geomean {g:.2}×, worst {r:.2}× ({}: {:.0} against {:.0} µs; \
                         allocated {:.2}× against {:.2}× the value per operation; the \
                         value's CRC-32C at {:.0} MiB/s is {:.0} µs)",
                        size_name(*size),
                        cell_name(op, *size, c),
                        s.cpu_us_per_op(),
                        f.cpu_us_per_op(),
                        copies(s),
                        copies(f),
                        self.machine.crc32c_mib_s,
                        hash_us
                    ))
                })
                .collect();
            let held = rs.iter().filter(|r| r.3 <= CPU_VS_FLOOR).count();
            let _ = writeln!(
                w,
                "- **CPU per operation, {}, against {}** ({held} of {} cells within \
                 {CPU_VS_FLOOR}×): {}. The difference per cell is the store's own work: \
                 encoding and decoding the blob, the body's checksum, body copies (the \
                 allocated bytes per operation above, against the floor's), the per-key \
                 lock and statistics; where the allocation ratio is well above the floor's, \
                 copies of the body are what to remove, where the checksum's time is near the \
                 difference, a faster checksum is.",
                client.name(),
                floor.name(),
                rs.len(),
                missed.join("; ")
            );
        }
        let sum = self.summary();
        let find = |a: Client, b: Client| sum.iter().find(|r| r.0 == a && r.1 == b).copied();
        for (client, floor) in [
            (Client::Store, Client::Floor),
            (Client::StoreAsync, Client::FloorAsync),
        ] {
            if let (Some(so), Some(fo), Some(sf)) = (
                find(client, Client::ObjectStore),
                find(floor, Client::ObjectStore),
                find(client, floor),
            ) {
                let _ = writeln!(
                    w,
                    "- **{} against object_store.** Throughput {:.2}× object_store's \
                     (geometric mean over cells; worst cell {:.2}×; by size: {}) at {:.2}× \
                     its client CPU per operation (by size: {}); the bare {} {:.2}× and \
                     {:.2}× (CPU by size: {}); the store {:.2}× its floor's throughput. With \
                     the server on the same two cores, what a client spends on CPU is taken \
                     from the server, and at concurrency 16 and more the server sets the \
                     pace.",
                    client.name(),
                    so.2,
                    so.3,
                    self.by_size(client, Client::ObjectStore, false),
                    so.4,
                    self.by_size(client, Client::ObjectStore, true),
                    floor.name(),
                    fo.2,
                    fo.4,
                    self.by_size(floor, Client::ObjectStore, true),
                    sf.2
                );
            }
        }
        if let Some(line) = self.curve_sentence() {
            let _ = writeln!(w, "- **Concurrency {}.** {line}", crate::HIGH_CONCURRENCY);
        }
        if let Some(line) = self.scale_sentence() {
            let _ = writeln!(w, "- **`keys` as the store grows.** {line}");
        }
        if let Some(k) = &self.keys {
            let t = |l: Lister| keys_secs(&k.timings, l);
            if let (Some(seq), Some(ours), Some(f16), Some(f64_)) = (
                t(Lister::Sequential),
                t(Lister::Store),
                t(Lister::Floor),
                t(Lister::Floor64),
            ) {
                let best = f16.min(f64_);
                let _ = writeln!(
                    w,
                    "- **`keys`.** The sequential pattern takes {:.2} ms per key ({:.2} s for {} \
                     keys); `keys` takes {:.2} s ({:.1}×). The same requests bare take {:.2} s \
                     with 16 in flight and {:.2} s with 64: the server answers about {:.0} \
                     metadata reads per second here whatever the parallelism, so no client can \
                     list faster than about {:.1}× the sequential pattern on this machine{}.",
                    seq * 1000.0 / k.count as f64,
                    seq,
                    k.count,
                    ours,
                    seq / ours,
                    f16,
                    f64_,
                    k.count as f64 / best,
                    seq / best,
                    if seq / best < 10.0 {
                        ", and more than 16 in flight (`keys-parallelism`, default 16) would not change \
                         that. The 10× needs a server that answers many requests in parallel, \
                         as S3 does, and a round trip that is not near zero"
                    } else {
                        ""
                    }
                );
            }
            if let (Some(first), Some(again)) = (t(Lister::Store), t(Lister::StoreRepeat)) {
                let ((_, _, first_requests), (lists, _, again_requests)) = k.requests;
                let _ = writeln!(
                    w,
                    "- **Repeated `keys`.** On the unchanged store, a second `keys` on the same \
                     handle sends {again_requests} requests ({lists} LIST, the metadata from \
                     its cache) instead of {first_requests}, and takes {:.3} s instead of \
                     {:.2} s ({:.0}×).",
                    again,
                    first,
                    first / again
                );
            }
            let l = |who: Lister| keys_secs(&k.link, who);
            if let (Some(seq), Some(ours), Some(ours_async), Some(floor), Some(os)) = (
                l(Lister::Sequential),
                l(Lister::Store),
                l(Lister::StoreAsync),
                l(Lister::Floor),
                l(Lister::ObjectStore),
            ) {
                let _ = writeln!(
                    w,
                    "- **`keys` over a link.** Through a proxy that adds {} ms to every request \
                     (the same server; a client near its S3 region sees a few milliseconds), the \
                     sequential pattern takes {:.2} ms per key ({:.1} s) and `keys` {:.2} s \
                     blocking and {:.2} s async: {:.1}× and {:.1}× faster. The bare requests \
                     with 16 in flight take {:.2} s and object_store {:.2} s; 16 metadata reads \
                     in flight bound the speed-up at about 16×.",
                    crate::LINK_DELAY.as_millis(),
                    seq * 1000.0 / k.count as f64,
                    seq,
                    ours,
                    ours_async,
                    seq / ours,
                    seq / ours_async,
                    floor,
                    os
                );
            }
            let mut parts = Vec::new();
            for (timings, where_) in [(&k.timings, "on loopback"), (&k.link, "over the link")] {
                let t = |who: Lister| timings.iter().find(|(l, _)| *l == who).map(|(_, t)| *t);
                if let (Some(f), Some(b), Some(a)) =
                    (t(Lister::Floor), t(Lister::Store), t(Lister::StoreAsync))
                {
                    parts.push(format!(
                        "{where_} blocking {:.2}× and async {:.2}× the floor's {:.2} s \
                         (client CPU {:.2} s and {:.2} s against {:.2} s)",
                        b.secs() / f.secs(),
                        a.secs() / f.secs(),
                        f.secs(),
                        b.cpu_secs(),
                        a.cpu_secs(),
                        f.cpu_secs()
                    ));
                }
            }
            if !parts.is_empty() {
                let _ = writeln!(
                    w,
                    "- **`keys` against the floor** (the same LIST and ranged GETs, {} in \
                     flight): {}. The client CPU difference is the store's own work per \
                     key (decoding the metadata into a key, building the set); with client and \
                     server on the same two cores it also takes time from the server.",
                    crate::keys::IN_FLIGHT,
                    parts.join("; ")
                );
            }
        }
        if let Some(st) = &self.stream {
            let rows = stream_summary(st);
            let row = |c: Case| rows.iter().find(|(x, _)| *x == c).map(|(_, r)| *r);
            if let (Some(sp), Some(fp)) = (row(Case::StorePut), row(Case::FloorPut)) {
                let _ = writeln!(
                    w,
                    "- **Streaming.** `bassoc_reader` spends {:.2} s of client CPU on {} MiB \
                     against the floor's {:.2} s; the difference is the store's own work on \
                     every part, its checksum among it. Uploads send two parts at once (`PARTS_IN_FLIGHT` in \
                     src/engine/s3_backing.rs), so hashing and sending one part overlaps the \
                     server's work on the other; memory stays at two parts. Measured while \
                     choosing it: one part at a time reached about 0.8× the floor here, two \
                     about 1.0×, four no more than two with twice the memory.",
                    sp.cpu_secs,
                    st.size >> 20,
                    fp.cpu_secs
                );
            }
        }
        let _ = writeln!(w);
        n
    }

    /// docs/benchmarks.md.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let o = &self.options;
        let mut s = String::new();
        let w = &mut s;
        let _ = writeln!(w, "# Benchmarks\n");
        let _ = writeln!(
            w,
            "konserve-s3 next to the bare HTTP requests it sends (the *floor*) and next to \
             [object_store](https://crates.io/crates/object_store) 0.14 (the *peer*) and \
             [aws-sdk-s3](https://crates.io/crates/aws-sdk-s3) 1.x, measured in one run against one local SeaweedFS {} (`weed mini`, started by the benchmark on \
             127.0.0.1). This file is written by the benchmark program; do not edit it by hand.\n",
            konserve_s3_dev::SEAWEEDFS_VERSION
        );
        let _ = writeln!(w, "## Reproduce\n");
        let _ = writeln!(
            w,
            "```sh\n{}\nbench/build-times.sh > target-bench/build-times.tsv   # the build-time table (one build at a time; slow)\n```\n",
            o.command
        );
        let _ = writeln!(
            w,
            "`--quick` runs the same matrix with a quarter of the operations, two rounds and \
             no 4 MiB cells at concurrency 64 (the 1 KiB concurrency-1 `get`/`assoc` cells: ten \
             rounds of 25, five runs), and the `scale` part at 1 000 and 10 000 keys only, in \
             about seven minutes (it writes a report only \
             with `--out PATH`); `--help` lists the other options. The program is \
             the `konserve-s3-bench` crate in [`bench/`](../bench/).\n"
        );
        let _ = writeln!(w, "## Machine\n");
        let _ = writeln!(w, "| | |\n| --- | --- |");
        let _ = writeln!(w, "| date | {} |", m.date);
        let _ = writeln!(
            w,
            "| CPU | {} × {} (`nproc` {}) |",
            m.nproc, m.cpu_model, m.nproc
        );
        let _ = writeln!(w, "| memory | {:.1} GiB |", m.memory_gib);
        let _ = writeln!(w, "| kernel | {} |", m.kernel);
        let _ = writeln!(w, "| rustc | {} |", m.rustc);
        let _ = writeln!(
            w,
            "| hashing, one core | CRC-32C {:.0} MiB/s (`x-amz-checksum-crc32c`, the store's `checksum: auto` on SeaweedFS) · MD5 {:.0} MiB/s (`Content-MD5`, where a provider checks no CRC) · SHA-256 {:.0} MiB/s (payload signing, object_store) |",
            m.crc32c_mib_s, m.md5_mib_s, m.sha256_mib_s
        );
        let _ = writeln!(w, "| mode | {} |", if o.quick { "quick" } else { "full" });
        if !self.failures.is_empty() {
            let _ = writeln!(
                w,
                "| parts that failed (not in this report) | {} |",
                self.failures.join(" · ").replace('|', "/")
            );
        }
        let _ = writeln!(
            w,
            "| floor requests repeated after a 5xx answer | {} (SeaweedFS answers 500 now and then under load; the floor sends such a request again, up to 4 times in all, as the store does) |",
            crate::floor::SERVER_ERROR_REPEATS.load(std::sync::atomic::Ordering::Relaxed)
        );
        let _ = writeln!(
            w,
            "| run time | {} |\n",
            self.elapsed
                .iter()
                .map(|(part, d)| format!("{part} {:.1} min", d.as_secs_f64() / 60.0))
                .collect::<Vec<_>>()
                .join(" · ")
        );
        let _ = writeln!(
            w,
            "The S3 server runs on the same {} cores as the client, so every figure is a \
             client *and* server figure: throughput at concurrency 16 and 64 is mostly the \
             server's ceiling, and the client's own cost shows in the CPU column.\n",
            m.nproc
        );

        let _ = writeln!(w, "## Targets\n");
        let _ = writeln!(w, "| target | measured | verdict |\n| --- | --- | --- |");
        for v in self.verdicts() {
            let _ = writeln!(w, "| {} | {} | {} |", v.target, v.measured, mark(v.holds));
        }
        if let Some(d) = self.deps_blocking {
            let builds: Vec<String> = self
                .builds
                .iter()
                .map(|b| format!("{}: {} deps, {} s", build_name(&b.name), b.deps, b.secs))
                .collect();
            let _ = writeln!(
                w,
                "| blocking build stays lean | {d} dependencies (`cargo tree -e normal --no-default-features --features blocking --prefix none \\| sort -u \\| wc -l`){}{} | recorded |",
                if builds.is_empty() {
                    ""
                } else {
                    "; clean release builds: "
                },
                builds.join("; ")
            );
        }
        let _ = writeln!(w);
        let summary = self.summary();
        if !summary.is_empty() {
            let _ = writeln!(
                w,
                "Over every cell of the operation matrix (geometric mean of the per-cell \
                 ratios; the worst cell in parentheses):\n"
            );
            let _ = writeln!(
                w,
                "| client | ÷ | ops/s ratio | CPU per op ratio |\n| --- | --- | --- | --- |"
            );
            for (a, b, tg, tmin, cg, cmax) in &summary {
                let _ = writeln!(
                    w,
                    "| {} | {} | {tg:.2}× (min {tmin:.2}×) | {cg:.2}× (max {cmax:.2}×) |",
                    a.name(),
                    b.name()
                );
            }
            let _ = writeln!(w);
        }
        w.push_str(&self.notes());
        if !self.charts.is_empty() {
            let _ = writeln!(w, "## Charts\n");
            for (title, path) in &self.charts {
                let _ = writeln!(w, "![{title}]({path})\n");
            }
        }

        let _ = writeln!(w, "\n## Method\n");
        w.push_str(METHOD);

        if !self.matrix.is_empty() {
            let _ = writeln!(w, "\n## Operations\n");
            let _ = writeln!(
                w,
                "Each table: one operation, value size and concurrency; ops/s over the \
                 interleaved rounds, latency percentiles over every operation, client CPU \
                 (user + system of the whole benchmark process, `getrusage`) per operation; \
                 `retries`: requests the store repeated (from its statistics). \
                 `ops/s ÷ floor` compares each store with the floor on its own transport \
                 (blocking with ureq, async with reqwest).\n"
            );
            for op in Op::ALL {
                let _ = writeln!(w, "### `{}` ({})\n", op.name(), op.requests());
                for size in SIZES {
                    if !op.sized() && size != SIZES[0] {
                        continue;
                    }
                    for c in concurrencies(op, size) {
                        let cell: BTreeMap<Client, Sample> = Client::ALL
                            .iter()
                            .filter_map(|cl| Some((*cl, self.get(op, size, c, *cl)?.clone())))
                            .collect();
                        if cell.is_empty() {
                            continue;
                        }
                        let ops = cell.values().map(|s| s.ops).max().unwrap_or(0);
                        let _ = writeln!(
                            w,
                            "**{}{} · concurrency {c}** ({ops} operations per client)\n",
                            op.name(),
                            if op.sized() {
                                format!(" · {}", size_name(size))
                            } else {
                                String::new()
                            }
                        );
                        let _ = writeln!(w, "| {} |", HEADERS.join(" | "));
                        let _ = writeln!(w, "|{}", " --- |".repeat(HEADERS.len()));
                        for r in cell_rows(&cell, op, size) {
                            let _ = writeln!(w, "| {} |", r.join(" | "));
                        }
                        let _ = writeln!(w);
                    }
                }
            }
        }

        self.write_curve(w);

        if let Some(k) = &self.keys {
            let _ = writeln!(w, "## `keys` on {} keys\n", k.count);
            write_keys_table(w, &k.timings);
            let _ = writeln!(
                w,
                "The same store through a proxy that delays every request by {} ms (one \
                 listing each):\n",
                crate::LINK_DELAY.as_millis()
            );
            write_keys_table(w, &k.link);
            let _ = writeln!(w, "{}\n", keys_requests_line(k));
        }

        if !self.scale.is_empty() {
            let _ = writeln!(w, "## `keys` as the store grows\n");
            let _ = writeln!(
                w,
                "One listing each, in a child process of its own (connected, nothing \
                 cached), {} in flight, the order rotating between sizes. *heap peak*: the \
                 largest live heap during the listing above the live heap before it (the \
                 benchmark's counting allocator); *RSS growth*: the child's `VmHWM` after the \
                 listing (reset through `/proc/self/clear_refs` just before it) above its \
                 `VmRSS` before it; *peak RSS*: that `VmHWM`.\n",
                crate::keys::IN_FLIGHT
            );
            let _ = writeln!(
                w,
                "| keys | who | seconds | ms per key | client CPU s | heap peak MiB | RSS growth MiB | peak RSS MiB | ÷ floor |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
            );
            for r in &self.scale {
                let f = crate::scale::secs(&self.scale, r.keys, Lister::Floor);
                let _ = writeln!(
                    w,
                    "| {} | {} | {:.2} | {:.3} | {:.2} | {:.1} | {:.1} | {:.1} | {} |",
                    r.keys,
                    r.lister.name(),
                    r.secs,
                    r.secs * 1e3 / r.keys.max(1) as f64,
                    r.cpu_secs,
                    r.heap_mib,
                    r.rss_growth_mib,
                    r.rss_peak_mib,
                    f.map_or("".into(), |f| format!("{:.2}×", r.secs / f))
                );
            }
            let _ = writeln!(w);
            if let Some(line) = self.scale_sentence() {
                let _ = writeln!(w, "{line}\n");
            }
        }

        if let Some(st) = &self.stream {
            let _ = writeln!(w, "## Streaming a {} MiB binary value\n", st.size >> 20);
            let _ = writeln!(
                w,
                "Each case in its own child process of the benchmark (peak RSS is that process's \
                 `VmHWM`), fed by a generated reader and drained into a sink with a 256 KiB \
                 buffer; throughput over the rounds (four in a full run, the order rotating so \
                 that every case runs once in every position: a single 1 GiB download varies \
                 by ±20 % here with what ran just before it), peak RSS the largest of the \
                 rounds. Every download copies what it receives once into the 256 KiB sink \
                 buffer, as a consumer of a reader does (the ureq floor and `bget` through \
                 their readers, the reqwest floor chunk by chunk).\n"
            );
            let _ = writeln!(
                w,
                "| case | MiB/s | peak RSS MiB | client CPU s | rounds |\n| --- | --- | --- | --- | --- |"
            );
            for (case, r) in stream_summary(st) {
                let _ = writeln!(
                    w,
                    "| {} | {:.0} | {:.1} | {:.2} | {} |",
                    case.name(),
                    r.mib_per_sec,
                    r.peak_rss_mib,
                    r.cpu_secs,
                    r.rounds
                );
            }
            let _ = writeln!(w);
        }

        if let Some(cases) = &self.tiered {
            let _ = writeln!(w, "## Tiered store and value cache\n");
            let _ = writeln!(
                w,
                "`get` of a 1 KiB value, one thread, each operation timed: S3 `get` (one \
                 GET and a decode), a tiered store (file frontend over S3, write-through) \
                 answered by its frontend, and the value cache ([docs/cache.md](cache.md)): \
                 a hit (konserve's trusting cache: no request), a revalidated hit (one GET \
                 with `If-None-Match`, answered 304 without a body) and a miss (one entry, \
                 two keys read in turn).\n"
            );
            let _ = writeln!(w, "{}", crate::tiered::table(cases));
        }

        let _ = writeln!(w, "## Build\n");
        if let Some(d) = self.deps_blocking {
            let _ = writeln!(
                w,
                "The blocking build of konserve-s3 (`--no-default-features --features blocking`) \
                 has **{d}** dependencies (`cargo tree -e normal --prefix none`, unique lines, \
                 the crate itself included).\n"
            );
        }
        if self.builds.is_empty() {
            let _ = writeln!(
                w,
                "Build times not measured in this run (run `bench/build-times.sh`).\n"
            );
        } else {
            let _ = writeln!(
                w,
                "Clean `cargo build --release` of a minimal program on each client, each in its \
                 own scratch crate and target directory, one at a time, after `cargo fetch` \
                 (`bench/build-times.sh`, same machine):\n"
            );
            let _ = writeln!(
                w,
                "| client | dependencies | clean release build | load average at its start |\n| --- | --- | --- | --- |"
            );
            for b in &self.builds {
                let name = build_name(&b.name);
                let secs = b.secs.parse::<f64>().map_or(b.secs.clone(), |s| {
                    format!("{:.0} s ({:.1} min)", s, s / 60.0)
                });
                let _ = writeln!(w, "| {name} | {} | {secs} | {} |", b.deps, b.load);
            }
            let _ = writeln!(w);
        }
        s
    }
}

const METHOD: &str = "\
- **Clients.** *konserve-s3 blocking*: `konserve_s3::blocking` `Store` over S3 (ureq), \
  one thread per unit of concurrency, with the default store options (`checksum: auto`, \
  which sends `x-amz-checksum-crc32c` on SeaweedFS). *konserve-s3 async*: `konserve_s3::nonblocking` \
  `Store` (reqwest), one tokio task per unit, on a multi-threaded runtime with one worker \
  per core. *floor ureq* / *floor reqwest*: the same HTTP requests to the same object keys \
  with the same bytes, presigned with rusty-s3 and sent with ureq (threads) or reqwest \
  (tasks), with no store logic (no encoding, no body checksum, no retries, no statistics). \
  *object_store*: `AmazonS3Builder` with `allow_http`, the endpoint, path-style \
  (`virtual_hosted_style_request(false)`), static credentials and the region, otherwise its \
  defaults (it signs the payload's SHA-256), doing the same GET/PUT/HEAD/DELETE/ranged GET \
  from tasks. *aws-sdk-s3*: `Client` with the endpoint, path-style, static credentials, the \
  region and `BehaviorVersion::latest()`, otherwise its defaults (CRC32 request checksums), \
  the same requests from tasks (its clean build fits in this machine's budget; see \
  [Build](#build)).
- **Requests per operation.** `get` GET · `assoc` PUT · `update_in` GET + PUT · `exists` \
  HEAD · `dissoc` HEAD + DELETE · `bassoc` ranged GET (metadata) + PUT · `bget` streamed GET \
  drained into a sink. The floor and object_store send exactly these. Values are random \
  bytes (an EDN byte array for `get`/`assoc`/`update_in`, a binary value for \
  `bassoc`/`bget`); every client sends the blob the store writes, so request and answer \
  sizes are the same for all. `exists` and `dissoc` move no value and run at 1 KiB only.
- **Interleaving.** Each cell runs every client in rounds (3; 2 for 4 MiB; 30 short \
  rounds of 100 operations for the 1 KiB concurrency-1 `get`/`assoc` cells, every five \
  consecutive rounds one of the six runs whose median decides the overhead target), \
  rotating the order each round, so drift of the server (compaction, page cache) falls on \
  all clients alike. Each worker uses its own key; `dissoc` deletes keys written just \
  before its run (untimed). `get`/`assoc` at 1 KiB and 64 KiB also run at 256 tasks, for \
  the async clients only (256 threads would measure the thread scheduler).
- **Warm-up.** Before its first timed round in a cell, every client does a few untimed \
  operations per worker (3; 1 at 4 MiB): connections are open and the store's \
  capability probe is done before anything is timed.
- **Copies.** The benchmark's global allocator counts the heap bytes the whole process \
  allocates during each run (the harness's latency vectors subtracted); `alloc ÷ value` \
  is that per operation divided by the value size, about the number of body-sized \
  buffers an operation allocates (for `exists` and `dissoc`, bytes per operation).
- **CPU.** `getrusage(RUSAGE_SELF)` user + system time of the benchmark process over each \
  run, divided by the operations: the client's cost only (the server is another process).
- **Overhead** is floor ops/s ÷ store ops/s − 1 at concurrency 1 (that is, the mean \
  latency difference), computed for each run (five consecutive interleaved rounds) and \
  judged by the median of the runs; the spread is the smallest and largest run.
- **`keys` memory** (the `scale` part): each listing in a child process of its own; the \
  counting allocator's peak of live heap bytes during the listing, above the live bytes \
  before it, and the child's `VmHWM` after the listing, reset just before it \
  (`echo 5 > /proc/self/clear_refs`), above its `VmRSS` before it.
";
