//! The shared `config` and `credentials` files: their INI dialect, and how
//! a named profile becomes a [`Plan`].
//!
//! The dialect is AWS's, not plain INI: in `config`, profiles are
//! `[profile name]` (only `default` may be bare), `[sso-session name]` and
//! `[services name]` are other sections; an indented line under a key
//! with an empty value is a sub-property (`s3 =` / `  endpoint_url = …`);
//! `#` and `;` start comments at the start of a line, and inside a value
//! only after whitespace. General INI crates (rust-ini, configparser) get
//! the sub-properties and the comment rule wrong, so the parser is here,
//! small and tested.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Credentials;
use super::chain::{
    Environment, Plan, RoleParams, Sso, WebIdentity, container_plan, imds_plan, sts_for,
};

/// The properties of one section; a sub-property is `parent.child`.
pub(crate) type Props = BTreeMap<String, String>;

/// One parsed file: sections by their full header (`profile dev`,
/// `default`, `sso-session corp`, `services local`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct IniFile {
    pub sections: BTreeMap<String, Props>,
}

/// Parses AWS's INI dialect. Lines that fit no rule are ignored (as the
/// AWS CLI does with most of them); a property before any section too.
pub(crate) fn parse_ini(text: &str) -> IniFile {
    let mut file = IniFile::default();
    let mut section: Option<String> = None;
    let mut parent: Option<String> = None;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') {
            parent = None;
            section = trimmed.find(']').map(|end| {
                trimmed[1..end]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            if let Some(s) = &section {
                file.sections.entry(s.clone()).or_default();
            }
            continue;
        }
        let Some(sec) = &section else { continue };
        let Some((key, value)) = trimmed.split_once('=') else {
            continue;
        };
        let key = key.trim().to_owned();
        let value = strip_comment(value).trim().to_owned();
        let props = file.sections.entry(sec.clone()).or_default();
        let indented = raw.starts_with(|c: char| c.is_whitespace());
        match (&parent, indented) {
            (Some(p), true) => {
                props.insert(format!("{p}.{key}"), value);
            }
            _ => {
                parent = value.is_empty().then(|| key.clone());
                props.insert(key, value);
            }
        }
    }
    file
}

/// A value without a trailing comment: `#` or `;` after whitespace.
fn strip_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if (*b == b'#' || *b == b';') && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            return &value[..i];
        }
    }
    value
}

/// The profiles of both files, merged: a profile's keys in `credentials`
/// win over the same keys in `config`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Profiles {
    pub profiles: BTreeMap<String, Props>,
    pub sso_sessions: BTreeMap<String, Props>,
    pub services: BTreeMap<String, Props>,
    /// The files read (for messages).
    pub files: Vec<PathBuf>,
}

impl Profiles {
    /// Merges the parsed `config` and `credentials` files.
    pub(crate) fn merge(config: Option<IniFile>, credentials: Option<IniFile>) -> Self {
        let mut out = Profiles::default();
        if let Some(config) = config {
            for (name, props) in config.sections {
                if name == "default" {
                    out.profiles.entry(name).or_default().extend(props);
                } else if let Some(p) = name.strip_prefix("profile ") {
                    out.profiles.insert(p.trim().to_owned(), props);
                } else if let Some(s) = name.strip_prefix("sso-session ") {
                    out.sso_sessions.insert(s.trim().to_owned(), props);
                } else if let Some(s) = name.strip_prefix("services ") {
                    out.services.insert(s.trim().to_owned(), props);
                }
            }
        }
        if let Some(credentials) = credentials {
            for (name, props) in credentials.sections {
                out.profiles.entry(name).or_default().extend(props);
            }
        }
        out
    }

