//! The default credential chain, decided without I/O: which sources apply
//! in an [`Environment`] and how each would get credentials (a [`Plan`]),
//! the report of a chain that found nothing, and when cached credentials
//! are refreshed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use url::Url;

use super::{Credentials, Secret, profile};

/// The environment the chain reads: variables and the home directory.
///
/// [`Environment::process`] is the real one; tests and embedders pass
/// their own variables (a lookup function or pairs), so that nothing has
/// to change the process environment.
///
/// ```
/// use konserve_s3::config::Environment;
/// let env = Environment::from_pairs([("AWS_PROFILE", "dev"), ("HOME", "/home/me")]);
/// # let _ = env;
/// ```
#[derive(Clone)]
pub struct Environment {
    vars: Arc<VarLookup>,
}

/// Looks a variable up.
type VarLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Environment(..)")
    }
}

impl Environment {
    /// The process environment (`std::env::var`).
    pub fn process() -> Self {
        Self::from_fn(|name| std::env::var(name).ok())
    }

    /// Variables from a lookup function; the home directory is its `HOME`
    /// (or `USERPROFILE`).
    pub fn from_fn(vars: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Environment {
            vars: Arc::new(vars),
        }
    }

    /// Variables from name–value pairs; nothing else is set.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let map: std::collections::HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from_fn(move |name| map.get(name).cloned())
    }

    /// A variable, if set and not blank.
    pub(crate) fn var(&self, name: &str) -> Option<String> {
        (self.vars)(name).filter(|v| !v.trim().is_empty())
    }

    /// The home directory.
    pub(crate) fn home(&self) -> Option<PathBuf> {
        self.var("HOME")
            .or_else(|| self.var("USERPROFILE"))
            .map(PathBuf::from)
    }

    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub(crate) fn region(&self) -> Option<String> {
        self.var("AWS_REGION")
            .or_else(|| self.var("AWS_DEFAULT_REGION"))
    }

    /// The profile: `AWS_PROFILE` (explicit) or `default`.
    pub(crate) fn profile(&self) -> (String, bool) {
        match self.var("AWS_PROFILE") {
            Some(p) => (p, true),
            None => ("default".to_owned(), false),
        }
    }
}

