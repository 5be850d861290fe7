//! Credentials for signing requests, and the [`Secret`] wrapper that keeps
//! them out of `Debug` output. Pure data: the S3 layer signs with them, the
//! config resolves them.

use std::fmt;

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

/// Static credentials: access key id, secret, optional session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (not secret; shown in `Debug`).
    pub access_key: String,
    /// The secret access key.
    pub secret: Secret,
    /// An STS session token, for temporary credentials.
    pub session_token: Option<Secret>,
}

impl Credentials {
    /// Credentials from an access key id and a secret.
    pub fn new(access_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials {
            access_key: access_key.into(),
            secret: Secret::new(secret),
            session_token: None,
        }
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
            .finish()
    }
}
