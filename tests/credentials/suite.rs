//! The credential chain's sources against real servers: moto's STS
//! (`AssumeRole` signed with SigV4 and checked by moto, and
//! `AssumeRoleWithWebIdentity`), `credential_process`, the shared files,
//! local IMDSv2 / container / SSO servers that follow AWS's protocols, and
//! stores on SeaweedFS signed with what each source gave. Written once in
//! async style, compiled per mode (see `tests/credentials.rs`).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use konserve_s3::Error;
use konserve_s3::config::{Credentials, CredentialsSource as Source, Environment, S3Config};
use konserve_s3::value::Value;
use uuid::Uuid;

use super::{
    CredentialsProvider, DefaultCredentialsChain, S3Backing, S3Client, Store, concurrently,
    connect_store, create_store, delete_store, io, sleep,
};
use crate::common::{bucket_name, config_for, server};
use crate::local_server::{self, Issued};
use crate::support::{TempDir, assert_hidden, auth_moto, limited, logs, moto, process_script};

const ACCOUNT: &str = "123456789012";

fn env(pairs: &[(&str, String)]) -> Environment {
    Environment::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())))
}

fn texts(e: &Error) -> Vec<String> {
    vec![e.to_string(), format!("{e:?}")]
}

fn no_credentials(e: &Error) -> &konserve_s3::config::CredentialsReport {
    match e {
        Error::NoCredentials(r) => r,
        other => panic!("expected NoCredentials, got {other:?}"),
    }
}

fn secret_texts(c: &Credentials) -> Vec<String> {
    let mut v = vec![c.secret.expose().to_owned()];
    v.extend(c.session_token.as_ref().map(|t| t.expose().to_owned()));
    v
}

#[io]
pub async fn web_identity_via_moto_rereads_the_token_file() {
    logs();
    let dir = TempDir::new();
    let token = format!("eyJWEBIDENTITY{}", Uuid::new_v4().simple());
    let file = dir.write("token", &token);
    let chain = DefaultCredentialsChain::with_environment(env(&[
        ("AWS_WEB_IDENTITY_TOKEN_FILE", file.display().to_string()),
        ("AWS_ROLE_ARN", format!("arn:aws:iam::{ACCOUNT}:role/web")),
        ("AWS_ROLE_SESSION_NAME", "ks3-test".into()),
        ("AWS_ENDPOINT_URL_STS", moto().to_owned()),
    ]))
    .only(&[Source::WebIdentity]);
    let c = chain.provide_credentials().await.unwrap();
    assert!(c.access_key.starts_with("ASIA"), "{c:?}");
    assert!(c.session_token.is_some());
    let expiry = c.expiry.expect("STS credentials expire");
    assert!(expiry > SystemTime::now() + Duration::from_secs(600));
    // The token file is read at every refresh: gone, the refresh fails
    // and says why; back (rotated), it works again.
    std::fs::remove_file(&file).unwrap();
    let err = chain.provide_credentials().await.unwrap_err();
    let report = no_credentials(&err);
    assert_eq!(report.tried.len(), 1);
    assert_eq!(report.tried[0].source, Source::WebIdentity);
    assert!(
        err.to_string()
            .contains("cannot read the web identity token file"),
        "{err}"
    );
    let rotated = format!("eyJROTATED{}", Uuid::new_v4().simple());
    dir.write("token", &rotated);
    let again = chain.provide_credentials().await.unwrap();
    assert_ne!(again.access_key, c.access_key);
    // moto is an S3 server too: a bucket there, signed with them.
    let config = S3Config::builder()
        .bucket(bucket_name("webid"))
        .endpoint(moto())
        .build()
        .unwrap();
    let client = S3Client::with_credentials_provider(&config, chain).unwrap();
    let created = client.create_bucket().await.unwrap();
    assert!(created);
    client
        .put_object("k", b"v".to_vec(), &Default::default())
        .await
        .unwrap();
    let got = client.get_object("k", None).await.unwrap();
    assert_eq!(&got.body[..], b"v");
    let mut shown = texts(&err);
    shown.push(format!("{c:?} {again:?} {client:?}"));
    let mut secrets = secret_texts(&c);
    secrets.extend(secret_texts(&again));
    secrets.push(token);
    secrets.push(rotated);
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_hidden(&shown, &secrets);
}

