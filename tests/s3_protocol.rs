//! The S3 layer against a real S3-compatible server (SeaweedFS): every action,
//! error mapping, retries through a fault-injecting proxy, redaction.

mod common;

use std::time::{Duration, Instant};

use common::fault_proxy::{Fault, FaultProxy, Matcher, Rule};
use common::{Captured, bucket_name, config_for, fresh_bucket, server};
use konserve_s3::Conditions;
use konserve_s3::config::RetryPolicy;
use konserve_s3::config::{HttpOptions, S3Config};
use konserve_s3::internals::s3::request::{ByteRange, md5_etag};
use konserve_s3::internals::s3::request::{S3Request, Signer};
use konserve_s3::s3::Action;
use konserve_s3::{Error, S3Client};

fn code(e: &Error) -> Option<&str> {
    e.context().and_then(|c| c.code.as_deref())
}

#[test]
fn bucket_lifecycle() {
    let client = S3Client::new(&config_for(&bucket_name("life"), &server().endpoint)).unwrap();
    assert!(!client.bucket_exists().unwrap());
    let err = client.delete_bucket().unwrap_err();
    assert!(matches!(err, Error::NoSuchBucket(_)), "{err}");
    assert!(client.create_bucket().unwrap());
    assert!(client.bucket_exists().unwrap());
    // Creating it again is not an error: we own it.
    assert!(!client.create_bucket().unwrap());
    // (S3 refuses to delete a non-empty bucket; SeaweedFS does not, so that
    // rule is not asserted here.)
    client.delete_bucket().unwrap();
    assert!(!client.bucket_exists().unwrap());
}

#[test]
fn put_get_head_delete_and_ranges() {
    let client = fresh_bucket("obj");
    let body: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let etag = client
        .put_object("dir/value.ksv", body.clone(), &Conditions::NONE)
        .unwrap();
    assert_eq!(etag.as_deref(), Some(md5_etag(&body).as_str()));
    let got = client.get_object("dir/value.ksv", None).unwrap();
    assert_eq!(got.body, body);
    assert_eq!(got.etag, etag);
    assert_eq!(got.total_size, Some(5000));
    let range = ByteRange {
        start: 10,
        end_inclusive: Some(29),
    };
    let part = client.get_object("dir/value.ksv", Some(range)).unwrap();
    assert_eq!(part.body, &body[10..30]);
    assert_eq!(part.total_size, Some(5000));
    let tail = client
        .get_object(
            "dir/value.ksv",
            Some(ByteRange {
                start: 4990,
                end_inclusive: None,
            }),
        )
        .unwrap();
    assert_eq!(tail.body, &body[4990..]);
    let info = client.head_object("dir/value.ksv").unwrap();
    assert_eq!(info.size, Some(5000));
    assert_eq!(info.etag, etag);
    assert!(info.last_modified.is_some());
    assert!(client.object_exists("dir/value.ksv").unwrap());
    // Empty bodies work too (Content-Length: 0).
    client
        .put_object("empty", Vec::new(), &Conditions::NONE)
        .unwrap();
    assert_eq!(client.get_object("empty", None).unwrap().body[..], *b"");
    client
        .delete_object("dir/value.ksv", &Conditions::NONE)
        .unwrap();
    assert!(!client.object_exists("dir/value.ksv").unwrap());
    // Deleting a missing object succeeds, as in S3.
    client
        .delete_object("dir/value.ksv", &Conditions::NONE)
        .unwrap();
}

