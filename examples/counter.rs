//! Many writers, one counter: increments a counter in a konserve store with
//! `update_in`, as one of many processes doing the same. With optimistic
//! locking on, no increment is ever lost.
//!
//! Configuration comes from the environment, so a test (or a shell loop) can
//! start many of these against one store:
//!
//! | variable | meaning |
//! | --- | --- |
//! | `KONSERVE_S3_CONFIG` | the store's JSON configuration (see `S3Config::from_json`) |
//! | `COUNTER_KEY` | the key (a keyword name; default `counter`) |
//! | `COUNTER_TIMES` | how many increments (default 50) |
//! | `COUNTER_RECONNECT` | `1`: connect a new store handle for every increment |
//!
//! ```sh
//! KONSERVE_S3_CONFIG='{"bucket": "b", "id": "…", "config": {"optimistic-locking-retries": 100}}' \
//!   cargo run --example counter
//! ```

use konserve_s3::blocking::connect_store;
use konserve_s3::config::S3Config;
use konserve_s3::value::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = S3Config::from_json(&std::env::var("KONSERVE_S3_CONFIG")?)?;
    let key = Value::keyword(std::env::var("COUNTER_KEY").unwrap_or_else(|_| "counter".into()));
    let times: u32 = std::env::var("COUNTER_TIMES").map_or(Ok(50), |t| t.parse())?;
    let reconnect = std::env::var("COUNTER_RECONNECT").is_ok_and(|v| v == "1");
    let mut store = connect_store(&config)?;
    let mut calls = 0u64;
    for _ in 0..times {
        if reconnect {
            store = connect_store(&config)?;
        }
        // (k/update-in store [:counter] (fnil inc 0)) — the function may run
        // more than once when another writer got there first.
        store.update_in(std::slice::from_ref(&key), |n| {
            calls += 1;
            Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
        })?;
    }
    println!("incremented {times} times, function ran {calls} times");
    Ok(())
}