/// A profile file for the authenticating moto: `base` has alice's keys,
/// `mid` assumes a role with them, `top` assumes another with mid's.
fn role_profiles(dir: &TempDir) -> TempDir {
    let m = auth_moto();
    let config = format!(
        "[profile base]\naws_access_key_id = {}\naws_secret_access_key = {}\n\
         [profile mid]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/mid\nsource_profile = base\n\
         endpoint_url = {ep}\n\
         [profile top]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/top\nsource_profile = mid\n\
         external_id = ext-1\nduration_seconds = 900\nrole_session_name = top-session\n\
         region = eu-west-1\nservices = moto\n\
         [services moto]\nsts =\n  endpoint_url = {ep}\n\
         [profile bob]\naws_access_key_id = {}\naws_secret_access_key = {}\n\
         [profile denied]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/r\nsource_profile = bob\nendpoint_url = {ep}\n\
         [profile forged]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/r\nsource_profile = forger\nendpoint_url = {ep}\n\
         [profile forger]\naws_access_key_id = {}\naws_secret_access_key = wrong{}\n",
        m.alice.0,
        m.alice.1,
        m.bob.0,
        m.bob.1,
        m.alice.0,
        m.alice.1,
        ep = m.endpoint
    );
    dir.write(".aws/config", &config);
    TempDir(dir.path().to_path_buf())
}

fn profile_env(home: &TempDir, profile: &str) -> Environment {
    env(&[
        ("HOME", home.path().display().to_string()),
        ("AWS_PROFILE", profile.to_owned()),
    ])
}

#[io]
pub async fn assume_role_chain_of_two_signed_and_checked_by_moto() {
    logs();
    let home = TempDir::new();
    let _same = role_profiles(&home);
    let chain = DefaultCredentialsChain::with_environment(profile_env(&home, "top"))
        .only(&[Source::Profile]);
    let c = chain.provide_credentials().await.unwrap();
    assert!(c.access_key.starts_with("ASIA"), "{c:?}");
    assert!(c.expiry.is_some());
    // bob may not assume roles: moto says AccessDenied, with its message.
    let denied = DefaultCredentialsChain::with_environment(profile_env(&home, "denied"))
        .only(&[Source::Profile]);
    let err = denied.provide_credentials().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("AccessDenied") && text.contains("sts:AssumeRole"),
        "{text}"
    );
    // A wrong secret: moto recomputes the signature and refuses it (so the
    // right one above was checked).
    let forged = DefaultCredentialsChain::with_environment(profile_env(&home, "forged"))
        .only(&[Source::Profile]);
    let err2 = forged.provide_credentials().await.unwrap_err();
    assert!(err2.to_string().contains("SignatureDoesNotMatch"), "{err2}");
    let m = auth_moto();
    let mut shown = texts(&err);
    shown.extend(texts(&err2));
    shown.push(format!("{c:?} {chain:?}"));
    let mut secrets = secret_texts(&c);
    secrets.push(m.alice.1.clone());
    secrets.push(m.bob.1.clone());
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_hidden(&shown, &secrets);
}

