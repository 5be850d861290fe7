//! `config.checksum`: every `PutObject` body carries the checksum the
//! configuration (or, under `auto`, the provider's capabilities) chooses,
//! and only that one; a body altered in flight is refused under every mode
//! but `none`. Against SeaweedFS through the fault proxy, which records each
//! request and can flip a bit of a body it forwards.

mod common;

use std::sync::OnceLock;

use common::fault_proxy::{Fault, FaultProxy, Matcher, Outcome, Rule, SeenRequest};
use common::{bucket_name, capabilities, config_for, not_applicable, server};
use konserve_s3::Error;
use konserve_s3::blocking::{S3Store, create_store};
use konserve_s3::config::Checksum;
use konserve_s3::s3::Support;
use konserve_s3::value::Value;
use uuid::Uuid;

fn bucket() -> &'static str {
    static BUCKET: OnceLock<String> = OnceLock::new();
    BUCKET.get_or_init(|| bucket_name("checksums"))
}

/// The checksum headers a request may carry.
const CHECKSUM_HEADERS: [&str; 3] = [
    "content-md5",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
];

/// A new store through `proxy` whose bodies carry `checksum`.
fn store(proxy: &FaultProxy, checksum: Checksum) -> (S3Store, Uuid) {
    let id = Uuid::new_v4();
    let mut config = config_for(bucket(), &proxy.endpoint());
    config.id = Some(id);
    config.store.checksum = checksum;
    (create_store(&config).unwrap(), id)
}

/// The checksum header `checksum: auto` must choose where the provider
/// behind `store` is as its probe found.
fn expected_auto(store: &S3Store) -> Option<&'static str> {
    let caps = store.backing().client().capabilities().unwrap();
    Some(if caps.checksum_crc32c == Support::Honoured {
        "x-amz-checksum-crc32c"
    } else if caps.checksum_crc64nvme == Support::Honoured {
        "x-amz-checksum-crc64nvme"
    } else {
        "content-md5"
    })
}

/// The checksum headers of `request`.
fn checksum_headers(request: &SeenRequest) -> Vec<&str> {
    CHECKSUM_HEADERS
        .into_iter()
        .filter(|h| request.header(h).is_some())
        .collect()
}

const MODES: [Checksum; 5] = [
    Checksum::Auto,
    Checksum::Crc32c,
    Checksum::Crc64nvme,
    Checksum::Md5,
    Checksum::None,
];

#[test]
fn each_mode_sends_its_checksum_and_no_other() {
    let proxy = FaultProxy::start(&server().endpoint);
    for mode in MODES {
        let (store, id) = store(&proxy, mode);
        let expected = match mode {
            Checksum::Auto => expected_auto(&store),
            Checksum::Crc32c => Some("x-amz-checksum-crc32c"),
            Checksum::Crc64nvme => Some("x-amz-checksum-crc64nvme"),
            Checksum::Md5 => Some("content-md5"),
            Checksum::None => None,
        };
        proxy.clear_requests();
        store.assoc(Value::keyword("k"), "a value").unwrap();
        store.assoc(Value::keyword("k"), "another value").unwrap();
        assert_eq!(
            store.get(Value::keyword("k")).unwrap(),
            Some(Value::from("another value"))
        );
        let puts: Vec<SeenRequest> = proxy
            .requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.contains(&id.to_string()))
            .collect();
        assert_eq!(puts.len(), 2, "{mode:?}");
        for put in &puts {
            assert_eq!(
                checksum_headers(put),
                expected.into_iter().collect::<Vec<_>>(),
                "{mode:?}"
            );
        }
    }
}

/// The status the server answered to the request the proxy altered.
fn altered_answers(proxy: &FaultProxy) -> Vec<Outcome> {
    proxy
        .requests()
        .into_iter()
        .filter(|r| r.fault == Some(Fault::FlipBodyBit))
        .map(|r| r.outcome)
        .collect()
}

/// Whether the provider checks the checksum `mode` sends (as its probe
/// found).
fn checked(mode: Checksum) -> bool {
    let caps = capabilities();
    match mode {
        Checksum::Crc32c => caps.checksum_crc32c == Support::Honoured,
        Checksum::Crc64nvme => caps.checksum_crc64nvme == Support::Honoured,
        Checksum::Md5 => caps.content_md5 == Support::Honoured,
        // A CRC where one is checked, else the MD5.
        Checksum::Auto => {
            caps.content_md5 == Support::Honoured
                || caps.checksum_crc32c == Support::Honoured
                || caps.checksum_crc64nvme == Support::Honoured
        }
        Checksum::None => false,
    }
}

#[test]
fn a_body_altered_in_flight_is_refused_under_every_mode_but_none() {
    let proxy = FaultProxy::start(&server().endpoint);
    // The middle of the blob is inside the value.
    let first = Value::from("a".repeat(4096));
    let second = Value::from("b".repeat(4096));
    let third = Value::from("c".repeat(4096));
    let k = || Value::keyword("k");
    for mode in MODES {
        let (store, id) = store(&proxy, mode);
        store.assoc(k(), first.clone()).unwrap();
        let altered = || Matcher::method("PUT").path_contains(&id.to_string());
        proxy.clear_requests();
        // Altered once: refused, and the write is sent again.
        proxy.push(Rule::new(altered(), 1, Fault::FlipBodyBit));
        let written = store.assoc(k(), second.clone());
        let answers = altered_answers(&proxy);
        assert_eq!(answers.len(), 1, "{mode:?}: the bit was flipped");
        if mode != Checksum::None && !checked(mode) {
            not_applicable(
                "a_body_altered_in_flight_is_refused_under_every_mode_but_none",
                &format!("the provider does not check the checksum of mode {mode:?} (probed)"),
            );
            continue;
        }
        if mode == Checksum::None {
            written.unwrap();
            assert_eq!(
                answers[0],
                Outcome::Answered {
                    status: 200,
                    forwarded: true
                }
            );
            let now = store.get(k()).unwrap();
            assert!(
                now.is_some() && now != Some(second.clone()) && now != Some(first.clone()),
                "{mode:?}: the altered body landed: {now:?}"
            );
            continue;
        }
        written.unwrap();
        assert_eq!(
            answers[0],
            Outcome::Answered {
                status: 400,
                forwarded: true
            },
            "{mode:?}"
        );
        assert_eq!(store.get(k()).unwrap(), Some(second.clone()), "{mode:?}");
        // Altered every time: a clear error, and nothing written.
        proxy.push(Rule::new(altered(), usize::MAX, Fault::FlipBodyBit));
        let err = store.assoc(k(), third.clone()).unwrap_err();
        proxy.clear();
        assert!(
            matches!(err, Error::ChecksumMismatch(_)),
            "{mode:?}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("nothing was written"), "{text}");
        assert_eq!(store.get(k()).unwrap(), Some(second.clone()), "{mode:?}");
    }
}
