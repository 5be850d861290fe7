//! Many writers, no lost update: optimistic locking with S3 conditional
//! writes, against SeaweedFS (whose conditional writes are atomic), with
//! separate OS processes as writers.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use common::fault_proxy::{Fault, FaultProxy, Matcher, Rule};
use common::{
    LockingOnServer, bucket_name, locking_mode, locking_on_server, not_applicable, server,
};
use konserve_s3::Error;
use konserve_s3::blocking::{DissocOptions, S3Store, connect_store, create_store};
use konserve_s3::config::{CapabilityCache, ConditionalWrites, S3Config};
use konserve_s3::value::Value;
use uuid::Uuid;

fn shared_bucket() -> &'static str {
    static BUCKET: OnceLock<String> = OnceLock::new();
    BUCKET.get_or_init(|| bucket_name("locking"))
}

/// The JSON configuration of a store (what the worker processes get).
fn config_json(endpoint: &str, id: Uuid, retries: u32, mode: &str) -> String {
    let s = server();
    serde_json::json!({
        "bucket": shared_bucket(),
        "id": id.to_string(),
        "region": s.region,
        "endpoint": endpoint,
        "access-key": s.access_key,
        "secret": s.secret_key,
        "config": {
            "optimistic-locking-retries": retries,
            "conditional-writes": mode,
            "optimistic-locking-backoff-ms": 5,
            "optimistic-locking-max-backoff-ms": 200
        }
    })
    .to_string()
}

fn config(endpoint: &str, id: Uuid, retries: u32, mode: &str) -> S3Config {
    S3Config::from_json(&config_json(endpoint, id, retries, mode)).unwrap()
}

fn new_store(retries: u32) -> (S3Store, Uuid) {
    let id = Uuid::new_v4();
    let mode = if retries > 0 { locking_mode() } else { "auto" };
    let store = create_store(&config(&server().endpoint, id, retries, mode)).unwrap();
    (store, id)
}

fn k(name: &str) -> Value {
    Value::keyword(name)
}

fn inc(n: Option<Value>) -> Value {
    Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
}

fn spawn_counter(config_json: &str, key: &str, times: u32, reconnect: bool) -> Child {
    spawn_worker(
        common::example_binary("counter", "blocking"),
        config_json,
        key,
        times,
        reconnect,
    )
}

fn spawn_worker(bin: PathBuf, config_json: &str, key: &str, times: u32, reconnect: bool) -> Child {
    Command::new(bin)
        .env("KONSERVE_S3_CONFIG", config_json)
        .env("COUNTER_KEY", key)
        .env("COUNTER_TIMES", times.to_string())
        .env("COUNTER_RECONNECT", if reconnect { "1" } else { "0" })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_all(children: Vec<Child>) -> Vec<String> {
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "worker failed: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
        })
        .collect()
}

fn many_processes(test: &str, reconnect: bool) {
    many_processes_of(
        test,
        common::example_binary("counter", "blocking"),
        reconnect,
    );
}

/// Whether many writers can be tested for lost updates on this server:
/// where locking is not safe (the refusal is checked by
/// `locking_on_server`), the test is listed as not applicable.
fn atomic_cas(test: &str) -> bool {
    match locking_on_server() {
        LockingOnServer::Safe => true,
        LockingOnServer::Unsafe(why) => {
            not_applicable(test, why);
            false
        }
    }
}

