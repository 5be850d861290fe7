//! The fault soak, written once in async style and compiled per mode (see
//! `tests/soak.rs`).
//!
//! Writers each get their own store handle through one [`FaultProxy`];
//! before each operation a writer pushes, with probability [`FAULT_RATE`]
//! (about one request in ten meets a fault), a one-shot rule of one of six
//! kinds (503 `SlowDown`, 500, reset before
//! forwarding, reset after forwarding, a dropped answer after a write
//! landed, a delay past the client's response timeout). Every write is
//! recorded in a ledger with its result; the ledger is then checked through
//! a clean connection (no proxy):
//!
//! - shared counters are vectors of operation ids (`update_in` appends its
//!   id), so every increment is attributed exactly: an acknowledged id must
//!   be there exactly once (0 lost, 0 doubled);
//! - every key a writer owns holds its last acknowledged value (or absence
//!   after an acknowledged `dissoc`), or the value of a later write that
//!   returned an error;
//! - binary values (small ones and multipart ones) read back whole and
//!   intact.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use konserve_s3::Error;
use konserve_s3::config::{HttpOptions, S3Config};
use konserve_s3::value::Value;
use uuid::Uuid;

use super::{
    MODE, S3Backing, S3Client, S3Store, Store, concurrently, connect_store, create_store, io,
    read_binary,
};
use crate::common::fault_proxy::{Fault, FaultProxy, Matcher, Rule};
use crate::common::{bucket_name, config_for, server};

/// What the store does not guarantee (docs/consistency.md), counted and
/// printed, and asserted only with `KONSERVE_S3_SOAK_STRICT=1`: a write
/// request held by the network past the client's timeout can still land
/// later, after its call failed with a timeout or over a later acknowledged
/// blind write. Increments (conditional writes) are always checked: none
/// lost, none doubled, none landed beyond the calls acknowledged or typed
/// unclear, no conflict reported for a write that landed.
const STRICT_AFTER_OUTCOME_FIXES: bool = false;

/// Share of operations preceded by a one-shot fault rule: an operation
/// makes about three requests, so about one request in ten meets a fault.
const FAULT_RATE: f64 = 0.30;
/// Operations per mode unless `KONSERVE_S3_SOAK_OPS` says otherwise.
const DEFAULT_OPS: usize = 300;
const WRITERS: usize = 4;
const COUNTERS: usize = 2;
const KEYS_PER_WRITER: usize = 3;
/// The client's response and I/O timeouts; [`DELAY`] exceeds them.
const TIMEOUT: Duration = Duration::from_secs(2);
const DELAY: Duration = Duration::from_millis(2600);
/// The smallest part S3 accepts; multipart values are a part and a half.
const PART: usize = 5 << 20;
/// One multipart `bassoc_reader` per this many operations of writers 0 and 1.
const MULTIPART_EVERY: usize = 100;

fn k(name: &str) -> Value {
    Value::keyword(name)
}

fn strict() -> bool {
    STRICT_AFTER_OUTCOME_FIXES || std::env::var("KONSERVE_S3_SOAK_STRICT").is_ok_and(|v| v == "1")
}

