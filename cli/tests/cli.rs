//! The built `konserve-s3` binary against a real SeaweedFS (started here)
//! and konserve filestores: every command, its EDN/JSON output parsed back,
//! copies of the Clojure-written fixture stores through S3 in every
//! encoding, an interrupted copy resumed, verify finding corrupt blobs, and
//! progress bars drawn in a pseudo-terminal only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use konserve_s3::blocking::{FileBacking, Store};
use konserve_s3::config::{Encoding, Encryptor, StoreOptions};
use konserve_s3::value::Value;
use konserve_s3_dev::SeaweedFs;
use serde_json::Value as Json;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_konserve-s3");

fn server() -> &'static SeaweedFs {
    static SERVER: OnceLock<SeaweedFs> = OnceLock::new();
    SERVER.get_or_init(|| SeaweedFs::start().expect("SeaweedFS for the CLI tests"))
}

/// The binary with the test server in its environment (as a user's shell
/// would have it) and nothing of the caller's AWS settings.
fn cli() -> Command {
    let s = server();
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c.env("AWS_ENDPOINT_URL", s.endpoint())
        .env("AWS_ACCESS_KEY_ID", s.access_key())
        .env("AWS_SECRET_ACCESS_KEY", s.secret_key())
        .env("AWS_REGION", s.region())
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .stdin(Stdio::null());
    c
}

fn run(args: &[&str]) -> Output {
    cli()
        .args(args)
        .output()
        .expect("the konserve-s3 binary runs")
}

/// Runs and expects exit 0; stdout.
fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs and expects exit `code`; stderr.
fn fails(args: &[&str], code: i32) -> String {
    let out = run(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: stdout {} stderr {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).expect("UTF-8 errors")
}

fn edn(s: &str) -> Value {
    s.trim()
        .parse()
        .unwrap_or_else(|e| panic!("not EDN {s:?}: {e}"))
}

fn s3_store() -> String {
    let bucket = format!("cli-{}", &Uuid::new_v4().simple().to_string()[..16]);
    format!("s3://{bucket}/{}", Uuid::new_v4())
}

fn temp_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("konserve-cli-{tag}-{}", Uuid::new_v4()))
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

