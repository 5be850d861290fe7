//! Quickstart: store, read, list and delete objects through konserve-s3's S3
//! layer, with no setup.
//!
//! With no endpoint configured, it starts a local SeaweedFS (installing it
//! with pip on first use) and uses that. To use your own S3 instead, set
//! `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (or neither, for AWS itself with
//! `KONSERVE_S3_USE_AWS=1`), the usual `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_REGION`, and `KONSERVE_S3_BUCKET`.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use konserve_s3::config::S3Config;
use konserve_s3::dev_server::SeaweedFs;
use konserve_s3::s3::{Action, Conditions};
use konserve_s3::{Error, S3Client};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bucket = std::env::var("KONSERVE_S3_BUCKET").unwrap_or_else(|_| {
        format!(
            "konserve-quickstart-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    });
    let configured = [
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL",
        "KONSERVE_S3_USE_AWS",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));

    // Keep the local server alive until the end of main.
    let local;
    let config = if configured {
        println!("using the configured S3 endpoint, bucket {bucket}");
        S3Config::builder().bucket(bucket).build()?
    } else {
        println!("no endpoint configured: starting a local SeaweedFS …");
        local = SeaweedFs::start()?;
        println!("local S3 at {}", local.endpoint());
        S3Config::builder()
            .bucket(bucket)
            .endpoint(local.endpoint())
            .region(local.region())
            .credentials(local.access_key(), local.secret_key())
            .build()?
    };

    let client = S3Client::new(&config)?;
    if client.create_bucket()? {
        println!("created bucket {}", client.bucket());
    }

    // Write, read back, and write only if absent.
    let etag = client.put_object(
        "greeting.txt",
        b"hello, konserve".to_vec(),
        &Conditions::NONE,
    )?;
    println!("put greeting.txt, ETag {}", etag.as_deref().unwrap_or("?"));
    let got = client.get_object("greeting.txt", None)?;
    println!(
        "get greeting.txt → {:?}",
        String::from_utf8_lossy(&got.body)
    );
    match client.put_object(
        "greeting.txt",
        b"overwritten?".to_vec(),
        &Conditions::if_absent(),
    ) {
        Err(Error::PreconditionFailed(_)) => {
            println!("create-only write refused: the key exists (412)")
        }
        other => println!("unexpected: {other:?}"),
    }

    // Compare-and-swap: only if nobody changed it since we read it.
    let new_etag = client.put_object(
        "greeting.txt",
        b"hello again".to_vec(),
        &Conditions::if_match(got.etag.unwrap_or_default()),
    )?;
    println!(
        "compare-and-swap succeeded, new ETag {}",
        new_etag.unwrap_or_default()
    );

    for i in 0..5 {
        client.put_object(&format!("items/{i}"), vec![i; 10], &Conditions::NONE)?;
    }
    let listed = client.list_objects(Some("items/"))?;
    println!("listed {} objects under items/", listed.len());
    let keys: Vec<String> = listed.into_iter().map(|o| o.key).collect();
    client.delete_objects(&keys)?;
    client.delete_object("greeting.txt", &Conditions::NONE)?;
    if !configured {
        client.delete_bucket()?;
    }

    let stats = client.stats();
    println!("requests made:");
    for action in Action::ALL {
        if let Some(s) = stats.per_action.get(&action) {
            println!("  {action:<14} {:>3}  p50 ≤ {:?}", s.requests, s.p50);
        }
    }
    println!("done");
    Ok(())
}