    fn files_text(&self) -> String {
        self.files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The property `key` of `props`, if not empty.
fn get<'a>(props: &'a Props, key: &str) -> Option<&'a str> {
    props.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// Reads and merges the shared files named by the environment (or their
/// defaults under the home directory). `Ok(None)` when neither exists.
///
/// # Errors
/// A file that exists but cannot be read.
pub(crate) fn load(
    env: &Environment,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<Option<Profiles>, String> {
    let home = env.home();
    let path = |var: &str, default: &str| -> Option<PathBuf> {
        env.var(var)
            .map(|p| expand_home(&p, home.as_deref()))
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
    };
    let config_path = path("AWS_CONFIG_FILE", "config");
    let credentials_path = path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let mut files = Vec::new();
    let mut parsed = Vec::new();
    for p in [&config_path, &credentials_path] {
        let Some(p) = p else {
            parsed.push(None);
            continue;
        };
        match read(p) {
            Ok(text) => {
                files.push(p.clone());
                parsed.push(Some(parse_ini(&text)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => parsed.push(None),
            Err(e) => return Err(format!("cannot read {}: {e}", p.display())),
        }
    }
    if files.is_empty() {
        return Ok(None);
    }
    let credentials = parsed.pop().flatten();
    let config = parsed.pop().flatten();
    let mut profiles = Profiles::merge(config, credentials);
    profiles.files = files;
    Ok(Some(profiles))
}

/// `~/x` → `$HOME/x`.
pub(crate) fn expand_home(p: &str, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(p),
    }
}

/// The region a profile names, if any.
pub(crate) fn region(profiles: &Profiles, name: &str) -> Option<String> {
    profiles
        .profiles
        .get(name)
        .and_then(|p| get(p, "region"))
        .map(str::to_owned)
}

/// The endpoint URL a profile configures for `service` (`s3`, `sts`):
/// `services` section first, then the profile's `endpoint_url`.
pub(crate) fn endpoint_url(profiles: &Profiles, name: &str, service: &str) -> Option<String> {
    let props = profiles.profiles.get(name)?;
    get(props, "services")
        .and_then(|s| profiles.services.get(s))
        .and_then(|s| get(s, &format!("{service}.endpoint_url")))
        .or_else(|| get(props, "endpoint_url"))
        .map(str::to_owned)
}

/// How profile `name` yields credentials.
///
/// # Errors
/// A message saying what is wrong: unknown profile, a cycle of
/// `source_profile`s, `mfa_serial`, a role without a source, a profile
/// without credentials.
pub(crate) fn plan(
    profiles: &Profiles,
    name: &str,
    env: &Environment,
    fallback_region: Option<&str>,
) -> Result<Plan, String> {
    let mut visited = Vec::new();
    plan_inner(profiles, name, env, fallback_region, &mut visited, false)
}

fn static_keys(props: &Props) -> Option<Credentials> {
    let (a, s) = (
        get(props, "aws_access_key_id")?,
        get(props, "aws_secret_access_key")?,
    );
    let c = Credentials::new(a, s);
    Some(match get(props, "aws_session_token") {
        Some(t) => c.with_session_token(t),
        None => c,
    })
}

fn plan_inner(
    profiles: &Profiles,
    name: &str,
    env: &Environment,
    fallback_region: Option<&str>,
    visited: &mut Vec<String>,
    as_source: bool,
) -> Result<Plan, String> {
    if visited.iter().any(|v| v == name) {
        visited.push(name.to_owned());
        return Err(format!("source_profile cycle: {}", visited.join(" -> ")));
    }
    visited.push(name.to_owned());
    let props = profiles
        .profiles
        .get(name)
        .ok_or_else(|| format!("profile {name:?} not found in {}", profiles.files_text()))?;
    // A profile used as another's source_profile gives its static keys
    // first (this is what lets a profile name itself as its source).
    if as_source && let Some(c) = static_keys(props) {
        return Ok(Plan::Static(c));
    }
    let region = env
        .region()
        .or_else(|| region(profiles, name))
        .or_else(|| fallback_region.map(str::to_owned));
    let sts = || {
        sts_for(
            env,
            endpoint_url(profiles, name, "sts").as_deref(),
            region.as_deref(),
        )
    };
    if let Some(role_arn) = get(props, "role_arn") {
        if let Some(mfa) = get(props, "mfa_serial") {
            return Err(format!(
                "profile {name:?} asks for an MFA code (mfa_serial = {mfa}), which konserve-s3 \
                 cannot prompt for: get session credentials first (aws sts get-session-token, \
                 or a credential_process that prompts) and use those"
            ));
        }
        let session_name = get(props, "role_session_name")
            .map(str::to_owned)
            .unwrap_or_else(default_session_name);
        if let Some(file) = get(props, "web_identity_token_file") {
            return Ok(Plan::WebIdentity(WebIdentity {
                token_file: expand_home(file, env.home().as_deref()),
                role_arn: role_arn.to_owned(),
                session_name,
                sts: sts()?,
            }));
        }
        let base = match (
            get(props, "source_profile"),
            get(props, "credential_source"),
        ) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "profile {name:?} has both source_profile and credential_source; keep one"
                ));
            }
            (Some(source), None) if source == name => match static_keys(props) {
                Some(c) => Plan::Static(c),
                None => {
                    return Err(format!(
                        "profile {name:?} is its own source_profile but has no aws_access_key_id / aws_secret_access_key"
                    ));
                }
            },
            (Some(source), None) => {
                plan_inner(profiles, source, env, fallback_region, visited, true)?
            }
            (None, Some(source)) => credential_source(source, env, name)?,
            (None, None) => {
                return Err(format!(
                    "profile {name:?} has role_arn but neither source_profile, credential_source \
                     nor web_identity_token_file"
                ));
            }
        };
        let duration = match get(props, "duration_seconds") {
            Some(d) => Some(d.parse::<u32>().map_err(|_| {
                format!("profile {name:?}: duration_seconds {d:?} is not a number of seconds")
            })?),
            None => None,
        };
        return Ok(Plan::AssumeRole(Box::new(RoleParams {
            role_arn: role_arn.to_owned(),
            session_name,
            external_id: get(props, "external_id").map(str::to_owned),
            duration_seconds: duration,
            sts: sts()?,
            base,
        })));
    }
    if get(props, "sso_session").is_some() || get(props, "sso_start_url").is_some() {
        return sso_plan(profiles, name, props, env).map(Plan::Sso);
    }
    if let Some(command) = get(props, "credential_process") {
        return Ok(Plan::Process(command.to_owned()));
    }
    if let Some(c) = static_keys(props) {
        return Ok(Plan::Static(c));
    }
    if get(props, "aws_access_key_id").is_some() {
        return Err(format!(
            "profile {name:?} has aws_access_key_id but no aws_secret_access_key"
        ));
    }
    Err(format!(
        "profile {name:?} has no credentials (no aws_access_key_id, role_arn, credential_process \
         or sso_* settings) in {}",
        profiles.files_text()
    ))
}

