//! konserve-s3 measured side by side, in one run against one local
//! SeaweedFS: the store (blocking and async), the floor (the same HTTP
//! requests as bare presigned requests), and the peers (object_store,
//! aws-sdk-s3).
//!
//! ```sh
//! cargo run --release -p konserve-s3-bench -- --quick   # about 7 minutes
//! cargo run --release -p konserve-s3-bench              # the full run; writes docs/benchmarks.md
//! ```
//!
//! Options: `--quick`, `--out PATH` (where to write the report; the full
//! run writes `docs/benchmarks.md`, a quick run only with `--out`; the
//! SVG charts go into a directory named after it, next to it:
//! `docs/benchmarks/*.svg`),
//! `--parts matrix,keys,scale,stream,tiered` (what to run; default all;
//! `scale`: `keys` on 1 000, 10 000 and 100 000 keys with the memory of
//! each listing; `tiered`: tiered `get` and cache hit / revalidated hit /
//! miss against S3 `get`, printed only),
//! `--keys N` (keys in the `keys` store; default 10000),
//! `--scale-keys N,…` (store sizes of the `scale` part; default
//! 1000,10000,100000, quick 1000,10000),
//! `--stream-mib N` (size of the streamed value; default 1024),
//! `--build-times PATH` (the TSV `bench/build-times.sh` prints; default
//! `target-bench/build-times.tsv` when it exists). For development (no
//! report is written unless `--out` is given): `--ops get,assoc,…`,
//! `--sizes 1024,…`, `--conc 1,16,64,256` (256: `get`/`assoc` at 1 KiB and
//! 64 KiB, async clients only), `--clients store,floor,store-async,
//! floor-async,object_store,aws-sdk-s3`, `--scale F` (operation counts × F).
//!
//! Every client does a few untimed operations in every matrix cell before
//! its first timed round (connections, the store's capability probe). A
//! counting allocator gives the heap bytes each operation allocates
//! (`alloc ÷ value` in the tables: body copies per operation). The elapsed
//! time of every part is printed at the end.

// The tests' fault-injecting proxy, here to put a network delay between the
// client and the co-located server.
mod alloc;
mod charts;
#[path = "../../tests/common/fault_proxy.rs"]
mod fault_proxy;
mod floor;
mod keys;
mod measure;
mod ops;
mod report;
mod scale;
mod stream;
mod sys;
mod tiered;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use konserve_s3::S3Client;
use konserve_s3::config::S3Config;
use konserve_s3::value::Value;
use konserve_s3_dev::{SEAWEEDFS_VERSION, SeaweedFs};
use object_store::aws::AmazonS3Builder;
use uuid::Uuid;

use crate::floor::{Floor, FloorAsync, Target};
use crate::keys::{KeysCtx, Lister, Timing};
use crate::measure::{Res, Sample};
use crate::ops::{Client, Ctx, Key, Op, Payload};
use crate::report::Report;
use crate::stream::{Case, StreamResult, StreamSetup};

/// Counts the heap bytes every operation allocates (see [`alloc`]).
#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// Value sizes.
pub const SIZES: [usize; 3] = [1 << 10, 64 << 10, 4 << 20];
/// Concurrency: threads (blocking) or tasks (async).
pub const CONCURRENCY: [usize; 3] = [1, 16, 64];
/// The cost curve's last point: async tasks for `get`/`assoc` at 1 KiB
/// and 64 KiB (threads this many would measure the thread scheduler).
pub const HIGH_CONCURRENCY: usize = 256;

/// The concurrencies an operation and size run at.
pub fn concurrencies(op: Op, size: usize) -> Vec<usize> {
    let mut cs = CONCURRENCY.to_vec();
    if matches!(op, Op::Get | Op::Assoc) && size <= 64 << 10 {
        cs.push(HIGH_CONCURRENCY);
    }
    cs
}

/// Whether `client` runs at concurrency `c` (256: the async ones).
pub fn runs_at(client: Client, c: usize) -> bool {
    c < HIGH_CONCURRENCY
        || matches!(
            client,
            Client::StoreAsync | Client::FloorAsync | Client::ObjectStore
        )
}

