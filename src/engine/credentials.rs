//! Credentials with I/O: the default chain ([`DefaultCredentialsChain`]),
//! what each source fetches (STS, instance metadata, the container
//! endpoint, `credential_process`, the SSO portal), and the client's cache
//! of current credentials, refreshed before they expire.
//!
//! What to fetch is decided by the pure `crate::credentials` modules;
//! requests go through this mode's transport.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use url::Url;

use crate::config::HttpOptions;
use crate::credentials::chain::{
    self, Container, Imds, Plan, RoleParams, Source, Sso, Step, WebIdentity,
};
use crate::credentials::{
    Credentials, CredentialsReport, Environment, jiff_time, metadata, process, sigv4, sso, sts,
};
use crate::error::{Error, Result};
use crate::s3::Signer;

use super::io;
use super::mode::{self, RefreshLock, SharedProvider, Transport};

pub use mode::CredentialsProvider;

/// The most bytes read from a credentials endpoint's answer.
const MAX_ANSWER: u64 = 1 << 20;

/// How long the instance metadata service gets to connect and to answer:
/// short, and one attempt, so that a machine without it falls through at
/// once.
const IMDS_TIMEOUT: Duration = Duration::from_millis(1000);

/// AWS's default credential chain, in both modes the same: the first
/// source that yields credentials wins, and is asked again when they are
/// due for a refresh.
///
/// 1. credentials in the configuration;
/// 2. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`;
/// 3. `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` → STS
///    `AssumeRoleWithWebIdentity`;
/// 4. the profile (`AWS_PROFILE`, else `default`) of the shared files:
///    static keys, `credential_process`, `role_arn` with `source_profile`
///    or `credential_source` (STS `AssumeRole`), `web_identity_token_file`,
///    SSO;
/// 5. the ECS / EKS Pod Identity container endpoint;
/// 6. EC2 instance metadata (IMDSv2).
///
/// When none yields, [`Error::NoCredentials`] lists every source and why
/// it was skipped or failed.
///
#[doc = mode::doc_example!("default_credentials_chain")]
pub struct DefaultCredentialsChain {
    config: Option<Credentials>,
    env: Environment,
    region: Option<String>,
    only: Vec<Source>,
    fetcher: Fetcher,
    chosen: Mutex<Option<(Source, Plan)>>,
}

impl std::fmt::Debug for DefaultCredentialsChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let chosen = self
            .chosen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(s, _)| *s);
        f.debug_struct("DefaultCredentialsChain")
            .field("config", &self.config)
            .field("region", &self.region)
            .field("only", &self.only)
            .field("chosen", &chosen)
            .finish_non_exhaustive()
    }
}

impl Default for DefaultCredentialsChain {
    fn default() -> Self {
        Self::new()
    }
}

impl DefaultCredentialsChain {
    /// The chain over the process environment and the user's files.
    pub fn new() -> Self {
        Self::with_environment(Environment::process())
    }

    /// The chain over `env` (variables and home directory) instead of the
    /// process's.
    pub fn with_environment(env: Environment) -> Self {
        DefaultCredentialsChain {
            config: None,
            env,
            region: None,
            only: Source::ALL.to_vec(),
            fetcher: Fetcher::new(),
            chosen: Mutex::new(None),
        }
    }

    /// Credentials to try first (the configuration's).
    pub fn with_config_credentials(mut self, credentials: Option<Credentials>) -> Self {
        self.config = credentials;
        self
    }

    /// The region STS is called in when neither the environment nor the
    /// profile names one (default `us-east-1`).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Only these sources, in chain order (pins one source when given
    /// one).
    pub fn only(mut self, sources: &[Source]) -> Self {
        self.only = sources.to_vec();
        self
    }
}

#[io(AFIT)]
impl CredentialsProvider for DefaultCredentialsChain {
    async fn provide_credentials(&self) -> Result<Credentials> {
        let chosen = self
            .chosen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some((source, plan)) = chosen {
            let fetched = self.fetcher.fetch(&plan).await;
            return fetched.map_err(|why| {
                let mut report = CredentialsReport::default();
                report.push(source, false, format!("{}: {why}", plan.describe()));
                Error::NoCredentials(Box::new(report))
            });
        }
        let read = |p: &Path| std::fs::read_to_string(p);
        let steps = chain::plan_chain(
            self.config.as_ref(),
            &self.env,
            &read,
            self.region.as_deref(),
            &self.only,
        );
        let mut report = CredentialsReport::default();
        let mut stopped = false;
        for (source, step) in steps {
            if stopped {
                report.push(source, true, "not tried: the chain stopped at the profile");
                continue;
            }
            match step {
                Step::Skip(why) => report.push(source, true, why),
                Step::Fail(why) => report.push(source, false, why),
                Step::Stop(why) => {
                    report.push(source, false, why);
                    stopped = true;
                }
                Step::Try(plan) => {
                    let fetched = self.fetcher.fetch(&plan).await;
                    match fetched {
                        Ok(c) => {
                            tracing::debug!(source = %source, how = %plan.describe(), "credentials found");
                            *self.chosen.lock().unwrap_or_else(PoisonError::into_inner) =
                                Some((source, *plan));
                            return Ok(c);
                        }
                        Err(why) => {
                            report.push(source, false, format!("{}: {why}", plan.describe()))
                        }
                    }
                }
            }
        }
        Err(Error::NoCredentials(Box::new(report)))
    }
}