fn ops_per_mode() -> usize {
    std::env::var("KONSERVE_S3_SOAK_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_OPS)
}

fn seed() -> u64 {
    std::env::var("KONSERVE_S3_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..))
}

/// The variant name of an error (`Timeout`, `OptimisticLockConflict`, …),
/// from its `Debug` form so that variants added later are named too.
fn kind(e: &Error) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Whether an error says explicitly that the write may or may not have
/// taken effect (fix (0)'s typed error).
fn says_outcome_unknown(kind: &str) -> bool {
    // `OutcomeUnknown`, and the errors of a request whose fate is unclear
    // (none of them says that nothing was written).
    kind.contains("Unknown")
        || matches!(kind, "Timeout" | "Transport" | "Unavailable" | "Throttled")
}

/// The peak resident set of this process (`VmHWM`), for the report.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// What a write to a writer's own key meant to leave there.
#[derive(Clone, Debug, PartialEq)]
enum State {
    Absent,
    Edn(Value),
    /// A binary value: its tag (`w<writer>-s<seq>`) and length.
    Binary(String, usize),
}

/// One write to a writer's own key and how the call ended.
struct Write {
    state: State,
    result: Outcome,
}

/// How a call ended: `Ok`, or the kind of its error.
type Outcome = Result<(), String>;

#[derive(Default)]
struct Ledger {
    /// Per counter: (operation id, outcome) of each `update_in`.
    increments: BTreeMap<usize, Vec<(String, Outcome)>>,
    /// Per own key (by name), its writes in order.
    writes: BTreeMap<String, Vec<Write>>,
    /// Errors surfaced, by "operation: kind".
    errors: BTreeMap<String, u64>,
    operations: u64,
}

impl Ledger {
    fn record_error(&mut self, op: &str, e: &Error) -> String {
        let kind = kind(e);
        *self.errors.entry(format!("{op}: {kind}")).or_default() += 1;
        kind
    }

    /// Records a write of `op` to the own key `name` meant to leave `state`.
    fn write(&mut self, op: &str, name: String, state: State, result: &Result<(), Error>) {
        let result = self.result(op, result);
        self.writes
            .entry(name)
            .or_default()
            .push(Write { state, result });
    }

    fn result(&mut self, op: &str, result: &Result<(), Error>) -> Outcome {
        self.operations += 1;
        match result {
            Ok(()) => Ok(()),
            Err(e) => Err(self.record_error(op, e)),
        }
    }
}

/// A binary value tagged with its writer and sequence number, filled with a
/// pattern so that any mix of two values shows.
fn binary(tag: &str, len: usize) -> Vec<u8> {
    let mut out = format!("{tag}:").into_bytes();
    let seed = tag
        .bytes()
        .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    let mut i = out.len();
    while out.len() < len {
        out.push(seed.wrapping_add((i % 251) as u8));
        i += 1;
    }
    out.truncate(len);
    out
}

/// The state a binary value read back shows, if it is intact.
fn read_state(bytes: &[u8]) -> Option<State> {
    let colon = bytes.iter().position(|&b| b == b':')?;
    let tag = std::str::from_utf8(&bytes[..colon]).ok()?.to_owned();
    (binary(&tag, bytes.len()) == bytes).then_some(State::Binary(tag, bytes.len()))
}

fn pick_fault(rng: &mut fastrand::Rng) -> Rule {
    let write_method = if rng.u8(..4) == 0 { "DELETE" } else { "PUT" };
    match rng.u8(..6) {
        0 => Rule::once(Fault::SlowDown),
        1 => Rule::once(Fault::Status {
            status: 500,
            code: "InternalError".into(),
        }),
        2 => Rule::once(Fault::Reset),
        3 => Rule::once(Fault::ResetAfterForward),
        4 => Rule::new(Matcher::method(write_method), 1, Fault::ResetAfterForward),
        _ => Rule::once(Fault::Delay(DELAY)),
    }
}

/// Which of the six kinds a fault the proxy applied was.
fn fault_kind(fault: &Fault, method: &str) -> &'static str {
    let write = matches!(method, "PUT" | "POST" | "DELETE");
    match fault {
        Fault::SlowDown => "503 SlowDown",
        Fault::Status { .. } => "500 InternalError",
        Fault::Reset => "reset before forwarding",
        Fault::ResetAfterForward if write => "answer dropped after a write landed",
        Fault::ResetAfterForward => "reset after forwarding (read)",
        Fault::Delay(_) => "delay past the client's timeout",
        _ => "other",
    }
}

fn soak_config(endpoint: &str, id: Uuid) -> S3Config {
    let mut config = config_for(&bucket_name("soak"), endpoint);
    config.id = Some(id);
    config.store.optimistic_locking_retries = 100;
    config.http = HttpOptions {
        connect_timeout: TIMEOUT,
        response_timeout: TIMEOUT,
        io_timeout: TIMEOUT,
        ..HttpOptions::default()
    };
    config
}

/// A writer's own handle through the proxy: its own client, the smallest
/// part size (so a part and a half is a multipart upload).
fn handle(config: &S3Config) -> S3Store {
    let client = S3Client::new(config).unwrap();
    let id = config.id.unwrap();
    let backing = S3Backing::new(client, id).with_part_size(PART);
    Store::with_options(backing, config.store.clone())
}

/// Appends `id` to the counter vector.
fn append(current: Option<Value>, id: &str) -> Value {
    let mut ops: Vec<Value> = current
        .as_ref()
        .and_then(Value::as_seq)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    ops.push(Value::from(id));
    Value::vector(ops)
}

#[io]
pub async fn fault_soak_loses_and_doubles_no_acknowledged_write() {
    let started = Instant::now();
    let proxy = FaultProxy::start(&server().endpoint);
    let id = Uuid::new_v4();
    let faulty = soak_config(&proxy.endpoint(), id);
    let mut clean = faulty.clone();
    clean.endpoint = Some(server().endpoint.parse().unwrap());
    // Created and checked through the clean endpoint; only the writers'
    // traffic meets faults.
    create_store(&clean).await.unwrap();
    let ops = ops_per_mode();
    let per_writer = ops.div_ceil(WRITERS);
    let seed = seed();
    eprintln!(
        "soak [{MODE}]: seed {seed} (KONSERVE_S3_SOAK_SEED), {WRITERS} writers x {per_writer} operations"
    );
    let ledger = Mutex::new(Ledger::default());
    let next = AtomicUsize::new(0);
    let writer = || async {
        let w = next.fetch_add(1, Ordering::SeqCst);
        let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(w as u64));
        let store = handle(&faulty);
        for i in 0..per_writer {
            if rng.f64() < FAULT_RATE {
                proxy.push(pick_fault(&mut rng));
            }
            let own = format!("w{w}-k{}", rng.usize(..KEYS_PER_WRITER));
            let tag = format!("w{w}-s{i}");
            if w < 2 && i % MULTIPART_EVERY == MULTIPART_EVERY / 2 {
                // A multipart bassoc_reader: a part and a half.
                let name = format!("w{w}-big");
                let len = PART + PART / 2;
                let mut body = std::io::Cursor::new(binary(&tag, len));
                let result = store.bassoc_reader(k(&name), &mut body).await;
                let state = State::Binary(tag, len);
                ledger
                    .lock()
                    .unwrap()
                    .write("bassoc_reader", name, state, &result);
                continue;
            }
            match rng.u8(..100) {
                0..30 => {
                    let counter = rng.usize(..COUNTERS);
                    let op = format!("{MODE}-{tag}");
                    let path = [k(&format!("counter{counter}"))];
                    let result = store.update_in(&path, |c| append(c, &op)).await;
                    let result = result.map(|_| ());
                    let mut l = ledger.lock().unwrap();
                    let result = l.result("update_in", &result);
                    l.increments.entry(counter).or_default().push((op, result));
                }
                30..50 => {
                    let value = Value::from(tag.as_str());
                    let result = store.assoc(k(&own), value.clone()).await;
                    let state = State::Edn(value);
                    ledger.lock().unwrap().write("assoc", own, state, &result);
                }
                50..58 => {
                    let result = store.dissoc(k(&own)).await.map(|_| ());
                    let state = State::Absent;
                    ledger.lock().unwrap().write("dissoc", own, state, &result);
                }
                58..70 => {
                    let name = format!("w{w}-bin");
                    let len = 64 + rng.usize(..4096);
                    let result = store.bassoc(k(&name), binary(&tag, len)).await;
                    let state = State::Binary(tag, len);
                    ledger.lock().unwrap().write("bassoc", name, state, &result);
                }
                70..85 => {
                    let result = store.get(k(&own)).await.map(|_| ());
                    ledger.lock().unwrap().result("get", &result).ok();
                }
                85..90 => {
                    let got = store.bget(k(&format!("w{w}-bin"))).await;
                    let result = match got {
                        Ok(Some(value)) => match read_binary(value).await {
                            Ok(bytes) => {
                                let intact = read_state(&bytes).is_some();
                                assert!(intact, "bget read back a torn binary value");
                                Ok(())
                            }
                            Err(e) => Err(Error::Io(e)),
                        },
                        Ok(None) => Ok(()),
                        Err(e) => Err(e),
                    };
                    ledger.lock().unwrap().result("bget", &result).ok();
                }
                _ => {
                    let result = store.keys().await.map(|_| ());
                    ledger.lock().unwrap().result("keys", &result).ok();
                }
            }
        }
    };
    concurrently(WRITERS, writer).await;
    proxy.clear();
    let ledger = ledger.into_inner().unwrap();

    // Faults injected, by kind.
    let mut faults: BTreeMap<&str, u64> = BTreeMap::new();
    let requests = proxy.requests();
    for r in &requests {
        if let Some(fault) = &r.fault {
            *faults.entry(fault_kind(fault, &r.method)).or_default() += 1;
        }
    }
    // Bodies of writes the proxy held past the client's timeout and then
    // forwarded: such a write lands late, after the client has given up
    // on it (and perhaps retried it and gone on).
    let delayed_writes: Vec<Vec<u8>> = requests
        .iter()
        .filter(|r| matches!(r.fault, Some(Fault::Delay(_))) && r.method == "PUT")
        .map(|r| r.body.clone())
        .collect();
    drop(proxy);

    // The ledger, checked through a clean connection.
    let check = connect_store(&clean).await.unwrap();
    let mut acked = 0u64;
    let mut lost = Vec::new();
    let mut doubled = Vec::new();
    let mut unknown = 0u64;
    let mut unknown_landed = 0u64;
    let mut landed_despite_error: BTreeMap<String, u64> = BTreeMap::new();
    // The counters' total: how many increments the bucket holds.
    let mut counted = 0u64;
    for (counter, increments) in &ledger.increments {
        let got = check.get(k(&format!("counter{counter}"))).await.unwrap();
        let got = got.unwrap_or(Value::vector(Vec::<Value>::new()));
        let applied: Vec<&str> = got
            .as_seq()
            .expect("a counter is a vector of operation ids")
            .iter()
            .map(|v| v.as_str().expect("operation ids are strings"))
            .collect();
        counted += applied.len() as u64;
        let times = |op: &str| applied.iter().filter(|a| **a == op).count();
        for (op, result) in increments {
            let n = times(op);
            match result {
                Ok(()) => {
                    acked += 1;
                    if n == 0 {
                        lost.push(op.clone());
                    }
                }
                Err(kind) if says_outcome_unknown(kind) => {
                    unknown += 1;
                    unknown_landed += u64::from(n > 0);
                }
                Err(kind) if n > 0 => {
                    *landed_despite_error.entry(kind.clone()).or_default() += 1;
                }
                Err(_) => {}
            }
            if n > 1 {
                doubled.push(format!("{op} x{n}"));
            }
        }
        let stray = applied
            .iter()
            .find(|a| !increments.iter().any(|(op, _)| op == *a));
        assert!(
            stray.is_none(),
            "counter{counter} holds {stray:?}, which no writer sent"
        );
    }

    // Own keys: the last acknowledged state, or that of a later failed write.
    let mut stale = Vec::new();
    let mut zombies = Vec::new();
    let mut later_failed_write_visible = 0u64;
    let mut landed_despite_error_own: BTreeMap<String, u64> = BTreeMap::new();
    for (name, writes) in &ledger.writes {
        let actual = if name.ends_with("-bin") || name.ends_with("-big") {
            match check.bget(k(name)).await.unwrap() {
                None => State::Absent,
                Some(value) => {
                    let bytes = read_binary(value).await.unwrap();
                    read_state(&bytes).unwrap_or_else(|| {
                        panic!(
                            "{name}: binary value read back torn ({} bytes)",
                            bytes.len()
                        )
                    })
                }
            }
        } else {
            match check.get(k(name)).await.unwrap() {
                None => State::Absent,
                Some(v) => State::Edn(v),
            }
        };
        let last_ack = writes.iter().rposition(|w| w.result.is_ok());
        let expected = last_ack.map_or(State::Absent, |i| writes[i].state.clone());
        let after = last_ack.map_or(0, |i| i + 1);
        if actual == expected {
            continue;
        }
        if let Some(w) = writes[after..].iter().find(|w| w.state == actual) {
            later_failed_write_visible += 1;
            if let Err(kind) = &w.result
                && !says_outcome_unknown(kind)
            {
                *landed_despite_error_own.entry(kind.clone()).or_default() += 1;
            }
            continue;
        }
        let what = format!("{name}: expected {expected:?}, read {actual:?}");
        let tag = match &actual {
            State::Edn(v) => v.as_str().map(str::to_owned),
            State::Binary(tag, _) => Some(format!("{tag}:")),
            State::Absent => None,
        };
        let delayed = tag.is_some_and(|tag| {
            delayed_writes
                .iter()
                .any(|body| body.windows(tag.len()).any(|w| w == tag.as_bytes()))
        });
        if delayed {
            // An older write, held by the proxy past the client's timeout,
            // landed over a later acknowledged one.
            zombies.push(what);
        } else {
            stale.push(what);
        }
    }

    let conflicts_landed = landed_despite_error
        .iter()
        .chain(&landed_despite_error_own)
        .filter(|(kind, _)| kind.contains("Conflict"))
        .map(|(_, n)| *n)
        .sum::<u64>();
    let injected: u64 = faults.values().sum();
    eprintln!(
        "soak [{MODE}]: {} operations, {} requests, {injected} faults, in {:?}",
        ledger.operations,
        requests.len(),
        started.elapsed()
    );
    eprintln!("soak [{MODE}]: faults injected by kind: {faults:?}");
    eprintln!(
        "soak [{MODE}]: errors surfaced by kind: {:?}",
        ledger.errors
    );
    eprintln!(
        "soak [{MODE}]: counters hold {counted} increments; acked {acked}, lost {}, doubled {} {doubled:?}, outcome unknown {unknown} (landed {unknown_landed}), landed despite another error {landed_despite_error:?}",
        lost.len(),
        doubled.len()
    );
    eprintln!(
        "soak [{MODE}]: own keys {}, acked writes lost {} {stale:?}, overwritten by a delayed older write {} {zombies:?}, later failed write visible {later_failed_write_visible} (not typed unknown: {landed_despite_error_own:?}), conflicts for landed writes {conflicts_landed}",
        ledger.writes.len(),
        stale.len(),
        zombies.len()
    );
    eprintln!("soak [{MODE}]: peak RSS (VmHWM) {}", peak_rss());

    assert!(injected > 0, "the soak injected no fault");
    assert!(lost.is_empty(), "acknowledged increments lost: {lost:?}");
    assert!(
        counted >= acked,
        "counters {counted} < acknowledged {acked}"
    );
    assert!(stale.is_empty(), "acknowledged writes lost: {stale:?}");
    assert!(doubled.is_empty(), "increments applied twice: {doubled:?}");
    assert!(
        counted <= acked + unknown,
        "counters {counted} > acknowledged {acked} + outcome unknown {unknown}"
    );
    assert_eq!(
        conflicts_landed, 0,
        "a conflict was reported for a write that landed"
    );
    if strict() {
        // Not guaranteed (docs/consistency.md): a blind write held by the
        // network past the client's timeout can still land later, over a
        // later acknowledged write or after its own call failed.
        assert!(
            landed_despite_error.is_empty() && landed_despite_error_own.is_empty(),
            "writes landed although their call failed without saying the outcome is unknown: {landed_despite_error:?} {landed_despite_error_own:?}"
        );
        assert!(
            zombies.is_empty(),
            "acknowledged writes overwritten by an older attempt the client had given up on: {zombies:?}"
        );
    }
}
