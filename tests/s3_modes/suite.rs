//! S3 tests written once in async style and compiled for both modes (see
//! `tests/s3_modes.rs`): the request floor of every operation, and many
//! writers with their own store handles.

use konserve_s3::s3::Action;
use konserve_s3::s3::StatsSnapshot;
use konserve_s3::value::Value;
use uuid::Uuid;

use super::{DissocOptions, S3Store, concurrently, connect_store, create_store, io};
use crate::common::{bucket_name, config_for, server};

fn k(name: &str) -> Value {
    Value::keyword(name)
}

fn config(retries: u32) -> konserve_s3::config::S3Config {
    let mut config = config_for(&bucket_name("modes"), &server().endpoint);
    config.id = Some(Uuid::new_v4());
    config.store.optimistic_locking_retries = retries;
    config
}

/// Asserts that the requests `store` sent since `before`, per action, are
/// `expected`, and starts the next count.
fn assert_requests(
    store: &S3Store,
    before: &mut StatsSnapshot,
    name: &str,
    expected: &[(Action, u64)],
) {
    let now = store.backing().client().stats();
    let got: Vec<(Action, u64)> = now
        .since(before)
        .per_action
        .iter()
        .map(|(a, s)| (*a, s.requests))
        .collect();
    assert_eq!(got, expected, "{name}");
    *before = now;
}

#[io]
pub async fn requests_per_operation_are_konserve_s3s_floor() {
    use Action::*;
    for retries in [0, 5] {
        // The same floor with optimistic locking on (no contention).
        let store = create_store(&config(retries)).await.unwrap();
        let value: Value = "{:x {:y 1}}".parse().unwrap();
        store.assoc(k("a"), value).await.unwrap();
        store.bassoc(k("bin"), vec![1u8, 2, 3]).await.unwrap();
        let mut stats = store.backing().client().stats();
        let stats = &mut stats;

        store.get(k("a")).await.unwrap();
        assert_requests(&store, stats, "get hit", &[(GetObject, 1)]);
        store.get(k("zz")).await.unwrap();
        assert_requests(&store, stats, "get miss", &[(GetObject, 1)]);
        store.get_in(&[k("a"), k("x"), k("y")]).await.unwrap();
        assert_requests(&store, stats, "get_in", &[(GetObject, 1)]);
        store.get_meta(k("a")).await.unwrap();
        assert_requests(&store, stats, "get_meta", &[(GetObject, 1)]);
        store.bget(k("bin")).await.unwrap();
        assert_requests(&store, stats, "bget", &[(GetObject, 1)]);
        let exists = store.exists(k("a")).await.unwrap();
        assert!(exists);
        assert_requests(&store, stats, "exists", &[(HeadObject, 1)]);
        store.assoc(k("b"), 1).await.unwrap();
        assert_requests(&store, stats, "assoc", &[(PutObject, 1)]);
        store.assoc_in(&[k("b")], Value::from(2)).await.unwrap();
        assert_requests(&store, stats, "assoc_in [k]", &[(PutObject, 1)]);
        let path = [k("a"), k("x"), k("y")];
        store.update_in(&path, |_| Value::from(2)).await.unwrap();
        let read_write = [(PutObject, 1), (GetObject, 1)];
        assert_requests(&store, stats, "update_in", &read_write);
        store
            .assoc_in(&[k("a"), k("z")], Value::from(3))
            .await
            .unwrap();
        assert_requests(&store, stats, "nested assoc_in", &read_write);
        store.bassoc(k("bin"), vec![4u8]).await.unwrap();
        assert_requests(&store, stats, "bassoc", &read_write);
        let removed = store.dissoc(k("b")).await.unwrap();
        assert!(removed);
        let head_delete = [(HeadObject, 1), (DeleteObject, 1)];
        assert_requests(&store, stats, "dissoc", &head_delete);
        let removed = store.dissoc(k("b")).await.unwrap();
        assert!(!removed);
        assert_requests(&store, stats, "dissoc miss", &[(HeadObject, 1)]);
        let blind = DissocOptions::ignore_existence();
        let removed = store.dissoc_with(k("a"), blind).await.unwrap();
        assert!(removed);
        let name = "dissoc ignore_existence";
        assert_requests(&store, stats, name, &[(DeleteObject, 1)]);
        for i in 0..30 {
            store.assoc(Value::from(i), Value::from(i)).await.unwrap();
        }
        *stats = store.backing().client().stats();
        let keys = store.keys().await.unwrap();
        assert_eq!(keys.len(), 31);
        let listing = [(GetObject, 31), (ListObjectsV2, 1)];
        assert_requests(&store, stats, "keys", &listing);
    }
}

#[io]
pub async fn many_writers_with_their_own_handles_lose_no_update() {
    let config = config(1000);
    let store = create_store(&config).await.unwrap();
    let writer = || async {
        // Its own handle: no shared in-process lock, only the provider's
        // conditional writes keep the updates apart.
        let mine = connect_store(&config).await.unwrap();
        for _ in 0..20 {
            mine.update_in(&[k("n")], |n| {
                Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
            })
            .await
            .unwrap();
        }
    };
    concurrently(10, writer).await;
    let got = store.get(k("n")).await.unwrap();
    assert_eq!(got, Some(Value::from(200)));
}