#[io(AFIT)]
impl CredentialsProvider for Credentials {
    async fn provide_credentials(&self) -> Result<Credentials> {
        Ok(self.clone())
    }
}

/// The transports the sources use: one for STS and the SSO portal, one
/// with short timeouts for the metadata endpoints.
struct Fetcher {
    http: Transport,
    metadata: Transport,
}

impl Fetcher {
    fn new() -> Self {
        let metadata = HttpOptions {
            connect_timeout: IMDS_TIMEOUT,
            response_timeout: IMDS_TIMEOUT,
            io_timeout: IMDS_TIMEOUT,
            max_idle_connections_per_host: 1,
            ..HttpOptions::default()
        };
        let http = HttpOptions {
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(10),
            max_idle_connections_per_host: 2,
            ..HttpOptions::default()
        };
        Fetcher {
            http: Transport::for_credentials(&http),
            metadata: Transport::for_credentials(&metadata),
        }
    }
}

/// `host[:port]` as sent in `Host`.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// The first `max` characters of a process's stderr, for an error.
fn excerpt(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[io(AFIT)]
impl Fetcher {
    /// Sends a request; the status and body of the answer, or what went
    /// wrong (redacted).
    async fn call(
        &self,
        transport: &Transport,
        method: &str,
        url: &Url,
        headers: &[(&'static str, String)],
        body: Option<Bytes>,
    ) -> std::result::Result<(u16, Bytes), String> {
        let body = body.map(crate::s3::request::Body::from);
        let sent = transport
            .send_parts(method, url, headers, body.as_ref())
            .await;
        let (head, body) = sent.map_err(|e| e.to_string())?;
        let read = body.read_all(MAX_ANSWER).await;
        match read {
            Ok(Some(bytes)) => Ok((head.status, bytes)),
            Ok(None) => Err(format!("the answer is over {MAX_ANSWER} bytes")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Credentials of `plan`; a role chain is walked from its base out.
    async fn fetch(&self, plan: &Plan) -> std::result::Result<Credentials, String> {
        let mut roles: Vec<&RoleParams> = Vec::new();
        let mut base = plan;
        while let Plan::AssumeRole(r) = base {
            roles.push(r);
            base = &r.base;
        }
        let mut credentials = match base {
            Plan::Static(c) => c.clone(),
            Plan::WebIdentity(w) => self.web_identity(w).await?,
            Plan::Process(command) => self.process(command).await?,
            Plan::Sso(s) => self.sso(s).await?,
            Plan::Container(c) => self.container(c).await?,
            Plan::Imds(i) => self.imds(i).await?,
            Plan::AssumeRole(_) => return Err("a role without a base".to_owned()),
        };
        for role in roles.into_iter().rev() {
            credentials = self.assume_role(role, &credentials).await?;
        }
        Ok(credentials)
    }

    async fn assume_role(
        &self,
        role: &RoleParams,
        with: &Credentials,
    ) -> std::result::Result<Credentials, String> {
        let body = sts::assume_role_body(
            &role.role_arn,
            &role.session_name,
            role.external_id.as_deref(),
            role.duration_seconds,
        );
        let url = &role.sts.endpoint;
        let host = host_header(url);
        let mut headers = vec![(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        )];
        let signed = sigv4::sign(
            &sigv4::ToSign {
                method: "POST",
                host: &host,
                path: url.path(),
                query: "",
                headers: &headers,
                body: body.as_bytes(),
                region: &role.sts.region,
                service: "sts",
            },
            with,
            &sigv4::amz_date(SystemTime::now()),
        );
        headers.extend(signed);
        let answer = self
            .call(&self.http, "POST", url, &headers, Some(Bytes::from(body)))
            .await;
        let (status, body) = answer.map_err(|e| format!("STS unreachable: {e}"))?;
        if status != 200 {
            return Err(sts::describe_error(status, &body));
        }
        sts::parse_credentials(&String::from_utf8_lossy(&body))
    }

    async fn web_identity(&self, w: &WebIdentity) -> std::result::Result<Credentials, String> {
        // Read at every fetch: Kubernetes rotates the token.
        let token = std::fs::read_to_string(&w.token_file).map_err(|e| {
            format!(
                "cannot read the web identity token file {}: {e}",
                w.token_file.display()
            )
        })?;
        // The token passes the HTTP client as a placeholder (the blocking
        // one logs bodies at TRACE).
        let encoded = crate::s3::redact::percent_encode(token.trim());
        let (shown, _hidden) = self.http.hide_in_body(&encoded);
        let body = sts::web_identity_body(&w.role_arn, &w.session_name, &shown);
        let headers = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        )];
        let answer = self
            .call(
                &self.http,
                "POST",
                &w.sts.endpoint,
                &headers,
                Some(Bytes::from(body)),
            )
            .await;
        let (status, body) = answer.map_err(|e| format!("STS unreachable: {e}"))?;
        if status != 200 {
            return Err(sts::describe_error(status, &body));
        }
        sts::parse_credentials(&String::from_utf8_lossy(&body))
    }

    async fn process(&self, command: &str) -> std::result::Result<Credentials, String> {
        let ran = mode::run_process(command).await;
        let out = ran.map_err(|e| format!("cannot start it: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "it exited with {}; its stderr: {}",
                out.status,
                excerpt(&out.stderr, 2000)
            ));
        }
        process::parse_output(&out.stdout)
    }

    async fn container(&self, c: &Container) -> std::result::Result<Credentials, String> {
        let token = match (&c.token_file, &c.token) {
            (Some(file), _) => Some(std::fs::read_to_string(file).map_err(|e| {
                format!(
                    "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {}: {e}",
                    file.display()
                )
            })?),
            (None, Some(t)) => Some(t.expose().to_owned()),
            (None, None) => None,
        };
        let headers: Vec<(&'static str, String)> = token
            .map(|t| ("authorization", t.trim().to_owned()))
            .into_iter()
            .collect();
        let started = Instant::now();
        let answer = self
            .call(&self.metadata, "GET", &c.url, &headers, None)
            .await;
        let (status, body) = answer.map_err(|e| {
            format!(
                "unreachable after {} ms: {e}",
                started.elapsed().as_millis()
            )
        })?;
        if status != 200 {
            return Err(format!("the endpoint answered HTTP {status}"));
        }
        metadata::parse_credentials(&body)
    }

    async fn imds(&self, i: &Imds) -> std::result::Result<Credentials, String> {
        let started = Instant::now();
        let unreachable = |e: String| {
            format!(
                "IMDS unreachable after {} ms: {e}",
                started.elapsed().as_millis()
            )
        };
        let url = |path: &str| {
            i.endpoint
                .join(path)
                .map_err(|e| format!("bad IMDS URL: {e}"))
        };
        let ttl = [("x-aws-ec2-metadata-token-ttl-seconds", "21600".to_owned())];
        let token_url = url("/latest/api/token")?;
        let answer = self
            .call(&self.metadata, "PUT", &token_url, &ttl, None)
            .await;
        let (status, token) = answer.map_err(unreachable)?;
        if status != 200 {
            return Err(format!(
                "the IMDSv2 token request answered HTTP {status} (IMDSv1 is not used)"
            ));
        }
        let token = String::from_utf8_lossy(&token).trim().to_owned();
        let with_token = [("x-aws-ec2-metadata-token", token)];
        let roles_url = url("/latest/meta-data/iam/security-credentials/")?;
        let answer = self
            .call(&self.metadata, "GET", &roles_url, &with_token, None)
            .await;
        let (status, roles) = answer.map_err(unreachable)?;
        if status == 404 {
            return Err("this instance has no IAM role".to_owned());
        }
        if status != 200 {
            return Err(format!("IMDS answered HTTP {status} for the role name"));
        }
        let roles = String::from_utf8_lossy(&roles);
        let role = roles
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .ok_or_else(|| "this instance has no IAM role".to_owned())?;
        let creds_url = roles_url
            .join(role)
            .map_err(|e| format!("bad IMDS URL: {e}"))?;
        let answer = self
            .call(&self.metadata, "GET", &creds_url, &with_token, None)
            .await;
        let (status, body) = answer.map_err(unreachable)?;
        if status != 200 {
            return Err(format!("IMDS answered HTTP {status} for role {role:?}"));
        }
        metadata::parse_credentials(&body)
    }

    async fn sso(&self, s: &Sso) -> std::result::Result<Credentials, String> {
        let file = sso::cache_file(&s.cache_dir, s.session.as_deref(), &s.start_url);
        let text = std::fs::read(&file).map_err(|e| {
            format!(
                "no SSO token in {} ({e}); run `aws sso login`",
                file.display()
            )
        })?;
        let token = sso::parse_cached_token(&text, SystemTime::now(), "")?;
        let mut url = s
            .endpoint
            .join("/federation/credentials")
            .map_err(|e| format!("bad SSO URL: {e}"))?;
        url.query_pairs_mut()
            .append_pair("account_id", &s.account_id)
            .append_pair("role_name", &s.role_name);
        let headers = [("x-amz-sso_bearer_token", token.expose().to_owned())];
        let answer = self.call(&self.http, "GET", &url, &headers, None).await;
        let (status, body) = answer.map_err(|e| format!("the SSO portal is unreachable: {e}"))?;
        match status {
            200 => sso::parse_role_credentials(&body),
            401 | 403 => Err(format!(
                "the SSO portal refused the cached token (HTTP {status}); run `aws sso login`"
            )),
            _ => Err(format!("the SSO portal answered HTTP {status}")),
        }
    }
}

/// The credentials a client signs with now, and when to fetch new ones.
struct Current {
    signer: Arc<Signer>,
    expiry: Option<SystemTime>,
    refresh_at: Option<SystemTime>,
}

/// The client's signing credentials: fetched from a provider, cached,
/// refreshed before they expire by one caller while the others wait, kept
/// (with a warning) while a refresh fails and they are still valid.
pub(crate) struct Signing {
    provider: Option<SharedProvider>,
    current: Mutex<Option<Current>>,
    refresh: RefreshLock,
}

impl std::fmt::Debug for Signing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.provider {
            Some(p) => f.debug_tuple("Signing").field(p).finish(),
            None => f.write_str("Signing(anonymous)"),
        }
    }
}

impl Signing {
    /// Credentials from `provider`.
    pub(crate) fn with_provider(provider: SharedProvider) -> Self {
        Signing {
            provider: Some(provider),
            current: Mutex::new(None),
            refresh: RefreshLock::default(),
        }
    }

    /// Unsigned requests.
    pub(crate) fn anonymous(base: &Signer) -> Self {
        let current = Current {
            signer: Arc::new(base.with_credentials(None)),
            expiry: None,
            refresh_at: None,
        };
        Signing {
            provider: None,
            current: Mutex::new(Some(current)),
            refresh: RefreshLock::default(),
        }
    }

    /// Static credentials.
    pub(crate) fn fixed(credentials: Credentials) -> Self {
        Self::with_provider(mode::share(credentials))
    }

    /// The current signer if it is not yet due for a refresh.
    fn fresh(&self, now: SystemTime) -> Option<Arc<Signer>> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|c| c.refresh_at.is_none_or(|t| now < t))
            .map(|c| c.signer.clone())
    }
}