#[io]
pub async fn profiles_static_cycles_unknown_and_missing_files() {
    logs();
    let home = TempDir::new();
    home.write(
        ".aws/credentials",
        "[default]\naws_access_key_id = AKIDSTATIC\naws_secret_access_key = staticSECRET1\n",
    );
    home.write(
        ".aws/config",
        "[profile a]\nrole_arn = arn:r\nsource_profile = b\n[profile b]\nrole_arn = arn:r\nsource_profile = a\n\
         [profile mfa]\nrole_arn = arn:r\nsource_profile = default\nmfa_serial = arn:aws:iam::1:mfa/me\n",
    );
    let h = home.path().display().to_string();
    let chain = DefaultCredentialsChain::with_environment(env(&[("HOME", h.clone())]));
    let c = chain.provide_credentials().await.unwrap();
    assert_eq!(c.access_key, "AKIDSTATIC");
    let run = |profile: &str| {
        DefaultCredentialsChain::with_environment(env(&[
            ("HOME", h.clone()),
            ("AWS_PROFILE", profile.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]))
    };
    let cycle = run("a").provide_credentials().await.unwrap_err();
    assert!(cycle.to_string().contains("cycle: a -> b -> a"), "{cycle}");
    let mfa = run("mfa").provide_credentials().await.unwrap_err();
    assert!(mfa.to_string().contains("MFA"), "{mfa}");
    // AWS_PROFILE naming no profile stops the chain: the instance role
    // must not stand in for the profile the user asked for.
    let unknown = run("nope").provide_credentials().await.unwrap_err();
    let report = no_credentials(&unknown);
    let profile = report
        .tried
        .iter()
        .find(|o| o.source == Source::Profile)
        .unwrap();
    assert!(
        !profile.skipped && profile.reason.contains("AWS_PROFILE=nope"),
        "{unknown}"
    );
    assert!(profile.reason.contains("not found"), "{unknown}");
    let last = report.tried.last().unwrap();
    assert!(
        last.skipped && last.reason.contains("not tried"),
        "{unknown}"
    );
    // No files at all: skipped, and every source says why.
    let empty = TempDir::new();
    let none = DefaultCredentialsChain::with_environment(env(&[
        ("HOME", empty.path().display().to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    let report = no_credentials(&none);
    assert_eq!(report.tried.len(), 6, "{none}");
    assert!(report.tried.iter().all(|o| o.skipped), "{none}");
    let text = none.to_string();
    for why in [
        "config: skipped",
        "AWS_ACCESS_KEY_ID is not set",
        "AWS_WEB_IDENTITY_TOKEN_FILE is not set",
        "no shared config or credentials file",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_EC2_METADATA_DISABLED",
    ] {
        assert!(text.contains(why), "{why} missing from {text}");
    }
    assert_hidden(&texts(&cycle), &["staticSECRET1"]);
    assert_hidden(&[format!("{c:?} {chain:?}")], &["staticSECRET1"]);
}

#[io]
pub async fn credential_process_success_failure_bad_json_and_expiry() {
    logs();
    let home = TempDir::new();
    let ok = process_script(
        &home,
        "ok.sh",
        "printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"procSECRET9\", \
         \"SessionToken\": \"procTOKEN9\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'",
    );
    let fails = process_script(
        &home,
        "fails.sh",
        "echo 'sso session expired, log in again' >&2; exit 3",
    );
    let bad = process_script(
        &home,
        "bad.sh",
        "echo '{\"Version\": 1, \"AccessKeyId\": 5, \"SecretAccessKey\": \"leakSECRET\"}'",
    );
    home.write(
        ".aws/config",
        &format!(
            "[profile ok]\ncredential_process = {ok}\n[profile fails]\ncredential_process = {fails}\n\
             [profile bad]\ncredential_process = {bad}\n"
        ),
    );
    let run = |profile: &str| {
        DefaultCredentialsChain::with_environment(profile_env(&home, profile))
            .only(&[Source::Profile])
    };
    let c = run("ok").provide_credentials().await.unwrap();
    assert_eq!(c.access_key, "AKIDPROC");
    assert_eq!(
        c.expiry,
        "2099-01-01T00:00:00Z"
            .parse::<jiff::Timestamp>()
            .ok()
            .map(SystemTime::from)
    );
    let e = run("fails").provide_credentials().await.unwrap_err();
    let t = e.to_string();
    assert!(
        t.contains("exit status: 3") && t.contains("sso session expired"),
        "{t}"
    );
    let e2 = run("bad").provide_credentials().await.unwrap_err();
    assert!(e2.to_string().contains("not the credentials JSON"), "{e2}");
    let mut shown = texts(&e2);
    shown.push(format!("{c:?}"));
    assert_hidden(&shown, &["procSECRET9", "procTOKEN9", "leakSECRET"]);
}

#[io]
pub async fn imds_v2_and_the_fall_through_time() {
    logs();
    let issued = Issued::new("AKIDIMDS", "imdsSECRET7", Duration::from_secs(3600));
    let imds_token = format!("IMDSTOKEN{}", Uuid::new_v4().simple());
    let server = local_server::imds(issued.clone(), &imds_token);
    let home = TempDir::new();
    let h = home.path().display().to_string();
    let chain = DefaultCredentialsChain::with_environment(env(&[
        ("HOME", h.clone()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url("")),
    ]));
    let c = chain.provide_credentials().await.unwrap();
    assert_eq!(c.access_key, "AKIDIMDS");
    assert!(c.expiry.is_some() && c.session_token.is_some());
    assert_eq!(server.count("PUT", "/latest/api/token"), 1);
    let gets = server.requests.lock().unwrap().clone();
    assert!(
        gets.iter()
            .filter(|r| r.method == "GET")
            .all(|r| r.header("x-aws-ec2-metadata-token") == Some(imds_token.as_str())),
        "every GET carries the IMDSv2 token"
    );
    // A metadata service that accepts and never answers: one attempt, a
    // short timeout, then the chain gives up and says after how long.
    let silent = local_server::silent();
    let started = Instant::now();
    let err = DefaultCredentialsChain::with_environment(env(&[
        ("HOME", h.clone()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", silent.url("")),
    ]))
    .provide_credentials()
    .await
    .unwrap_err();
    let silent_ms = started.elapsed().as_millis();
    assert!(silent_ms < 2000, "{silent_ms} ms");
    assert!(err.to_string().contains("IMDS unreachable after"), "{err}");
    assert_eq!(silent.count("PUT", "/latest/api/token"), 1, "one attempt");
    // This machine's real metadata address (not an EC2 instance): how
    // long falling through the whole chain takes.
    let started = Instant::now();
    let err = DefaultCredentialsChain::with_environment(env(&[("HOME", h.clone())]))
        .provide_credentials()
        .await
        .unwrap_err();
    let real_ms = started.elapsed().as_millis();
    eprintln!("fall-through without IMDS: {real_ms} ms; silent IMDS: {silent_ms} ms; {err}");
    assert!(real_ms < 2000, "{real_ms} ms: {err}");
    let report = no_credentials(&err);
    let imds = report.tried.last().unwrap();
    assert_eq!(imds.source, Source::InstanceMetadata);
    assert!(
        !imds.skipped
            && imds
                .reason
                .contains("instance metadata at http://169.254.169.254/"),
        "{err}"
    );
    let mut secrets = secret_texts(&c);
    secrets.push(imds_token);
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_hidden(&[format!("{c:?} {chain:?}")], &secrets);
}

#[io]
pub async fn container_endpoint_with_token_token_file_and_refusals() {
    logs();
    let issued = Issued::new("AKIDECS", "ecsSECRET5", Duration::from_secs(3600));
    let auth = format!("EKSPODTOKEN{}", Uuid::new_v4().simple());
    let server = local_server::container(issued.clone(), "/v1/credentials", Some(&auth));
    let home = TempDir::new();
    let h = home.path().display().to_string();
    let full = server.url("/v1/credentials");
    let with = |extra: &[(&str, String)]| {
        let mut pairs = vec![
            ("HOME", h.clone()),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full.clone()),
        ];
        pairs.extend(extra.iter().cloned());
        DefaultCredentialsChain::with_environment(env(&pairs)).only(&[Source::Container])
    };
    let c = with(&[("AWS_CONTAINER_AUTHORIZATION_TOKEN", auth.clone())])
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(c.access_key, "AKIDECS");
    let file = home.write("eks-token", &format!("{auth}\n"));
    let c2 = with(&[(
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        file.display().to_string(),
    )])
    .provide_credentials()
    .await
    .unwrap();
    assert!(c2.expiry.is_some());
    // Without the token: the endpoint says 401, the chain reports it.
    let e = with(&[]).provide_credentials().await.unwrap_err();
    assert!(e.to_string().contains("answered HTTP 401"), "{e}");
    // Only loopback and ECS/EKS's link-local hosts are asked.
    let far = DefaultCredentialsChain::with_environment(env(&[
        ("HOME", h.clone()),
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://example.com/creds".into(),
        ),
    ]))
    .only(&[Source::Container])
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(far.to_string().contains("refused"), "{far}");
    let mut secrets = secret_texts(&c);
    secrets.extend(secret_texts(&c2));
    secrets.push(auth);
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let mut shown = texts(&e);
    shown.push(format!("{c:?} {c2:?}"));
    assert_hidden(&shown, &secrets);
}

/// A home with an SSO profile `sso` and a cached token expiring at `expires`.
fn sso_home(portal: &str, bearer: &str, expires: &str) -> TempDir {
    let home = TempDir::new();
    home.write(
        ".aws/config",
        &format!(
            "[profile sso]\nsso_session = corp\nsso_account_id = {ACCOUNT}\nsso_role_name = Dev\n\
             [sso-session corp]\nsso_start_url = https://d-123.awsapps.com/start\nsso_region = eu-west-1\n\
             [services portal]\nsso =\n  endpoint_url = {portal}\n"
        ),
    );
    // SHA-1 of "corp", the session name: the AWS CLI's cache file name.
    home.write(
        ".aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json",
        &format!(r#"{{"startUrl":"https://d-123.awsapps.com/start","region":"eu-west-1","accessToken":"{bearer}","expiresAt":"{expires}"}}"#),
    );
    home
}

#[io]
pub async fn sso_profile_with_cached_token() {
    logs();
    let issued = Issued::new("AKIDSSO", "ssoSECRET3", Duration::from_secs(3600));
    let bearer = format!("SSOBEARER{}", Uuid::new_v4().simple());
    let portal = local_server::sso_portal(issued, &bearer, ACCOUNT, "Dev");
    let home = sso_home(&portal.url(""), &bearer, "2099-01-01T00:00:00Z");
    let chain = DefaultCredentialsChain::with_environment(env(&[
        ("HOME", home.path().display().to_string()),
        ("AWS_PROFILE", "sso".into()),
        ("AWS_ENDPOINT_URL_SSO", portal.url("")),
    ]))
    .only(&[Source::Profile]);
    let c = chain.provide_credentials().await.unwrap();
    assert_eq!(c.access_key, "AKIDSSO");
    assert!(c.expiry.is_some());
    let old = sso_home(&portal.url(""), &bearer, "2020-01-01T00:00:00Z");
    let e = DefaultCredentialsChain::with_environment(env(&[
        ("HOME", old.path().display().to_string()),
        ("AWS_PROFILE", "sso".into()),
        ("AWS_ENDPOINT_URL_SSO", portal.url("")),
    ]))
    .only(&[Source::Profile])
    .provide_credentials()
    .await
    .unwrap_err();
    assert!(e.to_string().contains("aws sso login"), "{e}");
    let mut secrets = secret_texts(&c);
    secrets.push(bearer);
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let mut shown = texts(&e);
    shown.push(format!("{c:?} {chain:?}"));
    assert_hidden(&shown, &secrets);
}

/// A store created with the server's admin keys, opened again with a
/// client that signs with what `chain` gives; one write and one read.
#[io]
async fn store_round_trip(chain: DefaultCredentialsChain, tag: &str) -> S3Client {
    let mut config = config_for(&bucket_name(tag), &server().endpoint);
    let id = Uuid::new_v4();
    config.id = Some(id);
    // The library's own retry policy, as a user has it, not the harness's
    // quick one: what is tested here is the signing. (The 500s that led
    // here came from this machine's disk running low: SeaweedFS could not
    // grow a volume for a new bucket.)
    config.retry = konserve_s3::config::RetryPolicy::default();
    create_store(&config).await.unwrap();
    let client = S3Client::with_credentials_provider(&config, chain).unwrap();
    let store = Store::new(S3Backing::new(client.clone(), id));
    let value: Value = "{:source 1}".parse().unwrap();
    store
        .assoc(Value::keyword("k"), value.clone())
        .await
        .unwrap();
    let got = store.get(Value::keyword("k")).await.unwrap();
    assert_eq!(got, Some(value), "{tag}");
    client
}

#[io]
pub async fn stores_on_seaweedfs_signed_by_each_source() {
    logs();
    let s = server();
    let home = TempDir::new();
    let h = home.path().display().to_string();
    let only = |pairs: &[(&str, String)], source: Source| {
        let mut all = vec![("HOME", h.clone())];
        all.extend(pairs.iter().cloned());
        DefaultCredentialsChain::with_environment(env(&all)).only(&[source])
    };
    let keys = Credentials::new(s.access_key.clone(), s.secret_key.clone());
    // 1. the configuration
    let chain = DefaultCredentialsChain::with_environment(env(&[]))
        .with_config_credentials(Some(keys.clone()))
        .only(&[Source::Config]);
    store_round_trip(chain, "src-config").await;
    // 2. the environment
    let pairs = [
        ("AWS_ACCESS_KEY_ID", s.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", s.secret_key.clone()),
    ];
    store_round_trip(only(&pairs, Source::Environment), "src-env").await;
    // 4. the profile: static keys, and credential_process
    let script = process_script(
        &home,
        "creds.sh",
        &format!(
            "printf '{{\"Version\": 1, \"AccessKeyId\": \"{}\", \"SecretAccessKey\": \"{}\"}}'",
            s.access_key, s.secret_key
        ),
    );
    home.write(
        ".aws/config",
        &format!(
            "[profile static]\naws_access_key_id = {}\naws_secret_access_key = {}\n\
             [profile process]\ncredential_process = {script}\n",
            s.access_key, s.secret_key
        ),
    );
    for profile in ["static", "process"] {
        let pairs = [("AWS_PROFILE", profile.to_owned())];
        store_round_trip(only(&pairs, Source::Profile), "src-profile").await;
    }
    // 5. the container endpoint
    let issued =
        Issued::new(&s.access_key, &s.secret_key, Duration::from_secs(3600)).without_token();
    let ecs = local_server::container(issued.clone(), "/creds", Some("Bearer x"));
    let pairs = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url("/creds")),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer x".to_owned()),
    ];
    store_round_trip(only(&pairs, Source::Container), "src-ecs").await;
    // 6. instance metadata
    let imds = local_server::imds(issued.clone(), "tok");
    let pairs = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url(""))];
    store_round_trip(only(&pairs, Source::InstanceMetadata), "src-imds").await;
    // 4. again: an SSO profile
    let portal = local_server::sso_portal(issued, "bearer-1", ACCOUNT, "Dev");
    let sso = sso_home(&portal.url(""), "bearer-1", "2099-01-01T00:00:00Z");
    let chain = DefaultCredentialsChain::with_environment(env(&[
        ("HOME", sso.path().display().to_string()),
        ("AWS_PROFILE", "sso".into()),
        ("AWS_ENDPOINT_URL_SSO", portal.url("")),
    ]))
    .only(&[Source::Profile]);
    store_round_trip(chain, "src-sso").await;
    // (Web identity and AssumeRole give moto's keys, which SeaweedFS does
    // not know: their stores run on moto, above.)
    assert_hidden(&[], &[&s.secret_key]);
}

#[io]
pub async fn expiring_credentials_are_refreshed_during_a_long_running_store() {
    logs();
    let s = server();
    // Credentials that live 4 s: refreshed about 2 s in (half their life).
    let issued = Issued::new(&s.access_key, &s.secret_key, Duration::from_secs(4)).without_token();
    let imds = local_server::imds(issued.clone(), "tok");
    let home = TempDir::new();
    let chain = DefaultCredentialsChain::with_environment(env(&[
        ("HOME", home.path().display().to_string()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url("")),
    ]))
    .only(&[Source::InstanceMetadata]);
    let client = store_round_trip(chain, "refresh").await;
    let id = Uuid::new_v4();
    let mut config = config_for(client.bucket(), &server().endpoint);
    config.id = Some(id);
    create_store(&config).await.unwrap();
    let store = Store::new(S3Backing::new(client.clone(), id));
    let started = Instant::now();
    let mut ops = 0u32;
    while started.elapsed() < Duration::from_secs(9) {
        // Four writers at once: they share one refresh.
        concurrently(4, || async {
            let key = Value::keyword(format!("k{}", fastrand::u32(..8)));
            store.assoc(key, Value::from(1i64)).await.unwrap();
        })
        .await;
        ops += 4;
        sleep(Duration::from_millis(100)).await;
    }
    let fetches = issued.fetches.load(Ordering::SeqCst);
    eprintln!("refresh: {fetches} credential fetches for {ops} writes in 9 s (4 s credentials)");
    // 1 + one per ~2 s, never one per request.
    assert!((4..=8).contains(&fetches), "{fetches} fetches");
    // The metadata service fails now: the cached credentials are used
    // (with a warning) while they are valid, then the error comes.
    issued.failing.store(true, Ordering::SeqCst);
    let failing_since = Instant::now();
    let mut last_ok = Duration::ZERO;
    let err = loop {
        match store.assoc(Value::keyword("x"), Value::from(2i64)).await {
            Ok(_) => last_ok = failing_since.elapsed(),
            Err(e) => break e,
        }
        assert!(
            failing_since.elapsed() < Duration::from_secs(10),
            "never failed"
        );
        sleep(Duration::from_millis(100)).await;
    };
    eprintln!("refresh failing: cached credentials kept working for {last_ok:?}, then: {err}");
    assert!(matches!(&err, Error::NoCredentials(_)), "{err:?}");
    assert!(
        last_ok > Duration::ZERO,
        "the still-valid credentials were kept"
    );
    assert!(logs().text().contains("refreshing credentials failed"));
}

/// A provider that counts how often it is asked, and asks the chain.
#[derive(Debug)]
struct Counting {
    chain: DefaultCredentialsChain,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[io(AFIT)]
impl CredentialsProvider for Counting {
    async fn provide_credentials(&self) -> konserve_s3::Result<Credentials> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.chain.provide_credentials().await
    }
}

#[io]
pub async fn sts_credentials_are_refreshed_during_a_long_running_store() {
    logs();
    // AssumeRole for 4 s (moto honours DurationSeconds), on moto's S3.
    let home = TempDir::new();
    home.write(
        ".aws/config",
        &format!(
            "[profile short]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/short\nsource_profile = base\n\
             duration_seconds = 4\nendpoint_url = {}\n\
             [profile base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = baseSECRET\n",
            moto()
        ),
    );
    let chain = DefaultCredentialsChain::with_environment(profile_env(&home, "short"))
        .only(&[Source::Profile]);
    let first = chain.provide_credentials().await.unwrap();
    let lifetime = first
        .expiry
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(lifetime <= Duration::from_secs(5), "{lifetime:?}");
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let provider = Counting {
        chain,
        calls: calls.clone(),
    };
    let id = Uuid::new_v4();
    let config = S3Config::builder()
        .bucket(bucket_name("sts-refresh"))
        .id(id)
        .endpoint(moto())
        .build()
        .unwrap();
    let client = S3Client::with_credentials_provider(&config, provider).unwrap();
    let created = client.create_bucket().await.unwrap();
    assert!(created);
    let store = Store::new(S3Backing::new(client, id));
    let started = Instant::now();
    let mut writes = 0u32;
    while started.elapsed() < Duration::from_secs(9) {
        store
            .assoc(Value::keyword("k"), Value::from(writes as i64))
            .await
            .unwrap();
        writes += 1;
        sleep(Duration::from_millis(50)).await;
    }
    let n = calls.load(Ordering::SeqCst);
    eprintln!("STS refresh: {n} AssumeRole calls for {writes} writes in 9 s (4 s credentials)");
    assert!((4..=8).contains(&n), "{n} calls");
    assert_hidden(
        &[format!("{first:?}")],
        &["baseSECRET", first.secret.expose()],
    );
}

fn limited_config(bucket: &str, keys: &(String, String)) -> S3Config {
    let l = limited();
    S3Config::builder()
        .bucket(bucket)
        .id(Uuid::new_v4())
        .endpoint(&l.endpoint)
        .credentials(keys.0.clone(), keys.1.clone())
        .build()
        .unwrap()
}

#[io]
pub async fn least_privilege_on_one_existing_bucket() {
    let l = limited();
    // Read, write and list on one existing bucket are all a store needs.
    let config = limited_config(&l.bucket, &l.limited);
    let store = create_store(&config).await.unwrap();
    let value: Value = "{:a [1 2 3]}".parse().unwrap();
    store
        .assoc(Value::keyword("a"), value.clone())
        .await
        .unwrap();
    let got = store.get(Value::keyword("a")).await.unwrap();
    assert_eq!(got, Some(value));
    let big = vec![7u8; 11 << 20];
    store
        .bassoc_reader(Value::keyword("big"), &mut &big[..])
        .await
        .unwrap();
    let keys = store.keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    let removed = store.dissoc(Value::keyword("a")).await.unwrap();
    assert!(removed);
    let again = connect_store(&config).await.unwrap();
    let bytes = again.bget(Value::keyword("big")).await.unwrap().unwrap();
    assert_eq!(bytes.size, big.len() as u64);
    delete_store(&config).await.unwrap();
    // A missing right: the error names the S3 action refused.
    let reader = limited_config(&l.bucket, &l.reader);
    let err = create_store(&reader).await.unwrap_err();
    assert!(matches!(err, Error::AccessDenied(_)), "{err:?}");
    assert!(err.to_string().contains("PutObject"), "{err}");
    let elsewhere = limited_config(&l.public_bucket, &l.limited);
    let err = create_store(&elsewhere).await.unwrap_err();
    assert!(matches!(err, Error::AccessDenied(_)), "{err:?}");
    let action = err.context().and_then(|c| c.action).unwrap();
    assert!(err.to_string().contains(&action.to_string()), "{err}");
    // And the identity really has no bucket rights.
    let client = S3Client::new(&limited_config(&bucket_name("lp-new"), &l.limited)).unwrap();
    let err = client.create_bucket().await.unwrap_err();
    assert!(matches!(err, Error::AccessDenied(_)), "{err:?}");
    assert!(err.to_string().contains("CreateBucket"), "{err}");
    let own = S3Client::new(&config).unwrap();
    let err = own.delete_bucket().await.unwrap_err();
    assert!(matches!(err, Error::AccessDenied(_)), "{err:?}");
    assert!(err.to_string().contains("DeleteBucket"), "{err}");
}

#[io]
pub async fn anonymous_reads_a_public_bucket() {
    let l = limited();
    let admin = S3Client::new(&limited_config(&l.public_bucket, &l.admin)).unwrap();
    admin
        .put_object("hello.txt", b"public".to_vec(), &Default::default())
        .await
        .unwrap();
    let mut config = limited_config(&l.public_bucket, &l.admin);
    config.credentials = None;
    config.anonymous = true;
    let anonymous = S3Client::new(&config).unwrap();
    let got = anonymous.get_object("hello.txt", None).await.unwrap();
    assert_eq!(&got.body[..], b"public");
    let err = anonymous
        .put_object("k", b"v".to_vec(), &Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AccessDenied(_)), "{err:?}");
    assert!(err.to_string().contains("PutObject"), "{err}");
}

#[io]
pub async fn anonymous_requests_are_unsigned() {
    logs();
    let mut config = config_for(&bucket_name("anon"), &server().endpoint);
    config.credentials = None;
    config.anonymous = true;
    let client = S3Client::new(&config).unwrap();
    // SeaweedFS has no anonymous identity here: it refuses, and the error
    // names the action.
    let err = client
        .put_object("k", b"v".to_vec(), &Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AccessDenied(_)), "{err:?}");
    assert!(err.to_string().contains("PutObject"), "{err}");
    let _ = Credentials::new("x", "y");
}
