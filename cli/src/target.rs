//! Stores named by URL: `s3://BUCKET/STORE-UUID`, `file:///ABS/PATH`, or
//! `config:FILE` (a konserve store configuration, any backend, tiered
//! included), and the options that complete them (endpoint, region,
//! profile, config file, AES key).

use std::path::PathBuf;

use konserve_s3::blocking::{AnyStore, any};
use konserve_s3::config::{Encryptor, S3Config, StoreConfig, StoreOptions};
use konserve_s3::value::Value;
use uuid::Uuid;

use crate::error::{CliError, CliResult};

/// Options every command takes.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Connection {
    /// S3 endpoint URL (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, the
    /// profile's endpoint, else AWS).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Signing region (default: AWS_REGION / AWS_DEFAULT_REGION, the
    /// profile's region, else us-east-1).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS profile of ~/.aws/config and ~/.aws/credentials (as AWS_PROFILE).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// A konserve-s3 configuration (JSON, or EDN when it starts with `{:` or
    /// ends in .edn): credentials, endpoint, HTTP and retry settings, store
    /// options. The URL's bucket and id win over the file's.
    #[arg(long = "config", global = true, value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// The AES key (EDN, usually a string: --key '"secret"') to read, and
    /// write, encrypted blobs.
    #[arg(long = "key", global = true, value_name = "EDN")]
    pub aes_key: Option<String>,
}

/// Where a store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A store in a bucket.
    S3 { bucket: String, id: Uuid },
    /// A bucket, for `stores`.
    Bucket(String),
    /// A konserve filestore directory.
    File(PathBuf),
    /// The store a konserve store configuration file describes (EDN, or
    /// JSON with `backend`): S3, a directory, or a tiered store.
    Config(PathBuf),
}

impl Location {
    /// Parses `s3://BUCKET[/UUID]` or `file:///ABS/PATH`.
    pub fn parse(url: &str) -> CliResult<Location> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, id) = match rest.split_once('/') {
                Some((b, id)) => (b, id.trim_end_matches('/')),
                None => (rest, ""),
            };
            if bucket.is_empty() {
                return Err(CliError::usage(format!(
                    "{url}: no bucket; name a store as s3://BUCKET/STORE-UUID"
                )));
            }
            if id.is_empty() {
                return Ok(Location::Bucket(bucket.to_owned()));
            }
            let id = Uuid::parse_str(id).map_err(|_| {
                CliError::usage(format!(
                    "{url}: {id:?} is not a store id; name a store as s3://BUCKET/STORE-UUID \
                     (`konserve-s3 stores s3://{bucket}` lists them)"
                ))
            })?;
            return Ok(Location::S3 {
                bucket: bucket.to_owned(),
                id,
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(CliError::usage(format!(
                    "{url}: a filestore is file:///ABSOLUTE/PATH (three slashes)"
                )));
            }
            return Ok(Location::File(PathBuf::from(path)));
        }
        if let Some(path) = url.strip_prefix("config:") {
            if path.is_empty() {
                return Err(CliError::usage(format!(
                    "{url}: name the configuration file: config:PATH (EDN or JSON)"
                )));
            }
            return Ok(Location::Config(PathBuf::from(path)));
        }
        Err(CliError::usage(format!(
            "{url}: not a store URL; use s3://BUCKET/STORE-UUID, file:///ABS/PATH or config:FILE"
        )))
    }

    /// What an object of this store is called in messages: S3 object key or
    /// file path.
    pub fn object_name(&self, blob: &str) -> String {
        match self {
            Location::S3 { id, .. } => format!("{id}_{blob}"),
            Location::Bucket(_) => blob.to_owned(),
            Location::File(dir) => dir.join(blob).display().to_string(),
            Location::Config(_) => blob.to_owned(),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::S3 { bucket, id } => write!(f, "s3://{bucket}/{id}"),
            Location::Bucket(b) => write!(f, "s3://{b}"),
            Location::File(p) => write!(f, "file://{}", p.display()),
            Location::Config(p) => write!(f, "config:{}", p.display()),
        }
    }
}