#[io(AFIT)]
impl Signing {
    /// A signer with current credentials, `base` with them; fetches them
    /// when none are cached or the cached ones are due.
    ///
    /// # Errors
    /// The provider's error when there are no valid credentials.
    pub(crate) async fn signer(&self, base: &Signer) -> Result<Arc<Signer>> {
        if let Some(s) = self.fresh(SystemTime::now()) {
            return Ok(s);
        }
        let Some(provider) = &self.provider else {
            return Ok(Arc::new(base.with_credentials(None)));
        };
        let _one_refresh = self.refresh.lock().await;
        if let Some(s) = self.fresh(SystemTime::now()) {
            return Ok(s);
        }
        let fetched = mode::provide(provider).await;
        let now = SystemTime::now();
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        match fetched {
            Ok(c) => {
                let refresh_at = c.expiry.map(|e| chain::refresh_at(now, e, fastrand::f64()));
                if let (Some(e), Some(r)) = (c.expiry, refresh_at) {
                    tracing::debug!(
                        access_key = %c.access_key,
                        expires = %jiff_time(e),
                        refresh_at = %jiff_time(r),
                        "fetched temporary credentials"
                    );
                }
                let signer = Arc::new(base.with_credentials(Some(&c)));
                *current = Some(Current {
                    signer: signer.clone(),
                    expiry: c.expiry,
                    refresh_at,
                });
                Ok(signer)
            }
            Err(e) => match current.as_mut() {
                Some(c) if c.expiry.is_none_or(|x| now < x) => {
                    let left = c
                        .expiry
                        .and_then(|x| x.duration_since(now).ok())
                        .unwrap_or(Duration::from_secs(20));
                    c.refresh_at = Some(now + (left / 2).min(Duration::from_secs(10)));
                    tracing::warn!(
                        error = %e,
                        expires = %c.expiry.map(jiff_time).unwrap_or_default(),
                        "refreshing credentials failed; signing with the cached ones while they are valid"
                    );
                    Ok(c.signer.clone())
                }
                _ => Err(e),
            },
        }
    }
}