#[test]
fn not_found_mapping() {
    let client = fresh_bucket("nf");
    let err = client.get_object("missing", None).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    let ctx = err.context().unwrap();
    assert_eq!(ctx.status, Some(404));
    assert_eq!(ctx.code.as_deref(), Some("NoSuchKey"));
    assert_eq!(ctx.key.as_deref(), Some("missing"));
    assert_eq!(ctx.bucket.as_deref(), Some(client.bucket()));
    assert_eq!(ctx.action, Some(Action::GetObject));
    assert!(ctx.request_id.is_some(), "{ctx:?}");
    assert!(matches!(
        client.head_object("missing").unwrap_err(),
        Error::NotFound(_)
    ));

    let nobucket = S3Client::new(&config_for(&bucket_name("nob"), &server().endpoint)).unwrap();
    let err = nobucket.get_object("k", None).unwrap_err();
    assert!(matches!(err, Error::NoSuchBucket(_)), "{err}");
    // No bucket is created behind our back by a PUT.
    let err = nobucket
        .put_object("k", b"v".to_vec(), &Conditions::NONE)
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchBucket(_)), "{err}");
    assert!(!nobucket.bucket_exists().unwrap());
    let err = nobucket.list_objects(None).unwrap_err();
    assert!(matches!(err, Error::NoSuchBucket(_)), "{err}");
}

#[test]
fn wrong_credentials_are_typed_errors() {
    let s = server();
    let good = fresh_bucket("cred");
    good.put_object("k", b"v".to_vec(), &Conditions::NONE)
        .unwrap();
    let with = |access: &str, secret: &str| {
        S3Client::new(
            &S3Config::builder()
                .bucket(good.bucket())
                .endpoint(&s.endpoint)
                .region(s.region.clone())
                .credentials(access, secret)
                .build()
                .unwrap(),
        )
        .unwrap()
    };
    if common::capabilities().signatures_checked != Some(true) {
        // Any signature is accepted: a wrong secret still reads.
        let read = with(&s.access_key, "not-the-secret").get_object("k", None);
        assert_eq!(&read.unwrap().body[..], b"v");
        return common::not_applicable(
            "wrong_credentials_are_typed_errors",
            "the server does not check signatures",
        );
    }
    let err = with(&s.access_key, "not-the-secret")
        .get_object("k", None)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials(_)), "{err}");
    assert_eq!(err.context().unwrap().status, Some(403));
    assert_eq!(code(&err), Some("SignatureDoesNotMatch"));
    assert!(!err.to_string().contains("not-the-secret"));
    let err = with("NOSUCHKEY", "x")
        .put_object("k", b"v".to_vec(), &Conditions::NONE)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials(_)), "{err}");
    assert_eq!(code(&err), Some("InvalidAccessKeyId"));
    // Not retried: one attempt each.
    assert_eq!(err.context().unwrap().attempts, 1);
}

#[test]
fn conditional_writes_map_412() {
    let client = fresh_bucket("cond");
    if !common::capabilities().if_none_match.is_honoured() {
        return common::not_applicable(
            "conditional_writes_map_412",
            "the server ignores If-None-Match (locking is refused there: locking.rs)",
        );
    }
    let e1 = client
        .put_object("k", b"one".to_vec(), &Conditions::if_absent())
        .unwrap()
        .unwrap();
    let err = client
        .put_object("k", b"two".to_vec(), &Conditions::if_absent())
        .unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");
    assert_eq!(err.context().unwrap().status, Some(412));
    let err = client
        .put_object(
            "k",
            b"two".to_vec(),
            &Conditions::if_match("\"0123456789abcdef0123456789abcdef\""),
        )
        .unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");
    let e2 = client
        .put_object("k", b"two".to_vec(), &Conditions::if_match(e1.clone()))
        .unwrap()
        .unwrap();
    assert_ne!(e1, e2);
    assert_eq!(client.get_object("k", None).unwrap().body[..], *b"two");
    // If-Match on a key that does not exist is a failed precondition, not "not found".
    let err = client
        .put_object("absent", b"x".to_vec(), &Conditions::if_match(e2))
        .unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");
    // A conditional PUT is never repeated by the transport-level retry.
    assert_eq!(err.context().unwrap().attempts, 1);
}