/// The 1 KiB concurrency-1 `get`/`assoc` cells, where the overhead target
/// is decided from the median of several interleaved runs.
pub fn overhead_cell(op: Op, size: usize, c: usize) -> bool {
    size <= 1 << 10 && c == 1 && matches!(op, Op::Get | Op::Assoc)
}

/// Rounds grouped into one run of the overhead target: at least five runs.
pub fn rounds_per_run(rounds: usize) -> usize {
    rounds.div_ceil(6).max(1)
}

/// What to run and how much.
#[derive(Clone, Debug)]
pub struct Options {
    pub quick: bool,
    pub out: Option<PathBuf>,
    pub matrix: bool,
    pub keys: bool,
    /// `keys` as the store grows.
    pub scale_part: bool,
    pub scale_keys: Vec<usize>,
    pub stream: bool,
    /// The tiered store and cache part.
    pub tiered: bool,
    pub key_count: usize,
    pub stream_mib: u64,
    pub build_times: Option<PathBuf>,
    pub command: String,
    /// Multiplies the operation counts (development).
    pub scale: f64,
    /// Only these operations, sizes, concurrencies, clients (development).
    pub only_ops: Option<Vec<String>>,
    pub only_sizes: Option<Vec<usize>>,
    pub only_conc: Option<Vec<usize>>,
    pub only_clients: Option<Vec<String>>,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn parse_args() -> Res<Options> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Options {
        quick: false,
        out: None,
        matrix: true,
        keys: true,
        scale_part: true,
        scale_keys: Vec::new(),
        stream: true,
        tiered: true,
        key_count: 10_000,
        stream_mib: 1024,
        build_times: None,
        command: String::new(),
        scale: 1.0,
        only_ops: None,
        only_sizes: None,
        only_conc: None,
        only_clients: None,
    };
    let mut out_given = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--out" => {
                o.out = Some(value()?.into());
                out_given = true;
            }
            "--parts" => {
                let v = value()?;
                let parts: Vec<&str> = v.split(',').collect();
                o.matrix = parts.contains(&"matrix");
                o.keys = parts.contains(&"keys");
                o.scale_part = parts.contains(&"scale");
                o.stream = parts.contains(&"stream");
                o.tiered = parts.contains(&"tiered");
            }
            "--keys" => o.key_count = value()?.parse()?,
            "--scale-keys" => {
                o.scale_keys = value()?
                    .split(',')
                    .map(|x| x.parse().map_err(|e| format!("--scale-keys: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--stream-mib" => o.stream_mib = value()?.parse()?,
            "--build-times" => o.build_times = Some(value()?.into()),
            "--scale" => o.scale = value()?.parse()?,
            "--ops" => o.only_ops = Some(value()?.split(',').map(str::to_owned).collect()),
            "--sizes" => {
                o.only_sizes = Some(
                    value()?
                        .split(',')
                        .map(|x| x.parse().map_err(|e| format!("--sizes: {e}")))
                        .collect::<Result<_, _>>()?,
                )
            }
            "--conc" => {
                o.only_conc = Some(
                    value()?
                        .split(',')
                        .map(|x| x.parse().map_err(|e| format!("--conc: {e}")))
                        .collect::<Result<_, _>>()?,
                )
            }
            "--clients" => o.only_clients = Some(value()?.split(',').map(str::to_owned).collect()),
            "-h" | "--help" => {
                println!(
                    "{}",
                    include_str!("main.rs")
                        .lines()
                        .take_while(|l| l.starts_with("//!"))
                        .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let filtered = o.only_ops.is_some()
        || o.only_sizes.is_some()
        || o.only_conc.is_some()
        || o.only_clients.is_some();
    if o.scale_keys.is_empty() {
        o.scale_keys = if o.quick {
            vec![1_000, 10_000]
        } else {
            vec![1_000, 10_000, 100_000]
        };
    }
    if !out_given
        && !o.quick
        && !filtered
        && o.scale == 1.0
        && o.matrix
        && o.keys
        && o.scale_part
        && o.stream
    {
        o.out = Some(repo_root().join("docs/benchmarks.md"));
    }
    if o.build_times.is_none() {
        let default = repo_root().join("target-bench/build-times.tsv");
        if default.exists() {
            o.build_times = Some(default);
        }
    }
    let mut command = String::from("cargo run --release -p konserve-s3-bench");
    if !args.is_empty() {
        command.push_str(" -- ");
        command.push_str(&args.join(" "));
    }
    o.command = command;
    Ok(o)
}

/// Operations per worker per round for a cell, and the rounds; `None`
/// when the cell is skipped (4 MiB at concurrency 64 in quick mode).
fn plan(o: &Options, op: Op, size: usize, c: usize) -> Option<(usize, usize)> {
    let big = size > 64 << 10;
    if o.quick && big && c > 16 {
        return None;
    }
    // Operations per client and round.
    let total = match (size, c) {
        (s, HIGH_CONCURRENCY) if s <= 1 << 10 => 2560,
        (_, HIGH_CONCURRENCY) => 1280,
        (s, 1) if s <= 1 << 10 => 300,
        (s, 16) if s <= 1 << 10 => 800,
        (s, _) if s <= 1 << 10 => 1280,
        (s, 1) if s <= 64 << 10 => 150,
        (s, 16) if s <= 64 << 10 => 480,
        (s, _) if s <= 64 << 10 => 640,
        (_, 1) => 6,
        (_, 16) => 32,
        (_, _) => 64,
    };
    // Two requests per operation: half as many.
    let total = if matches!(op, Op::UpdateIn | Op::Bassoc | Op::Dissoc) {
        total / 2
    } else {
        total
    };
    let (total, rounds) = if o.quick && overhead_cell(op, size, c) {
        // At least five runs for the median, even quick.
        (25, 10)
    } else if o.quick {
        (total / 4, 2)
    } else if overhead_cell(op, size, c) {
        // The ≤ 3 % overhead target: many short interleaved rounds (0.1 s
        // per client), so the server's own pauses (Go's GC, compaction) and
        // the neighbours' load fall on every client alike; six rounds of
        // 300 put single cells ±10 % apart between runs. Every five
        // consecutive rounds form one of the six runs whose median decides.
        (100, 30)
    } else if big {
        (total, 2)
    } else {
        (total, 3)
    };
    let total = (total as f64 * o.scale) as usize;
    Some(((total / c).max(1), rounds))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(stream::CHILD_ARG) {
        if let Err(e) = stream::child_main(args.get(2).map_or("", String::as_str)) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        return;
    }
    if args.get(1).map(String::as_str) == Some(scale::CHILD_ARG) {
        if let Err(e) = scale::child_main(args.get(2).map_or("", String::as_str)) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn config(server: &Target, id: Uuid) -> Res<S3Config> {
    Ok(S3Config::builder()
        .bucket(server.bucket.clone())
        .id(id)
        .endpoint(server.endpoint.clone())
        .region(server.region.clone())
        .credentials(server.access_key.clone(), server.secret_key.clone())
        .build()?)
}

fn object_store_for(t: &Target) -> Res<Arc<object_store::aws::AmazonS3>> {
    Ok(Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&t.endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_bucket_name(&t.bucket)
            .with_access_key_id(&t.access_key)
            .with_secret_access_key(&t.secret_key)
            .with_region(&t.region)
            .build()?,
    ))
}

fn aws_client(t: &Target) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(t.region.clone()))
        .endpoint_url(&t.endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(
            &t.access_key,
            &t.secret_key,
            None,
            None,
            "static",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn run() -> Res<()> {
    let o = parse_args()?;
    let machine = sys::Machine::probe();
    println!(
        "konserve-s3 benchmarks{}: {} × {}, {:.1} GiB, {}",
        if o.quick { " (quick)" } else { "" },
        machine.nproc,
        machine.cpu_model,
        machine.memory_gib,
        machine.rustc
    );
    // SeaweedFS answers writes with 500 InternalError once its disk runs
    // low, which ends the run halfway; the matrix writes a few GiB.
    let tmp = std::env::temp_dir();
    if let Some(free) = sys::free_bytes(&tmp)
        && free < 20 << 30
    {
        eprintln!(
            "warning: {:.1} GiB free under {}; SeaweedFS may refuse writes (500 \
             InternalError) before the run ends — free at least 20 GiB",
            free as f64 / f64::from(1u32 << 30),
            tmp.display()
        );
    }
    let server = SeaweedFs::start()?;
    println!("SeaweedFS {SEAWEEDFS_VERSION} at {}", server.endpoint());
    let target_of = |bucket: &str| Target {
        endpoint: server.endpoint().to_owned(),
        access_key: server.access_key().to_owned(),
        secret_key: server.secret_key().to_owned(),
        region: server.region().to_owned(),
        bucket: bucket.to_owned(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut report = Report::new(machine, o.clone());
    let started = std::time::Instant::now();

    if o.matrix {
        let t0 = std::time::Instant::now();
        let target = target_of("bench-ops");
        let id = Uuid::new_v4();
        let cfg = config(&target, id)?;
        let store = konserve_s3::blocking::create_store(&cfg)?;
        let store_async = rt.block_on(konserve_s3::nonblocking::connect_store(&cfg))?;
        let ctx = Ctx {
            store_id: id,
            store,
            store_async,
            floor: Arc::new(Floor::new(&target)?),
            floor_async: Arc::new(FloorAsync::new(&target)?),
            setup: Floor::new(&target)?,
            object_store: object_store_for(&target)?,
            aws: aws_client(&target),
            bucket: target.bucket.clone(),
            rt,
        };
        report.matrix = run_matrix(&o, &ctx)?;
        report.print_matrix_summary();
        // Free the server's disk before the next parts.
        empty_bucket(&S3Client::new(&cfg)?)?;
        report.elapsed.push(("matrix", t0.elapsed()));
        let Ctx { rt: back, .. } = ctx;
        run_rest(&o, &mut report, back, &target_of)?;
    } else {
        run_rest(&o, &mut report, rt, &target_of)?;
    }

    report.deps_blocking = Some(dependency_count()?);
    if let Some(path) = &o.build_times {
        report.builds = report::read_build_times(path)?;
    }
    report.print_targets();
    report.elapsed.push(("whole run", started.elapsed()));
    if let Some(out) = &o.out {
        // The charts: `docs/benchmarks.md` gets `docs/benchmarks/*.svg`.
        let stem = out
            .file_stem()
            .map_or("benchmarks".into(), |s| s.to_string_lossy().into_owned());
        let dir = out
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(&stem);
        std::fs::create_dir_all(&dir)?;
        report.charts = charts::write_all(&report, &dir)?
            .into_iter()
            .map(|(title, file)| (title, format!("{stem}/{file}")))
            .collect();
        std::fs::write(out, report.markdown())?;
        println!(
            "\nwrote {} and {} charts in {}",
            out.display(),
            report.charts.len(),
            dir.display()
        );
    }
    println!("\nelapsed:");
    for (part, d) in &report.elapsed {
        println!("  {part:<10} {:>7.1} min", d.as_secs_f64() / 60.0);
    }
    drop(server);
    Ok(())
}

/// Deletes every object of `client`'s bucket (frees the server's disk
/// between parts).
pub fn empty_bucket(client: &S3Client) -> Res<()> {
    let objects: Vec<String> = client
        .list_objects(None)?
        .into_iter()
        .map(|o| o.key)
        .collect();
    client.delete_objects(&objects)?;
    Ok(())
}

fn run_rest(
    o: &Options,
    report: &mut Report,
    rt: tokio::runtime::Runtime,
    target_of: &dyn Fn(&str) -> Target,
) -> Res<()> {
    // Each part on its own: one that fails (SeaweedFS, on the same two
    // cores, now and then answers 500 past every retry) is named in the
    // report, and the others still count. `scale` runs last: its 100 000
    // keys fill the server's volumes.
    let mut part = |name: &'static str, run: &mut dyn FnMut(&mut Report) -> Res<()>| {
        let t0 = std::time::Instant::now();
        match run(report) {
            Ok(()) => report.elapsed.push((name, t0.elapsed())),
            Err(e) => {
                eprintln!("part {name} failed: {e}");
                report.failures.push(format!("{name}: {e}"));
            }
        }
    };
    if o.keys {
        part("keys", &mut |r| {
            r.keys = Some(run_keys(o, &rt, &target_of("bench-keys"))?);
            Ok(())
        });
    }
    if o.stream {
        part("stream", &mut |r| {
            r.stream = Some(run_stream(o, &target_of("bench-stream"))?);
            Ok(())
        });
    }
    if o.tiered {
        part("tiered", &mut |r| {
            let target = target_of("bench-tiered");
            let cfg = config(&target, Uuid::new_v4())?;
            S3Client::new(&cfg)?.create_bucket()?;
            let cases = tiered::run(&cfg, o.quick)?;
            tiered::print(&cases);
            r.tiered = Some(cases);
            Ok(())
        });
    }
    if o.scale_part {
        part("scale", &mut |r| {
            println!("\nscale: `keys` on {:?} keys", o.scale_keys);
            r.scale = scale::run(&o.scale_keys, &target_of("bench-scale"))?;
            report::print_scale(&r.scale);
            Ok(())
        });
    }
    Ok(())
}

/// The value and the store's blobs for each size.
fn payloads(ctx: &Ctx) -> Res<Vec<Arc<Payload>>> {
    let client = ctx.store.backing().client().clone();
    let mut out = Vec::new();
    for size in SIZES {
        let mut data = vec![0u8; size];
        fastrand::fill(&mut data);
        let value = Value::Bytes(data.clone());
        let probe = Key::new(ctx.store_id, format!("probe-{size}"));
        ctx.store.assoc(probe.value.clone(), value.clone())?;
        let edn_blob = client.get_object(&probe.object, None)?.body;
        let bin_data = Bytes::from(data);
        ctx.store.bassoc(probe.value.clone(), bin_data.clone())?;
        let bin_blob = client.get_object(&probe.object, None)?.body;
        ctx.store.dissoc(probe.value.clone())?;
        out.push(Arc::new(Payload {
            size,
            value,
            edn_blob,
            bin_data,
            bin_blob,
        }));
    }
    Ok(out)
}

/// A cell of the matrix.
pub type CellKey = (Op, usize, usize, Client);

fn run_matrix(o: &Options, ctx: &Ctx) -> Res<BTreeMap<CellKey, Sample>> {
    let payloads = payloads(ctx)?;
    let mut results = BTreeMap::new();
    let mut run_id = 0usize;
    let clients: Vec<Client> = Client::ALL
        .into_iter()
        .filter(|c| {
            o.only_clients
                .as_ref()
                .is_none_or(|l| l.iter().any(|n| n == c.id()))
        })
        .collect();
    for op in Op::ALL {
        if o.only_ops
            .as_ref()
            .is_some_and(|l| !l.iter().any(|n| n == op.name()))
        {
            continue;
        }
        for p in &payloads {
            if !op.sized() && p.size != SIZES[0] {
                continue;
            }
            if o.only_sizes.as_ref().is_some_and(|l| !l.contains(&p.size)) {
                continue;
            }
            let conc = concurrencies(op, p.size);
            if op != Op::Dissoc {
                let max_c = conc.iter().copied().max().unwrap_or(1);
                let keys = ops::cell_keys(ctx, op, p.size, max_c, 1, 0);
                ops::prepare(ctx, op, &keys, p)?;
            }
            for c in conc {
                if o.only_conc.as_ref().is_some_and(|l| !l.contains(&c)) {
                    continue;
                }
                let Some((per_worker, rounds)) = plan(o, op, p.size, c) else {
                    continue;
                };
                let clients: Vec<Client> = clients
                    .iter()
                    .copied()
                    .filter(|cl| runs_at(*cl, c))
                    .collect();
                // Untimed warm-up: a client's first operations open its
                // connections (and the store's first may probe the
                // server's capabilities); a few per worker, before its first
                // timed round.
                let warm = if p.size > 64 << 10 { 1 } else { 3 };
                for &client in &clients {
                    run_id += 1;
                    let keys = ops::cell_keys(ctx, op, p.size, c, warm, run_id);
                    if op == Op::Dissoc {
                        ops::prepare(ctx, op, &keys, p)?;
                    }
                    ops::run_cell(ctx, client, op, p, &keys, c, warm).map_err(|e| {
                        format!(
                            "warm-up {} {} {}B c={c}: {e}",
                            client.name(),
                            op.name(),
                            p.size
                        )
                    })?;
                }
                let mut cell: BTreeMap<Client, Sample> = BTreeMap::new();
                for round in 0..rounds {
                    // Rotate the order so no client always goes first.
                    for j in 0..clients.len() {
                        let client = clients[(j + round) % clients.len()];
                        run_id += 1;
                        let keys = ops::cell_keys(ctx, op, p.size, c, per_worker, run_id);
                        if op == Op::Dissoc {
                            ops::prepare(ctx, op, &keys, p)?;
                        }
                        let s = ops::run_cell(ctx, client, op, p, &keys, c, per_worker).map_err(
                            |e| format!("{} {} {}B c={c}: {e}", client.name(), op.name(), p.size),
                        )?;
                        cell.entry(client).or_default().merge(s);
                    }
                }
                report::print_cell(op, p.size, c, &cell);
                for (client, s) in cell {
                    results.insert((op, p.size, c, client), s);
                }
            }
        }
    }
    Ok(results)
}

/// The round trip the `keys` benchmark adds to every request in its second
/// measurement: a client a few milliseconds from its S3 endpoint, as in the
/// same cloud region (the loopback server answers in well under one).
pub const LINK_DELAY: std::time::Duration = std::time::Duration::from_millis(5);

/// The `keys` benchmark's results.
pub struct KeysOutcome {
    pub count: usize,
    /// Against the server on loopback.
    pub timings: Vec<(Lister, Timing)>,
    /// The same store through a proxy that delays every request by
    /// [`LINK_DELAY`].
    pub link: Vec<(Lister, Timing)>,
    /// Requests (LIST, GET, all) of a first `keys` on a fresh handle and
    /// of a repeated one, the store unchanged.
    pub requests: (keys::RequestCount, keys::RequestCount),
}

fn run_keys(o: &Options, rt: &tokio::runtime::Runtime, target: &Target) -> Res<KeysOutcome> {
    let id = Uuid::new_v4();
    let cfg = config(target, id)?;
    let store = konserve_s3::blocking::create_store(&cfg)?;
    println!("\nkeys: writing {} keys …", o.key_count);
    keys::populate(&Floor::new(target)?, id, o.key_count)?;
    let ctx = KeysCtx {
        rt,
        client: store.backing().client().clone(),
        store_async: rt.block_on(konserve_s3::nonblocking::connect_store(&cfg))?,
        store,
        floor: Arc::new(Floor::new(target)?),
        object_store: object_store_for(target)?,
        prefix: konserve_s3::internals::layout::store_prefix(id),
    };
    let rounds = if o.quick { 1 } else { 2 };
    let mut timings: Vec<(Lister, Timing)> = Lister::ALL
        .iter()
        .map(|l| (*l, Timing::default()))
        .collect();
    for _ in 0..rounds {
        for (who, timing) in &mut timings {
            let found = keys::run(&ctx, *who, timing)?;
            if found != o.key_count {
                return Err(
                    format!("{}: found {found} keys of {}", who.name(), o.key_count).into(),
                );
            }
        }
    }
    // Again over a link with a realistic round trip: a proxy in front of the
    // same server delays each request, so the server's own ceiling no
    // longer hides what parallel metadata reads buy.
    let proxy = fault_proxy::FaultProxy::start(&target.endpoint);
    proxy.push(fault_proxy::Rule::new(
        fault_proxy::Matcher::any(),
        usize::MAX,
        fault_proxy::Fault::Delay(LINK_DELAY),
    ));
    let far = Target {
        endpoint: proxy.endpoint(),
        ..target.clone()
    };
    let far_cfg = config(&far, id)?;
    let far_store = konserve_s3::blocking::connect_store(&far_cfg)?;
    let far_ctx = KeysCtx {
        rt,
        client: far_store.backing().client().clone(),
        store_async: rt.block_on(konserve_s3::nonblocking::connect_store(&far_cfg))?,
        store: far_store,
        floor: Arc::new(Floor::new(&far)?),
        object_store: object_store_for(&far)?,
        prefix: ctx.prefix.clone(),
    };
    println!(
        "keys: again through a proxy adding {} ms to every request …",
        LINK_DELAY.as_millis()
    );
    let mut link = Vec::new();
    for who in [
        Lister::Store,
        Lister::StoreAsync,
        Lister::StoreRepeat,
        Lister::Floor,
        Lister::ObjectStore,
        Lister::Sequential,
    ] {
        let mut timing = Timing::default();
        let found = keys::run(&far_ctx, who, &mut timing)?;
        if found != o.key_count {
            return Err(format!(
                "{} over the link: found {found} keys of {}",
                who.name(),
                o.key_count
            )
            .into());
        }
        link.push((who, timing));
    }
    let requests = keys::count_requests(&ctx)?;
    let outcome = KeysOutcome {
        count: o.key_count,
        timings,
        link,
        requests,
    };
    report::print_keys(&outcome);
    Ok(outcome)
}

/// The streaming benchmark's results.
pub struct StreamOutcome {
    pub size: u64,
    pub results: Vec<(Case, StreamResult)>,
}

fn run_stream(o: &Options, target: &Target) -> Res<StreamOutcome> {
    let id = Uuid::new_v4();
    let cfg = config(target, id)?;
    konserve_s3::blocking::create_store(&cfg)?;
    let setup = StreamSetup {
        target: target.clone(),
        store_id: id,
        size: o.stream_mib << 20,
    };
    println!(
        "\nstreaming {} MiB (each case in its own process) …",
        o.stream_mib
    );
    // Four rounds put every download in every position of the rotation
    // once: single 1 GiB downloads here vary by ±20 % with what ran just
    // before them.
    let rounds = if o.quick { 1 } else { 4 };
    let mut results: Vec<(Case, StreamResult)> = Vec::new();
    let puts = [Case::FloorPut, Case::StorePut, Case::StoreAsyncPut];
    let gets = [
        Case::FloorGet,
        Case::FloorAsyncGet,
        Case::StoreGet,
        Case::StoreAsyncGet,
    ];
    for round in 0..rounds {
        // Uploads, then downloads after one untimed download (so the first
        // timed one does not meet the server still busy with the uploads);
        // the order rotates every round.
        let order: Vec<(Case, bool)> = (0..puts.len())
            .map(|j| (puts[(j + round) % puts.len()], true))
            .chain(std::iter::once((Case::FloorGet, false)))
            .chain((0..gets.len()).map(|j| (gets[(j + round) % gets.len()], true)))
            .collect();
        for (case, timed) in order {
            let r = stream::run_child(&setup, case)?;
            if !timed {
                continue;
            }
            println!(
                "  {:<55} {:>8.1} MiB/s  peak RSS {:>6.1} MiB  CPU {:>5.2} s",
                case.name(),
                r.mib_per_sec(),
                r.peak_rss_kib as f64 / 1024.0,
                r.cpu_secs
            );
            results.push((case, r));
        }
    }
    let outcome = StreamOutcome {
        size: setup.size,
        results,
    };
    report::print_stream(&outcome);
    Ok(outcome)
}

/// `cargo tree -e normal --no-default-features --features blocking
/// --prefix none | sort -u | wc -l` on the main crate.
fn dependency_count() -> Res<usize> {
    let out = std::process::Command::new("cargo")
        .current_dir(repo_root())
        .args([
            "tree",
            "-e",
            "normal",
            "--no-default-features",
            "--features",
            "blocking",
            "--prefix",
            "none",
            "-p",
            "konserve-s3",
        ])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let lines: std::collections::BTreeSet<&str> = std::str::from_utf8(&out.stdout)?
        .lines()
        .filter(|l| !l.is_empty())
        .collect();
    Ok(lines.len())
}
