//! The async API's futures are `Send`, so they run on a multi-threaded tokio
//! runtime and in `tokio::spawn` (checked at compile time, then spawned).
#![cfg(feature = "async")]

use konserve_s3::nonblocking::{MemoryBacking, S3Backing, Store};
use konserve_s3::value::Value;

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[allow(dead_code, clippy::let_underscore_future)]
fn every_operation_is_send(store: &Store<S3Backing>, config: &konserve_s3::config::S3Config) {
    let k = || Value::keyword("k");
    let _ = assert_send(store.get(k()));
    let _ = assert_send(store.get_in(&[]));
    let _ = assert_send(store.get_meta(k()));
    let _ = assert_send(store.exists(k()));
    let _ = assert_send(store.assoc(k(), 1));
    let _ = assert_send(store.assoc_in(&[], Value::Nil));
    let _ = assert_send(store.update_in(&[], |v| v.unwrap_or_default()));
    let _ = assert_send(store.update_as::<i64>(k(), |v| v.unwrap_or(0)));
    let _ = assert_send(store.dissoc(k()));
    let _ = assert_send(store.bassoc(k(), vec![1u8]));
    let _ = assert_send(store.bget(k()));
    let _ = assert_send(store.keys());
    let _ = assert_send(store.append(k(), Value::Nil));
    let _ = assert_send(store.log(k()));
    let _ = assert_send(konserve_s3::nonblocking::create_store(config));
    let _ = assert_send(konserve_s3::nonblocking::connect_store(config));
    let _ = assert_send(konserve_s3::nonblocking::delete_store(config));
    let _ = assert_send(konserve_s3::nonblocking::list_stores(config));
    let _ = assert_send(konserve_s3::nonblocking::connect_or_create(config));
    let options = konserve_s3::gc::SweepOptions::new(Default::default(), 0);
    let _ = assert_send(konserve_s3::nonblocking::gc::sweep(store, &options));
    let _ = assert_send(store.backing().client().delete_objects_reporting(&["k"]));
}

#[allow(dead_code, clippy::let_underscore_future)]
fn any_store_operations_are_send(
    store: &konserve_s3::nonblocking::AnyStore,
    config: &konserve_s3::config::StoreConfig,
) {
    use konserve_s3::nonblocking::any;
    let _ = assert_send(store.get(Value::keyword("k")));
    let _ = assert_send(store.update_in(&[], |v| v.unwrap_or_default()));
    let _ = assert_send(store.bget(Value::keyword("k")));
    let _ = assert_send(any::create_store(config));
    let _ = assert_send(any::connect_store(config));
    let _ = assert_send(any::connect_or_create(config));
    let _ = assert_send(any::store_exists(config));
    let _ = assert_send(any::delete_store(config));
    let options = konserve_s3::gc::SweepOptions::new(Default::default(), 0);
    let _ = assert_send(konserve_s3::nonblocking::gc::sweep(store, &options));
}

#[allow(dead_code, clippy::let_underscore_future)]
fn tiered_and_cached_operations_are_send(
    tiered: &konserve_s3::nonblocking::TieredStore<
        konserve_s3::nonblocking::FileBacking,
        S3Backing,
    >,
    cached: &konserve_s3::nonblocking::CachedStore<S3Backing>,
    any_tiered: &konserve_s3::nonblocking::TieredBacking<
        konserve_s3::nonblocking::BoxedBacking,
        konserve_s3::nonblocking::BoxedBacking,
    >,
) {
    let k = || Value::keyword("k");
    let _ = assert_send(tiered.get(k()));
    let _ = assert_send(tiered.update_in(&[], |v| v.unwrap_or_default()));
    let _ = assert_send(tiered.bassoc(k(), vec![1u8]));
    let _ = assert_send(tiered.keys());
    let _ = assert_send(tiered.backing().flush());
    let _ = assert_send(
        tiered
            .backing()
            .sync(konserve_s3::config::SyncStrategy::Full),
    );
    let _ = assert_send(tiered.backing().sync_keys(&[]));
    let _ = assert_send(cached.get(k()));
    let _ = assert_send(cached.exists(k()));
    let _ = assert_send(cached.update(k(), |v| v.unwrap_or_default()));
    let _ = assert_send(any_tiered.flush());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_store_runs_in_spawned_tasks() {
    let config = konserve_s3::config::StoreConfig::from_edn("{:backend :memory}").unwrap();
    let task = tokio::spawn(async move {
        let store = konserve_s3::nonblocking::any::connect_or_create(&config)
            .await
            .unwrap();
        store.assoc("k", 1).await.unwrap();
        store.get("k").await.unwrap()
    });
    assert_eq!(task.await.unwrap(), Some(Value::from(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_operations_run_in_spawned_tasks() {
    let store = Store::new(MemoryBacking::new());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                store
                    .update(Value::keyword("n"), |n| {
                        Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        store.get(Value::keyword("n")).await.unwrap(),
        Some(Value::from(200))
    );
    assert_eq!(store.locked_keys(), 0);
}
