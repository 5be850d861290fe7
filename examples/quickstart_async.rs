//! Quickstart, async: the same konserve store on the async API (reqwest and
//! tokio), with no setup — a local SeaweedFS is started when no endpoint is
//! configured, as in the blocking quickstart.
//!
//! ```sh
//! cargo run --features async --example quickstart_async
//! ```

use konserve_s3::config::S3Config;
use konserve_s3::nonblocking::{create_store, delete_store};
use konserve_s3::value::Value;
use konserve_s3_dev::SeaweedFs;
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bucket =
        std::env::var("KONSERVE_S3_BUCKET").unwrap_or_else(|_| "konserve-quickstart".into());
    let configured = [
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL",
        "KONSERVE_S3_USE_AWS",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
    let local;
    let builder = S3Config::builder()
        .bucket(bucket)
        .id(uuid::Uuid::new_v4())
        .optimistic_locking_retries(10);
    let config = if configured {
        builder.build()?
    } else {
        println!("no endpoint configured: starting a local SeaweedFS …");
        local = SeaweedFs::start()?;
        builder
            .endpoint(local.endpoint())
            .region(local.region())
            .credentials(local.access_key(), local.secret_key())
            .build()?
    };

    let store = create_store(&config).await?;
    let k = Value::keyword;
    store
        .assoc_in(&["foo".into(), k("bar")], "{:foo \"baz\"}".parse()?)
        .await?;
    println!(
        "get-in [\"foo\"]  → {}",
        store.get_in(&["foo".into()]).await?.unwrap_or_default()
    );

    // Ten concurrent increments from spawned tasks; optimistic locking keeps
    // every one of them.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .update_in(&[Value::keyword("counter")], |n| {
                    Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
                })
                .await
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "counter       → {}",
        store.get(k("counter")).await?.unwrap_or_default()
    );

    store
        .bassoc(k("blob"), (0u8..10).collect::<Vec<u8>>())
        .await?;
    if let Some(blob) = store.bget(k("blob")).await? {
        let mut bytes = Vec::new();
        let mut reader = blob.reader;
        reader.read_to_end(&mut bytes).await?;
        println!("bget :blob    → {bytes:?}");
    }
    println!("keys          → {} keys", store.keys().await?.len());
    delete_store(&config).await?;
    println!("deleted the store; done");
    Ok(())
}
