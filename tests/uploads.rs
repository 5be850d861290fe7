//! Multipart uploads never outlive their write: aborted on every error
//! path, on a cancelled (dropped) async write and on unwinding, by
//! `delete_store` and by `cleanup_incomplete_uploads`; a transient failure
//! of `CompleteMultipartUpload` or of the connect-time probe is retried.
//! Against SeaweedFS, with the fault proxy where a failure is needed.

mod common;
use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

use common::fault_proxy::{Fault, FaultProxy, Matcher, Rule};
use common::{bucket_name, config_for, server};
use konserve_s3::blocking::{
    S3Client, S3Store, cleanup_incomplete_uploads, connect_store, create_store, delete_store,
};
use konserve_s3::config::S3Config;
use konserve_s3::internals::layout;
use konserve_s3::s3::Action;
use konserve_s3::value::Value;
use uuid::Uuid;

/// Just over one 8 MiB part: a multipart upload of two parts.
const LARGE: usize = 9 << 20;

fn shared_bucket() -> &'static str {
    static BUCKET: OnceLock<String> = OnceLock::new();
    BUCKET.get_or_init(|| {
        let name = bucket_name("uploads");
        S3Client::new(&config_for(&name, &server().endpoint))
            .unwrap()
            .create_bucket()
            .unwrap();
        name
    })
}

fn config_on(endpoint: &str, id: Uuid) -> S3Config {
    let mut c = config_for(shared_bucket(), endpoint);
    c.id = Some(id);
    c
}

fn direct_client() -> S3Client {
    S3Client::new(&config_for(shared_bucket(), &server().endpoint)).unwrap()
}

fn uploads_of(id: Uuid) -> Vec<String> {
    direct_client()
        .list_multipart_uploads(Some(&layout::store_prefix(id)))
        .unwrap()
        .into_iter()
        .map(|u| u.key)
        .collect()
}

/// An S3 error answer.
fn failing(status: u16, code: &str) -> Fault {
    Fault::Status {
        status,
        code: code.into(),
    }
}

fn k(name: &str) -> Value {
    Value::keyword(name)
}

#[test]
fn delete_store_aborts_the_stores_uploads_only() {
    let id = Uuid::new_v4();
    let neighbour = Uuid::new_v4();
    create_store(&config_on(&server().endpoint, id)).unwrap();
    let client = direct_client();
    let mine = layout::object_key(id, "big.ksv");
    let theirs = layout::object_key(neighbour, "big.ksv");
    client.create_multipart_upload(&mine).unwrap();
    client.create_multipart_upload(&mine).unwrap();
    let kept = client.create_multipart_upload(&theirs).unwrap();
    assert_eq!(uploads_of(id).len(), 2);

    delete_store(&config_on(&server().endpoint, id)).unwrap();
    assert_eq!(uploads_of(id), Vec::<String>::new());
    assert_eq!(uploads_of(neighbour), vec![theirs.clone()]);
    client.abort_multipart_upload(&theirs, &kept).unwrap();
}

#[test]
fn cleanup_aborts_uploads_older_than_asked() {
    let id = Uuid::new_v4();
    let config = config_on(&server().endpoint, id);
    create_store(&config).unwrap();
    let client = direct_client();
    let key = layout::object_key(id, "big.ksv");
    client.create_multipart_upload(&key).unwrap();

    let hour = Duration::from_secs(3600);
    assert_eq!(cleanup_incomplete_uploads(&config, hour).unwrap(), 0);
    assert_eq!(uploads_of(id), vec![key.clone()]);

    assert_eq!(
        cleanup_incomplete_uploads(&config, Duration::ZERO).unwrap(),
        1
    );
    assert_eq!(uploads_of(id), Vec::<String>::new());
    delete_store(&config).unwrap();
}