fn credential_source(source: &str, env: &Environment, name: &str) -> Result<Plan, String> {
    match source {
        "Environment" => {
            match (
                env.var("AWS_ACCESS_KEY_ID"),
                env.var("AWS_SECRET_ACCESS_KEY"),
            ) {
                (Some(a), Some(s)) => {
                    let c = Credentials::new(a, s);
                    Ok(Plan::Static(match env.var("AWS_SESSION_TOKEN") {
                        Some(t) => c.with_session_token(t),
                        None => c,
                    }))
                }
                _ => Err(format!(
                    "profile {name:?}: credential_source Environment, but AWS_ACCESS_KEY_ID / \
                     AWS_SECRET_ACCESS_KEY are not set"
                )),
            }
        }
        "Ec2InstanceMetadata" => imds_plan(env).map(Plan::Imds),
        "EcsContainer" => match container_plan(env) {
            Ok(Some(c)) => Ok(Plan::Container(c)),
            Ok(None) => Err(format!(
                "profile {name:?}: credential_source EcsContainer, but neither \
                 AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set"
            )),
            Err(e) => Err(e),
        },
        other => Err(format!(
            "profile {name:?}: unknown credential_source {other:?} (use Environment, \
             Ec2InstanceMetadata or EcsContainer)"
        )),
    }
}

