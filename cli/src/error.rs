//! The CLI's errors: one line each, saying what to do, with the exit code
//! (1: the operation failed or found nothing; 2: usage).

use std::fmt;

use konserve_s3::Error;
use konserve_s3::error::CodecError;

/// Exit code of a failed operation (or a missing key / store).
pub const EXIT_FAILED: u8 = 1;
/// Exit code of a usage error (bad arguments, bad EDN, bad URL).
pub const EXIT_USAGE: u8 = 2;

/// A failure of the tool.
#[derive(Debug)]
pub enum CliError {
    /// The command line is wrong (exit 2).
    Usage(String),
    /// The operation failed (exit 1).
    Failed(String),
}

impl CliError {
    /// Exit code for this error.
    pub fn code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Failed(_) => EXIT_FAILED,
        }
    }

    /// A usage error.
    pub fn usage(msg: impl Into<String>) -> Self {
        CliError::Usage(msg.into())
    }

    /// A failed operation.
    pub fn failed(msg: impl Into<String>) -> Self {
        CliError::Failed(msg.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (CliError::Usage(m) | CliError::Failed(m)) = self;
        // One line, whatever the message held.
        let one: Vec<&str> = m.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        f.write_str(&one.join("; "))
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Failed(explain(&e))
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Failed(format!("I/O error: {e}"))
    }
}

/// What went wrong with a codec error, and what to do about it.
pub fn explain_codec(e: &CodecError) -> String {
    match e {
        CodecError::MissingKey(_) => {
            format!("{e}: give the store's AES key with --key EDN (e.g. --key '\"secret\"')")
        }
        CodecError::BadPadding(_) => {
            "cannot decrypt: wrong secret (or corrupt data): check --key".to_owned()
        }
        other => other.to_string(),
    }
}

/// The library's error as one line with the fix.
pub fn explain(e: &Error) -> String {
    match e {
        Error::NoCredentials(_) => format!(
            "{e}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pick a profile with --profile, \
             or put credentials in --config FILE"
        ),
        Error::InvalidCredentials(_) | Error::AccessDenied(_) => format!(
            "{e}: check the access key and secret (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, \
             --profile or --config) and the bucket's permissions"
        ),
        Error::NoSuchBucket(_) => format!(
            "{e}: check the bucket name and --endpoint/--region; `konserve-s3 create s3://BUCKET/ID` \
             creates a bucket with a store in it"
        ),
        Error::StoreNotFound { bucket, id } => format!(
            "unknown store id {id} in {bucket}: list the stores with `konserve-s3 stores s3://BUCKET`, \
             or create it with `konserve-s3 create`"
        ),
        Error::StoreAlreadyExists { bucket, id } => {
            format!("store {id} already exists in {bucket}: use it, or delete it first")
        }
        Error::Transport { .. } | Error::Timeout(_) | Error::Unavailable(_) => {
            format!("{e}: check --endpoint (or AWS_ENDPOINT_URL) and that the server is reachable")
        }
        Error::Blob { blob, source } => {
            format!("cannot decode blob {blob}: {}", explain_codec(source))
        }
        Error::InvalidConfig { .. } => {
            format!("{e}: fix the configuration (--config, --endpoint, --region)")
        }
        other => other.to_string(),
    }
}

/// Shorthand for the CLI's results.
pub type CliResult<T> = Result<T, CliError>;
