//! Issue 14: errors that name the cause and the fix. Each test asserts the
//! text a user now sees (blocking mode; the async mode where the behaviour
//! lives in the engine and the check is cheap).

mod common;

use common::{bucket_name, config_for, server};
use konserve_s3::Error;
use konserve_s3::config::{RetryPolicy, S3Config};
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

/// A config for `bucket` at `endpoint` that gives up after one attempt.
fn unreachable_config(bucket: &str, endpoint: &str, path_style: bool) -> S3Config {
    S3Config::builder()
        .bucket(bucket)
        .endpoint(endpoint)
        .path_style(path_style)
        .credentials("AKIAEXAMPLEKEY", "not-the-secret")
        .id(uuid::Uuid::new_v4())
        .retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap()
}

/// A port on loopback that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn transport_message(err: &Error) -> &str {
    match err {
        Error::Transport { message, .. } => message,
        other => panic!("not a transport error: {other}"),
    }
}

/// A virtual-hosted request to a host that does not resolve names the
/// bucket-prefixed host it tried and says to use path-style addressing.
#[test]
fn a_dns_failure_in_virtual_hosted_style_says_set_path_style() {
    let config = unreachable_config("kv-demo", "http://minio.invalid:9000", false);
    let err = konserve_s3::blocking::connect_store(&config).unwrap_err();
    let message = transport_message(&err);
    assert!(
        message.starts_with("could not connect to kv-demo.minio.invalid:9000: "),
        "{err}"
    );
    assert!(
        message.ends_with(
            " (the bucket-prefixed host `kv-demo.minio.invalid` does not resolve: set \
             `path-style: true` for this endpoint)"
        ),
        "{err}"
    );
    // Path-style: the endpoint's own host, and no path-style advice.
    let config = unreachable_config("kv-demo", "http://minio.invalid:9000", true);
    let err = konserve_s3::blocking::connect_store(&config).unwrap_err();
    let message = transport_message(&err);
    assert!(
        message.starts_with("could not connect to minio.invalid:9000: "),
        "{err}"
    );
    assert!(
        message.ends_with(" (the host `minio.invalid` does not resolve: check the endpoint)"),
        "{err}"
    );
}

/// A refused connection names the host and port, and no query string.
#[test]
fn a_refused_connection_names_host_and_port() {
    let port = closed_port();
    let config = unreachable_config("kv-demo", &format!("http://127.0.0.1:{port}"), true);
    let err = konserve_s3::blocking::connect_store(&config).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "transport error: HeadObject, s3://kv-demo/{}_.konserve-metadata: could not connect to 127.0.0.1:{port}: ",
            config.id.unwrap()
        )),
        "{text}"
    );
    assert!(!text.contains('?') && !text.contains("X-Amz"), "{text}");
}

#[cfg(feature = "async")]
#[tokio::test]
async fn transport_errors_name_host_and_port_async() {
    let config = unreachable_config("kv-demo", "http://minio.invalid:9000", false);
    let err = konserve_s3::nonblocking::connect_store(&config)
        .await
        .unwrap_err();
    let message = transport_message(&err);
    assert!(
        message.starts_with("could not connect to kv-demo.minio.invalid:9000: "),
        "{err}"
    );
    assert!(
        message.ends_with("set `path-style: true` for this endpoint)"),
        "{err}"
    );
    let port = closed_port();
    let config = unreachable_config("kv-demo", &format!("http://127.0.0.1:{port}"), true);
    let err = konserve_s3::nonblocking::connect_store(&config)
        .await
        .unwrap_err();
    assert!(
        transport_message(&err).starts_with(&format!("could not connect to 127.0.0.1:{port}: ")),
        "{err}"
    );
}

fn config_error(json: &str) -> String {
    S3Config::from_json(json).unwrap_err().to_string()
}

