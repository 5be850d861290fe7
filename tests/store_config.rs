//! konserve's store config as Clojure users write it: EDN (and JSON with a
//! `backend`) choosing S3 (SeaweedFS), a directory or memory at run time,
//! the `any` lifecycle, `connect_or_create`, and typed errors naming fields.

mod common;

use std::path::{Path, PathBuf};

use common::{bucket_name, server};
use konserve_s3::Error;
use konserve_s3::config::StoreConfig;
use uuid::Uuid;

/// A fresh directory path under the system's temp dir (not created),
/// removed (best effort) when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        TempDir(std::env::temp_dir().join(format!("konserve-s3-cfg-{}", Uuid::new_v4())))
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// The path as an EDN string literal's contents.
    fn edn(&self) -> String {
        self.0.display().to_string().replace('\\', "\\\\")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The EDN map a konserve-s3 user writes for a store on the test server,
/// with the endpoint as `:endpoint-override`.
fn s3_edn(bucket: &str, id: Uuid, extra: &str) -> String {
    let s = server();
    let url = url::Url::parse(&s.endpoint).unwrap();
    let port = url
        .port()
        .map(|p| format!(" :port {p}"))
        .unwrap_or_default();
    format!(
        r#"{{:backend :s3 :bucket "{bucket}" :id #uuid "{id}" :region "{region}"
            :endpoint-override {{:protocol :{scheme} :hostname "{host}"{port}}}
            :access-key "{ak}" :secret "{sk}" {extra}}}"#,
        region = s.region,
        scheme = url.scheme(),
        host = url.host_str().unwrap(),
        ak = s.access_key,
        sk = s.secret_key,
    )
}

