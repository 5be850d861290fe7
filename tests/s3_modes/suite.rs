//! S3 tests written once in async style and compiled for both modes (see
//! `tests/s3_modes.rs`): the request floor of every operation, and many
//! writers with their own store handles.

use konserve_s3::s3::Action;
use konserve_s3::value::Value;
use uuid::Uuid;

use crate::common::{bucket_name, config_for, server};

suite_imports!();

fn k(name: &str) -> Value {
    Value::keyword(name)
}

fn config(retries: u32) -> konserve_s3::config::S3Config {
    let mut config = config_for(&bucket_name("modes"), &server().endpoint);
    config.id = Some(Uuid::new_v4());
    config.store.optimistic_locking_retries = retries;
    config
}

/// Requests that `$op` makes, per action, compared with `$expected`.
macro_rules! assert_requests {
    ($store:expr, $name:expr, $op:expr, $expected:expr) => {{
        let before = $store.backing().client().stats();
        let _ = $op;
        let used = $store.backing().client().stats().since(&before);
        let got: Vec<(Action, u64)> = used
            .per_action
            .iter()
            .map(|(a, s)| (*a, s.requests))
            .collect();
        assert_eq!(got, $expected, "{}", $name);
    }};
}

suite_mode! {
    pub async fn requests_per_operation_are_konserve_s3s_floor() {
        use Action::*;
        for retries in [0, 5] {
            // The same floor with optimistic locking on (no contention).
            let store = aw!(create_store(&config(retries))).unwrap();
            aw!(store.assoc(k("a"), "{:x {:y 1}}".parse::<Value>().unwrap())).unwrap();
            aw!(store.bassoc(k("bin"), vec![1u8, 2, 3])).unwrap();
            assert_requests!(store, "get hit", aw!(store.get(k("a"))).unwrap(), vec![(GetObject, 1)]);
            assert_requests!(store, "get miss", aw!(store.get(k("zz"))).unwrap(), vec![(GetObject, 1)]);
            assert_requests!(store, "get_in", aw!(store.get_in(&[k("a"), k("x"), k("y")])).unwrap(), vec![(GetObject, 1)]);
            assert_requests!(store, "get_meta", aw!(store.get_meta(k("a"))).unwrap(), vec![(GetObject, 1)]);
            assert_requests!(store, "bget", aw!(store.bget(k("bin"))).unwrap(), vec![(GetObject, 1)]);
            assert_requests!(store, "exists", assert!(aw!(store.exists(k("a"))).unwrap()), vec![(HeadObject, 1)]);
            assert_requests!(store, "assoc", aw!(store.assoc(k("b"), 1)).unwrap(), vec![(PutObject, 1)]);
            assert_requests!(store, "assoc_in [k]", aw!(store.assoc_in(&[k("b")], Value::from(2))).unwrap(), vec![(PutObject, 1)]);
            assert_requests!(
                store,
                "update_in",
                aw!(store.update_in(&[k("a"), k("x"), k("y")], |_| Value::from(2))).unwrap(),
                vec![(PutObject, 1), (GetObject, 1)]
            );
            assert_requests!(
                store,
                "nested assoc_in",
                aw!(store.assoc_in(&[k("a"), k("z")], Value::from(3))).unwrap(),
                vec![(PutObject, 1), (GetObject, 1)]
            );
            assert_requests!(store, "bassoc", aw!(store.bassoc(k("bin"), vec![4u8])).unwrap(), vec![(PutObject, 1), (GetObject, 1)]);
            assert_requests!(store, "dissoc", assert!(aw!(store.dissoc(k("b"))).unwrap()), vec![(HeadObject, 1), (DeleteObject, 1)]);
            assert_requests!(store, "dissoc miss", assert!(!aw!(store.dissoc(k("b"))).unwrap()), vec![(HeadObject, 1)]);
            assert_requests!(
                store,
                "dissoc ignore_existence",
                assert!(aw!(store.dissoc_with(k("a"), DissocOptions::ignore_existence())).unwrap()),
                vec![(DeleteObject, 1)]
            );
            for i in 0..30 {
                aw!(store.assoc(Value::from(i), Value::from(i))).unwrap();
            }
            assert_requests!(store, "keys", assert_eq!(aw!(store.keys()).unwrap().len(), 31), vec![(GetObject, 31), (ListObjectsV2, 1)]);
        }
    }

    pub async fn many_writers_with_their_own_handles_lose_no_update() {
        let config = config(1000);
        let store = aw!(create_store(&config)).unwrap();
        let writer = || async {
            // Its own handle: no shared in-process lock, only the provider's
            // conditional writes keep the updates apart.
            let mine = aw!(connect_store(&config)).unwrap();
            for _ in 0..20 {
                aw!(mine.update_in(&[k("n")], |n| Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1))).unwrap();
            }
        };
        aw!(concurrently(10, writer));
        assert_eq!(aw!(store.get(k("n"))).unwrap(), Some(Value::from(200)));
    }
}
