//! Everything a store does, written once in async style and compiled per
//! mode (see `tests/no_url_in_logs/blocking.rs` and `nonblocking.rs`):
//! assoc, get, keys, dissoc, a multipart `bassoc_reader`, and a request the
//! server refuses (a session token it does not know).

use konserve_s3::config::Credentials;
use konserve_s3::value::Value;
use uuid::Uuid;

use super::{S3Client, create_store, io};
use crate::common::{bucket_name, config_for, server};

/// The session token the refused request carries.
pub const TOKEN: &str = "FwoGZXIvYXdzEJr//////////wEaDA+NoUrlInLogsToken=";

#[io]
pub async fn run(tag: &str) {
    let mut config = config_for(&bucket_name(tag), &server().endpoint);
    config.id = Some(Uuid::new_v4());
    let store = create_store(&config).await.unwrap();
    let key = Value::keyword("k");
    let value: Value = "{:x [1 2 3]}".parse().unwrap();
    store.assoc(key.clone(), value.clone()).await.unwrap();
    let got = store.get(key.clone()).await.unwrap();
    assert_eq!(got, Some(value));
    let keys = store.keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    // Larger than a part: a multipart upload.
    let big = vec![7u8; 11 << 20];
    store
        .bassoc_reader(Value::keyword("big"), &mut &big[..])
        .await
        .unwrap();
    let removed = store.dissoc(key).await.unwrap();
    assert!(removed);

    // An error answer: the server does not know this session token.
    let s = server();
    config.credentials = Some(
        Credentials::new(s.access_key.clone(), s.secret_key.clone()).with_session_token(TOKEN),
    );
    let client = S3Client::new(&config).unwrap();
    let err = client.head_object("k").await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(TOKEN), "{text}");
}
