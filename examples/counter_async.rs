//! Many writers, one counter, async: the `counter` example on the async API
//! (`--features async`), same environment variables.
//!
//! ```sh
//! KONSERVE_S3_CONFIG='{"bucket": "b", "id": "…", "config": {"optimistic-locking-retries": 100}}' \
//!   cargo run --features async --example counter_async
//! ```

use konserve_s3::config::S3Config;
use konserve_s3::nonblocking::connect_store;
use konserve_s3::value::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = S3Config::from_json(&std::env::var("KONSERVE_S3_CONFIG")?)?;
    let key = Value::keyword(std::env::var("COUNTER_KEY").unwrap_or_else(|_| "counter".into()));
    let times: u32 = std::env::var("COUNTER_TIMES").map_or(Ok(50), |t| t.parse())?;
    let reconnect = std::env::var("COUNTER_RECONNECT").is_ok_and(|v| v == "1");
    let mut store = connect_store(&config).await?;
    let mut calls = 0u64;
    for _ in 0..times {
        if reconnect {
            store = connect_store(&config).await?;
        }
        store
            .update_in(std::slice::from_ref(&key), |n| {
                calls += 1;
                Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
            })
            .await?;
    }
    println!("incremented {times} times, function ran {calls} times");
    Ok(())
}
