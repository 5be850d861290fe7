//! konserve.cache: the conformance suite on a cached store (memory and S3,
//! trusting and revalidating, both modes), konserve's read-through and
//! write-then-update rules, and a revalidating cache shared with another
//! writer: a revalidated hit is one GET answered 304 without a body.

mod common;

use std::sync::OnceLock;

use common::{bucket_name, config_for, server};
use konserve_s3::config::{CacheOptions, S3Config, StoreOptions};
use konserve_s3::s3::Action;
use konserve_s3::value::Value;
use uuid::Uuid;

fn shared_bucket() -> &'static str {
    static BUCKET: OnceLock<String> = OnceLock::new();
    BUCKET.get_or_init(|| {
        let name = bucket_name("cache");
        let client = konserve_s3::S3Client::new(&config_for(&name, &server().endpoint)).unwrap();
        client.create_bucket().unwrap();
        name
    })
}

fn s3_config() -> S3Config {
    let mut c = config_for(shared_bucket(), &server().endpoint);
    c.id = Some(Uuid::new_v4());
    c
}

fn locking() -> StoreOptions {
    StoreOptions {
        optimistic_locking_retries: 20,
        ..StoreOptions::default()
    }
}

mod blocking_stores {
    use super::*;
    use konserve_s3::blocking::{CachedStore, MemoryBacking, S3Backing, S3Client};

    pub fn memory(options: StoreOptions, cache: CacheOptions) -> CachedStore<MemoryBacking> {
        CachedStore::with_options_and_cache(MemoryBacking::new(), options, cache)
    }

    pub fn s3(cache: CacheOptions) -> CachedStore<S3Backing> {
        let c = s3_config();
        let backing = S3Backing::new(S3Client::new(&c).unwrap(), c.id.unwrap());
        CachedStore::cached(backing, cache)
    }
}

#[cfg(feature = "async")]
mod async_stores {
    use super::*;
    use konserve_s3::nonblocking::{CachedStore, MemoryBacking, S3Backing, S3Client};

    pub fn memory(options: StoreOptions, cache: CacheOptions) -> CachedStore<MemoryBacking> {
        CachedStore::with_options_and_cache(MemoryBacking::new(), options, cache)
    }

    pub fn s3(cache: CacheOptions) -> CachedStore<S3Backing> {
        let c = s3_config();
        let backing = S3Backing::new(S3Client::new(&c).unwrap(), c.id.unwrap());
        CachedStore::cached(backing, cache)
    }
}

mod memory_trusting {
    use super::*;
    konserve_s3::conformance_tests!(
        blocking: blocking_stores::memory(StoreOptions::default(), CacheOptions::default()),
    );
    #[cfg(feature = "async")]
    konserve_s3::conformance_tests!(
        nonblocking: async_stores::memory(StoreOptions::default(), CacheOptions::default()),
    );
}

mod memory_small_with_locking {
    use super::*;
    // Two entries: the suite's keys keep pushing each other out.
    konserve_s3::conformance_tests!(
        blocking: blocking_stores::memory(locking(), CacheOptions::default().max_entries(2)),
    );
    #[cfg(feature = "async")]
    konserve_s3::conformance_tests!(
        nonblocking: async_stores::memory(locking(), CacheOptions::default().max_entries(2)),
    );
}

mod s3_revalidating {
    use super::*;
    konserve_s3::conformance_tests!(blocking: blocking_stores::s3(CacheOptions::default().revalidate(true)));
    #[cfg(feature = "async")]
    konserve_s3::conformance_tests!(nonblocking: async_stores::s3(CacheOptions::default().revalidate(true)));
}

mod s3_trusting {
    use super::*;
    konserve_s3::conformance_tests!(blocking: blocking_stores::s3(CacheOptions::default()));
}

use konserve_s3::blocking::{MemoryBacking, S3Backing, S3Client, Store};

