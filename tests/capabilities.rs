//! The capability probe and what the client does with its findings: the
//! ETag form of `If-Match`, a conditional DELETE the provider would ignore,
//! a conditional `CompleteMultipartUpload` it would not check, the cache.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::fault_proxy::{Fault, FaultProxy, Matcher, Rule};
use common::{config_for, fresh_bucket, server};
use konserve_s3::blocking::S3Client;
use konserve_s3::config::CapabilityCache;
use konserve_s3::s3::{Capabilities, EtagForm, Support};
use konserve_s3::{Conditions, Error};

/// A client of `bucket` through `proxy` that probes afresh.
fn probing_client(bucket: &str, proxy: &FaultProxy) -> S3Client {
    let mut config = config_for(bucket, &proxy.endpoint());
    config.store.capability_cache = CapabilityCache::Off;
    S3Client::new(&config).unwrap()
}

#[test]
fn the_probe_agrees_with_connect_and_leaves_nothing_behind() {
    let direct = fresh_bucket("agree");
    let caps = direct.capabilities().unwrap();
    assert!(caps.probe_requests >= 20, "{}", caps.summary());
    assert!(direct.list_objects(None).unwrap().is_empty());
    let mut config = config_for(direct.bucket(), &server().endpoint);
    config.id = Some(uuid::Uuid::new_v4());
    config.store.optimistic_locking_retries = 3;
    let created = konserve_s3::blocking::create_store(&config);
    match caps.locking_verdict() {
        Ok(()) => assert!(created.is_ok(), "{created:?}"),
        Err(why) => {
            let err = created.unwrap_err();
            assert!(matches!(err, Error::Unsupported { .. }), "{err}");
            assert!(err.to_string().contains(why.as_ref()), "{err}");
        }
    }
}

#[test]
fn if_match_goes_out_in_the_form_the_provider_matches() {
    let direct = fresh_bucket("form");
    let proxy = FaultProxy::start(&server().endpoint);
    let client = S3Client::new(&config_for(direct.bucket(), &proxy.endpoint())).unwrap();
    let mut rgw = Capabilities::assumed();
    rgw.if_match = Some(EtagForm::Unquoted);
    client.assume_capabilities(rgw).unwrap();
    // Known findings stay.
    assert!(client.assume_capabilities(Capabilities::assumed()).is_err());
    assert_eq!(
        client.known_capabilities().unwrap().if_match,
        Some(EtagForm::Unquoted)
    );
    let etag = direct
        .put_object("k", b"v1".to_vec(), &Conditions::NONE)
        .unwrap()
        .unwrap();
    // Whatever the server makes of it, the header went out unquoted.
    let _ = client.put_object("k", b"v2".to_vec(), &Conditions::if_match(etag.clone()));
    let sent: Vec<String> = proxy
        .requests()
        .iter()
        .filter_map(|r| r.header("if-match").map(str::to_owned))
        .collect();
    assert_eq!(sent, vec![etag.trim_matches('"').to_owned()]);
}

#[test]
fn a_conditional_delete_the_provider_would_ignore_is_refused() {
    let direct = fresh_bucket("delete");
    let etag = direct
        .put_object("k", b"v".to_vec(), &Conditions::NONE)
        .unwrap()
        .unwrap();
    let proxy = FaultProxy::start(&server().endpoint);
    // A provider that answers a conditional DELETE without checking (and,
    // here, without deleting: the fake does not forward).
    proxy.push(Rule::new(
        Matcher::method("DELETE").has_header("if-match"),
        100,
        Fault::FakeSuccess,
    ));
    let client = probing_client(direct.bucket(), &proxy);
    let caps = client.capabilities().unwrap();
    assert_eq!(caps.conditional_delete, Support::Ignored);
    proxy.clear_requests();
    let err = client
        .delete_object("k", &Conditions::if_match(etag))
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("If-Match on DELETE"), "{err}");
    assert_eq!(proxy.count("DELETE"), 0, "refused, never sent");
    assert!(direct.object_exists("k").unwrap());
    // An unconditional delete is not affected.
    client.delete_object("k", &Conditions::NONE).unwrap();
    assert!(!direct.object_exists("k").unwrap());
}