/// An unknown key gets a "did you mean", at every level, with its full path.
#[test]
fn unknown_config_keys_get_a_did_you_mean() {
    assert_eq!(
        config_error(r#"{"bucket": "b-1", "store-id": "x"}"#),
        "invalid configuration: store-id: unknown key: did you mean `id`?"
    );
    assert_eq!(
        config_error(r#"{"bucket": "b-1", "endpoint_override": {"hostname": "h"}}"#),
        "invalid configuration: endpoint_override: unknown key: did you mean `endpoint-override`?"
    );
    assert_eq!(
        config_error(r#"{"bucket": "b-1", "secret-access-key": "s"}"#),
        "invalid configuration: secret-access-key: unknown key: did you mean `secret`?"
    );
    assert_eq!(
        config_error(r#"{"bucket": "b-1", "config": {"optimistic_locking_retries": 5}}"#),
        "invalid configuration: config.optimistic_locking_retries: unknown key: did you mean \
         `optimistic-locking-retries`?"
    );
    assert_eq!(
        config_error(r#"{"bucket": "b-1", "http": {"connect-timeout": 5}}"#),
        "invalid configuration: http.connect-timeout: unknown key: did you mean `connect-timeout-ms`?"
    );
    assert_eq!(
        config_error(r#"{"bucket": "b-1", "endpoint-override": {"host": "h"}}"#),
        "invalid configuration: endpoint-override.host: unknown key: did you mean `hostname`?"
    );
    // Nothing near: the keys there are.
    assert_eq!(
        config_error(r#"{"bucket": "b-1", "retry": {"zzzzzzzzz": 1}}"#),
        "invalid configuration: retry.zzzzzzzzz: unknown key: the keys here are `max-attempts`, \
         `initial-backoff-ms`, `max-backoff-ms`, `total-budget-ms`"
    );
}

/// A value of the wrong type names its full path and what is wanted.
#[test]
fn wrong_config_types_name_the_full_path() {
    assert_eq!(
        config_error(r#"{"bucket": "b-1", "config": {"optimistic-locking-retries": "5"}}"#),
        "invalid configuration: config.optimistic-locking-retries: invalid type: string \"5\", \
         expected a whole number from 0 to 4294967295, without quotes"
    );
    assert_eq!(
        config_error(r#"{"bucket": "b-1", "config": {"optimistic-locking-retries": -1}}"#),
        "invalid configuration: config.optimistic-locking-retries: invalid value: integer `-1`, \
         expected a whole number from 0 to 4294967295"
    );
    assert_eq!(
        config_error(r#"{"bucket": 5}"#),
        "invalid configuration: bucket: invalid type: integer `5`, expected a string"
    );
}

/// `config` with other keys.
fn with_keys(config: &S3Config, access_key: &str, secret: &str) -> S3Config {
    let mut config = config.clone();
    config.credentials = Some(konserve_s3::config::Credentials::new(access_key, secret));
    config
}

fn abbreviated(access_key: &str) -> String {
    format!("{}…", &access_key[..4])
}

/// The text of `err` without its request id (which differs every time).
fn without_request_id(err: &Error) -> String {
    let text = err.to_string();
    match err.context().and_then(|c| c.request_id.as_deref()) {
        Some(id) => text.replace(&format!(", request id {id}"), ""),
        None => text,
    }
}

/// A wrong secret is reported as such, though a HEAD's 403 has no body:
/// one GET of the same object finds the code.
#[test]
fn a_wrong_secret_is_named_after_a_bare_head_403() {
    let bucket = common::fresh_bucket("badsecret").bucket().to_owned();
    let good = with_id(&bucket);
    let s = server();
    let bad = with_keys(&good, &s.access_key, "certainly-not-the-secret");
    let err = konserve_s3::blocking::connect_store(&bad).unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials(_)), "{err}");
    let c = err.context().unwrap();
    assert_eq!(c.action, Some(Action::HeadObject));
    assert_eq!(c.code.as_deref(), Some("SignatureDoesNotMatch"));
    let text = without_request_id(&err);
    assert!(
        text.starts_with(&format!(
            "invalid credentials: HeadObject, s3://{bucket}/{}_.konserve-metadata, status 403, \
             code SignatureDoesNotMatch",
            good.id.unwrap()
        )),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            ": the secret key does not match the access key `{}`: set the secret key that \
             belongs to it",
            abbreviated(&s.access_key)
        )),
        "{text}"
    );
    assert!(!text.contains(&s.secret_key) && !text.contains("certainly-not"));
    // One extra request, no more.
    let client = konserve_s3::S3Client::new(&bad).unwrap();
    assert!(client.object_exists("x").is_err());
    let stats = client.stats();
    assert_eq!(
        (stats.total_requests(), stats.requests(Action::GetObject)),
        (2, 1)
    );
    // HeadBucket asks with a listing.
    let err = client.bucket_exists().unwrap_err();
    assert_eq!(
        err.context().unwrap().code.as_deref(),
        Some("SignatureDoesNotMatch"),
        "{err}"
    );
}

#[test]
fn an_unknown_access_key_is_named_after_a_bare_head_403() {
    let bucket = common::fresh_bucket("badkey").bucket().to_owned();
    let bad = with_keys(&with_id(&bucket), "NOSUCHKEYID1234", "whatever");
    let err = konserve_s3::blocking::connect_store(&bad).unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials(_)), "{err}");
    assert_eq!(
        err.context().unwrap().code.as_deref(),
        Some("InvalidAccessKeyId")
    );
    assert!(
        err.to_string().ends_with(
            ": the server does not know the access key `NOSU…`: check the access key id, \
             and that the endpoint is the one it belongs to"
        ),
        "{err}"
    );
}

#[cfg(feature = "async")]
#[tokio::test]
async fn a_wrong_secret_is_named_after_a_bare_head_403_async() {
    let config = config_for(&bucket_name("badsecreta"), &server().endpoint);
    let client = konserve_s3::nonblocking::S3Client::new(&config).unwrap();
    assert!(client.create_bucket().await.unwrap());
    let bad = with_keys(&with_id(client.bucket()), &server().access_key, "wrong");
    let err = konserve_s3::nonblocking::connect_store(&bad)
        .await
        .unwrap_err();
    assert_eq!(
        err.context().unwrap().code.as_deref(),
        Some("SignatureDoesNotMatch"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(": the secret key does not match the access key `"),
        "{err}"
    );
}

/// Valid credentials without the right to read the bucket: said so, with
/// the bucket's name (SeaweedFS with an identity limited to another bucket).
#[test]
fn credentials_without_the_right_are_named_after_a_bare_head_403() {
    use konserve_s3_dev::{Identity, SeaweedFs, SeaweedFsOptions};
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let (mine, theirs) = (format!("mine-{tag}"), format!("theirs-{tag}"));
    let keys = (
        format!("KS3OTHER{tag}").to_uppercase(),
        format!("secret-{tag}"),
    );
    let weed = SeaweedFs::start_with(SeaweedFsOptions {
        extra_identities: vec![Identity {
            name: "other".into(),
            keys: Some(keys.clone()),
            actions: vec![format!("Read:{theirs}"), format!("List:{theirs}")],
        }],
        ..SeaweedFsOptions::default()
    })
    .unwrap_or_else(|e| panic!("no SeaweedFS: {e}"));
    let admin = S3Config::builder()
        .bucket(mine.clone())
        .endpoint(weed.endpoint())
        .credentials(weed.access_key(), weed.secret_key())
        .id(uuid::Uuid::new_v4())
        .build()
        .unwrap();
    konserve_s3::blocking::create_store(&admin).unwrap();
    let other = with_keys(&admin, &keys.0, &keys.1);
    let err = konserve_s3::blocking::connect_store(&other).unwrap_err();
    assert!(matches!(err, Error::AccessDenied(_)), "{err}");
    assert_eq!(err.context().unwrap().code.as_deref(), Some("AccessDenied"));
    assert!(
        err.to_string().ends_with(&format!(
            ": these credentials (access key `KS3O…`) may not read bucket `{mine}`: grant \
             them that right, or use credentials that have it"
        )),
        "{err}"
    );
}