#[test]
fn listing_pages_and_odd_keys() {
    let client = fresh_bucket("list");
    let odd = ["a+b", "c d", "e%f", "ü/ñ", "x=y&z", "plus+%2B"];
    for k in odd {
        client
            .put_object(&format!("p_{k}"), k.as_bytes().to_vec(), &Conditions::NONE)
            .unwrap();
    }
    for i in 0..19 {
        client
            .put_object(&format!("p_n{i:02}"), vec![i as u8], &Conditions::NONE)
            .unwrap();
    }
    client
        .put_object("other", b"o".to_vec(), &Conditions::NONE)
        .unwrap();
    // Explicit pages of 10.
    let mut pages = 0;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_page(Some("p_"), token.as_deref(), Some(10))
            .unwrap();
        pages += 1;
        assert!(page.objects.len() <= 10);
        seen.extend(page.objects.into_iter().map(|o| o.key));
        match page.next_continuation_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    for k in odd {
        assert!(
            seen.contains(&format!("p_{k}")),
            "{k} missing from {seen:?}"
        );
        // The listed key reads back: it was decoded exactly.
        assert_eq!(
            client.get_object(&format!("p_{k}"), None).unwrap().body,
            k.as_bytes()
        );
    }
    let all = client.list_objects(Some("p_")).unwrap();
    assert_eq!(all.len(), 25);
    assert!(all.iter().all(|o| o.size.is_some() && o.etag.is_some()));
    assert_eq!(client.list_objects(None).unwrap().len(), 26);
    assert!(client.list_objects(Some("zzz")).unwrap().is_empty());
}