#[test]
fn a_conditional_complete_the_provider_would_not_check_is_checked_by_head_first() {
    let direct = fresh_bucket("complete");
    let proxy = FaultProxy::start(&server().endpoint);
    let client = S3Client::new(&config_for(direct.bucket(), &proxy.endpoint())).unwrap();
    let mut lax = Capabilities::assumed();
    lax.complete_if_match = Support::Ignored;
    lax.complete_if_none_match = Support::Ignored;
    client.assume_capabilities(lax).unwrap();
    let old = direct
        .put_object("k", b"v1".to_vec(), &Conditions::NONE)
        .unwrap()
        .unwrap();
    direct
        .put_object("k", b"v2".to_vec(), &Conditions::NONE)
        .unwrap();
    let upload = |conditions: &Conditions| {
        let id = client.create_multipart_upload("k").unwrap();
        let part = client.upload_part("k", &id, 1, b"v3".to_vec()).unwrap();
        let done = client.complete_multipart_upload("k", &id, &[part], conditions);
        (id, done)
    };
    // Stale: refused after the HEAD, the object keeps the newer value.
    proxy.clear_requests();
    let (id, done) = upload(&Conditions::if_match(old));
    let err = done.unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed(_)), "{err}");
    assert_eq!(direct.get_object("k", None).unwrap().body[..], *b"v2");
    assert_eq!(
        proxy.count("POST"),
        1,
        "the create, and no Complete: {:?}",
        proxy.requests()
    );
    client.abort_multipart_upload("k", &id).unwrap();
    // Create-only over an existing object: refused the same way.
    assert!(matches!(
        upload(&Conditions::if_absent()).1,
        Err(Error::PreconditionFailed(_))
    ));
    // Current: completed, and without conditions the provider would ignore.
    let current = direct.head_object("k").unwrap().etag.unwrap();
    proxy.clear_requests();
    upload(&Conditions::if_match(current)).1.unwrap();
    assert_eq!(direct.get_object("k", None).unwrap().body[..], *b"v3");
    let complete = proxy
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.query.contains("uploadId"))
        .expect("a Complete was sent");
    assert!(complete.header("if-match").is_none());
    assert!(proxy.requests().iter().any(|r| r.method == "HEAD"));
}

/// The `probe` example binary, built first.
fn probe_binary() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let profile_dir = deps.parent().unwrap().parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--example", "probe"])
        .args(common::cargo_feature_args("blocking"))
        .status()
        .unwrap();
    assert!(status.success());
    profile_dir.join("examples").join("probe")
}

#[test]
fn the_disk_cache_spares_the_next_process_the_probe() {
    let dir = std::env::temp_dir().join(format!("konserve-s3-caps-{}", uuid::Uuid::new_v4()));
    let s = server();
    let run = || {
        let out = Command::new(probe_binary())
            .env("KONSERVE_S3_CACHE_DIR", &dir)
            .env("KONSERVE_S3_PROBE_CACHE", "disk")
            .env("AWS_ENDPOINT_URL", &s.endpoint)
            .env("AWS_ACCESS_KEY_ID", &s.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &s.secret_key)
            .env("AWS_REGION", &s.region)
            .env("KONSERVE_S3_BUCKET", common::bucket_name("diskcache"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = run();
    assert!(first["requests-sent"].as_u64().unwrap() >= 20, "{first}");
    let files: Vec<_> = std::fs::read_dir(dir.join("capabilities"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
    let second = run();
    assert_eq!(second["requests-sent"], 0, "{second}");
    assert_eq!(second["capabilities"], first["capabilities"]);
    // A damaged cache file is no finding: the next process probes again.
    let file = files.into_iter().next().unwrap().unwrap().path();
    std::fs::write(&file, b"{not json").unwrap();
    let third = run();
    assert!(third["requests-sent"].as_u64().unwrap() >= 20, "{third}");
    std::fs::remove_dir_all(&dir).unwrap();
}