fn file_edn(dir: &TempDir, extra: &str) -> String {
    format!(r#"{{:backend :file :path "{}" {extra}}}"#, dir.edn())
}

fn field_of(e: Error) -> String {
    match e {
        Error::InvalidConfig { field, .. } => field,
        other => panic!("not a config error: {other}"),
    }
}

#[test]
fn bad_edn_and_bad_fields_are_typed_errors_naming_the_field() {
    let cases = [
        (
            r#"{:backend :s3 :bucket "b-1" :config {:optimistic-locking-retries :ten}}"#,
            "config.optimistic-locking-retries",
        ),
        (
            r#"{:backend :file :path "/x" :config {:optimistic-locking-retriez 1}}"#,
            "config.optimistic-locking-retriez",
        ),
        (
            r#"{:backend :s3 :bucket "b-1" :endpoint-override {:protocol :https}}"#,
            "endpoint-override.hostname",
        ),
        (r#"{:backend :s3 :bucket "b-1" :bukket "b"}"#, "bukket"),
        (r#"{:backend :mongo}"#, "backend"),
        ("{:backend :s3 :bucket}", "(document)"),
        (
            "{:backend :s3\n :bucket \"b-1\" :id #uuid \"nope\"}",
            "(document)",
        ),
    ];
    for (edn, field) in cases {
        let err = StoreConfig::from_edn(edn).unwrap_err();
        assert_eq!(field_of(err), field, "{edn}");
    }
    // A bad #uuid is an EDN error with its position.
    let err = StoreConfig::from_edn("{:backend :s3\n :bucket \"b-1\" :id #uuid \"nope\"}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2, column 20"), "{err}");
}

mod blocking {
    use konserve_s3::blocking::{self as ks, Backing, any};
    use konserve_s3::value::Value;

    use super::*;

    /// The one code path a program runs whatever its config says.
    fn roundtrip(config_text: &str) -> (&'static str, Option<Value>) {
        let config = StoreConfig::from_edn(config_text).unwrap();
        let store = any::connect_or_create(&config).unwrap();
        store.assoc("greeting", "hello").unwrap();
        let kind = store.backing().kind();
        let again = any::connect_store(&config).unwrap();
        (kind, again.get("greeting").unwrap())
    }

    #[test]
    fn runtime_choice_of_backing_from_the_config_string() {
        let bucket = bucket_name("cfg-pick");
        let dir = TempDir::new();
        let s3 = s3_edn(&bucket, Uuid::new_v4(), "");
        let file = file_edn(&dir, "");
        let memory = format!(r#"{{:backend :memory :id #uuid "{}"}}"#, Uuid::new_v4());
        let hello = Some(Value::from("hello"));
        assert_eq!(roundtrip(&s3), ("s3", hello.clone()));
        assert_eq!(roundtrip(&file), ("file", hello.clone()));
        assert_eq!(roundtrip(&memory), ("memory", hello));
    }

    #[test]
    fn edn_s3_store_create_connect_put_get_delete() {
        let bucket = bucket_name("cfg-s3");
        let id = Uuid::new_v4();
        let config = StoreConfig::from_edn(&s3_edn(
            &bucket,
            id,
            ":config {:optimistic-locking-retries 5}",
        ))
        .unwrap();
        assert!(!any::store_exists(&config).unwrap());
        let store = any::create_store(&config).unwrap();
        assert_eq!(store.options().optimistic_locking_retries, 5);
        store.assoc("k", Value::from(42)).unwrap();
        assert!(matches!(
            any::create_store(&config),
            Err(Error::StoreAlreadyExists { id: i, .. }) if i == id
        ));
        assert!(any::store_exists(&config).unwrap());
        // The same store as the S3 lifecycle sees it.
        let StoreConfig::S3(s3) = &config else {
            panic!("not an S3 config")
        };
        let direct = ks::connect_store(s3).unwrap();
        assert_eq!(direct.get("k").unwrap(), Some(Value::from(42)));
        let connected = any::connect_store(&config).unwrap();
        assert_eq!(connected.get("k").unwrap(), Some(Value::from(42)));
        assert_eq!(connected.backing().as_s3().unwrap().store_id(), id);
        any::delete_store(&config).unwrap();
        assert!(!any::store_exists(&config).unwrap());
        assert!(matches!(
            any::connect_store(&config),
            Err(Error::StoreNotFound { .. })
        ));
    }

    #[test]
    fn s3_connect_or_create_twice_returns_the_same_store() {
        let bucket = bucket_name("cfg-coc");
        let mut config = common::config_for(&bucket, &server().endpoint);
        config.id = Some(Uuid::new_v4());
        let first = ks::connect_or_create(&config).unwrap();
        first.assoc("k", "v").unwrap();
        let second = ks::connect_or_create(&config).unwrap();
        assert_eq!(second.get("k").unwrap(), Some(Value::from("v")));
        assert_eq!(ks::list_stores(&config).unwrap().len(), 1);
        // Through a StoreConfig too.
        let any_config = StoreConfig::S3(Box::new(config));
        let third = any::connect_or_create(&any_config).unwrap();
        assert_eq!(third.get("k").unwrap(), Some(Value::from("v")));
    }

    #[test]
    fn file_store_from_edn() {
        let dir = TempDir::new();
        let config =
            StoreConfig::from_edn(&file_edn(&dir, ":config {:optimistic-locking-retries 3}"))
                .unwrap();
        assert!(!any::store_exists(&config).unwrap());
        assert!(matches!(
            any::connect_store(&config),
            Err(Error::StoreNotFound { ref bucket, .. }) if bucket.starts_with("file:")
        ));
        let store = any::connect_or_create(&config).unwrap();
        assert_eq!(store.options().optimistic_locking_retries, 3);
        store.assoc("k", Value::from(1)).unwrap();
        store
            .update("k", |v| {
                Value::from(v.and_then(|v| v.as_i64()).unwrap_or(0) + 1)
            })
            .unwrap();
        let again = any::connect_or_create(&config).unwrap();
        assert_eq!(again.get("k").unwrap(), Some(Value::from(2)));
        assert!(matches!(
            any::create_store(&config),
            Err(Error::StoreAlreadyExists { .. })
        ));
        // A plain FileBacking over the directory reads the same data.
        let plain = ks::Store::new(ks::FileBacking::new(dir.path()));
        assert_eq!(plain.get("k").unwrap(), Some(Value::from(2)));
        any::delete_store(&config).unwrap();
        assert!(!dir.path().exists());
        any::delete_store(&config).unwrap();
    }

    #[test]
    fn file_store_delete_leaves_foreign_files() {
        let dir = TempDir::new();
        let config = StoreConfig::from_edn(&file_edn(&dir, "")).unwrap();
        let store = any::create_store(&config).unwrap();
        store.assoc("k", "v").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        any::delete_store(&config).unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("notes.txt")]);
    }

    #[test]
    fn memory_stores_by_id_and_fresh_without() {
        let id = Uuid::new_v4();
        let config =
            StoreConfig::from_edn(&format!(r#"{{:backend :memory :id #uuid "{id}"}}"#)).unwrap();
        assert!(!any::store_exists(&config).unwrap());
        let store = any::connect_or_create(&config).unwrap();
        store.assoc("k", "v").unwrap();
        let again = any::connect_or_create(&config).unwrap();
        assert_eq!(again.get("k").unwrap(), Some(Value::from("v")));
        assert!(matches!(
            any::create_store(&config),
            Err(Error::StoreAlreadyExists { id: i, .. }) if i == id
        ));
        any::delete_store(&config).unwrap();
        assert!(!any::store_exists(&config).unwrap());
        let fresh = any::connect_or_create(&config).unwrap();
        assert_eq!(fresh.get("k").unwrap(), None);

        let anonymous = StoreConfig::from_edn("{:backend :memory}").unwrap();
        let a = any::connect_or_create(&anonymous).unwrap();
        a.assoc("k", "v").unwrap();
        let b = any::connect_or_create(&anonymous).unwrap();
        assert_eq!(b.get("k").unwrap(), None);
        assert!(!any::store_exists(&anonymous).unwrap());
        assert_eq!(field_of(any::connect_store(&anonymous).unwrap_err()), "id");
    }

    #[test]
    fn config_from_an_edn_file() {
        let dir = TempDir::new();
        std::fs::create_dir_all(dir.path()).unwrap();
        let store_dir = TempDir::new();
        let file = dir.path().join("store.edn");
        std::fs::write(
            &file,
            format!(";; the app's store\n{}", file_edn(&store_dir, "")),
        )
        .unwrap();
        let config = StoreConfig::from_edn_file(&file).unwrap();
        let store = any::connect_or_create(&config).unwrap();
        store.assoc("k", "v").unwrap();
        assert!(store_dir.path().is_dir());
    }
}

/// konserve's compliance suite over `AnyBacking` (memory, chosen by an EDN
/// config, with optimistic locking), in both modes: every `Backing` method
/// reaches the backing it holds.
mod any_conformance {
    const EDN: &str = "{:backend :memory :config {:optimistic-locking-retries 20}}";

    fn blocking_store() -> konserve_s3::blocking::AnyStore {
        let config = konserve_s3::config::StoreConfig::from_edn(EDN).unwrap();
        konserve_s3::blocking::any::create_store(&config).unwrap()
    }

    #[cfg(feature = "async")]
    async fn async_store() -> konserve_s3::nonblocking::AnyStore {
        let config = konserve_s3::config::StoreConfig::from_edn(EDN).unwrap();
        konserve_s3::nonblocking::any::create_store(&config)
            .await
            .unwrap()
    }

    konserve_s3::conformance_tests!(blocking: blocking_store());
    #[cfg(feature = "async")]
    konserve_s3::conformance_tests!(nonblocking: async_store().await);
}

#[test]
fn any_backing_reports_what_the_backing_it_holds_does() {
    use konserve_s3::blocking::{AnyBacking, Backing, FileBacking, MemoryBacking, S3Backing};
    let mut config = common::config_for(&bucket_name("cfg-flags"), &server().endpoint);
    config.id = Some(Uuid::new_v4());
    let s3 = S3Backing::new(konserve_s3::S3Client::new(&config).unwrap(), Uuid::new_v4());
    let dir = TempDir::new();
    let backings = [
        (
            AnyBacking::from(s3.clone()),
            s3.kind(),
            s3.keeps_write_tags(),
            s3.supports_multi_key(),
        ),
        (
            AnyBacking::from(FileBacking::new(dir.path())),
            "file",
            FileBacking::new(dir.path()).keeps_write_tags(),
            FileBacking::new(dir.path()).supports_multi_key(),
        ),
        (
            AnyBacking::from(MemoryBacking::new()),
            "memory",
            MemoryBacking::new().keeps_write_tags(),
            MemoryBacking::new().supports_multi_key(),
        ),
    ];
    for (any, kind, tags, multi) in backings {
        assert_eq!(any.kind(), kind);
        assert_eq!(any.keeps_write_tags(), tags, "{kind}");
        assert_eq!(any.supports_multi_key(), multi, "{kind}");
    }
    // The three differ somewhere, so the delegation is what is tested.
    assert!(s3.keeps_write_tags() && MemoryBacking::new().supports_multi_key());
    assert!(!s3.supports_multi_key());
}

#[cfg(feature = "async")]
mod nonblocking {
    use konserve_s3::nonblocking::{self as ks, any};
    use konserve_s3::value::Value;

    use super::*;

    #[tokio::test]
    async fn runtime_choice_and_connect_or_create() {
        let bucket = bucket_name("cfg-async");
        let dir = TempDir::new();
        for text in [
            s3_edn(&bucket, Uuid::new_v4(), ""),
            file_edn(&dir, ""),
            format!(r#"{{:backend :memory :id #uuid "{}"}}"#, Uuid::new_v4()),
        ] {
            let config = StoreConfig::from_edn(&text).unwrap();
            assert!(!any::store_exists(&config).await.unwrap(), "{text}");
            let store = any::connect_or_create(&config).await.unwrap();
            store.assoc("k", "v").await.unwrap();
            let again = any::connect_or_create(&config).await.unwrap();
            assert_eq!(
                again.get("k").await.unwrap(),
                Some(Value::from("v")),
                "{text}"
            );
            any::delete_store(&config).await.unwrap();
            let gone = any::store_exists(&config).await.unwrap();
            assert!(!gone, "{text}");
        }
        // S3 directly.
        let mut config = common::config_for(&bucket, &server().endpoint);
        config.id = Some(Uuid::new_v4());
        let first = ks::connect_or_create(&config).await.unwrap();
        first.assoc("k", 7).await.unwrap();
        let second = ks::connect_or_create(&config).await.unwrap();
        assert_eq!(second.get("k").await.unwrap(), Some(Value::from(7)));
    }
}