/// The store configuration in file `path` (EDN when it ends in `.edn` or
/// starts with `{:`, else JSON); `what` names it in errors.
fn read_store_config(path: &std::path::Path, what: &str) -> CliResult<StoreConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read {what} {}: {e}", path.display())))?;
    let edn = path.extension().is_some_and(|x| x == "edn") || text.trim_start().starts_with("{:");
    if edn {
        StoreConfig::from_edn(&text)
    } else {
        StoreConfig::from_json(&text)
    }
    .map_err(|e| CliError::usage(format!("{what} {}: {e}", path.display())))
}

/// Parses EDN given on the command line (`what` names it in the error).
pub fn parse_edn(text: &str, what: &str) -> CliResult<Value> {
    text.parse::<Value>().map_err(|e| {
        CliError::usage(format!(
            "{what} {text:?} is not EDN ({e}); keys and values are EDN: :kw, \"string\", 42, [1 2]"
        ))
    })
}

/// The encryptor an EDN key gives (`None`: no key).
pub fn encryptor_of(key: Option<&str>, what: &str) -> CliResult<Encryptor> {
    Ok(match key {
        Some(k) => Encryptor::Aes {
            key: parse_edn(k, what)?,
        },
        None => Encryptor::None,
    })
}

impl Connection {
    /// The file's S3 configuration (or a bare one for `bucket`), completed
    /// by the command line.
    pub fn s3_config(&self, bucket: &str, id: Option<Uuid>) -> CliResult<S3Config> {
        let mut config = match &self.config_file {
            Some(path) => match read_store_config(path, "--config")? {
                StoreConfig::S3(c) => *c,
                other => {
                    return Err(CliError::usage(format!(
                        "--config {}: backend {} is not s3; the URL names the store",
                        path.display(),
                        other.backend()
                    )));
                }
            },
            None => S3Config::builder()
                .bucket(bucket)
                .build()
                .map_err(|e| CliError::usage(crate::error::explain(&e)))?,
        };
        config.bucket = bucket.to_owned();
        config.id = id;
        if let Some(region) = &self.region {
            config.region = Some(region.clone());
        }
        if let Some(endpoint) = &self.endpoint {
            config.endpoint = Some(url::Url::parse(endpoint).map_err(|e| {
                CliError::usage(format!(
                    "--endpoint {endpoint:?} is not a URL ({e}); e.g. http://127.0.0.1:8333"
                ))
            })?);
        }
        if self.aes_key.is_some() {
            config.store.encoding.encryptor = encryptor_of(self.aes_key.as_deref(), "--key")?;
        }
        config
            .validate()
            .map_err(|e| CliError::usage(crate::error::explain(&e)))?;
        Ok(config)
    }

    /// The store configuration of `location`.
    pub fn store_config(&self, location: &Location) -> CliResult<StoreConfig> {
        match location {
            Location::S3 { bucket, id } => Ok(StoreConfig::S3(Box::new(
                self.s3_config(bucket, Some(*id))?,
            ))),
            Location::Bucket(b) => Err(CliError::usage(format!(
                "s3://{b} names a bucket, not a store: add the store id (s3://{b}/STORE-UUID)"
            ))),
            Location::Config(path) => read_store_config(path, "config:"),
            Location::File(path) => {
                let mut options = StoreOptions::default();
                options.encoding.encryptor = encryptor_of(self.aes_key.as_deref(), "--key")?;
                Ok(StoreConfig::File {
                    path: path.clone(),
                    id: None,
                    options,
                })
            }
        }
    }

    /// Opens the existing store at `url`.
    pub fn open(&self, url: &str) -> CliResult<(Location, AnyStore)> {
        let location = Location::parse(url)?;
        let config = self.store_config(&location)?;
        Ok((location, opened(any::connect_store(&config)?)))
    }
}

/// The stores this run opened, for [`flush_opened`].
static OPENED: std::sync::Mutex<Vec<AnyStore>> = std::sync::Mutex::new(Vec::new());

/// Remembers `store` so that its queued writes are sent before the
/// process ends ([`flush_opened`]); returns it.
pub fn opened(store: AnyStore) -> AnyStore {
    OPENED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(store.clone());
    store
}

/// Sends what tiered stores opened by this run still queue for their
/// backend (write-behind), so that a command's writes reach the backend
/// before it exits, as a user expects of a command that returned.
pub fn flush_opened() -> CliResult<()> {
    let stores = std::mem::take(
        &mut *OPENED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for store in stores {
        if let Some(tiered) = store.backing().as_tiered() {
            tiered.flush()?;
        }
    }
    Ok(())
}