#[test]
fn listing_shows_every_upload_under_the_prefix() {
    let id = Uuid::new_v4();
    let client = direct_client();
    // (Following the markers of a truncated answer is covered by the
    // parser's unit test: a page holds 1000 uploads.)
    let keys: Vec<String> = (0..5)
        .map(|i| layout::object_key(id, &format!("k{i}.ksv")))
        .collect();
    for key in &keys {
        client.create_multipart_upload(key).unwrap();
    }
    let mut listed = uploads_of(id);
    listed.sort();
    assert_eq!(listed, keys);
    let config = config_on(&server().endpoint, id);
    assert_eq!(
        cleanup_incomplete_uploads(&config, Duration::ZERO).unwrap(),
        5
    );
}

#[test]
fn create_store_survives_a_transient_failure_of_its_marker_write() {
    let proxy = FaultProxy::start(&server().endpoint);
    let marker = || Matcher::method("PUT").path_contains(".konserve-metadata");
    // A 500: repeated. An answer lost after the marker landed: the repeat's
    // 412 is recognised as this create's own (by its write tag).
    for fault in [failing(500, "InternalError"), Fault::ResetAfterForward] {
        let id = Uuid::new_v4();
        let config = config_on(&proxy.endpoint(), id);
        proxy.push(Rule::new(marker(), 1, fault));
        create_store(&config).unwrap();
        assert!(proxy.pending_rules().is_empty());
        assert!(matches!(
            create_store(&config),
            Err(konserve_s3::Error::StoreAlreadyExists { .. })
        ));
        delete_store(&config).unwrap();
    }
}

/// A new store behind a proxy that answers the next `times`
/// `CompleteMultipartUpload` requests with `fault`.
fn store_failing_complete(times: usize, fault: Fault) -> (FaultProxy, S3Store, Uuid) {
    let proxy = FaultProxy::start(&server().endpoint);
    let id = Uuid::new_v4();
    let store = create_store(&config_on(&proxy.endpoint(), id)).unwrap();
    let complete = Matcher::method("POST").query_contains("uploadId");
    proxy.push(Rule::new(complete, times, fault));
    (proxy, store, id)
}

#[test]
fn one_503_on_complete_is_retried() {
    let (proxy, store, id) = store_failing_complete(1, Fault::SlowDown);
    let before = store.backing().client().stats();
    let mut body = std::io::repeat(3).take(LARGE as u64);
    store.bassoc_reader(k("big"), &mut body).unwrap();
    let used = store.backing().client().stats().since(&before);
    assert_eq!(used.requests(Action::CompleteMultipartUpload), 2);
    assert!(proxy.pending_rules().is_empty());
    let got = store.bget(k("big")).unwrap().unwrap();
    assert_eq!(got.size, LARGE as u64);
    assert_eq!(uploads_of(id), Vec::<String>::new());
}

#[test]
fn a_failed_complete_leaves_no_upload() {
    let (_proxy, store, id) = store_failing_complete(100, failing(500, "InternalError"));
    let mut body = std::io::repeat(3).take(LARGE as u64);
    let err = store.bassoc_reader(k("big"), &mut body).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(uploads_of(id), Vec::<String>::new());
}

/// A reader that gives `left` bytes, then panics.
struct PanicsAfter {
    left: usize,
}

impl Read for PanicsAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        assert!(self.left > 0, "the reader breaks down");
        let n = buf.len().min(self.left);
        buf[..n].fill(5);
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn a_write_that_unwinds_aborts_its_upload() {
    let id = Uuid::new_v4();
    let store = create_store(&config_on(&server().endpoint, id)).unwrap();
    let before = store.backing().client().stats();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut body = PanicsAfter { left: LARGE };
        let _ = store.bassoc_reader(k("big"), &mut body);
    }));
    assert!(unwound.is_err());
    let used = store.backing().client().stats().since(&before);
    assert_eq!(used.requests(Action::CreateMultipartUpload), 1);
    assert_eq!(used.requests(Action::AbortMultipartUpload), 1);
    assert_eq!(uploads_of(id), Vec::<String>::new());
}

fn locking_config(endpoint: &str, id: Uuid) -> S3Config {
    let mut c = config_on(endpoint, id);
    c.store.optimistic_locking_retries = 5;
    c
}

