//! The blocking side of credentials: the provider trait, one refresh at a
//! time (a mutex), running `credential_process`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::credentials::Credentials;
use crate::error::Result;

/// A source of credentials for signing: the default chain
/// (`DefaultCredentialsChain`), or your own.
///
/// Called before every request attempt whose cached credentials are due
/// for a refresh (see [`Credentials::expiry`]); give temporary
/// credentials an expiry so that they are renewed in time.
///
/// ```
/// use konserve_s3::blocking::CredentialsProvider;
/// use konserve_s3::config::Credentials;
///
/// #[derive(Debug)]
/// struct Vault;
///
/// impl CredentialsProvider for Vault {
///     fn provide_credentials(&self) -> konserve_s3::Result<Credentials> {
///         Ok(Credentials::new("AKIDEXAMPLE", "from-the-vault"))
///     }
/// }
/// # let _ = Vault.provide_credentials();
/// ```
pub trait CredentialsProvider: Send + Sync + std::fmt::Debug {
    /// Current credentials.
    ///
    /// # Errors
    /// Any; [`Error::NoCredentials`](crate::Error::NoCredentials) says
    /// which sources were tried.
    fn provide_credentials(&self) -> Result<Credentials>;
}

/// A provider shared by the client's attempts.
pub(crate) type SharedProvider = Arc<dyn CredentialsProvider>;

/// `provider`, shared.
pub(crate) fn share<P: CredentialsProvider + 'static>(provider: P) -> SharedProvider {
    Arc::new(provider)
}

/// Asks `provider` for credentials.
pub(crate) fn provide(provider: &SharedProvider) -> Result<Credentials> {
    provider.provide_credentials()
}

/// Lets one refresh run at a time; the others wait for it and then use
/// what it fetched.
#[derive(Debug, Default)]
pub(crate) struct RefreshLock(Mutex<()>);

impl RefreshLock {
    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) use crate::mode::process::run_process;
