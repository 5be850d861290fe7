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

/// Just over one 8 MiB part (the default part size): a multipart upload of
/// two parts.
const LARGE: usize = 9 << 20;

/// The checksum header the parts of a multipart upload must carry under
/// `mode` where the provider behind `store` is as its probe found.
fn expected_part_header(store: &S3Store, mode: Checksum) -> Option<&'static str> {
    match mode {
        Checksum::Auto => {
            let caps = store.backing().client().capabilities().unwrap();
            let put = expected_auto(store);
            if caps.part_checksum == Support::Honoured {
                put
            } else {
                Some("content-md5")
            }
        }
        Checksum::Crc32c => Some("x-amz-checksum-crc32c"),
        Checksum::Crc64nvme => Some("x-amz-checksum-crc64nvme"),
        Checksum::Md5 => Some("content-md5"),
        Checksum::None => None,
    }
}

/// The `x-amz-checksum-algorithm` a `CreateMultipartUpload` declares for
/// parts carrying `header`.
fn declared_algorithm(header: Option<&str>) -> Option<&'static str> {
    match header {
        Some("x-amz-checksum-crc32c") => Some("CRC32C"),
        Some("x-amz-checksum-crc64nvme") => Some("CRC64NVME"),
        _ => None,
    }
}

/// Whether the provider checks the checksum that parts carry under `mode`
/// (as its probe found for `PutObject`, and for `UploadPart` where the
/// probe tried the multipart form).
fn part_checked(store: &S3Store, mode: Checksum) -> bool {
    let caps = capabilities();
    let part_form = |put: Support| {
        put == Support::Honoured
            && matches!(caps.part_checksum, Support::Honoured | Support::Unknown)
    };
    match expected_part_header(store, mode) {
        Some("content-md5") => caps.content_md5 == Support::Honoured,
        Some("x-amz-checksum-crc32c") => part_form(caps.checksum_crc32c),
        Some("x-amz-checksum-crc64nvme") => part_form(caps.checksum_crc64nvme),
        _ => false,
    }
}

/// A value of `LARGE` bytes, none alike to its neighbours.
fn large_value() -> Vec<u8> {
    (0..LARGE).map(|i| (i % 251) as u8).collect()
}

fn read_back(store: &S3Store, key: Value) -> Vec<u8> {
    use std::io::Read as _;
    let got = store.bget(key).unwrap().expect("the value is stored");
    let mut bytes = Vec::with_capacity(LARGE);
    let mut reader = got.reader;
    reader.read_to_end(&mut bytes).unwrap();
    bytes
}

#[test]
fn multipart_parts_carry_the_modes_checksum_and_an_altered_part_is_refused() {
    let proxy = FaultProxy::start(&server().endpoint);
    let value = large_value();
    let k = || Value::keyword("big");
    for mode in MODES {
        let (store, id) = store(&proxy, mode);
        let expected = expected_part_header(&store, mode);
        proxy.clear_requests();
        // The second part is altered once in flight.
        let second_part = Matcher::method("PUT")
            .path_contains(&id.to_string())
            .query_contains("partNumber=2");
        proxy.push(Rule::new(second_part, 1, Fault::FlipBodyBit));
        let written = store.bassoc_reader(k(), &mut value.as_slice());
        let requests: Vec<SeenRequest> = proxy
            .requests()
            .into_iter()
            .filter(|r| r.path.contains(&id.to_string()))
            .collect();
        let creates: Vec<&SeenRequest> = requests
            .iter()
            .filter(|r| r.method == "POST" && r.query.contains("uploads"))
            .collect();
        let parts: Vec<&SeenRequest> = requests
            .iter()
            .filter(|r| r.method == "PUT" && r.query.contains("partNumber="))
            .collect();
        let completes: Vec<&SeenRequest> = requests
            .iter()
            .filter(|r| r.method == "POST" && r.query.contains("uploadId="))
            .collect();
        assert_eq!(creates.len(), 1, "{mode:?}");
        assert_eq!(
            creates[0].header("x-amz-checksum-algorithm"),
            declared_algorithm(expected),
            "{mode:?}"
        );
        assert_eq!(
            creates[0].header("x-amz-checksum-type"),
            (expected == Some("x-amz-checksum-crc64nvme")).then_some("FULL_OBJECT"),
            "{mode:?}"
        );
        assert!(parts.len() >= 2, "{mode:?}: {} parts", parts.len());
        for part in &parts {
            assert_eq!(
                checksum_headers(part),
                expected.into_iter().collect::<Vec<_>>(),
                "{mode:?}: part {}",
                part.query
            );
        }
        let altered = altered_answers(&proxy);
        assert_eq!(altered.len(), 1, "{mode:?}: the bit was flipped");
        if mode != Checksum::None && !part_checked(&store, mode) {
            not_applicable(
                "multipart_parts_carry_the_modes_checksum_and_an_altered_part_is_refused",
                &format!("the provider does not check the part checksum of mode {mode:?}"),
            );
            continue;
        }
        written.unwrap();
        assert_eq!(completes.len(), 1, "{mode:?}");
        let complete = String::from_utf8_lossy(&completes[0].body);
        match declared_algorithm(expected) {
            Some(algorithm) => {
                let element = format!("<Checksum{algorithm}>");
                assert_eq!(
                    complete.matches(&element).count(),
                    2,
                    "{mode:?}: {complete}"
                );
            }
            None => assert!(!complete.contains("<Checksum"), "{mode:?}: {complete}"),
        }
        let stored = read_back(&store, k());
        assert_eq!(stored.len(), LARGE, "{mode:?}");
        if mode == Checksum::None {
            assert_eq!(
                altered[0],
                Outcome::Answered {
                    status: 200,
                    forwarded: true
                }
            );
            assert_eq!(parts.len(), 2, "{mode:?}: nothing was sent again");
            assert!(stored != value, "{mode:?}: the altered part landed");
            continue;
        }
        assert_eq!(
            altered[0],
            Outcome::Answered {
                status: 400,
                forwarded: true
            },
            "{mode:?}"
        );
        assert_eq!(parts.len(), 3, "{mode:?}: the refused part was sent again");
        assert!(stored == value, "{mode:?}: the value reads back exactly");
    }
}