fn sso_plan(
    profiles: &Profiles,
    name: &str,
    props: &Props,
    env: &Environment,
) -> Result<Sso, String> {
    let missing = |what: &str| format!("SSO profile {name:?} has no {what}");
    let (session, start_url, sso_region) = match get(props, "sso_session") {
        Some(session) => {
            let s = profiles
                .sso_sessions
                .get(session)
                .ok_or_else(|| format!("profile {name:?} names sso_session {session:?}, which has no [sso-session {session}] section"))?;
            (
                Some(session.to_owned()),
                get(s, "sso_start_url").ok_or_else(|| missing("sso_start_url"))?,
                get(s, "sso_region").ok_or_else(|| missing("sso_region"))?,
            )
        }
        None => (
            None,
            get(props, "sso_start_url").ok_or_else(|| missing("sso_start_url"))?,
            get(props, "sso_region").ok_or_else(|| missing("sso_region"))?,
        ),
    };
    let home = env
        .home()
        .ok_or_else(|| "no home directory (HOME) to find the SSO token cache in".to_owned())?;
    let endpoint = env
        .var("AWS_ENDPOINT_URL_SSO")
        .or_else(|| endpoint_url(profiles, name, "sso"))
        .unwrap_or_else(|| format!("https://portal.sso.{sso_region}.amazonaws.com"));
    Ok(Sso {
        session,
        start_url: start_url.to_owned(),
        region: sso_region.to_owned(),
        account_id: get(props, "sso_account_id")
            .ok_or_else(|| missing("sso_account_id"))?
            .to_owned(),
        role_name: get(props, "sso_role_name")
            .ok_or_else(|| missing("sso_role_name"))?
            .to_owned(),
        cache_dir: home.join(".aws").join("sso").join("cache"),
        endpoint: url::Url::parse(&endpoint)
            .map_err(|e| format!("SSO endpoint {endpoint:?}: {e}"))?,
    })
}