/// A source of the default credential chain, in chain order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// `access-key` / `secret` / `session-token` in the configuration.
    Config,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    Environment,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` → STS
    /// `AssumeRoleWithWebIdentity`.
    WebIdentity,
    /// The profile (`AWS_PROFILE`, else `default`) of the shared
    /// `config` / `credentials` files.
    Profile,
    /// The ECS / EKS Pod Identity container endpoint.
    Container,
    /// EC2 instance metadata (IMDSv2).
    InstanceMetadata,
}

impl Source {
    /// Every source, in chain order.
    pub const ALL: [Source; 6] = [
        Source::Config,
        Source::Environment,
        Source::WebIdentity,
        Source::Profile,
        Source::Container,
        Source::InstanceMetadata,
    ];
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Config => "config",
            Source::Environment => "environment",
            Source::WebIdentity => "web identity",
            Source::Profile => "profile",
            Source::Container => "container",
            Source::InstanceMetadata => "instance metadata",
        })
    }
}

/// What one source of the chain did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceOutcome {
    /// The source.
    pub source: Source,
    /// `true`: not configured, so not tried; `false`: tried and failed.
    pub skipped: bool,
    /// Why (never a secret).
    pub reason: String,
}

/// Every source the credential chain looked at and why none gave
/// credentials (or, on a refresh, why the one that had failed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialsReport {
    /// The sources, in chain order.
    pub tried: Vec<SourceOutcome>,
}

impl fmt::Display for CredentialsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, o) in self.tried.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            let how = if o.skipped { "skipped" } else { "failed" };
            write!(f, "{}: {how}: {}", o.source, o.reason)?;
        }
        Ok(())
    }
}

impl CredentialsReport {
    pub(crate) fn push(&mut self, source: Source, skipped: bool, reason: impl Into<String>) {
        self.tried.push(SourceOutcome {
            source,
            skipped,
            reason: reason.into(),
        });
    }
}

/// Where STS is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sts {
    pub endpoint: Url,
    pub region: String,
}

/// `AssumeRoleWithWebIdentity` with the token in `token_file` (read at
/// every fetch: Kubernetes rotates it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WebIdentity {
    pub token_file: PathBuf,
    pub role_arn: String,
    pub session_name: String,
    pub sts: Sts,
}

/// `AssumeRole` signed with the credentials of `base`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RoleParams {
    pub role_arn: String,
    pub session_name: String,
    pub external_id: Option<String>,
    pub duration_seconds: Option<u32>,
    pub sts: Sts,
    pub base: Plan,
}

/// The container credentials endpoint and its authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Container {
    pub url: Url,
    pub token: Option<Secret>,
    /// Read at every fetch (EKS rotates it).
    pub token_file: Option<PathBuf>,
}

/// The instance metadata endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Imds {
    pub endpoint: Url,
}

/// An SSO profile: the cached token, then `GetRoleCredentials`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sso {
    pub session: Option<String>,
    pub start_url: String,
    pub region: String,
    pub account_id: String,
    pub role_name: String,
    pub cache_dir: PathBuf,
    pub endpoint: Url,
}

/// How a source gets credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    Static(Credentials),
    WebIdentity(WebIdentity),
    Process(String),
    AssumeRole(Box<RoleParams>),
    Sso(Sso),
    Container(Container),
    Imds(Imds),
}

impl Plan {
    /// A short description, for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Plan::Static(_) => "static keys".to_owned(),
            Plan::WebIdentity(w) => format!(
                "AssumeRoleWithWebIdentity {} at {}",
                w.role_arn, w.sts.endpoint
            ),
            Plan::Process(c) => format!("credential_process {c:?}"),
            Plan::AssumeRole(r) => format!(
                "AssumeRole {} at {} with {}",
                r.role_arn,
                r.sts.endpoint,
                r.base.describe()
            ),
            Plan::Sso(s) => format!("SSO GetRoleCredentials {} {}", s.account_id, s.role_name),
            Plan::Container(c) => format!("container endpoint {}", c.url),
            Plan::Imds(i) => format!("instance metadata at {}", i.endpoint),
        }
    }
}

/// Where STS is for a role: `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`,
/// the profile's endpoint, else the regional endpoint of `region`
/// (default `us-east-1`).
///
/// # Errors
/// An endpoint that is not a URL.
pub(crate) fn sts_for(
    env: &Environment,
    profile_endpoint: Option<&str>,
    region: Option<&str>,
) -> Result<Sts, String> {
    let region = region.unwrap_or("us-east-1").to_owned();
    let endpoint = env
        .var("AWS_ENDPOINT_URL_STS")
        .or_else(|| env.var("AWS_ENDPOINT_URL"))
        .or_else(|| profile_endpoint.map(str::to_owned))
        .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
    let endpoint = Url::parse(&endpoint).map_err(|e| format!("STS endpoint {endpoint:?}: {e}"))?;
    Ok(Sts { endpoint, region })
}

/// The hosts `AWS_CONTAINER_CREDENTIALS_FULL_URI` may name besides
/// loopback: ECS's and EKS Pod Identity's link-local addresses.
const CONTAINER_HOSTS: [&str; 3] = ["169.254.170.2", "169.254.170.23", "[fd00:ec2::23]"];

/// The container endpoint, if configured.
///
/// # Errors
/// A `FULL_URI` that is not a URL or names a host other than loopback
/// or ECS/EKS's link-local addresses.
pub(crate) fn container_plan(env: &Environment) -> Result<Option<Container>, String> {
    let url = if let Some(rel) = env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        let url = format!("http://169.254.170.2{rel}");
        Url::parse(&url)
            .map_err(|e| format!("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI {rel:?}: {e}"))?
    } else if let Some(full) = env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        let url = Url::parse(&full)
            .map_err(|e| format!("AWS_CONTAINER_CREDENTIALS_FULL_URI {full:?}: {e}"))?;
        if !allowed_container_host(&url) {
            return Err(format!(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI {full:?} names a host that is neither \
                 loopback nor ECS/EKS's link-local endpoint; refused"
            ));
        }
        url
    } else {
        return Ok(None);
    };
    Ok(Some(Container {
        url,
        token: env
            .var("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .map(Secret::new),
        token_file: env
            .var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            .map(PathBuf::from),
    }))
}

fn allowed_container_host(url: &Url) -> bool {
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback() || CONTAINER_HOSTS.contains(&ip.to_string().as_str())
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || CONTAINER_HOSTS.contains(&format!("[{ip}]").as_str())
        }
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// The instance metadata endpoint (`AWS_EC2_METADATA_SERVICE_ENDPOINT`,
/// else `http://169.254.169.254`).
///
/// # Errors
/// When disabled by `AWS_EC2_METADATA_DISABLED`, or a bad endpoint.
pub(crate) fn imds_plan(env: &Environment) -> Result<Imds, String> {
    if env
        .var("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return Err("AWS_EC2_METADATA_DISABLED is true".to_owned());
    }
    let endpoint = env
        .var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .unwrap_or_else(|| "http://169.254.169.254".to_owned());
    let endpoint = Url::parse(&endpoint)
        .map_err(|e| format!("AWS_EC2_METADATA_SERVICE_ENDPOINT {endpoint:?}: {e}"))?;
    Ok(Imds { endpoint })
}

