//! The async side of credentials: the provider trait (its futures are
//! `Send`), one refresh at a time (an async mutex), running
//! `credential_process` off the runtime's threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::credentials::Credentials;
use crate::error::Result;

/// A source of credentials for signing: the default chain
/// (`DefaultCredentialsChain`), or your own. Implement it with an
/// `async fn`; its future must be `Send`.
///
/// Called before every request attempt whose cached credentials are due
/// for a refresh (see [`Credentials::expiry`]); give temporary
/// credentials an expiry so that they are renewed in time.
///
/// ```
/// use konserve_s3::config::Credentials;
/// use konserve_s3::nonblocking::CredentialsProvider;
///
/// #[derive(Debug)]
/// struct Vault;
///
/// impl CredentialsProvider for Vault {
///     async fn provide_credentials(&self) -> konserve_s3::Result<Credentials> {
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
    fn provide_credentials(&self) -> impl Future<Output = Result<Credentials>> + Send;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`CredentialsProvider`] behind a pointer (its `impl Future` cannot be).
pub(crate) trait DynProvider: Send + Sync + std::fmt::Debug {
    fn provide_boxed(&self) -> BoxFuture<'_, Result<Credentials>>;
}

impl<P: CredentialsProvider> DynProvider for P {
    fn provide_boxed(&self) -> BoxFuture<'_, Result<Credentials>> {
        Box::pin(self.provide_credentials())
    }
}

/// A provider shared by the client's attempts.
pub(crate) type SharedProvider = Arc<dyn DynProvider>;

/// `provider`, shared.
pub(crate) fn share<P: CredentialsProvider + 'static>(provider: P) -> SharedProvider {
    Arc::new(provider)
}

/// Asks `provider` for credentials.
pub(crate) async fn provide(provider: &SharedProvider) -> Result<Credentials> {
    provider.provide_boxed().await
}

/// Lets one refresh run at a time; the others wait for it and then use
/// what it fetched.
#[derive(Debug, Default)]
pub(crate) struct RefreshLock(tokio::sync::Mutex<()>);

impl RefreshLock {
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.0.lock().await
    }
}

pub(crate) use crate::mode::process::ProcessOutput;

/// Runs `command` through the shell on a blocking thread of the runtime
/// (in place when there is no runtime).
///
/// # Errors
/// The process could not be started.
pub(crate) async fn run_process(command: &str) -> std::io::Result<ProcessOutput> {
    let command = command.to_owned();
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(move || crate::mode::process::run_process(&command))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string()))),
        Err(_) => crate::mode::process::run_process(&command),
    }
}