#[test]
fn reads_go_through_the_cache_and_misses_are_cached() {
    let backing = MemoryBacking::new();
    let store = Store::cached(backing.clone(), CacheOptions::default());
    let other = Store::new(backing);
    assert_eq!(store.get("k").unwrap(), None);
    other.assoc("k", 1).unwrap();
    // Trusting (konserve's) cache: the cached miss answers, no backing read.
    assert_eq!(store.get("k").unwrap(), None);
    assert!(!store.exists("k").unwrap());
    let s = store.cache_stats().unwrap();
    assert_eq!((s.hits, s.misses), (2, 1));
    // This store's own write updates the entry it had.
    store.assoc("k", 2).unwrap();
    assert_eq!(
        store.get_in(&[Value::from("k")]).unwrap(),
        Some(Value::from(2))
    );
    assert!(store.exists("k").unwrap());
    let s = store.cache_stats().unwrap();
    assert_eq!((s.hits, s.misses), (4, 1));
    store.dissoc("k").unwrap();
    assert_eq!(store.get("k").unwrap(), None);
    // A binary write drops the entry (here a cached miss): get gives the
    // new bytes.
    assert_eq!(store.get("bin").unwrap(), None);
    store.bassoc("bin", vec![1u8, 2]).unwrap();
    assert_eq!(store.get("bin").unwrap(), Some(Value::Bytes(vec![1, 2])));
}

#[test]
fn update_in_through_the_cache_loses_no_other_writers_update() {
    let backing = MemoryBacking::new();
    let cached = Store::cached(backing.clone(), CacheOptions::default());
    let other = Store::new(backing);
    cached.assoc("n", 1).unwrap();
    assert_eq!(cached.get("n").unwrap(), Some(Value::from(1)));
    other.assoc("n", 100).unwrap();
    let (old, new) = cached
        .update("n", |n| {
            Value::from(n.and_then(|n| n.as_i64()).unwrap() + 1)
        })
        .unwrap();
    assert_eq!((old, new), (Some(Value::from(100)), Value::from(101)));
    // The entry holds the value written.
    assert_eq!(cached.get("n").unwrap(), Some(Value::from(101)));
}

#[test]
fn entries_and_bytes_bound_the_cache() {
    let store = Store::cached(MemoryBacking::new(), CacheOptions::default().max_entries(3));
    for i in 0..10 {
        store.assoc(i, i).unwrap();
        store.get(i).unwrap();
    }
    let s = store.cache_stats().unwrap();
    assert_eq!(s.entries, 3);
    assert!(s.evictions >= 7, "{s:?}");
    let store = Store::cached(
        MemoryBacking::new(),
        CacheOptions::default().max_entries(1000).max_bytes(2000),
    );
    for i in 0..20 {
        store.assoc(i, "x".repeat(500)).unwrap();
        store.get(i).unwrap();
    }
    let s = store.cache_stats().unwrap();
    assert!(s.bytes <= 2000 && s.entries < 20 && s.entries > 0, "{s:?}");
}

/// Two processes' worth of stores on one S3 store, each with its own
/// client, the writer in another thread: the revalidating cache sees every
/// write of the other, and a hit costs one GET answered 304 with no body.
#[test]
fn a_revalidating_cache_shared_with_another_writer() {
    let config = s3_config();
    let id = config.id.unwrap();
    let reader_client = S3Client::new(&config).unwrap();
    let reader = Store::cached(
        S3Backing::new(reader_client.clone(), id),
        CacheOptions::default().revalidate(true),
    );
    let trusting = Store::cached(
        S3Backing::new(S3Client::new(&config).unwrap(), id),
        CacheOptions::default(),
    );
    let write_from_elsewhere = |value: i64| {
        let config = config.clone();
        std::thread::spawn(move || {
            let writer = Store::new(S3Backing::new(S3Client::new(&config).unwrap(), id));
            writer.assoc("shared", value).unwrap();
        })
        .join()
        .unwrap();
    };
    write_from_elsewhere(1);
    assert_eq!(reader.get("shared").unwrap(), Some(Value::from(1)));
    assert_eq!(trusting.get("shared").unwrap(), Some(Value::from(1)));

    // A revalidated hit: one GET, answered 304, no body.
    let before = reader_client.stats();
    assert_eq!(reader.get("shared").unwrap(), Some(Value::from(1)));
    let spent = reader_client.stats().since(&before);
    assert_eq!(spent.total_requests(), 1, "{spent:?}");
    assert_eq!(spent.requests(Action::GetObject), 1);
    let get = spent.per_action[&Action::GetObject];
    assert_eq!((get.failures, get.bytes_received), (0, 0), "{get:?}");
    let s = reader.cache_stats().unwrap();
    assert_eq!((s.hits, s.revalidated_hits, s.misses), (0, 1, 1));

    // The other writer changes it: the revalidating cache sees it at once;
    // a trusting (konserve's) cache keeps answering the old value.
    write_from_elsewhere(2);
    assert_eq!(reader.get("shared").unwrap(), Some(Value::from(2)));
    assert_eq!(trusting.get("shared").unwrap(), Some(Value::from(1)));
    let s = reader.cache_stats().unwrap();
    assert_eq!((s.revalidated_hits, s.misses), (1, 2));

    // Deleted elsewhere: gone here too.
    std::thread::spawn({
        let config = config.clone();
        move || {
            let writer = Store::new(S3Backing::new(S3Client::new(&config).unwrap(), id));
            assert!(writer.dissoc("shared").unwrap());
        }
    })
    .join()
    .unwrap();
    assert_eq!(reader.get("shared").unwrap(), None);
}