#[test]
fn every_command_on_s3() {
    let store = s3_store();
    let bucket_url = store.rsplit_once('/').unwrap().0.to_owned();
    assert_eq!(ok(&["create", &store]).trim(), store);
    assert!(ok(&["stores", &bucket_url]).lines().any(|l| l == store));

    ok(&[
        "put",
        &store,
        ":config",
        "{:port 8080, :hosts [\"a\" \"b\"]}",
    ]);
    assert_eq!(
        edn(&ok(&["get", &store, ":config"])),
        edn("{:port 8080 :hosts [\"a\" \"b\"]}")
    );
    let json: Json = serde_json::from_str(&ok(&["get", "--json", &store, ":config"])).unwrap();
    assert_eq!(json, serde_json::json!({"port": 8080, "hosts": ["a", "b"]}));
    ok(&["update", &store, ":config", "--assoc-in", "[:port]", "9090"]);
    assert_eq!(
        edn(&ok(&["get", &store, ":config"])).get(&Value::keyword("port")),
        Some(&Value::from(9090))
    );

    // JSON in, from an argument and from stdin.
    ok(&[
        "put",
        "--json",
        &store,
        "\"user\"",
        "{\"name\": \"Ada\", \"visits\": 2}",
    ]);
    assert_eq!(
        edn(&ok(&["get", &store, "\"user\""])),
        edn("{:name \"Ada\" :visits 2}")
    );
    let mut child = cli()
        .args(["put", &store, "[1 2]", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"#{:a :b}").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(edn(&ok(&["get", &store, "[1 2]"])), edn("#{:a :b}"));

    // Binary values: from a file, and back to a file and to stdout.
    let dir = temp_dir("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.bin");
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
    std::fs::write(&input, &bytes).unwrap();
    ok(&["put", &store, ":blob", "--binary", input.to_str().unwrap()]);
    let output = dir.join("out.bin");
    ok(&["get", &store, ":blob", "-o", output.to_str().unwrap()]);
    assert_eq!(std::fs::read(&output).unwrap(), bytes);
    let out = run(&["get", &store, ":blob"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, bytes);

    // Append logs.
    ok(&["append", &store, ":events", "{:n 1}"]);
    ok(&["append", &store, ":events", "{:n 2}"]);
    let log: Vec<Value> = ok(&["log", &store, ":events"]).lines().map(edn).collect();
    assert_eq!(log, vec![edn("{:n 1}"), edn("{:n 2}")]);
    let log_json: Vec<Json> = ok(&["log", "--json", &store, ":events"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        log_json,
        vec![serde_json::json!({"n": 1}), serde_json::json!({"n": 2})]
    );

    // Metadata.
    let meta = edn(&ok(&["meta", &store, ":config"]));
    assert_eq!(
        meta.get(&Value::keyword("key")),
        Some(&Value::keyword("config"))
    );
    assert_eq!(
        meta.get(&Value::keyword("type")),
        Some(&Value::keyword("edn"))
    );
    assert!(
        meta.get(&Value::keyword("last-write"))
            .unwrap()
            .as_inst()
            .is_some()
    );

    // keys: EDN and JSON lines, filters, the table.
    let keys: Vec<Value> = ok(&["keys", "--edn", &store]).lines().map(edn).collect();
    let top: std::collections::BTreeSet<Value> = keys
        .iter()
        .map(|m| m.get(&Value::keyword("key")).unwrap().clone())
        .collect();
    assert_eq!(
        top,
        [
            edn(":config"),
            edn("\"user\""),
            edn("[1 2]"),
            edn(":blob"),
            edn(":events")
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        keys.len(),
        7,
        "5 keys and 2 log elements, as konserve's keys"
    );
    let json_keys: Vec<Json> = ok(&["keys", "--json", "--type", "binary", &store])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(json_keys.len(), 1);
    assert_eq!(json_keys[0]["key"], ":blob");
    assert_eq!(json_keys[0]["type"], "binary");
    assert!(ok(&["keys", "--json", "--before", "2000-01-01T00:00:00Z", &store]).is_empty());
    assert_eq!(
        ok(&["keys", "--json", "--after", "2000-01-01T00:00:00Z", &store])
            .lines()
            .count(),
        7
    );
    let table = ok(&["keys", &store]);
    assert!(table.starts_with("KEY"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(":blob") && l.contains("binary")),
        "{table}"
    );

    // info
    let info: Json = serde_json::from_str(&ok(&["info", "--json", &store])).unwrap();
    assert_eq!(info["keys"], 7);
    assert!(info["bytes"].as_u64().unwrap() > 100_000);
    assert_eq!(info["encodings"]["boring/none/none"], 7);
    assert!(info["oldest"].as_str().unwrap() <= info["newest"].as_str().unwrap());
    assert!(ok(&["verify", &store]).is_empty(), "nothing corrupt");

    // del, and a missing key is exit 1.
    ok(&["del", &store, ":config"]);
    let err = fails(&["get", &store, ":config"], 1);
    assert!(
        err.contains("not found") && err.lines().count() == 1,
        "{err}"
    );
    fails(&["del", &store, ":config"], 1);

    // delete: refuses without --yes when it cannot ask.
    let err = fails(&["delete", &store], 2);
    assert!(err.contains("--yes"), "{err}");
    ok(&["delete", "--yes", &store]);
    assert!(!ok(&["stores", &bucket_url]).contains(&store));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn errors_are_one_line_with_the_fix_and_usage_is_exit_2() {
    let store = s3_store();
    let (bucket_url, _) = store.rsplit_once('/').unwrap();
    for (args, code, says) in [
        (vec!["get", "http://x/y", ":k"], 2, "s3://BUCKET/STORE-UUID"),
        (vec!["get", "s3://b/not-a-uuid", ":k"], 2, "not a store id"),
        (vec!["get", "file://relative", ":k"], 2, "file:///"),
        (vec!["put", "file:///tmp", ":k", "{:a"], 2, "not EDN"),
        (vec!["get", &store, ":k"], 1, "create"),
        (vec!["get", bucket_url, ":k"], 2, "names a bucket"),
        (
            vec!["keys", "--before", "yesterday", "file:///tmp"],
            2,
            "RFC 3339",
        ),
        (vec!["frobnicate"], 2, ""),
    ] {
        let err = fails(&args, code);
        assert!(err.contains(says), "{args:?}: {err}");
        if code == 1 || !says.is_empty() {
            assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        }
    }
    // Unknown store id in an existing bucket, and no credentials.
    ok(&["create", &store]);
    let other = format!("{bucket_url}/{}", Uuid::new_v4());
    let err = fails(&["get", &other, ":k"], 1);
    assert!(
        err.contains("unknown store id") && err.contains("konserve-s3 stores"),
        "{err}"
    );
    let out = cli()
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["get", &store, ":k"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // A missing bucket.
    let missing = format!(
        "s3://no-such-bucket-{}/{}",
        &Uuid::new_v4().simple().to_string()[..12],
        Uuid::new_v4()
    );
    let err = fails(&["get", &missing, ":k"], 1);
    assert!(
        err.contains("no such bucket") && err.contains("check the bucket name"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // A wrong secret.
    ok(&["--key", "\"right\"", "put", &store, ":s", "42"]);
    let err = fails(&["--key", "\"wrong\"", "get", &store, ":s"], 1);
    assert!(err.contains("wrong secret"), "{err}");
    let err = fails(&["get", &store, ":s"], 1);
    assert!(err.contains("--key"), "{err}");
    assert_eq!(
        ok(&["--key", "\"right\"", "get", &store, ":s"]).trim(),
        "42"
    );
}

#[test]
fn help_on_every_command_has_an_example_and_completions_are_generated() {
    for cmd in [
        "stores",
        "create",
        "delete",
        "info",
        "get",
        "put",
        "update",
        "del",
        "meta",
        "log",
        "append",
        "keys",
        "copy",
        "verify",
        "completions",
    ] {
        let help = ok(&[cmd, "--help"]);
        assert!(help.contains("Example"), "{cmd}: {help}");
    }
    assert!(ok(&["--help"]).contains("Exit codes"));
    let bash = ok(&["completions", "bash"]);
    assert!(
        bash.contains("konserve-s3") && bash.contains("complete"),
        "{bash}"
    );
}

// ---- copies of the Clojure fixtures --------------------------------------

fn fixture(combination: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/konserve-clj")
        .join(combination)
        .canonicalize()
        .unwrap()
}

fn manifest(combination: &str) -> Json {
    serde_json::from_str(
        &std::fs::read_to_string(fixture(combination).join("manifest.json")).unwrap(),
    )
    .unwrap()
}

/// Every entry's value, metadata (`:last-write` included), binary bytes and
/// log of `store` equal the manifest's.
fn check_against_manifest(combination: &str, store: &Store<FileBacking>) {
    use std::io::Read;
    let m = manifest(combination);
    for e in m["entries"].as_array().unwrap() {
        let key = edn(e["key_edn"].as_str().unwrap());
        let meta = store.get_meta(key.clone()).unwrap().unwrap();
        assert_eq!(
            meta,
            edn(e["meta_edn"].as_str().unwrap()),
            "{combination}: meta of {key}"
        );
        if e["type"] == ":binary" {
            let got = store.bget(key.clone()).unwrap().unwrap();
            let mut bytes = Vec::new();
            { got }.reader.read_to_end(&mut bytes).unwrap();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                hex,
                e["value_hex"].as_str().unwrap(),
                "{combination}: {key}"
            );
        } else {
            // Clojure's `=`: boring has no list type, so a list copied
            // into boring reads back as a vector.
            let value = clj(&store.get(key.clone()).unwrap().unwrap());
            assert_eq!(
                value,
                clj(&edn(e["value_edn"].as_str().unwrap())),
                "{combination}: {key}"
            );
        }
    }
    assert_eq!(
        store.keys().unwrap().len() as u64,
        m["keys_result_count"].as_u64().unwrap(),
        "{combination}: keys"
    );
    for log in m["append_logs"].as_array().unwrap() {
        let expected: Vec<Value> = log["elements_edn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| edn(s.as_str().unwrap()))
            .collect();
        let key = edn(log["key_edn"].as_str().unwrap());
        assert_eq!(
            store.log(key).unwrap().unwrap(),
            expected,
            "{combination}: log"
        );
    }
}

/// `v` with every list a vector (equal as Clojure's `=` sees it).
fn clj(v: &Value) -> Value {
    match v {
        Value::List(items) | Value::Vector(items) => Value::Vector(items.iter().map(clj).collect()),
        Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (clj(k), clj(v))).collect()),
        Value::Set(s) => Value::Set(s.iter().map(clj).collect()),
        other => other.clone(),
    }
}

fn copy_summary(args: &[&str]) -> Json {
    let mut all = vec!["copy", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&all)).unwrap()
}

#[test]
fn clojure_fixtures_copied_into_s3_and_back_to_a_filestore_in_another_encoding() {
    let combinations = [
        "boring-none-none",
        "boring-lz4-none",
        "boring-zstd-none",
        "boring-none-aes",
        "boring-lz4-aes",
        "boring-zstd-aes",
        "fressian-none-none",
        "fressian-lz4-none",
        "fressian-zstd-none",
        "fressian-none-aes",
        "fressian-lz4-aes",
        "fressian-zstd-aes",
        "cbor-none-none",
    ];
    for combination in combinations {
        let m = manifest(combination);
        let key = m["encryptor"]["key_edn"].as_str();
        let n = m["entries"].as_array().unwrap().len() as u64;
        let src = file_url(&fixture(combination).join("store"));
        let s3 = s3_store();
        // Into S3 as it is (the key is needed only to read, for the resume check).
        let mut args = vec![src.as_str(), s3.as_str()];
        if let Some(k) = key {
            args.splice(0..0, ["--key", k]);
        }
        let summary = copy_summary(&args);
        assert_eq!(
            (summary["keys"].as_u64(), summary["failed"].as_u64()),
            (Some(n), Some(0)),
            "{combination}: {summary}"
        );
        // The S3 copy's headers say the source's encoding.
        let mut info_args = vec!["info", "--json", s3.as_str()];
        if let Some(k) = key {
            info_args.splice(0..0, ["--key", k]);
        }
        let info: Json = serde_json::from_str(&ok(&info_args)).unwrap();
        let expected_format = format!(
            "{}/{}/{}",
            match m["serializer"]["id"].as_u64() {
                Some(1) => "fressian",
                Some(2) => "clj-cbor",
                _ => "boring",
            },
            m["compressor"]["name"].as_str().unwrap(),
            m["encryptor"]["name"].as_str().unwrap()
        );
        assert_eq!(
            info["encodings"][&expected_format].as_u64(),
            Some(n),
            "{combination}: {info}"
        );

        // Without the key, info still names the encodings from the headers.
        if key.is_some() {
            let out = run(&["info", "--json", &s3]);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{combination}: metadata unreadable"
            );
            let info: Json = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                info["encodings"][&expected_format].as_u64(),
                Some(n),
                "{combination}: {info}"
            );
            assert_eq!(
                info["unreadable"].as_u64(),
                Some(n),
                "{combination}: {info}"
            );
            assert!(String::from_utf8_lossy(&out.stderr).contains("--key"));
        }

        // Every blob of the S3 copy decodes, log chains included.
        let mut verify_args = vec!["verify", s3.as_str()];
        if let Some(k) = key {
            verify_args.splice(0..0, ["--key", k]);
        }
        assert!(
            ok(&verify_args).is_empty(),
            "{combination}: nothing corrupt"
        );

        // Back to a filestore, re-encoded: other serializer, zstd, and the
        // encryption turned around.
        let dir = temp_dir("fixture-back");
        let back = file_url(&dir);
        let to_serializer = if combination.starts_with("fressian") {
            "boring"
        } else {
            "fressian"
        };
        let mut args = vec![
            s3.as_str(),
            back.as_str(),
            "--to-serializer",
            to_serializer,
            "--to-compressor",
            "zstd",
        ];
        let read_key = match key {
            Some(k) => {
                args.extend(["--key", k, "--to-encryptor", "none"]);
                None
            }
            None => {
                args.extend(["--to-key", "\"new secret\""]);
                Some(Value::from("new secret"))
            }
        };
        let summary = copy_summary(&args);
        assert_eq!(
            (summary["copied"].as_u64(), summary["failed"].as_u64()),
            (Some(n), Some(0)),
            "{combination}: {summary}"
        );
        // Run again: everything is there already.
        let summary = copy_summary(&args);
        assert_eq!(
            summary["skipped"].as_u64(),
            Some(n),
            "{combination}: {summary}"
        );

        let options = StoreOptions {
            encoding: Encoding {
                encryptor: read_key.map_or(Encryptor::None, |key| Encryptor::Aes { key }),
                ..Encoding::default()
            },
            ..StoreOptions::default()
        };
        let store = Store::with_options(FileBacking::new(&dir), options);
        check_against_manifest(combination, &store);
        let mut info_args = vec!["info", "--json", back.as_str()];
        if key.is_none() {
            info_args.splice(0..0, ["--key", "\"new secret\""]);
        }
        let info: Json = serde_json::from_str(&ok(&info_args)).unwrap();
        let enc = if key.is_some() { "none" } else { "aes" };
        assert_eq!(
            info["encodings"][format!("{to_serializer}/zstd/{enc}")].as_u64(),
            Some(n),
            "{combination}: {info}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

// ---- resume, verify, progress ----------------------------------------------

/// A filestore with `n` keys (EDN and a few binary) written by the library.
fn populated_filestore(n: usize) -> (PathBuf, Store<FileBacking>) {
    let dir = temp_dir("src");
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::new(FileBacking::new(&dir));
    for i in 0..n {
        if i % 50 == 0 {
            store
                .bassoc(Value::from(i as i64), vec![i as u8; 1000])
                .unwrap();
        } else {
            store
                .assoc(
                    Value::from(i as i64),
                    edn(&format!("{{:i {i} :name \"key {i}\"}}")),
                )
                .unwrap();
        }
    }
    (dir, store)
}

fn ksv_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".ksv"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn an_interrupted_copy_resumes_and_skips_what_arrived() {
    let n = 3000;
    let (src_dir, src) = populated_filestore(n);
    let dst_dir = temp_dir("dst");
    let (src_url, dst_url) = (file_url(&src_dir), file_url(&dst_dir));
    let mut child = cli()
        .args([
            "copy",
            "--jobs",
            "1",
            "--to-compressor",
            "lz4",
            &src_url,
            &dst_url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while ksv_count(&dst_dir) < 100 {
        assert!(Instant::now() < deadline, "the copy wrote nothing");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the copy ended before it was interrupted"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed mid-copy");
    let arrived = ksv_count(&dst_dir);
    assert!(
        arrived >= 100 && arrived < n,
        "{arrived} of {n} arrived before the kill"
    );

    let summary = copy_summary(&["--to-compressor", "lz4", &src_url, &dst_url]);
    assert_eq!(summary["failed"].as_u64(), Some(0), "{summary}");
    let skipped = summary["skipped"].as_u64().unwrap();
    assert!(
        skipped >= arrived as u64 - 1 && skipped > 0,
        "{summary}; {arrived} had arrived"
    );
    assert_eq!(
        summary["copied"].as_u64().unwrap() + skipped,
        n as u64,
        "{summary}"
    );

    let dst = Store::new(FileBacking::new(&dst_dir));
    assert_eq!(
        dst.keys().unwrap(),
        src.keys().unwrap(),
        "metadata, :last-write included"
    );
    for i in 0..n as i64 {
        assert_eq!(dst.get(i).unwrap(), src.get(i).unwrap(), "key {i}");
    }
    let _ = std::fs::remove_dir_all(src_dir);
    let _ = std::fs::remove_dir_all(dst_dir);
}

#[test]
fn verify_reports_each_corrupt_blob_by_name_and_exits_1() {
    // On S3: copy a good filestore up, then break two of its objects.
    let (dir, _) = populated_filestore(60);
    let s3 = s3_store();
    copy_summary(&[&file_url(&dir), &s3]);
    assert!(ok(&["verify", &s3]).is_empty());

    let (bucket, id) = s3.strip_prefix("s3://").unwrap().split_once('/').unwrap();
    let s = server();
    let config = konserve_s3::config::S3Config::builder()
        .bucket(bucket)
        .endpoint(s.endpoint())
        .region(s.region())
        .credentials(s.access_key(), s.secret_key())
        .build()
        .unwrap();
    let client = konserve_s3::S3Client::new(&config).unwrap();
    let object = |key: i64| format!("{id}_{}.ksv", konserve_s3::hasch::uuid(&Value::from(key)));
    // Key 3: its value cut short; key 7: garbage.
    let blob = client.get_object(&object(3), None).unwrap();
    let body = blob.body.to_vec();
    client
        .put_object(
            &object(3),
            body[..body.len() - 5].to_vec(),
            &konserve_s3::Conditions::NONE,
        )
        .unwrap();
    client
        .put_object(
            &object(7),
            b"not a konserve blob at all".to_vec(),
            &konserve_s3::Conditions::NONE,
        )
        .unwrap();

    let out = run(&["verify", &s3]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 2, "{report}");
    for key in [3, 7] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("corrupt: ") && l.contains(&object(key))),
            "{key}: {report}"
        );
    }
    assert!(
        report.contains("layout version")
            || report.contains("malformed")
            || report.contains("truncated"),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `args` in a pseudo-terminal (`script`), returning all it printed.
fn in_pty(args: &[&str]) -> String {
    let s = server();
    let line = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .env("AWS_ENDPOINT_URL", s.endpoint())
        .env("AWS_ACCESS_KEY_ID", s.access_key())
        .env("AWS_SECRET_ACCESS_KEY", s.secret_key())
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn progress_bars_in_a_terminal_only() {
    let (dir, _) = populated_filestore(400);
    let url = file_url(&dir);
    let dst = temp_dir("pty-dst");
    let shown = in_pty(&["copy", &url, &file_url(&dst)]);
    assert!(
        shown.contains("copy [") && shown.contains("keys"),
        "{shown:?}"
    );
    let shown = in_pty(&["verify", &url]);
    assert!(
        shown.contains("verify [") && shown.contains("/400 keys"),
        "{shown:?}"
    );
    let quiet = in_pty(&["--quiet", "verify", &url]);
    assert!(!quiet.contains("verify ["), "{quiet:?}");

    // Piped: no bar, and stdout holds only the output.
    let out = run(&["keys", "--json", &url]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("keys ["));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 400);
    let out = run(&["verify", &url]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains('['));
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(dst);
}

#[test]
fn config_files_in_json_and_edn_carry_endpoint_and_credentials() {
    let s = server();
    let store = s3_store();
    let dir = temp_dir("config");
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("s3.json");
    std::fs::write(
        &json,
        serde_json::json!({
            "bucket": "ignored-the-url-wins", "endpoint": s.endpoint(), "region": s.region(),
            "access-key": s.access_key(), "secret": s.secret_key(),
        })
        .to_string(),
    )
    .unwrap();
    let edn_file = dir.join("s3.edn");
    std::fs::write(
        &edn_file,
        format!(
            "{{:backend :s3 :bucket \"ignored\" :endpoint \"{}\" :region \"{}\" :access-key \"{}\" :secret \"{}\"}}",
            s.endpoint(),
            s.region(),
            s.access_key(),
            s.secret_key()
        ),
    )
    .unwrap();
    // No credentials or endpoint in the environment: only the file has them.
    let bare = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env_clear()
            .env("HOME", &dir)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let (j, e) = (json.to_str().unwrap(), edn_file.to_str().unwrap());
    bare(&["--config", j, "create", &store]);
    bare(&["--config", j, "put", &store, ":k", "[1 2]"]);
    assert_eq!(
        edn(&bare(&["--config", e, "get", &store, ":k"])),
        edn("[1 2]")
    );
    // --profile picks a profile of ~/.aws/credentials, as AWS_PROFILE would.
    std::fs::create_dir_all(dir.join(".aws")).unwrap();
    std::fs::write(
        dir.join(".aws/credentials"),
        format!(
            "[default]\naws_access_key_id = nobody\naws_secret_access_key = wrong\n\
             [dev]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            s.access_key(),
            s.secret_key()
        ),
    )
    .unwrap();
    let with_profile = |profile: Option<&str>| {
        let mut c = Command::new(BIN);
        c.env_clear()
            .env("HOME", &dir)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", s.endpoint())
            .env("AWS_REGION", s.region())
            .stdin(Stdio::null());
        if let Some(p) = profile {
            c.args(["--profile", p]);
        }
        c.args(["get", &store, ":k"]).output().unwrap()
    };
    let out = with_profile(Some("dev"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(edn(&String::from_utf8(out.stdout).unwrap()), edn("[1 2]"));
    let out = with_profile(None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the default profile's keys are wrong"
    );
    let err = fails(&["--config", "/nonexistent.json", "get", &store, ":k"], 2);
    assert!(err.contains("cannot read --config"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The keys `gc` printed, parsed back.
fn printed_keys(out: &str) -> std::collections::BTreeSet<Value> {
    out.lines().map(edn).collect()
}

/// The `:key`s `keys --edn` lists.
fn listed_keys(store: &str) -> std::collections::BTreeSet<Value> {
    ok(&["keys", "--edn", store])
        .lines()
        .map(|l| edn(l).get(&Value::keyword("key")).cloned().unwrap())
        .collect()
}

#[test]
fn gc_deletes_what_is_neither_kept_nor_newer_and_dry_run_deletes_nothing() {
    let store = s3_store();
    ok(&["create", &store]);
    ok(&["append", &store, ":events", "{:n 1}"]);
    ok(&["append", &store, ":events", "{:n 2}"]);
    for key in [":root", ":orphan", "[:db 1]", "\"old\""] {
        ok(&["put", &store, key, "1"]);
    }
    std::thread::sleep(Duration::from_millis(20));
    let cutoff = ok(&["meta", &store, "\"old\""]);
    let cutoff = edn(&cutoff)
        .get(&Value::keyword("last-write"))
        .and_then(Value::as_inst)
        .unwrap();
    // Written after the cutoff below: spared.
    std::thread::sleep(Duration::from_millis(20));
    // `#inst "…"` printed, the quoted text taken.
    let before = Value::Inst(cutoff + 10).to_string();
    let before = before.split('"').nth(1).unwrap().to_owned();
    ok(&["put", &store, ":fresh", "2"]);
    let keep_file = temp_dir("keep");
    std::fs::write(&keep_file, "[:db 1]\n\n").unwrap();
    let keep_file = keep_file.display().to_string();
    let gc = |extra: &[&str]| {
        let mut args = vec!["gc", "--keep", ":root", "--keep-file", &keep_file];
        args.extend_from_slice(&["--before", &before]);
        args.extend_from_slice(extra);
        args.push(&store);
        ok(&args)
    };
    let doomed: std::collections::BTreeSet<Value> = [":orphan", "\"old\"", ":events"]
        .into_iter()
        .map(edn)
        .collect();
    assert_eq!(printed_keys(&gc(&["--dry-run"])), doomed);
    assert_eq!(listed_keys(&store).len(), 6, "a dry run deletes nothing");
    assert_eq!(printed_keys(&gc(&[])), doomed);
    let left = listed_keys(&store);
    let expected: std::collections::BTreeSet<Value> = [":root", "[:db 1]", ":fresh"]
        .into_iter()
        .map(edn)
        .collect();
    assert_eq!(left, expected);
    // The log's element blobs went with it: verify finds no stray blob.
    ok(&["verify", &store]);
    // JSON lines, and nothing left to delete.
    assert_eq!(gc(&["--json"]).trim(), "");
    let err = fails(&["gc", "--before", "yesterday", &store], 2);
    assert!(err.contains("RFC 3339"), "{err}");
}

#[test]
fn a_tiered_store_from_a_config_file_and_its_queued_writes_reach_s3_before_exit() {
    let store = s3_store();
    let (bucket, id) = store.trim_start_matches("s3://").split_once('/').unwrap();
    let frontend = temp_dir("tiered-front");
    let config = temp_dir("tiered").with_extension("edn");
    std::fs::write(
        &config,
        format!(
            "{{:backend :tiered :id #uuid \"{id}\"
              :frontend-config {{:backend :file :path \"{}\" :id #uuid \"{id}\"}}
              :backend-config {{:backend :s3 :bucket \"{bucket}\" :id #uuid \"{id}\"}}
              :write-policy :write-behind}}",
            frontend.display()
        ),
    )
    .unwrap();
    let tiered = format!("config:{}", config.display());
    ok(&["create", &tiered]);
    ok(&["put", &tiered, ":greeting", "\"hello\""]);
    ok(&["append", &tiered, ":events", "{:n 1}"]);
    // The command returned: its writes are in S3, not only queued.
    assert_eq!(
        edn(&ok(&["get", &store, ":greeting"])),
        Value::from("hello")
    );
    assert_eq!(ok(&["log", &store, ":events"]).trim(), "{:n 1}");
    assert_eq!(
        edn(&ok(&["get", &tiered, ":greeting"])),
        Value::from("hello")
    );
    assert_eq!(listed_keys(&tiered), listed_keys(&store));
    // and the frontend holds them too
    assert!(ksv_count(&frontend) >= 2, "{}", frontend.display());
    let err = fails(&["keys", "config:"], 2);
    assert!(err.contains("config:PATH"), "{err}");
}
