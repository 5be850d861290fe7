//! Write attribution after an unclear answer: "did my conditional write
//! land?" must never count another writer's write as ours (a lost update)
//! nor miss our own landed write (a doubled update). Against SeaweedFS
//! through the fault proxy, which plays a provider that answers a lost race
//! with 500 (Ceph RGW does) and drops answers of writes it forwarded.

mod common;

use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

use common::fault_proxy::{Fault, FaultProxy, Gate, Matcher, Rule};
use common::{bucket_name, config_for, server};
use konserve_s3::Error;
use konserve_s3::blocking::{S3Store, connect_store, create_store};
use konserve_s3::config::{ConditionalWrites, S3Config};
use konserve_s3::value::Value;
use uuid::Uuid;

fn bucket() -> &'static str {
    static BUCKET: OnceLock<String> = OnceLock::new();
    BUCKET.get_or_init(|| bucket_name("attribution"))
}

/// A store configuration with locking on and `retries` retries.
fn config(endpoint: &str, id: Uuid, retries: u32) -> S3Config {
    let mut config = config_for(bucket(), endpoint);
    config.id = Some(id);
    config.store.optimistic_locking_retries = retries;
    config.store.conditional_writes = ConditionalWrites::On;
    config.store.locking_backoff = Duration::from_millis(1);
    config.store.locking_max_backoff = Duration::from_millis(20);
    config
}

/// A fresh store, reached directly, with `n` = 0.
fn new_store() -> (S3Store, Uuid) {
    let id = Uuid::new_v4();
    let store = create_store(&config(&server().endpoint, id, 1000)).unwrap();
    store.assoc(k("n"), 0).unwrap();
    (store, id)
}

fn k(name: &str) -> Value {
    Value::keyword(name)
}

fn inc(n: Option<Value>) -> Value {
    Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
}

/// A proxy that answers 500 instead of 412 to every conditional PUT.
fn ceph_like_proxy() -> FaultProxy {
    let proxy = FaultProxy::start(&server().endpoint);
    answer_lost_races_with_500(&proxy);
    proxy
}

/// From now on `proxy` answers 500 instead of 412 to every conditional
/// PUT, as Ceph RGW does to a write that lost a race.
fn answer_lost_races_with_500(proxy: &FaultProxy) {
    proxy.push(Rule::new(
        Matcher::method("PUT").has_header("if-match"),
        usize::MAX,
        Fault::Replace {
            upstream: 412,
            status: 500,
            code: "InternalError".into(),
        },
    ));
}

/// Tallies one worker's updates: acknowledged, or of unknown outcome.
#[derive(Default)]
struct Tally {
    acked: i64,
    unknown: i64,
}