#[test]
fn batch_delete_of_more_than_1000_keys() {
    let client = fresh_bucket("batch");
    let keys: Vec<String> = (0..1105).map(|i| format!("k{i:05}")).collect();
    std::thread::scope(|s| {
        for chunk in keys.chunks(139) {
            let client = client.clone();
            s.spawn(move || {
                for k in chunk {
                    client
                        .put_object(k, k.as_bytes().to_vec(), &Conditions::NONE)
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(client.list_objects(None).unwrap().len(), 1105);
    let before = client.stats();
    // Half of these keys also appear twice and one does not exist: S3 accepts both.
    client.delete_objects(&keys).unwrap();
    let used = client.stats().since(&before);
    assert_eq!(used.requests(Action::DeleteObjects), 2);
    assert!(client.list_objects(None).unwrap().is_empty());
    assert!(client.delete_objects(&["../evil"]).is_err());
}

#[test]
fn multipart_upload_of_16_mib_and_abort() {
    let client = fresh_bucket("mpu");
    let part = |n: u8, len: usize| -> Vec<u8> { (0..len).map(|i| (i as u8) ^ n).collect() };
    let parts = [part(1, 6 << 20), part(2, 6 << 20), part(3, (4 << 20) + 123)];
    let total: usize = parts.iter().map(Vec::len).sum();
    assert!(total >= 16 << 20);
    let id = client.create_multipart_upload("big").unwrap();
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        etags.push(
            client
                .upload_part("big", &id, (i + 1) as u16, p.clone())
                .unwrap(),
        );
    }
    client
        .complete_multipart_upload("big", &id, &etags, &Conditions::NONE)
        .unwrap();
    let info = client.head_object("big").unwrap();
    assert_eq!(info.size, Some(total as u64));
    let whole = client.get_object("big", None).unwrap().body;
    assert_eq!(whole.len(), total);
    assert_eq!(&whole[..6 << 20], &parts[0][..]);
    assert_eq!(&whole[12 << 20..], &parts[2][..]);
    let edge = client
        .get_object(
            "big",
            Some(ByteRange {
                start: (6 << 20) - 2,
                end_inclusive: Some((6 << 20) + 1),
            }),
        )
        .unwrap();
    assert_eq!(
        edge.body[..],
        [
            parts[0][(6 << 20) - 2],
            parts[0][(6 << 20) - 1],
            parts[1][0],
            parts[1][1]
        ]
    );

    // Abort frees the upload: completing it afterwards fails.
    let id = client.create_multipart_upload("gone").unwrap();
    let etag = client.upload_part("gone", &id, 1, vec![7u8; 1024]).unwrap();
    client.abort_multipart_upload("gone", &id).unwrap();
    let err = client
        .complete_multipart_upload("gone", &id, &[etag], &Conditions::NONE)
        .unwrap_err();
    assert!(!client.object_exists("gone").unwrap());
    if err
        .context()
        .and_then(|c| c.status)
        .is_some_and(|s| s >= 500)
    {
        // moto answers 500 here: refused all the same, nothing written.
        return common::not_applicable(
            "multipart_upload_of_16_mib_and_abort",
            &format!("completing an aborted upload is a server error, not NoSuchUpload: {err}"),
        );
    }
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

#[test]
fn copy_object_within_bucket() {
    let client = fresh_bucket("copy");
    client
        .put_object("src key+1", b"payload".to_vec(), &Conditions::NONE)
        .unwrap();
    client.copy_object("src key+1", "dst").unwrap();
    assert_eq!(
        client.get_object("dst", None).unwrap().body[..],
        *b"payload"
    );
    let err = client.copy_object("nope", "dst2").unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

#[test]
fn corrupted_body_is_rejected_by_content_md5() {
    let client = fresh_bucket("md5");
    let s = server();
    let signer = Signer::new(
        s.endpoint.parse().unwrap(),
        true,
        client.bucket(),
        &s.region,
        &konserve_s3::config::Credentials::new(s.access_key.clone(), s.secret_key.clone()),
        Duration::from_secs(60),
    )
    .unwrap();
    let signed = signer.sign(&S3Request::put_object("k", b"the real body".to_vec()).unwrap());
    let mut req = ureq::put(signed.url.as_str());
    for (k, v) in &signed.headers {
        req = req.header(*k, v.as_str());
    }
    let answer = req.send(&b"the fake body"[..]);
    if !common::capabilities().content_md5.is_honoured() {
        // The provider stores what it got: the probe saw it, so the store
        // knows Content-MD5 protects nothing here.
        assert!(answer.is_ok(), "the probe said Content-MD5 is not checked");
        return common::not_applicable(
            "corrupted_body_is_rejected_by_content_md5",
            "the server does not check Content-MD5",
        );
    }
    let err = answer.unwrap_err();
    assert!(matches!(err, ureq::Error::StatusCode(400)), "{err}");
    assert!(!client.object_exists("k").unwrap());
}

/// A client that talks to the server through a fault proxy.
fn proxied(tag: &str, retry: RetryPolicy, http: HttpOptions) -> (S3Client, FaultProxy, S3Client) {
    let direct = fresh_bucket(tag);
    let proxy = FaultProxy::start(&server().endpoint);
    let mut config = config_for(direct.bucket(), &proxy.endpoint());
    config.retry = retry;
    config.http = http;
    (S3Client::new(&config).unwrap(), proxy, direct)
}

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        total_budget: Duration::from_secs(30),
    }
}

#[test]
fn retries_throttling_and_5xx_then_succeeds() {
    let (client, proxy, _) = proxied("retry", fast_retry(4), HttpOptions::default());
    client
        .put_object("k", b"v".to_vec(), &Conditions::NONE)
        .unwrap();
    proxy.push(Rule::new(Matcher::method("GET"), 2, Fault::SlowDown));
    proxy.push(Rule::new(
        Matcher::method("GET"),
        1,
        Fault::Status {
            status: 500,
            code: "InternalError".into(),
        },
    ));
    let before = client.stats();
    assert_eq!(client.get_object("k", None).unwrap().body[..], *b"v");
    let used = client.stats().since(&before);
    let get = used.per_action[&Action::GetObject];
    assert_eq!((get.requests, get.failures, get.retries), (4, 3, 3));
    // An unconditional PUT is safe to repeat.
    proxy.push(Rule::once(Fault::SlowDown));
    client
        .put_object("k", b"w".to_vec(), &Conditions::NONE)
        .unwrap();
    assert_eq!(client.get_object("k", None).unwrap().body[..], *b"w");
}

#[test]
fn gives_up_after_max_attempts_with_typed_error() {
    let (client, proxy, _) = proxied("giveup", fast_retry(3), HttpOptions::default());
    proxy.push(Rule::new(Matcher::any(), 10, Fault::SlowDown));
    let err = client.get_object("k", None).unwrap_err();
    assert!(matches!(err, Error::Throttled(_)), "{err}");
    let ctx = err.context().unwrap();
    assert_eq!(ctx.attempts, 3);
    assert_eq!(ctx.code.as_deref(), Some("SlowDown"));
    assert_eq!(ctx.status, Some(503));
    assert_eq!(proxy.count("GET"), 3);
}

#[test]
fn conditional_put_is_not_blindly_retried() {
    let (client, proxy, direct) = proxied("condretry", fast_retry(5), HttpOptions::default());
    proxy.push(Rule::once(Fault::SlowDown));
    let err = client
        .put_object("k", b"v".to_vec(), &Conditions::if_absent())
        .unwrap_err();
    assert!(matches!(err, Error::Throttled(_)), "{err}");
    assert_eq!(err.context().unwrap().attempts, 1);
    assert!(!direct.object_exists("k").unwrap());
}

#[test]
fn time_budget_bounds_retries() {
    let policy = RetryPolicy {
        max_attempts: 100,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(200),
        total_budget: Duration::from_millis(600),
    };
    let (client, proxy, _) = proxied("budget", policy, HttpOptions::default());
    proxy.push(Rule::new(Matcher::any(), 1000, Fault::SlowDown));
    let started = Instant::now();
    let err = client.head_object("k").unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Throttled(_)), "{err}");
    let attempts = err.context().unwrap().attempts;
    assert!((2..100).contains(&attempts), "{attempts} attempts");
    assert!(took < Duration::from_millis(1500), "{took:?}");
}

#[test]
fn timeouts_are_retried_and_typed() {
    let http = HttpOptions {
        response_timeout: Duration::from_millis(300),
        ..HttpOptions::default()
    };
    let (client, proxy, _) = proxied("timeout", fast_retry(3), http);
    client
        .put_object("k", b"v".to_vec(), &Conditions::NONE)
        .unwrap();
    proxy.push(Rule::new(
        Matcher::method("GET"),
        1,
        Fault::Delay(Duration::from_millis(1200)),
    ));
    assert_eq!(client.get_object("k", None).unwrap().body[..], *b"v");
    let get = client.stats().per_action[&Action::GetObject];
    assert_eq!((get.requests, get.failures), (2, 1));
    proxy.push(Rule::new(
        Matcher::method("HEAD"),
        3,
        Fault::Delay(Duration::from_millis(1200)),
    ));
    let err = client.head_object("k").unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    assert_eq!(err.context().unwrap().attempts, 3);
}

#[test]
fn lost_connections_are_retried() {
    let (client, proxy, direct) = proxied("reset", fast_retry(1), HttpOptions::default());
    direct
        .put_object("k", b"v".to_vec(), &Conditions::NONE)
        .unwrap();
    // Even with no retries configured, a lost connection is repeated once.
    proxy.push(Rule::once(Fault::Reset));
    assert_eq!(client.get_object("k", None).unwrap().body[..], *b"v");
    // Twice in a row is an error.
    proxy.push(Rule::new(Matcher::any(), 2, Fault::Reset));
    let err = client.get_object("k", None).unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    assert_eq!(err.context().unwrap().attempts, 2);
    // The HTTP client's error is kept as the source.
    let source = std::error::Error::source(&err).expect("a source");
    assert!(source.downcast_ref::<ureq::Error>().is_some(), "{source:?}");
    // For io users it is a broken connection.
    let io = std::io::Error::from(err);
    assert!(
        matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::Other
        ),
        "{io:?}"
    );
}

#[test]
fn server_closing_a_pooled_connection_after_an_error_is_survived() {
    let (client, proxy, direct) = proxied("stale", fast_retry(1), HttpOptions::default());
    // No capability probe: its concurrent requests would fill the pool,
    // and this test is about which pooled connection a request takes.
    client
        .assume_capabilities(konserve_s3::s3::Capabilities::assumed())
        .unwrap();
    direct
        .put_object("k", b"v".to_vec(), &Conditions::NONE)
        .unwrap();
    for _ in 0..5 {
        proxy.push(Rule::once(Fault::CloseAfterErrorResponse));
        let err = client.get_object("missing", None).unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{err}");
        // The next request takes the pooled connection the server closed.
        assert_eq!(client.get_object("k", None).unwrap().body[..], *b"v");
        // An error answer on a PUT too (where the server checks If-Match).
        let put = client.put_object("k2", b"w".to_vec(), &Conditions::if_match("\"nope\""));
        assert!(put.is_err() || !common::capabilities().if_match_put.is_honoured());
    }
    // A connection the server drops without a word between two requests: the
    // next request on it fails at once and is repeated on a fresh connection,
    // even with retries off and even for a conditional PUT (it never arrived).
    for _ in 0..3 {
        proxy.push(Rule::once(Fault::StaleConnection));
        client.get_object("k", None).unwrap();
        let before = client.stats();
        client
            .put_object("k3", b"x".to_vec(), &Conditions::if_absent())
            .unwrap();
        direct.delete_object("k3", &Conditions::NONE).unwrap();
        let used = client.stats().since(&before);
        assert_eq!(used.per_action[&Action::PutObject].retries, 1, "{used:?}");
    }
}

/// Asserts that every sensitive query parameter in `text` is `REDACTED`.
fn assert_params_redacted(text: &str) {
    for param in [
        "X-Amz-Signature=",
        "X-Amz-Credential=",
        "X-Amz-Security-Token=",
    ] {
        for (i, _) in text.match_indices(param) {
            assert!(
                text[i + param.len()..].starts_with("REDACTED"),
                "unredacted {param} in {text}"
            );
        }
    }
}

/// A TRACE subscriber (not installed) printing into a [`Captured`] buffer.
fn capturing_subscriber(
    spans: tracing_subscriber::fmt::format::FmtSpan,
) -> (Captured, impl tracing::Subscriber + Send + Sync) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(spans)
        .with_ansi(false)
        .finish();
    (captured, subscriber)
}

#[test]
fn secrets_never_reach_errors_debug_or_logs() {
    let (captured, subscriber) =
        capturing_subscriber(tracing_subscriber::fmt::format::FmtSpan::CLOSE);
    let s = server();
    let direct = fresh_bucket("redact");
    let proxy = FaultProxy::start(&s.endpoint);
    let token = "SESSION-TOKEN-SHOULD-NOT-LEAK";
    let config = S3Config::builder()
        .bucket(direct.bucket())
        .endpoint(proxy.endpoint())
        .region(s.region.clone())
        .credentials_full(
            konserve_s3::config::Credentials::new(s.access_key.clone(), s.secret_key.clone())
                .with_session_token(token),
        )
        .request_spans(true)
        .retry(fast_retry(2))
        .build()
        .unwrap();
    let client = S3Client::new(&config).unwrap();
    let mut texts = vec![format!("{config:?}"), format!("{client:?}")];
    tracing::subscriber::with_default(subscriber, || {
        proxy.push(Rule::new(Matcher::any(), 4, Fault::Reset));
        let err = client.get_object("k", None).unwrap_err();
        texts.push(err.to_string());
        texts.push(format!("{err:?}"));
        // The kept source chain (ureq's error) is shown by error reporters too.
        let mut source = std::error::Error::source(&err);
        assert!(source.is_some(), "{err:?}");
        while let Some(e) = source {
            texts.push(format!("{e} {e:?}"));
            source = e.source();
        }
        let io = std::io::Error::from(err);
        texts.push(format!("{io} {io:?}"));
        proxy.push(Rule::new(Matcher::any(), 2, Fault::SlowDown));
        let err = client
            .put_object("k", b"v".to_vec(), &Conditions::NONE)
            .unwrap_err();
        texts.push(format!("{err} {err:?}"));
        // The session token is rejected by the server: another error path.
        let err = client.head_object("k").unwrap_err();
        texts.push(format!("{err} {err:?}"));
    });
    let logs = captured.text();
    assert!(
        logs.contains("s3_request"),
        "spans are emitted with x-ray on: {logs}"
    );
    assert!(logs.contains("action=GetObject"), "{logs}");
    texts.push(logs);
    for text in &texts {
        assert!(!text.contains(&s.secret_key), "secret in {text}");
        assert!(!text.contains(token), "token in {text}");
        assert!(
            !text.contains(&format!("{}%2F", s.access_key)),
            "credential scope in {text}"
        );
        assert_params_redacted(text);
    }
}

#[test]
fn invalid_object_keys_never_reach_the_server() {
    let client = fresh_bucket("keys");
    for bad in ["", "..", "a/../b", "./x"] {
        let err = client.get_object(bad, None).unwrap_err();
        assert!(
            matches!(err, Error::InvalidObjectKey { .. }),
            "{bad:?}: {err}"
        );
        let err = client.delete_object(bad, &Conditions::NONE).unwrap_err();
        assert!(
            matches!(err, Error::InvalidObjectKey { .. }),
            "{bad:?}: {err}"
        );
    }
    assert_eq!(client.stats().requests(Action::GetObject), 0);
    assert!(client.bucket_exists().unwrap());
}

/// A hostile server on 127.0.0.1: answers every request with a 503 whose
/// `<Code>`, `<Message>`, `<RequestId>`, `<HostId>` and `x-amz-request-id`
/// header echo the full request target (percent-encoded and decoded), and
/// the bare session token, as a misbehaving server or proxy might.
fn echoing_server(token: &'static str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let target = line.split(' ').nth(1).unwrap_or_default().to_owned();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let decoded = percent_decode(&target);
            let echo = format!("{target} {decoded} token {token}");
            let xml = echo.replace('&', "&amp;").replace('<', "&lt;");
            let body = format!(
                "<Error><Code>SlowDown</Code><Message>{xml}</Message><RequestId>{xml}</RequestId><HostId>{xml}</HostId></Error>"
            );
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 503 Service Unavailable\r\nx-amz-request-id: {target}\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn server_text_echoing_the_request_is_redacted_everywhere() {
    let (captured, subscriber) =
        capturing_subscriber(tracing_subscriber::fmt::format::FmtSpan::FULL);
    let token = "FwoGZXIvYXdzEJr//////////wEaDA+Token/With=Specials";
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let endpoint = echoing_server(token);
    let config = S3Config::builder()
        .bucket("echo-bucket")
        .endpoint(endpoint)
        .region("us-east-1")
        .credentials_full(
            konserve_s3::config::Credentials::new("AKIDECHOTEST", secret).with_session_token(token),
        )
        .request_spans(true)
        .retry(fast_retry(3))
        .build()
        .unwrap();
    let client = S3Client::new(&config).unwrap();
    let mut texts = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        for err in [
            client.get_object("k", None).unwrap_err(),
            client.head_object("k").unwrap_err(),
        ] {
            assert!(matches!(err, Error::Throttled(_)), "{err:?}");
            let ctx = err.context().unwrap();
            assert!(ctx.attempts > 1, "the retry path ran: {err:?}");
            texts.push(err.to_string());
            texts.push(format!("{err:?}"));
            texts.push(format!("{err:#?}"));
            let mut source = std::error::Error::source(&err);
            while let Some(e) = source {
                texts.push(format!("{e} {e:?} {e:#?}"));
                source = e.source();
            }
            let io = std::io::Error::from(err);
            texts.push(format!("{io} {io:?}"));
        }
    });
    let logs = captured.text();
    assert!(logs.contains("retrying S3 request"), "{logs}");
    assert!(
        logs.contains("X-Amz-Signature=REDACTED"),
        "the echo is logged, redacted: {logs}"
    );
    texts.push(logs);
    let encoded_token = "FwoGZXIvYXdzEJr%2F%2F";
    for text in &texts {
        for leak in [
            secret,
            token,
            encoded_token,
            "AKIDECHOTEST%2F",
            "AKIDECHOTEST/",
        ] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
        assert_params_redacted(text);
    }
}
