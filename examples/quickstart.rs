//! Quickstart: a konserve store in S3, with no setup.
//!
//! With no endpoint configured, it starts a local SeaweedFS (installing it
//! with pip on first use) and uses that. To use your own S3 instead, set
//! `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (or `KONSERVE_S3_USE_AWS=1` for
//! AWS itself), the usual `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_REGION`, and `KONSERVE_S3_BUCKET`.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use std::io::Read;

use konserve_s3::blocking::{create_store, delete_store};
use konserve_s3::config::S3Config;
use konserve_s3::s3::Action;
use konserve_s3::value::Value;
use konserve_s3_dev::SeaweedFs;

#[derive(serde::Serialize, serde::Deserialize, Debug)]
struct User {
    name: String,
    visits: u32,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bucket =
        std::env::var("KONSERVE_S3_BUCKET").unwrap_or_else(|_| "konserve-quickstart".into());
    let configured = [
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL",
        "KONSERVE_S3_USE_AWS",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));

    // Keep the local server alive until the end of main.
    let local;
    let builder = S3Config::builder().bucket(bucket).id(uuid::Uuid::new_v4());
    let config = if configured {
        println!("using the configured S3 endpoint");
        builder.build()?
    } else {
        println!("no endpoint configured: starting a local SeaweedFS …");
        local = SeaweedFs::start()?;
        println!("local S3 at {}", local.endpoint());
        builder
            .endpoint(local.endpoint())
            .region(local.region())
            .credentials(local.access_key(), local.secret_key())
            .build()?
    };

    // konserve: (def store (<!! (connect-s3-store spec :opts {:sync? true})))
    let store = create_store(&config)?;
    println!(
        "created store {} in bucket {}",
        config.id.unwrap_or_default(),
        config.bucket
    );
    let k = Value::keyword;

    // (k/assoc-in store ["foo" :bar] {:foo "baz"})
    store.assoc_in(&["foo".into(), k("bar")], "{:foo \"baz\"}".parse()?)?;
    // (k/get-in store ["foo"])
    println!(
        "get-in [\"foo\"]            → {}",
        store.get_in(&["foo".into()])?.unwrap_or(Value::Nil)
    );
    // (k/assoc store :counter 0) (k/update-in store [:counter] inc)
    store.assoc(k("counter"), 0)?;
    let (old, new) = store.update_in(&[k("counter")], |n| {
        Value::from(n.and_then(|n| n.as_i64()).unwrap_or(0) + 1)
    })?;
    println!(
        "update-in [:counter] inc  → {} ⇒ {}",
        old.unwrap_or(Value::Nil),
        new
    );

    // Plain Rust types, stored as EDN maps with keyword keys.
    store.assoc_as(
        "ada",
        &User {
            name: "Ada".into(),
            visits: 1,
        },
    )?;
    let (_, ada) = store.update_as("ada", |u: Option<User>| {
        let mut u = u.expect("stored above");
        u.visits += 1;
        u
    })?;
    println!(
        "update_as \"ada\"            → {ada:?}, stored as {}",
        store.get("ada")?.unwrap_or(Value::Nil)
    );

    // (k/bassoc store :blob (byte-array (range 10))) (k/bget store :blob …)
    store.bassoc(k("blob"), (0u8..10).collect::<Vec<u8>>())?;
    let blob = store.bget(k("blob"))?.expect("stored above");
    let mut bytes = Vec::new();
    let size = blob.size;
    { blob }.reader.read_to_end(&mut bytes)?;
    println!("bget :blob                → {size} bytes {bytes:?}");

    // (k/append store :log {:event "start"}) (k/log store :log)
    store.append(k("log"), "{:event \"start\"}".parse()?)?;
    store.append(k("log"), "{:event \"stop\"}".parse()?)?;
    println!(
        "log :log                  → {:?}",
        store
            .log(k("log"))?
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );

    // (k/keys store)
    println!("keys:");
    for meta in store.keys()? {
        println!("  {meta}");
    }

    let stats = store.backing().client().stats();
    println!("requests made:");
    for action in Action::ALL {
        if let Some(s) = stats.per_action.get(&action) {
            println!("  {action:<14} {:>3}  p50 ≤ {:?}", s.requests, s.p50);
        }
    }

    delete_store(&config)?;
    println!("deleted the store; done");
    Ok(())
}