impl Tally {
    fn add(&mut self, result: konserve_s3::Result<(Option<Value>, Value)>) {
        match result {
            Ok(_) => self.acked += 1,
            Err(Error::OutcomeUnknown { .. }) => self.unknown += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn sum(tallies: impl IntoIterator<Item = Tally>) -> Tally {
        tallies.into_iter().fold(Tally::default(), |a, b| Tally {
            acked: a.acked + b.acked,
            unknown: a.unknown + b.unknown,
        })
    }
}

const WRITERS: usize = 8;
const UPDATES: usize = 40;

/// [`WRITERS`] threads, each with its own store handle on `cfg` (no shared
/// in-process lock: they race), each incrementing `:n` [`UPDATES`] times.
fn racing_writers(cfg: &S3Config) -> Tally {
    let tallies = std::thread::scope(|s| {
        let workers: Vec<_> = (0..WRITERS)
            .map(|_| {
                s.spawn(|| {
                    let store = connect_store(cfg).unwrap();
                    let mut tally = Tally::default();
                    for _ in 0..UPDATES {
                        tally.add(store.update_in(&[k("n")], inc));
                    }
                    tally
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .collect::<Vec<_>>()
    });
    Tally::sum(tallies)
}

#[test]
fn racing_writers_behind_a_provider_answering_500_to_losers_count_exactly() {
    let (direct, id) = new_store();
    let proxy = ceph_like_proxy();
    let cfg = config(&proxy.endpoint(), id, 1000);
    let total = racing_writers(&cfg);
    let n = direct.get(k("n")).unwrap().unwrap().as_i64().unwrap();
    eprintln!(
        "blocking: {} acknowledged, {} of unknown outcome, counter {n}",
        total.acked, total.unknown
    );
    // Every 500 here hides a 412: an update of unknown outcome never landed.
    assert_eq!(n, total.acked, "0 lost, 0 doubled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_async_writers_behind_a_provider_answering_500_to_losers_count_exactly() {
    let (direct, id) = new_store();
    let proxy = ceph_like_proxy();
    let cfg = config(&proxy.endpoint(), id, 1000);
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let cfg = cfg.clone();
        tasks.push(tokio::spawn(async move {
            let store = konserve_s3::nonblocking::connect_store(&cfg).await.unwrap();
            let mut tally = Tally::default();
            for _ in 0..UPDATES {
                let result = store.update_in(&[k("n")], inc).await;
                tally.add(result);
            }
            tally
        }));
    }
    let mut tallies = Vec::new();
    for t in tasks {
        tallies.push(t.await.unwrap());
    }
    let total = Tally::sum(tallies);
    let n = tokio::task::spawn_blocking(move || direct.get(k("n")))
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .as_i64()
        .unwrap();
    eprintln!(
        "async: {} acknowledged, {} of unknown outcome, counter {n}",
        total.acked, total.unknown
    );
    assert_eq!(n, total.acked, "0 lost, 0 doubled");
}

#[test]
fn a_lost_answer_followed_by_another_writer_is_never_applied_twice() {
    lost_answer_then_another_writer(":n", "if-match");
}

#[test]
fn a_lost_answer_to_a_creation_followed_by_another_writer_is_never_applied_twice() {
    lost_answer_then_another_writer(":fresh", "if-none-match");
}

/// Our conditional PUT (carrying `condition`) to `key` (`:n`, which holds
/// 0, or a missing key) lands but its answer is lost (and so is the
/// transport's repeat of it, if it makes one); the HEAD that looks again
/// waits until another writer has incremented. Ours must not run again.
fn lost_answer_then_another_writer(key: &str, condition: &str) {
    let (direct, id) = new_store();
    let key: Value = key.parse().unwrap();
    let proxy = FaultProxy::start(&server().endpoint);
    let store = connect_store(&config(&proxy.endpoint(), id, 5)).unwrap();
    proxy.push(Rule::new(
        Matcher::method("PUT").has_header(condition),
        2,
        Fault::ResetAfterForward,
    ));
    let gate = Gate::new();
    proxy.push(Rule::new(
        Matcher::method("HEAD"),
        1,
        Fault::Hold(gate.clone()),
    ));
    let start = direct
        .get(key.clone())
        .unwrap()
        .map_or(0, |v| v.as_i64().unwrap());
    let outcome = std::thread::scope(|s| {
        let ours = s.spawn(|| {
            let mut calls = 0;
            let result = store.update_in(std::slice::from_ref(&key), |n| {
                calls += 1;
                inc(n)
            });
            (result, calls)
        });
        gate.wait_for_arrival();
        // Another writer increments after ours landed.
        let (old, new) = direct.update_in(std::slice::from_ref(&key), inc).unwrap();
        assert_eq!(
            (old, new),
            (Some(Value::from(start + 1)), Value::from(start + 2))
        );
        gate.open();
        ours.join().unwrap()
    });
    let (result, calls) = outcome;
    assert_eq!(calls, 1, "the update function ran once");
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::OutcomeUnknown { key: k, .. } if *k == key.to_string()),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("may or may not have landed"), "{text}");
    assert!(text.contains("Read the key"), "{text}");
    assert_eq!(
        direct.get(key.clone()).unwrap(),
        Some(Value::from(start + 2)),
        "not doubled"
    );
}

#[test]
fn an_append_whose_link_answer_is_lost_is_committed_once() {
    let (direct, id) = new_store();
    let proxy = FaultProxy::start(&server().endpoint);
    let store = connect_store(&config(&proxy.endpoint(), id, 5)).unwrap();
    store.append(k("log"), Value::from(1)).unwrap();
    // The conditional write linking the last element to the new one lands;
    // its answer (and its repeat's) is lost.
    proxy.push(Rule::new(
        Matcher::method("PUT").has_header("if-match"),
        2,
        Fault::ResetAfterForward,
    ));
    store.append(k("log"), Value::from(2)).unwrap();
    store.append(k("log"), Value::from(3)).unwrap();
    assert_eq!(
        direct.log(k("log")).unwrap().unwrap(),
        vec![Value::from(1), Value::from(2), Value::from(3)]
    );
}

#[test]
fn a_lost_race_reported_as_500_is_a_conflict_while_the_key_is_unchanged() {
    // A 500 to a conditional PUT that was never forwarded: the key still
    // holds the version read, so the write did not land and is retried.
    let (direct, id) = new_store();
    let proxy = FaultProxy::start(&server().endpoint);
    proxy.push(Rule::new(
        Matcher::method("PUT").has_header("if-match"),
        1,
        Fault::Status {
            status: 500,
            code: "InternalError".into(),
        },
    ));
    let store = connect_store(&config(&proxy.endpoint(), id, 5)).unwrap();
    let mut calls = 0;
    store
        .update_in(&[k("n")], |n| {
            calls += 1;
            inc(n)
        })
        .unwrap();
    assert!(calls >= 1);
    assert_eq!(direct.get(k("n")).unwrap(), Some(Value::from(1)));
}

#[test]
fn a_landed_multipart_write_whose_complete_answer_is_lost_is_not_a_conflict() {
    let (direct, id) = new_store();
    direct.bassoc(k("big"), vec![1u8; 10]).unwrap();
    let proxy = FaultProxy::start(&server().endpoint);
    // CompleteMultipartUpload (POST ?uploadId=…) lands; its answer is lost.
    proxy.push(Rule::new(
        Matcher::method("POST").query_contains("uploadId"),
        1,
        Fault::ResetAfterForward,
    ));
    let store = connect_store(&config(&proxy.endpoint(), id, 5)).unwrap();
    let size = 12 << 20;
    let mut source = std::io::repeat(7).take(size as u64);
    store.bassoc_reader(k("big"), &mut source).unwrap();
    let completes = proxy
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.query.contains("uploadId"))
        .count();
    assert!(completes >= 1);
    let got = direct.bget(k("big")).unwrap().unwrap();
    assert_eq!(got.size, size as u64);
    let mut bytes = Vec::new();
    let mut reader = got.reader;
    reader.read_to_end(&mut bytes).unwrap();
    assert!(bytes.iter().all(|b| *b == 7));
}

#[test]
fn written_blobs_keep_konserves_bytes_and_carry_a_write_tag() {
    use konserve_s3::blocking::Backing;
    use konserve_s3::internals::layout::blob_name;
    let (store, _) = new_store();
    let name = blob_name(&k("n"));
    // `assoc` (a blind overwrite) is not tagged; a read-modify-write is,
    // with a fresh tag each time.
    let untagged = store.backing().blob_version(&name).unwrap().unwrap();
    assert_eq!(untagged.write_tag, None);
    store.update_in(&[k("n")], inc).unwrap();
    let first = store.backing().blob_version(&name).unwrap().unwrap();
    store.update_in(&[k("n")], inc).unwrap();
    let second = store.backing().blob_version(&name).unwrap().unwrap();
    let (a, b) = (first.write_tag.unwrap(), second.write_tag.unwrap());
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
    // The bytes are konserve's: header bytes 8–19 stay zero, which
    // Clojure's konserve requires of a 20-byte header.
    let blob = store.backing().read_blob(&name).unwrap().unwrap();
    assert_eq!(&blob.bytes[8..20], &[0u8; 12]);
    assert_eq!(store.get(k("n")).unwrap(), Some(Value::from(2)));
}

/// The configuration of stores through `proxy` with conditional writes
/// `auto`, after a probe through it saw every race's losers answered 412
/// (the proxy had no rule yet); the finding is in the process cache.
fn probed_without_500s(proxy: &FaultProxy, id: Uuid) -> S3Config {
    let mut cfg = config(&proxy.endpoint(), id, 1000);
    cfg.store.conditional_writes = ConditionalWrites::Auto;
    let store = connect_store(&cfg).unwrap();
    let caps = store.backing().client().capabilities().unwrap();
    let race = caps.race.expect("the probe ran its race");
    assert!(race.is_exclusive() && race.server_errors == 0, "{race:?}");
    assert!(!caps.server_error_means_lost_race());
    cfg
}

/// The races run again that `proxy` saw: distinct probe prefixes.
fn races_run_again(proxy: &FaultProxy) -> usize {
    let prefixes: std::collections::BTreeSet<String> = proxy
        .requests()
        .iter()
        .filter_map(|r| {
            let rest = r.path.split(".konserve-s3-probe/").nth(1)?;
            Some(rest.split('/').next()?.to_owned())
        })
        .collect();
    prefixes.len()
}

/// A probe's race can miss a provider's 500 for a lost race (its rounds
/// may all be serialized, under load). The first such 500 runs the race
/// again; it shows those 500s never land, so they are read as refusals
/// from then on: many writers count exactly, with no update of unknown
/// outcome, and the race runs again at most once per client.
#[test]
fn a_probe_that_missed_the_lost_race_500_learns_it_from_the_first_one() {
    let (direct, id) = new_store();
    let proxy = FaultProxy::start(&server().endpoint);
    let cfg = probed_without_500s(&proxy, id);
    proxy.clear_requests();
    answer_lost_races_with_500(&proxy);
    let total = racing_writers(&cfg);
    let n = direct.get(k("n")).unwrap().unwrap().as_i64().unwrap();
    assert_eq!(total.unknown, 0, "every 500 was read as a refusal");
    assert_eq!(n, total.acked);
    assert_eq!(n, (WRITERS * UPDATES) as i64);
    let again = races_run_again(&proxy);
    assert!(
        (1..=WRITERS).contains(&again),
        "the race ran again {again} times for {WRITERS} clients"
    );
    // The finding is kept: a new client knows it without racing.
    let caps = connect_store(&cfg)
        .unwrap()
        .backing()
        .client()
        .capabilities()
        .unwrap();
    assert!(caps.server_error_means_lost_race(), "{}", caps.summary());
}

/// A 500 to a conditional write where the race run again shows no lost
/// race answered 500 is not read as a refusal: the write is looked into
/// (here it never reached the server, so it is retried), and the race is
/// not run again for the next 500.
#[test]
fn a_500_the_race_does_not_explain_stays_a_server_error() {
    let (direct, id) = new_store();
    let proxy = FaultProxy::start(&server().endpoint);
    let cfg = probed_without_500s(&proxy, id);
    let store = connect_store(&cfg).unwrap();
    proxy.clear_requests();
    for _ in 0..2 {
        proxy.push(Rule::new(
            Matcher::method("PUT")
                .has_header("if-match")
                .path_contains(&id.to_string()),
            1,
            Fault::Status {
                status: 500,
                code: "InternalError".into(),
            },
        ));
        store.update_in(&[k("n")], inc).unwrap();
    }
    assert_eq!(direct.get(k("n")).unwrap(), Some(Value::from(2)));
    assert_eq!(races_run_again(&proxy), 1, "once for the client");
    assert!(
        !store
            .backing()
            .client()
            .capabilities()
            .unwrap()
            .server_error_means_lost_race()
    );
}