#[test]
fn connect_survives_transient_failures_of_the_probe() {
    let id = Uuid::new_v4();
    create_store(&locking_config(&server().endpoint, id)).unwrap();
    let proxy = FaultProxy::start(&server().endpoint);
    let mut config = locking_config(&proxy.endpoint(), id);
    // Every connect probes afresh.
    config.store.capability_cache = konserve_s3::config::CapabilityCache::Off;
    let probe = || Matcher::method("PUT").path_contains("conditional-write-probe");

    // A 500 on the first write of the probe.
    proxy.push(Rule::new(probe(), 1, failing(500, "InternalError")));
    connect_store(&config).unwrap();
    assert!(proxy.pending_rules().is_empty());

    // A 500 on the second write (the first goes through).
    proxy.push(Rule::new(probe(), 1, Fault::Delay(Duration::ZERO)));
    proxy.push(Rule::new(probe(), 1, failing(503, "ServiceUnavailable")));
    connect_store(&config).unwrap();
    assert!(proxy.pending_rules().is_empty());

    // The first write lands, its answer is lost: the repeat's 412 is ours.
    proxy.push(Rule::new(probe(), 1, Fault::ResetAfterForward));
    connect_store(&config).unwrap();
    assert!(proxy.pending_rules().is_empty());
    delete_store(&config).unwrap();
}

#[cfg(feature = "async")]
mod nonblocking {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    use konserve_s3::nonblocking::create_store;
    use tokio::io::{AsyncRead, ReadBuf};
    use uuid::Uuid;

    use super::{LARGE, config_on, k, server};
    use konserve_s3::internals::layout;
    use konserve_s3::s3::Action;

    /// Gives `left` bytes, then never anything more (and never wakes).
    struct Stalls {
        left: usize,
    }

    impl AsyncRead for Stalls {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if self.left == 0 {
                return Poll::Pending;
            }
            let n = buf.remaining().min(self.left);
            buf.put_slice(&vec![9u8; n]);
            self.left -= n;
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_write_aborts_its_upload() {
        let id = Uuid::new_v4();
        let store = create_store(&config_on(&server().endpoint, id))
            .await
            .unwrap();
        let client = store.backing().client().clone();
        let before = client.stats();
        let mut body = Stalls { left: LARGE };
        let cancelled = tokio::time::timeout(
            Duration::from_secs(2),
            store.bassoc_reader(k("big"), &mut body),
        )
        .await;
        assert!(cancelled.is_err(), "the write should have stalled");
        assert_eq!(
            client
                .stats()
                .since(&before)
                .requests(Action::CreateMultipartUpload),
            1
        );
        let prefix = layout::store_prefix(id);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = client.list_multipart_uploads(Some(&prefix)).await.unwrap();
            if left.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "still there: {left:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[test]
    fn a_write_dropped_without_a_runtime_is_aborted_by_the_next_cleanup() {
        let id = Uuid::new_v4();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = rt
            .block_on(create_store(&config_on(&server().endpoint, id)))
            .unwrap();
        let mut body = Stalls { left: LARGE };
        let mut write = Box::pin(store.bassoc_reader(k("big"), &mut body));
        let stalled = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(2), write.as_mut()).await });
        assert!(stalled.is_err());
        drop(rt);
        drop(write); // no runtime here: the abort is noted for later
        let rt = tokio::runtime::Runtime::new().unwrap();
        let prefix = layout::store_prefix(id);
        let client = store.backing().client();
        let left = rt
            .block_on(client.list_multipart_uploads(Some(&prefix)))
            .unwrap();
        assert_eq!(left.len(), 1);
        // Younger than a day, but noted as abandoned by this handle.
        let aborted = rt
            .block_on(
                store
                    .backing()
                    .cleanup_incomplete_uploads(Duration::from_secs(86_400)),
            )
            .unwrap();
        assert_eq!(aborted, 1);
        let left = rt
            .block_on(client.list_multipart_uploads(Some(&prefix)))
            .unwrap();
        assert!(left.is_empty(), "{left:?}");
    }
}