/// What the chain does with one source.
#[derive(Debug)]
pub(crate) enum Step {
    /// Not configured: why.
    Skip(String),
    /// Configured but broken (the chain goes on): why.
    Fail(String),
    /// Configured but broken in a way that must stop the chain (an
    /// `AWS_PROFILE` that cannot be used): why.
    Stop(String),
    /// Try this.
    Try(Box<Plan>),
}

/// The chain's sources with what to do for each, reading the shared
/// files through `read`. `only`: the sources to consider (the others are
/// left out of the answer).
pub(crate) fn plan_chain(
    config: Option<&Credentials>,
    env: &Environment,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
    fallback_region: Option<&str>,
    only: &[Source],
) -> Vec<(Source, Step)> {
    let mut steps = Vec::new();
    for source in Source::ALL {
        if !only.contains(&source) {
            continue;
        }
        let step = match source {
            Source::Config => match config {
                Some(c) => Step::Try(Box::new(Plan::Static(c.clone()))),
                None => Step::Skip("no access-key / secret in the configuration".to_owned()),
            },
            Source::Environment => env_step(env),
            Source::WebIdentity => web_identity_step(env, fallback_region),
            Source::Profile => profile_step(env, read, fallback_region),
            Source::Container => match container_plan(env) {
                Ok(Some(c)) => Step::Try(Box::new(Plan::Container(c))),
                Ok(None) => Step::Skip(
                    "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor \
                     AWS_CONTAINER_CREDENTIALS_FULL_URI is set"
                        .to_owned(),
                ),
                Err(e) => Step::Fail(e),
            },
            Source::InstanceMetadata => match imds_plan(env) {
                Ok(i) => Step::Try(Box::new(Plan::Imds(i))),
                Err(e) => Step::Skip(e),
            },
        };
        steps.push((source, step));
    }
    steps
}

fn env_step(env: &Environment) -> Step {
    match (
        env.var("AWS_ACCESS_KEY_ID"),
        env.var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(a), Some(s)) => {
            let c = Credentials::new(a, s);
            Step::Try(Box::new(Plan::Static(match env.var("AWS_SESSION_TOKEN") {
                Some(t) => c.with_session_token(t),
                None => c,
            })))
        }
        (None, _) => Step::Skip("AWS_ACCESS_KEY_ID is not set".to_owned()),
        (Some(_), None) => {
            Step::Fail("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".to_owned())
        }
    }
}

fn web_identity_step(env: &Environment, fallback_region: Option<&str>) -> Step {
    match (
        env.var("AWS_WEB_IDENTITY_TOKEN_FILE"),
        env.var("AWS_ROLE_ARN"),
    ) {
        (Some(file), Some(role_arn)) => {
            let region = env.region().or_else(|| fallback_region.map(str::to_owned));
            match sts_for(env, None, region.as_deref()) {
                Ok(sts) => Step::Try(Box::new(Plan::WebIdentity(WebIdentity {
                    token_file: PathBuf::from(file),
                    role_arn,
                    session_name: env
                        .var("AWS_ROLE_SESSION_NAME")
                        .unwrap_or_else(profile::default_session_name),
                    sts,
                }))),
                Err(e) => Step::Fail(e),
            }
        }
        (None, _) => Step::Skip("AWS_WEB_IDENTITY_TOKEN_FILE is not set".to_owned()),
        (Some(_), None) => {
            Step::Fail("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not".to_owned())
        }
    }
}