/// `konserve-s3-<milliseconds since the epoch>`, as the SDKs name sessions.
pub(crate) fn default_session_name() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("konserve-s3-{ms}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn parses_aws_dialect() {
        let f = parse_ini(
            "# comment\n[default]\nregion = eu-west-1 # trailing\nkey=a#b\n\n\
             [profile  dev ]\nrole_arn = arn:x\n; other\n[services local]\ns3 =\n  endpoint_url = http://h:1\nsts =\n  endpoint_url = http://h:2\nplain = v\n",
        );
        assert_eq!(f.sections["default"]["region"], "eu-west-1");
        assert_eq!(f.sections["default"]["key"], "a#b");
        assert_eq!(f.sections["profile dev"]["role_arn"], "arn:x");
        let s = &f.sections["services local"];
        assert_eq!(s["s3.endpoint_url"], "http://h:1");
        assert_eq!(s["sts.endpoint_url"], "http://h:2");
        assert_eq!(s["plain"], "v");
    }

    fn profiles(config: &str, credentials: &str) -> Profiles {
        Profiles::merge(Some(parse_ini(config)), Some(parse_ini(credentials)))
    }

    #[test]
    fn static_profile_and_credentials_file_wins() {
        let p = profiles(
            "[profile a]\naws_access_key_id = CFG\naws_secret_access_key = S1\nregion = eu-north-1\n",
            "[a]\naws_access_key_id = CRED\naws_secret_access_key = S2\naws_session_token = T\n",
        );
        let Plan::Static(c) = plan(&p, "a", &env(&[]), None).unwrap() else {
            panic!()
        };
        assert_eq!(c.access_key, "CRED");
        assert_eq!(c.session_token.unwrap().expose(), "T");
        assert_eq!(region(&p, "a").as_deref(), Some("eu-north-1"));
    }

    #[test]
    fn source_profile_chain_of_two_and_role_settings() {
        let p = profiles(
            "[profile top]\nrole_arn = arn:aws:iam::1:role/top\nsource_profile = mid\nexternal_id = ext\n\
             duration_seconds = 1200\nrole_session_name = me\nregion = eu-west-2\n\
             [profile mid]\nrole_arn = arn:aws:iam::1:role/mid\nsource_profile = base\n\
             [profile base]\naws_access_key_id = AK\naws_secret_access_key = SK\n",
            "",
        );
        let Plan::AssumeRole(top) = plan(&p, "top", &env(&[]), None).unwrap() else {
            panic!()
        };
        assert_eq!(top.role_arn, "arn:aws:iam::1:role/top");
        assert_eq!(top.external_id.as_deref(), Some("ext"));
        assert_eq!(top.duration_seconds, Some(1200));
        assert_eq!(top.session_name, "me");
        assert_eq!(top.sts.region, "eu-west-2");
        assert_eq!(
            top.sts.endpoint.as_str(),
            "https://sts.eu-west-2.amazonaws.com/"
        );
        let Plan::AssumeRole(mid) = &top.base else {
            panic!()
        };
        assert!(mid.session_name.starts_with("konserve-s3-"));
        assert!(matches!(&mid.base, Plan::Static(c) if c.access_key == "AK"));
    }

    #[test]
    fn cycles_are_detected() {
        let p = profiles(
            "[profile a]\nrole_arn = r\nsource_profile = b\n[profile b]\nrole_arn = r\nsource_profile = a\n",
            "",
        );
        let e = plan(&p, "a", &env(&[]), None).unwrap_err();
        assert!(e.contains("cycle: a -> b -> a"), "{e}");
    }

    #[test]
    fn self_source_uses_own_keys() {
        let p = profiles(
            "[profile a]\nrole_arn = r\nsource_profile = a\naws_access_key_id = AK\naws_secret_access_key = SK\n",
            "",
        );
        let Plan::AssumeRole(r) = plan(&p, "a", &env(&[]), None).unwrap() else {
            panic!()
        };
        assert!(matches!(r.base, Plan::Static(_)));
    }

    #[test]
    fn refusals_say_why() {
        let p = profiles(
            "[profile mfa]\nrole_arn = r\nsource_profile = b\nmfa_serial = arn:mfa\n\
             [profile b]\naws_access_key_id = AK\naws_secret_access_key = SK\n\
             [profile lonely]\nrole_arn = r\n[profile empty]\nregion = x\n\
             [profile half]\naws_access_key_id = AK\n[profile weird]\nrole_arn = r\ncredential_source = Moon\n",
            "",
        );
        let e = |n| plan(&p, n, &env(&[]), None).unwrap_err();
        assert!(e("mfa").contains("MFA"));
        assert!(e("lonely").contains("neither source_profile"));
        assert!(e("empty").contains("no credentials"));
        assert!(e("half").contains("no aws_secret_access_key"));
        assert!(e("weird").contains("unknown credential_source"));
        assert!(e("nope").contains("not found"));
    }

    #[test]
    fn credential_sources_and_web_identity() {
        let p = profiles(
            "[profile env]\nrole_arn = r\ncredential_source = Environment\n\
             [profile imds]\nrole_arn = r\ncredential_source = Ec2InstanceMetadata\n\
             [profile ecs]\nrole_arn = r\ncredential_source = EcsContainer\n\
             [profile wi]\nrole_arn = arn:r\nweb_identity_token_file = ~/tok\n\
             [profile proc]\ncredential_process = /bin/echo hi\n",
            "",
        );
        let e = env(&[
            ("AWS_ACCESS_KEY_ID", "EAK"),
            ("AWS_SECRET_ACCESS_KEY", "ESK"),
            ("HOME", "/home/u"),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9"),
        ]);
        let role_base = |n| match plan(&p, n, &e, Some("ap-south-1")) {
            Ok(Plan::AssumeRole(r)) => r.base,
            other => panic!("{other:?}"),
        };
        assert!(matches!(role_base("env"), Plan::Static(c) if c.access_key == "EAK"));
        assert!(matches!(role_base("imds"), Plan::Imds(_)));
        assert!(
            plan(&p, "ecs", &e, None)
                .unwrap_err()
                .contains("EcsContainer")
        );
        let Ok(Plan::WebIdentity(w)) = plan(&p, "wi", &e, None) else {
            panic!()
        };
        assert_eq!(w.token_file, PathBuf::from("/home/u/tok"));
        assert_eq!(w.sts.endpoint.as_str(), "http://127.0.0.1:9/");
        assert!(matches!(plan(&p, "proc", &e, None), Ok(Plan::Process(c)) if c == "/bin/echo hi"));
    }

    #[test]
    fn services_endpoints() {
        let p = profiles(
            "[profile a]\nservices = local\nendpoint_url = http://all:1\n[services local]\nsts =\n  endpoint_url = http://sts:2\n",
            "",
        );
        assert_eq!(
            endpoint_url(&p, "a", "sts").as_deref(),
            Some("http://sts:2")
        );
        assert_eq!(endpoint_url(&p, "a", "s3").as_deref(), Some("http://all:1"));
    }
}