/// A revalidating cache in this process and a writer in another process
/// (the `counter` example: `update_in` of `:counter`, its own client):
/// every hit is revalidated, so the other process's increments are seen at
/// once, and an unchanged value costs one GET answered 304.
#[test]
fn a_revalidating_cache_sees_another_process_s_writes() {
    let config = s3_config();
    let id = config.id.unwrap();
    konserve_s3::blocking::create_store(&config).unwrap();
    let client = S3Client::new(&config).unwrap();
    let reader = Store::cached(
        S3Backing::new(client.clone(), id),
        CacheOptions::default().revalidate(true),
    );
    let json = serde_json::json!({
        "bucket": config.bucket,
        "id": id.to_string(),
        "region": server().region,
        "endpoint": server().endpoint,
        "access-key": server().access_key,
        "secret": server().secret_key,
    })
    .to_string();
    let counter = common::example_binary("counter", "blocking");
    let increment = |times: u32| {
        let out = std::process::Command::new(&counter)
            .env("KONSERVE_S3_CONFIG", &json)
            .env("COUNTER_TIMES", times.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // One GET per read, hit or not; the value as the other process left it.
    let read = || {
        let before = client.stats();
        let got = reader.get(Value::keyword("counter")).unwrap();
        let spent = client.stats().since(&before);
        assert_eq!(spent.total_requests(), 1, "{spent:?}");
        assert_eq!(spent.requests(Action::GetObject), 1);
        got.and_then(|v| v.as_i64())
    };
    increment(2);
    assert_eq!(read(), Some(2)); // a miss
    assert_eq!(read(), Some(2)); // a revalidated hit: 304
    increment(3);
    assert_eq!(read(), Some(5)); // changed elsewhere: read again
    assert_eq!(read(), Some(5)); // a revalidated hit: 304
    let s = reader.cache_stats().unwrap();
    assert_eq!((s.hits, s.revalidated_hits, s.misses), (0, 2, 2), "{s:?}");
}

#[cfg(feature = "async")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revalidating_cache_shared_with_another_writer_async() {
    use konserve_s3::nonblocking as nb;
    let config = s3_config();
    let id = config.id.unwrap();
    let client = nb::S3Client::new(&config).unwrap();
    let reader = nb::Store::cached(
        nb::S3Backing::new(client.clone(), id),
        CacheOptions::default().revalidate(true),
    );
    let writer = nb::Store::new(nb::S3Backing::new(nb::S3Client::new(&config).unwrap(), id));
    writer.assoc("k", 1).await.unwrap();
    assert_eq!(reader.get("k").await.unwrap(), Some(Value::from(1)));
    let before = client.stats();
    assert_eq!(reader.get("k").await.unwrap(), Some(Value::from(1)));
    let spent = client.stats().since(&before);
    assert_eq!(spent.requests(Action::GetObject), 1);
    assert_eq!(spent.per_action[&Action::GetObject].bytes_received, 0);
    tokio::spawn(async move { writer.assoc("k", 2).await.unwrap() })
        .await
        .unwrap();
    assert_eq!(reader.get("k").await.unwrap(), Some(Value::from(2)));
}