/// Keys that make a profile a source of credentials.
const CREDENTIAL_KEYS: [&str; 6] = [
    "aws_access_key_id",
    "role_arn",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
];

fn profile_step(
    env: &Environment,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
    fallback_region: Option<&str>,
) -> Step {
    let (name, explicit) = env.profile();
    let broken = |why: String| {
        if explicit {
            Step::Stop(format!("AWS_PROFILE={name}: {why}"))
        } else {
            Step::Fail(why)
        }
    };
    let profiles = match profile::load(env, read) {
        Ok(Some(p)) => p,
        Ok(None) if explicit => {
            return broken("no shared config or credentials file found".to_owned());
        }
        Ok(None) => {
            return Step::Skip(
                "no shared config or credentials file (~/.aws/config, ~/.aws/credentials, \
                 AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)"
                    .to_owned(),
            );
        }
        Err(e) => return broken(e),
    };
    match profiles.profiles.get(&name) {
        None if !explicit => {
            return Step::Skip(format!(
                "no profile {name:?} in {}",
                profiles
                    .files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Some(props) if !explicit && !CREDENTIAL_KEYS.iter().any(|k| props.contains_key(*k)) => {
            return Step::Skip(format!("profile {name:?} has no credential settings"));
        }
        _ => {}
    }
    match profile::plan(&profiles, &name, env, fallback_region) {
        Ok(plan) => Step::Try(Box::new(plan)),
        Err(e) => broken(e),
    }
}

/// When credentials fetched at `fetched` that expire at `expiry` are
/// refreshed: five minutes early, or half their lifetime when that is
/// shorter, and up to a further tenth of the margin earlier (`jitter` in
/// `[0, 1)`), so that many clients do not refresh at once.
pub(crate) fn refresh_at(fetched: SystemTime, expiry: SystemTime, jitter: f64) -> SystemTime {
    let lifetime = expiry.duration_since(fetched).unwrap_or(Duration::ZERO);
    let margin = Duration::from_secs(300).min(lifetime / 2);
    let margin = margin + margin.mul_f64(jitter.clamp(0.0, 1.0) / 10.0);
    expiry.checked_sub(margin).unwrap_or(fetched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn no_files(_: &Path) -> std::io::Result<String> {
        Err(std::io::ErrorKind::NotFound.into())
    }

    fn kinds(steps: &[(Source, Step)]) -> Vec<(Source, &'static str)> {
        steps
            .iter()
            .map(|(s, st)| {
                (
                    *s,
                    match st {
                        Step::Skip(_) => "skip",
                        Step::Fail(_) => "fail",
                        Step::Stop(_) => "stop",
                        Step::Try(_) => "try",
                    },
                )
            })
            .collect()
    }

    #[test]
    fn empty_environment_tries_only_imds_and_says_why_for_the_rest() {
        let steps = plan_chain(None, &env(&[]), &no_files, None, &Source::ALL);
        assert_eq!(
            kinds(&steps),
            vec![
                (Source::Config, "skip"),
                (Source::Environment, "skip"),
                (Source::WebIdentity, "skip"),
                (Source::Profile, "skip"),
                (Source::Container, "skip"),
                (Source::InstanceMetadata, "try"),
            ]
        );
        let Step::Try(p) = &steps[5].1 else { panic!() };
        let Plan::Imds(i) = &**p else { panic!() };
        assert_eq!(i.endpoint.as_str(), "http://169.254.169.254/");
        let Step::Skip(why) = &steps[1].1 else {
            panic!()
        };
        assert!(why.contains("AWS_ACCESS_KEY_ID"));
    }

    #[test]
    fn every_source_configured() {
        let e = env(&[
            ("AWS_ACCESS_KEY_ID", "AK"),
            ("AWS_SECRET_ACCESS_KEY", "SK"),
            ("AWS_SESSION_TOKEN", "TOK"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ("AWS_ROLE_ARN", "arn:r"),
            ("AWS_REGION", "eu-west-3"),
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://127.0.0.1:9/creds",
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "CTOK"),
            ("AWS_EC2_METADATA_DISABLED", "TRUE"),
        ]);
        let config = Credentials::new("C", "S");
        let steps = plan_chain(Some(&config), &e, &no_files, None, &Source::ALL);
        let k = kinds(&steps);
        assert_eq!(k[0], (Source::Config, "try"));
        assert_eq!(k[1], (Source::Environment, "try"));
        assert_eq!(k[2], (Source::WebIdentity, "try"));
        assert_eq!(k[4], (Source::Container, "try"));
        assert_eq!(k[5], (Source::InstanceMetadata, "skip"));
        let Step::Try(p) = &steps[2].1 else { panic!() };
        let Plan::WebIdentity(w) = &**p else { panic!() };
        assert_eq!(
            w.sts.endpoint.as_str(),
            "https://sts.eu-west-3.amazonaws.com/"
        );
        assert!(w.session_name.starts_with("konserve-s3-"));
        // No secret in what the plans print.
        let text = format!("{steps:?}");
        for secret in ["SK", "TOK", "CTOK"] {
            assert!(!text.contains(&format!("\"{secret}\"")), "{text}");
        }
        let only = plan_chain(Some(&config), &e, &no_files, None, &[Source::Container]);
        assert_eq!(kinds(&only), vec![(Source::Container, "try")]);
    }

    #[test]
    fn container_hosts_are_restricted() {
        for ok in [
            "http://127.0.0.1:80/x",
            "http://localhost/x",
            "http://[::1]:8/x",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
        ] {
            let e = env(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", ok)]);
            assert!(matches!(container_plan(&e), Ok(Some(_))), "{ok}");
        }
        for bad in [
            "http://169.254.169.254/x",
            "http://evil.example/x",
            "file:///etc/passwd",
        ] {
            let e = env(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", bad)]);
            assert!(container_plan(&e).is_err(), "{bad}");
        }
        let e = env(&[(
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/x",
        )]);
        let c = container_plan(&e).unwrap().unwrap();
        assert_eq!(c.url.as_str(), "http://169.254.170.2/v2/credentials/x");
    }

    #[test]
    fn an_unknown_aws_profile_stops_the_chain_and_a_missing_default_is_skipped() {
        let files = |p: &Path| {
            if p.ends_with("credentials") {
                Ok("[default]\nregion = x\n[other]\naws_access_key_id = A\naws_secret_access_key = S\n".to_owned())
            } else {
                Err(std::io::ErrorKind::NotFound.into())
            }
        };
        let home = [("HOME", "/h")];
        let steps = plan_chain(None, &env(&home), &files, None, &[Source::Profile]);
        assert!(matches!(&steps[0].1, Step::Skip(w) if w.contains("no credential settings")));
        let e = env(&[("HOME", "/h"), ("AWS_PROFILE", "typo")]);
        let steps = plan_chain(None, &e, &files, None, &[Source::Profile]);
        assert!(
            matches!(&steps[0].1, Step::Stop(w) if w.contains("AWS_PROFILE=typo") && w.contains("not found")),
            "{steps:?}"
        );
        let e = env(&[("HOME", "/h"), ("AWS_PROFILE", "other")]);
        let steps = plan_chain(None, &e, &files, None, &[Source::Profile]);
        assert!(
            matches!(&steps[0].1, Step::Try(p) if matches!(&**p, Plan::Static(c) if c.access_key == "A"))
        );
    }

    #[test]
    fn refresh_margin() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = t0 + Duration::from_secs(3600);
        assert_eq!(refresh_at(t0, hour, 0.0), hour - Duration::from_secs(300));
        assert_eq!(
            refresh_at(t0, hour, 0.999_999)
                .duration_since(t0)
                .unwrap()
                .as_secs(),
            3270
        );
        let short = t0 + Duration::from_secs(4);
        assert_eq!(refresh_at(t0, short, 0.0), t0 + Duration::from_secs(2));
        assert_eq!(
            refresh_at(t0, t0 - Duration::from_secs(5), 0.5),
            t0 - Duration::from_secs(5)
        );
    }
}
