//! Credentials for signing requests, and the [`Secret`] wrapper that keeps
//! them out of `Debug` output; and the pure half of AWS's default credential
//! chain: which sources apply in an environment (`chain`), the shared
//! config and credentials files (`profile`), what STS, the metadata
//! endpoints, `credential_process` and the SSO cache answer (`sts`,
//! `metadata`, `process`, `sso`), SigV4 for STS (`sigv4`) and when cached
//! credentials are refreshed (`chain::refresh_at`). The I/O (HTTP, running
//! processes, reading files) is the engine's (`src/engine/credentials.rs`).

use std::fmt;
use std::time::SystemTime;

pub(crate) mod chain;
pub(crate) mod metadata;
pub(crate) mod process;
pub(crate) mod profile;
pub(crate) mod sigv4;
pub(crate) mod sso;
pub(crate) mod sts;

pub use chain::{CredentialsReport, Environment, SourceOutcome};

/// A secret string: never shown by `Debug`, and without `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself; keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(REDACTED)")
    }
}

/// Credentials: access key id, secret, optional session token, and for
/// temporary credentials the time they expire.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    /// The access key id (not secret; shown in `Debug`).
    pub access_key: String,
    /// The secret access key.
    pub secret: Secret,
    /// An STS session token, for temporary credentials.
    pub session_token: Option<Secret>,
    /// When temporary credentials stop working (`None`: they do not
    /// expire). Cached credentials are refreshed a few minutes before.
    pub expiry: Option<SystemTime>,
}

impl Credentials {
    /// Credentials from an access key id and a secret.
    pub fn new(access_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials {
            access_key: access_key.into(),
            secret: Secret::new(secret),
            session_token: None,
            expiry: None,
        }
    }

    /// Sets the time the credentials expire.
    pub fn with_expiry(mut self, expiry: SystemTime) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Adds an STS session token.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(Secret::new(token));
        self
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret", &self.secret)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "REDACTED"),
            )
            .field("expiry", &self.expiry.map(jiff_time))
            .finish()
    }
}

/// `t` as an RFC 3339 timestamp, for messages.
pub(crate) fn jiff_time(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).map_or_else(|_| format!("{t:?}"), |t| t.to_string())
}

/// An RFC 3339 / ISO 8601 timestamp (`2026-01-02T03:04:05Z`) as a
/// [`SystemTime`].
pub(crate) fn parse_time(s: &str) -> Option<SystemTime> {
    s.trim()
        .parse::<jiff::Timestamp>()
        .ok()
        .map(SystemTime::from)
}