fn many_processes_of(test: &str, bin: PathBuf, reconnect: bool) {
    if !atomic_cas(test) {
        return;
    }
    let (store, id) = new_store(1000);
    let json = config_json(&server().endpoint, id, 1000, locking_mode());
    let started = Instant::now();
    let workers: Vec<Child> = (0..16)
        .map(|_| spawn_worker(bin.clone(), &json, "counter", 50, reconnect))
        .collect();
    let reports = wait_all(workers);
    let took = started.elapsed();
    let got = store.get(k("counter")).unwrap().and_then(|v| v.as_i64());
    assert_eq!(got, Some(800));
    let runs: u64 = reports
        .iter()
        .filter_map(|r| {
            r.split("ran ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    eprintln!(
        "16 processes × 50 update_in (reconnect: {reconnect}): {got:?}/800 in {took:?}, functions ran {runs} times"
    );
    assert!(runs >= 800);
}

#[test]
fn sixteen_processes_lose_no_update() {
    many_processes("sixteen_processes_lose_no_update", false);
}

#[test]
fn sixteen_processes_each_connecting_per_update_lose_no_update() {
    many_processes(
        "sixteen_processes_each_connecting_per_update_lose_no_update",
        true,
    );
}

#[cfg(feature = "async")]
#[test]
fn sixteen_async_processes_lose_no_update() {
    many_processes_of(
        "sixteen_async_processes_lose_no_update",
        common::example_binary("counter_async", "async"),
        false,
    );
}

#[cfg(feature = "async")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_async_tasks_with_their_own_handles_lose_no_update() {
    if !atomic_cas("sixteen_async_tasks_with_their_own_handles_lose_no_update") {
        return;
    }
    let (_, id) = new_store(1000);
    let cfg = config(&server().endpoint, id, 1000, locking_mode());
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let cfg = cfg.clone();
        tasks.push(tokio::spawn(async move {
            let store = konserve_s3::nonblocking::connect_store(&cfg).await.unwrap();
            for _ in 0..50 {
                store.update_in(&[k("n")], inc).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let store = konserve_s3::nonblocking::connect_store(&cfg).await.unwrap();
    assert_eq!(store.get(k("n")).await.unwrap(), Some(Value::from(800)));
}

#[test]
fn without_locking_last_writer_wins() {
    // Shown, not asserted as a guarantee: with locking off concurrent
    // read-modify-writes may overwrite each other.
    let (store, id) = new_store(0);
    let json = config_json(&server().endpoint, id, 0, "auto");
    let workers: Vec<Child> = (0..8)
        .map(|_| spawn_counter(&json, "counter", 25, false))
        .collect();
    wait_all(workers);
    let n = store.get(k("counter")).unwrap().unwrap().as_i64().unwrap();
    eprintln!("without locking: 8 processes × 25 increments → {n} of 200");
    assert!((1..=200).contains(&n));
}

#[test]
fn two_processes_creating_the_same_keys_lose_nothing() {
    if !atomic_cas("two_processes_creating_the_same_keys_lose_nothing") {
        return;
    }
    let (store, id) = new_store(100);
    let json = config_json(&server().endpoint, id, 100, locking_mode());
    // Both processes create the same 20 fresh keys at about the same time;
    // If-None-Match makes one of each pair of creations retry.
    for key in 0..20 {
        let key = format!("fresh{key}");
        let workers = vec![
            spawn_counter(&json, &key, 1, false),
            spawn_counter(&json, &key, 1, false),
        ];
        wait_all(workers);
        assert_eq!(store.get(k(&key)).unwrap(), Some(Value::from(2)), "{key}");
    }
}

#[test]
fn threads_sharing_nothing_but_the_bucket_lose_nothing() {
    if !atomic_cas("threads_sharing_nothing_but_the_bucket_lose_nothing") {
        return;
    }
    let (_, id) = new_store(500);
    let cfg = config(&server().endpoint, id, 500, locking_mode());
    std::thread::scope(|s| {
        for _ in 0..8 {
            let cfg = cfg.clone();
            s.spawn(move || {
                // Every thread its own store handle: no shared in-process lock.
                let store = connect_store(&cfg).unwrap();
                for _ in 0..25 {
                    store.update_in(&[k("n")], inc).unwrap();
                    store.update_in(&[k("m"), k("deep")], inc).unwrap();
                    store.append(k("log"), Value::from(1)).unwrap();
                }
            });
        }
    });
    let store = connect_store(&cfg).unwrap();
    assert_eq!(store.get(k("n")).unwrap(), Some(Value::from(200)));
    assert_eq!(
        store.get_in(&[k("m"), k("deep")]).unwrap(),
        Some(Value::from(200))
    );
    assert_eq!(store.log(k("log")).unwrap().unwrap().len(), 200);
}

#[test]
fn exhausted_retries_are_a_typed_conflict() {
    let (direct, id) = new_store(3);
    direct.assoc(k("n"), 1).unwrap();
    let proxy = FaultProxy::start(&server().endpoint);
    let store = connect_store(&config(&proxy.endpoint(), id, 3, locking_mode())).unwrap();
    // Every conditional PUT is refused, as if another writer always won.
    proxy.push(Rule::new(
        Matcher::method("PUT").has_header("if-match"),
        100,
        Fault::Status {
            status: 412,
            code: "PreconditionFailed".into(),
        },
    ));
    let mut calls = 0;
    let err = store
        .update_in(&[k("n")], |n| {
            calls += 1;
            inc(n)
        })
        .unwrap_err();
    match &err {
        Error::OptimisticLockConflict { key, attempts } => {
            assert_eq!(key, ":n");
            assert_eq!(*attempts, 4);
        }
        other => panic!("not a conflict: {other}"),
    }
    assert_eq!(calls, 4, "the function re-runs on every attempt");
    assert_eq!(direct.get(k("n")).unwrap(), Some(Value::from(1)));
}

#[test]
fn with_locking_off_nothing_is_conditional() {
    let (_, id) = new_store(0);
    let proxy = FaultProxy::start(&server().endpoint);
    let store = connect_store(&config(&proxy.endpoint(), id, 0, "auto")).unwrap();
    store.update_in(&[k("n")], inc).unwrap();
    store.update_in(&[k("n")], inc).unwrap();
    store.assoc_in(&[k("m"), k("x")], Value::from(1)).unwrap();
    store.assoc(k("a"), 1).unwrap();
    store.bassoc(k("b"), vec![1u8]).unwrap();
    store.append(k("log"), Value::from(1)).unwrap();
    store.append(k("log"), Value::from(2)).unwrap();
    store.dissoc(k("a")).unwrap();
    // The store's own requests (the capability probe, which learns the
    // body checksum to send, writes conditionally under its own prefix).
    let requests: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| !r.path.contains(".konserve-s3-probe/"))
        .collect();
    assert!(requests.len() >= 10);
    for r in &requests {
        assert!(
            r.header("if-match").is_none() && r.header("if-none-match").is_none(),
            "{} {} is conditional",
            r.method,
            r.path
        );
    }
}

#[test]
fn with_locking_on_writes_are_conditional_and_blind_overwrites_are_not() {
    let (_, id) = new_store(5);
    let proxy = FaultProxy::start(&server().endpoint);
    let store = connect_store(&config(&proxy.endpoint(), id, 5, locking_mode())).unwrap();
    // Only the requests from here on: not the capability probe's.
    proxy.clear_requests();
    let conditional_puts = |proxy: &FaultProxy| -> Vec<(Option<String>, Option<String>)> {
        proxy
            .requests()
            .iter()
            .filter(|r| r.method == "PUT")
            .map(|r| {
                (
                    r.header("if-match").map(str::to_owned),
                    r.header("if-none-match").map(str::to_owned),
                )
            })
            .collect()
    };
    store.update_in(&[k("n")], inc).unwrap();
    store.update_in(&[k("n")], inc).unwrap();
    let puts = conditional_puts(&proxy);
    assert_eq!(puts.len(), 2);
    assert_eq!(
        puts[0],
        (None, Some("*".into())),
        "creating a key is create-only"
    );
    assert!(
        puts[1].0.is_some() && puts[1].1.is_none(),
        "updating is If-Match"
    );
    proxy.clear_requests();
    // A get, then another writer, then a blind assoc: the assoc overwrites
    // (no stale version left over from the get turns it into a CAS).
    assert_eq!(store.get(k("n")).unwrap(), Some(Value::from(2)));
    let other = connect_store(&config(&server().endpoint, id, 5, locking_mode())).unwrap();
    other.assoc(k("n"), 100).unwrap();
    store.assoc(k("n"), 7).unwrap();
    assert_eq!(store.get(k("n")).unwrap(), Some(Value::from(7)));
    assert!(conditional_puts(&proxy).iter().all(|p| *p == (None, None)));
}

#[test]
fn a_lost_answer_to_a_landed_write_applies_it_exactly_once() {
    let (direct, id) = new_store(5);
    direct.assoc(k("n"), 10).unwrap();
    let proxy = FaultProxy::start(&server().endpoint);
    let store = connect_store(&config(&proxy.endpoint(), id, 5, locking_mode())).unwrap();
    for expected in 11..=15 {
        // The PUT reaches the server and is stored, but its answer is lost.
        proxy.push(Rule::new(
            Matcher::method("PUT"),
            1,
            Fault::ResetAfterForward,
        ));
        let mut calls = 0;
        let (old, new) = store
            .update_in(&[k("n")], |n| {
                calls += 1;
                inc(n)
            })
            .unwrap();
        assert_eq!(
            (old, new),
            (Some(Value::from(expected - 1)), Value::from(expected))
        );
        assert_eq!(calls, 1, "recognised as landed, not applied again");
        assert_eq!(direct.get(k("n")).unwrap(), Some(Value::from(expected)));
    }
    // Both the write and its repeat lose their answers.
    proxy.push(Rule::new(
        Matcher::method("PUT"),
        2,
        Fault::ResetAfterForward,
    ));
    store.update_in(&[k("n")], inc).unwrap();
    assert_eq!(direct.get(k("n")).unwrap(), Some(Value::from(16)));
    // A create-only write whose answer is lost.
    proxy.push(Rule::new(
        Matcher::method("PUT"),
        1,
        Fault::ResetAfterForward,
    ));
    store.update_in(&[k("fresh")], inc).unwrap();
    assert_eq!(direct.get(k("fresh")).unwrap(), Some(Value::from(1)));
}

#[test]
fn the_probe_refuses_providers_that_ignore_conditional_writes() {
    let (_, id) = new_store(0);
    let proxy = FaultProxy::start(&server().endpoint);
    // A provider that accepts If-None-Match writes without checking.
    proxy.push(Rule::new(
        Matcher::method("PUT").has_header("if-none-match"),
        100,
        Fault::FakeSuccess,
    ));
    // Every connect probes afresh: the proxy's behaviour changes below.
    let probing = |retries, mode| {
        let mut c = config(&proxy.endpoint(), id, retries, mode);
        c.store.capability_cache = CapabilityCache::Off;
        c
    };
    let err = connect_store(&probing(5, "auto")).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("ignores If-None-Match"), "{err}");
    assert!(
        err.to_string().contains("optimistic-locking-retries 0"),
        "{err}"
    );
    // No probe without locking, and none when told to trust the provider.
    connect_store(&probing(0, "auto")).unwrap();
    connect_store(&probing(5, "on")).unwrap();
    proxy.clear();
    // A provider that answers 501.
    proxy.push(Rule::new(
        Matcher::method("PUT").has_header("if-none-match"),
        100,
        Fault::Status {
            status: 501,
            code: "NotImplemented".into(),
        },
    ));
    let err = connect_store(&probing(5, "auto")).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(
        err.to_string().contains("refuses conditional writes"),
        "{err}"
    );
    proxy.clear();
    if *locking_on_server() != LockingOnServer::Safe {
        return not_applicable(
            "the_probe_refuses_providers_that_ignore_conditional_writes",
            "the test server's own conditional writes are not safe, so it does not pass the probe",
        );
    }
    // The server itself passes, and the probe leaves nothing behind (its
    // own objects: other tests' probes may be running in this bucket).
    proxy.clear_requests();
    let store = connect_store(&probing(5, "auto")).unwrap();
    let run = proxy
        .requests()
        .iter()
        .find_map(|r| {
            let (_, rest) = r.path.split_once(".konserve-s3-probe/")?;
            Some(format!(".konserve-s3-probe/{}/", rest.split('/').next()?))
        })
        .expect("the probe wrote through the proxy");
    let probes = store.backing().client().list_objects(Some(&run)).unwrap();
    assert!(probes.is_empty(), "{probes:?}");
    // "off" with locking on is a configuration error, not silent loss.
    let bad = S3Config::from_json(&config_json(&server().endpoint, id, 5, "off")).unwrap_err();
    assert!(
        matches!(&bad, Error::InvalidConfig { field, .. } if field == "config.conditional-writes")
    );
    let _ = ConditionalWrites::Auto;
}

#[test]
fn conditional_dissoc_deletes_only_an_unchanged_value() {
    // No locking: `conditional-writes` stays `auto`, so the client probes
    // before the first conditional delete, whatever the server.
    let (store, _) = new_store(0);
    store.assoc(k("a"), 1).unwrap();
    let (_, version) = store.get_versioned(k("a")).unwrap().unwrap();
    store.assoc(k("a"), 2).unwrap();
    let err = store
        .dissoc_with(k("a"), DissocOptions::if_unchanged(version))
        .unwrap_err();
    if !common::capabilities().conditional_delete.is_honoured() {
        // Refused, never sent: the provider would delete the newer value.
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("If-Match on DELETE"), "{err}");
        assert_eq!(store.get(k("a")).unwrap(), Some(Value::from(2)));
        return not_applicable(
            "conditional_dissoc_deletes_only_an_unchanged_value",
            "the server ignores If-Match on DELETE (the refusal was checked)",
        );
    }
    assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");
    assert_eq!(store.get(k("a")).unwrap(), Some(Value::from(2)));
    let (_, version) = store.get_versioned(k("a")).unwrap().unwrap();
    assert!(
        store
            .dissoc_with(k("a"), DissocOptions::if_unchanged(version))
            .unwrap()
    );
    assert!(!store.exists(k("a")).unwrap());
}
