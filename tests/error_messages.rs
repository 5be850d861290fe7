//! Issue 14: errors that name the cause and the fix. Each test asserts the
//! text a user now sees (blocking mode; the async mode where the behaviour
//! lives in the engine and the check is cheap).

mod common;

use common::{bucket_name, config_for, server};
use konserve_s3::Error;
use konserve_s3::s3::Action;

fn with_id(bucket: &str) -> konserve_s3::config::S3Config {
    let mut config = config_for(bucket, &server().endpoint);
    config.id = Some(uuid::Uuid::new_v4());
    config
}

/// A `get` of a missing key is an answer ("not there"), not a failure.
#[test]
fn a_missing_key_is_an_answer_in_the_statistics() {
    let client = common::fresh_bucket("stat404");
    let err = client.get_object("no-such-key", None).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert!(!client.object_exists("no-such-key").unwrap());
    assert!(client.bucket_exists().unwrap());
    let stats = client.stats();
    let get = stats.per_action[&Action::GetObject];
    let head = stats.per_action[&Action::HeadObject];
    assert_eq!((get.requests, get.failures), (1, 0));
    assert_eq!((head.requests, head.failures), (1, 0));
    // A real failure still counts: a 404 to a missing bucket's listing.
    let gone =
        konserve_s3::S3Client::new(&config_for(&bucket_name("gone"), &server().endpoint)).unwrap();
    assert!(gone.list_objects(None).is_err());
    assert_eq!(gone.stats().per_action[&Action::ListObjectsV2].failures, 1);
}

#[cfg(feature = "async")]
#[tokio::test]
async fn a_missing_key_is_an_answer_in_the_statistics_async() {
    let config = config_for(&bucket_name("stat404a"), &server().endpoint);
    let client = konserve_s3::nonblocking::S3Client::new(&config).unwrap();
    assert!(client.create_bucket().await.unwrap());
    assert!(
        client
            .get_object("k", None)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let get = client.stats().per_action[&Action::GetObject];
    assert_eq!((get.requests, get.failures), (1, 0));
}

const MISSING_BUCKET_HINT: &str = "does not exist: check its name, or create it \
     (`create_store` creates a missing bucket)";

/// Connecting to a store in a bucket that is not there says the bucket is
/// missing, not the store.
#[test]
fn connecting_in_a_missing_bucket_names_the_bucket() {
    let bucket = bucket_name("nobucket");
    let config = with_id(&bucket);
    let err = konserve_s3::blocking::connect_store(&config).unwrap_err();
    assert!(matches!(err, Error::NoSuchBucket(_)), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "no such bucket: HeadBucket, s3://{bucket}, status 404: bucket `{bucket}` {MISSING_BUCKET_HINT}"
        )
    );
    // In an existing bucket, it is the store that is missing.
    konserve_s3::S3Client::new(&config)
        .unwrap()
        .create_bucket()
        .unwrap();
    let err = konserve_s3::blocking::connect_store(&config).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "store {} does not exist in bucket {bucket}: check the store's `id`, or create \
             the store with `create_store`",
            config.id.unwrap()
        )
    );
}

#[cfg(feature = "async")]
#[tokio::test]
async fn connecting_in_a_missing_bucket_names_the_bucket_async() {
    let bucket = bucket_name("nobucketa");
    let err = konserve_s3::nonblocking::connect_store(&with_id(&bucket))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with(&format!("bucket `{bucket}` {MISSING_BUCKET_HINT}")),
        "{err}"
    );
}
