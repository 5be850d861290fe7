//! [`StoreConfig`]: which backing a store lives in, read from konserve's EDN
//! map (or its JSON form) with `backend` choosing, as konserve's
//! `konserve.store` multimethod does.
//!
//! The EDN map is turned into the JSON form key by key (keywords become
//! their names, `#uuid "…"` its string) and read by the same code as
//! [`S3Config::from_json`], so validation and the field paths in errors
//! (`config.optimistic-locking-retries`) are the same in both forms.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::{S3Config, StoreOptions, nested};
use crate::error::{Error, Result};
use crate::tiered::{ReadPolicy, SyncStrategy, TieredOptions, WritePolicy};
use crate::value::Value;

/// A store's configuration, any backing: konserve's
/// `{:backend :s3 …}`, `{:backend :file :path "…"}` or
/// `{:backend :memory}`.
///
/// Read it with [`StoreConfig::from_edn`] (or [`StoreConfig::from_edn_file`],
/// [`StoreConfig::from_json`]), then open the store with the `any` module of
/// either mode (`blocking::any::connect_or_create`, …), which returns a store
/// over a backing chosen at run time.
///
/// ```
/// use konserve_s3::config::StoreConfig;
///
/// let s3 = StoreConfig::from_edn(r#"{:backend :s3 :bucket "my-bucket"
///   :id #uuid "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10" :region "us-west-1"
///   :endpoint-override {:protocol :https :hostname "s3.example.com"}
///   :config {:optimistic-locking-retries 10}}"#)?;
/// let StoreConfig::S3(c) = &s3 else { unreachable!() };
/// assert_eq!(c.endpoint.as_ref().unwrap().as_str(), "https://s3.example.com/");
/// assert_eq!(c.store.optimistic_locking_retries, 10);
///
/// let file = StoreConfig::from_edn(r#"{:backend :file :path "/var/lib/app/store"}"#)?;
/// assert_eq!(file.backend(), "file");
/// # Ok::<(), konserve_s3::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreConfig {
    /// `:backend :s3` (the default when `backend` is missing): a store in a
    /// bucket (boxed: it is much larger than the other variants).
    S3(Box<S3Config>),
    /// `:backend :file`: konserve's filestore, one directory. Its `:config`
    /// may hold konserve's `:sync-blob? true` and `:in-place? false`, which
    /// is what the file backing always does; the opposite is refused.
    File {
        /// `:path`: the store's directory.
        path: PathBuf,
        /// `:id`: the store's id (informational for a directory store).
        id: Option<Uuid>,
        /// `:config`: store options, as for S3.
        options: StoreOptions,
    },
    /// `:backend :memory`: blobs in this process's memory. With an `:id`,
    /// stores are kept in a process-wide registry, so connecting finds a
    /// store created earlier in the process (konserve's memory store);
    /// without one, every open creates a fresh, unshared store.
    Memory {
        /// `:id`: the key of the process-wide registry.
        id: Option<Uuid>,
        /// `:config`: store options.
        options: StoreOptions,
    },
    /// `:backend :tiered`: konserve's tiered store, a frontend store in
    /// front of a backend store (`TieredBacking`, docs/tiered.md):
    ///
    /// ```edn
    /// {:backend :tiered :id #uuid "…"
    ///  :frontend-config {:backend :file :path "/var/cache/app" :id #uuid "…"}
    ///  :backend-config {:backend :s3 :bucket "b" :id #uuid "…"}
    ///  :write-policy :write-behind      ; :write-through (default), :write-around, :frontend-only
    ///  :read-policy :frontend-first     ; or :frontend-only
    ///  :sync-on-connect :populate-missing ; or :full; default none
    ///  :queue-capacity 1024             ; write-behind queue bound
    ///  :journal "/var/cache/app/pending.journal"} ; default: in a :file frontend's directory
    /// ```
    ///
    /// As in konserve, the `:id`s of the three configs must match.
    Tiered(Box<TieredConfig>),
}

/// A tiered store's configuration ([`StoreConfig::Tiered`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TieredConfig {
    /// `:id`: the store id (the frontend's and backend's must match it).
    pub id: Option<Uuid>,
    /// `:frontend-config`: the fast tier.
    pub frontend: StoreConfig,
    /// `:backend-config`: the durable tier.
    pub backend: StoreConfig,
    /// `:write-policy`, `:read-policy`, `:queue-capacity`, `:journal`.
    /// Without a `:journal`, a write-behind store with a `:file` frontend
    /// keeps its journal in the frontend's directory
    /// (`konserve-tiered.pending`).
    pub tiered: TieredOptions,
    /// `:sync-on-connect`: what to copy from the backend when connecting.
    pub sync_on_connect: Option<SyncStrategy>,
    /// `:config`: store options of the tiered store.
    pub options: StoreOptions,
}

/// The name of a write-behind journal in a file frontend's directory.
pub const TIERED_JOURNAL_FILE: &str = "konserve-tiered.pending";

impl TieredConfig {
    /// The tiered options with the journal resolved: the configured one,
    /// or for write-behind over a `:file` frontend, one in its directory.
    pub fn resolved_options(&self) -> TieredOptions {
        let mut o = self.tiered.clone();
        if o.journal.is_none()
            && o.write_policy == WritePolicy::WriteBehind
            && let StoreConfig::File { path, .. } = &self.frontend
        {
            o.journal = Some(path.join(TIERED_JOURNAL_FILE));
        }
        o
    }
}

impl StoreConfig {
    /// Reads konserve's EDN map (see the type's docs).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`]: field `(document)` for text that is not one
    /// EDN map (the reason gives line and column); otherwise the field,
    /// with its full path (`config.keys-parallelism`), as
    /// [`S3Config::from_json`] names it.
    pub fn from_edn(edn: &str) -> Result<StoreConfig> {
        let value: Value = edn
            .parse()
            .map_err(|e| Error::config("(document)", format!("not EDN: {e}")))?;
        match edn_to_json(&value, "")? {
            Json::Object(map) => Self::from_json_map(map),
            _ => Err(Error::config(
                "(document)",
                format!(
                    "expected an EDN map {{:backend …}}, got {}",
                    value.kind_name()
                ),
            )),
        }
    }

    /// Reads the EDN map in file `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read (the message names it);
    /// otherwise as [`StoreConfig::from_edn`].
    pub fn from_edn_file(path: impl AsRef<Path>) -> Result<StoreConfig> {
        Self::from_edn(&read_config_file(path.as_ref())?)
    }

    /// Reads the JSON form: [`S3Config::from_json`]'s keys, with `backend`
    /// `"s3"` (the default), `"file"` (with `path`) or `"memory"`.
    ///
    /// ```
    /// use konserve_s3::config::StoreConfig;
    /// let c = StoreConfig::from_json(r#"{"backend": "memory", "config": {"optimistic-locking-retries": 3}}"#)?;
    /// assert!(matches!(c, StoreConfig::Memory { id: None, ref options } if options.optimistic_locking_retries == 3));
    /// # Ok::<(), konserve_s3::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn from_json(json: &str) -> Result<StoreConfig> {
        let map: Map<String, Json> = serde_json::from_str(json)
            .map_err(|e| Error::config("(document)", format!("not a JSON object: {e}")))?;
        Self::from_json_map(map)
    }

    /// Reads the JSON form from file `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; otherwise as
    /// [`StoreConfig::from_json`].
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<StoreConfig> {
        Self::from_json(&read_config_file(path.as_ref())?)
    }

    /// The backend's name: `s3`, `file`, `memory` or `tiered`.
    pub fn backend(&self) -> &'static str {
        match self {
            StoreConfig::S3(_) => "s3",
            StoreConfig::File { .. } => "file",
            StoreConfig::Memory { .. } => "memory",
            StoreConfig::Tiered(_) => "tiered",
        }
    }

    /// The store id, when the config has one.
    pub fn id(&self) -> Option<Uuid> {
        match self {
            StoreConfig::S3(c) => c.id,
            StoreConfig::File { id, .. } | StoreConfig::Memory { id, .. } => *id,
            StoreConfig::Tiered(t) => t.id,
        }
    }

    /// The store options (the `config` map).
    pub fn options(&self) -> &StoreOptions {
        match self {
            StoreConfig::S3(c) => &c.store,
            StoreConfig::File { options, .. } | StoreConfig::Memory { options, .. } => options,
            StoreConfig::Tiered(t) => &t.options,
        }
    }

    fn from_json_map(map: Map<String, Json>) -> Result<StoreConfig> {
        let backend = match map.get("backend") {
            None => "s3".to_owned(),
            Some(Json::String(s)) => s.trim_start_matches(':').to_owned(),
            Some(other) => {
                return Err(Error::config(
                    "backend",
                    format!(
                        "expected a keyword or string (:s3, :file, :memory, :tiered), got {other}"
                    ),
                ));
            }
        };
        match backend.as_str() {
            "s3" => {
                let json = Json::Object(map).to_string();
                S3Config::from_json(&json).map(|c| StoreConfig::S3(Box::new(c)))
            }
            "file" => {
                let mut path = None;
                let (id, options) = local_fields(map, "file", |key, value| {
                    if key != "path" {
                        return Ok(false);
                    }
                    match value {
                        Json::String(s) if !s.is_empty() => {
                            path = Some(PathBuf::from(s));
                            Ok(true)
                        }
                        other => Err(Error::config(
                            "path",
                            format!(
                                "expected the store's directory as a non-empty string, got {other}"
                            ),
                        )),
                    }
                })?;
                let path = path.ok_or_else(|| {
                    Error::config(
                        "path",
                        "missing: a file store needs its directory (:path \"/var/lib/app/store\")",
                    )
                })?;
                Ok(StoreConfig::File { path, id, options })
            }
            "memory" => {
                let (id, options) = local_fields(map, "memory", |_, _| Ok(false))?;
                Ok(StoreConfig::Memory { id, options })
            }
            "tiered" => tiered_config(map),
            other => Err(Error::config(
                "backend",
                format!("unknown backend {other:?}: use :s3, :file, :memory or :tiered"),
            )),
        }
    }
}

/// A `:tiered` config's map.
fn tiered_config(map: Map<String, Json>) -> Result<StoreConfig> {
    let mut id = None;
    let (mut frontend, mut backend) = (None, None);
    let mut tiered = TieredOptions::default();
    let mut sync_on_connect = None;
    let mut options = StoreOptions::default();
    let name_of = |key: &str, value: &Json| -> Result<String> {
        match value {
            Json::String(s) => Ok(s.trim_start_matches(':').to_owned()),
            other => Err(Error::config(
                key,
                format!("expected a keyword, got {other}"),
            )),
        }
    };
    for (key, value) in map {
        match key.as_str() {
            "backend" => {}
            "id" => id = Some(parse_id(value)?),
            "frontend-config" | "backend-config" => {
                let Json::Object(inner) = value else {
                    return Err(Error::config(
                        key,
                        format!("expected a store config map, got {value}"),
                    ));
                };
                let config = StoreConfig::from_json_map(inner).map_err(|e| match e {
                    Error::InvalidConfig { field, reason } => Error::InvalidConfig {
                        field: format!("{key}.{field}"),
                        reason,
                    },
                    other => other,
                })?;
                if key == "frontend-config" {
                    frontend = Some(config);
                } else {
                    backend = Some(config);
                }
            }
            "write-policy" => {
                let name = name_of(&key, &value)?;
                tiered.write_policy = WritePolicy::from_name(&name).ok_or_else(|| {
                    Error::config(
                        key,
                        format!(
                            "unknown write policy :{name}: use :write-through, :write-behind, \
                             :write-around or :frontend-only"
                        ),
                    )
                })?;
            }
            "read-policy" => {
                let name = name_of(&key, &value)?;
                tiered.read_policy = ReadPolicy::from_name(&name).ok_or_else(|| {
                    Error::config(
                        key,
                        format!(
                            "unknown read policy :{name}: use :frontend-first or :frontend-only"
                        ),
                    )
                })?;
            }
            "sync-on-connect" => {
                if value.is_null() {
                    continue;
                }
                let name = name_of(&key, &value)?;
                sync_on_connect = Some(SyncStrategy::from_name(&name).ok_or_else(|| {
                    Error::config(
                        key,
                        format!("unknown sync strategy :{name}: use :populate-missing or :full"),
                    )
                })?);
            }
            "queue-capacity" => match value.as_u64() {
                Some(n) if n > 0 => {
                    tiered.queue_capacity = usize::try_from(n).unwrap_or(usize::MAX)
                }
                _ => {
                    return Err(Error::config(
                        key,
                        format!("expected a positive number of blobs, got {value}"),
                    ));
                }
            },
            "journal" => match value {
                Json::String(s) if !s.is_empty() => tiered.journal = Some(PathBuf::from(s)),
                other => {
                    return Err(Error::config(
                        key,
                        format!("expected the journal file's path as a string, got {other}"),
                    ));
                }
            },
            "config" => options = nested(&key, value)?,
            _ => {
                return Err(Error::config(
                    key,
                    "unknown configuration key for backend :tiered",
                ));
            }
        }
    }
    check_options(&options)?;
    let missing = |key: &'static str| {
        Error::config(
            key,
            "missing: a tiered store needs :frontend-config and :backend-config, \
             each a whole store config",
        )
    };
    let frontend = frontend.ok_or_else(|| missing("frontend-config"))?;
    let backend = backend.ok_or_else(|| missing("backend-config"))?;
    if let Some(id) = id {
        for (key, sub) in [
            ("frontend-config.id", &frontend),
            ("backend-config.id", &backend),
        ] {
            if sub.id() != Some(id) {
                return Err(Error::config(
                    key,
                    format!(
                        "must match the tiered store's :id {id} (konserve requires the three \
                         ids to be equal), got {}",
                        sub.id().map_or("none".to_owned(), |i| i.to_string())
                    ),
                ));
            }
        }
    }
    Ok(StoreConfig::Tiered(Box::new(TieredConfig {
        id,
        frontend,
        backend,
        tiered,
        sync_on_connect,
        options,
    })))
}

/// Reads the keys every local backend has (`backend`, `id`, `config`),
/// handing the others to `extra`, which says whether it took the key.
fn local_fields(
    map: Map<String, Json>,
    backend: &str,
    mut extra: impl FnMut(&str, Json) -> Result<bool>,
) -> Result<(Option<Uuid>, StoreOptions)> {
    let mut id = None;
    let mut options = StoreOptions::default();
    for (key, value) in map {
        match key.as_str() {
            "backend" => {}
            "id" => id = Some(parse_id(value)?),
            "config" => {
                let value = if backend == "file" {
                    filestore_flags(value)?
                } else {
                    value
                };
                options = nested(&key, value)?;
            }
            _ => {
                if !extra(&key, value)? {
                    return Err(Error::config(
                        key,
                        format!("unknown configuration key for backend :{backend}"),
                    ));
                }
            }
        }
    }
    check_options(&options)?;
    Ok((id, options))
}

/// konserve filestore's `:sync-blob?` and `:in-place?` in a file store's
/// `config`: accepted (and taken out) when they ask for what the file
/// backing always does, refused otherwise.
fn filestore_flags(value: Json) -> Result<Json> {
    let Json::Object(mut map) = value else {
        return Ok(value);
    };
    for (flag, always, what) in [
        ("sync-blob?", true, "fsyncs every blob and its directory"),
        (
            "in-place?",
            false,
            "writes a new file and renames it over the old one",
        ),
    ] {
        match map.remove(flag) {
            None => {}
            Some(Json::Bool(b)) if b == always => {}
            Some(other) => {
                return Err(Error::config(
                    format!("config.{flag}"),
                    format!(
                        "{other}: the file backing always {what} ({flag} {always}); \
                         leave it out or set it to {always}"
                    ),
                ));
            }
        }
    }
    Ok(Json::Object(map))
}

fn parse_id(value: Json) -> Result<Uuid> {
    let Json::String(s) = value else {
        return Err(Error::config(
            "id",
            format!("expected a UUID (#uuid \"…\" or a string), got {value}"),
        ));
    };
    Uuid::parse_str(&s).map_err(|e| Error::config("id", format!("not a UUID: {e}")))
}

/// The store options' checks, exactly those an S3 config gets (the same
/// code, through a config that has nothing else to check).
fn check_options(options: &StoreOptions) -> Result<()> {
    S3Config::builder()
        .bucket("options-only")
        .store_options(options.clone())
        .build()
        .map(drop)
}

fn read_config_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("cannot read config file {}: {e}", path.display()),
        ))
    })
}

/// The JSON form of an EDN value; `at` is its key path, for errors.
fn edn_to_json(value: &Value, at: &str) -> Result<Json> {
    let unsupported = |what: &str| {
        Error::config(
            if at.is_empty() { "(document)" } else { at }.to_owned(),
            format!("{what} has no meaning in a store config"),
        )
    };
    Ok(match value {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| unsupported("a NaN or infinite number"))?,
        Value::String(s) => Json::String(s.clone()),
        Value::Keyword(k) => Json::String(k.full_name()),
        Value::Symbol(s) => Json::String(s.full_name()),
        Value::Uuid(u) => Json::String(u.to_string()),
        Value::Vector(items) | Value::List(items) => Json::Array(
            items
                .iter()
                .map(|v| edn_to_json(v, at))
                .collect::<Result<_>>()?,
        ),
        Value::Set(items) => Json::Array(
            items
                .iter()
                .map(|v| edn_to_json(v, at))
                .collect::<Result<_>>()?,
        ),
        Value::Map(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Value::Keyword(k) => k.full_name(),
                    Value::String(s) => s.clone(),
                    Value::Symbol(s) => s.full_name(),
                    other => {
                        return Err(Error::config(
                            if at.is_empty() { "(document)" } else { at }.to_owned(),
                            format!("map key {other} is not a keyword or string"),
                        ));
                    }
                };
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                out.insert(key, edn_to_json(v, &path)?);
            }
            Json::Object(out)
        }
        Value::BigInt(_) => return Err(unsupported("an integer this large")),
        Value::Char(_) => return Err(unsupported("a character")),
        Value::Inst(_) => return Err(unsupported("an #inst")),
        Value::Bytes(_) => return Err(unsupported("#bytes")),
        Value::Tagged(tag, _) => return Err(unsupported(&format!("the tag #{}", tag.full_name()))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: Error) -> String {
        match e {
            Error::InvalidConfig { field, .. } => field,
            other => panic!("not a config error: {other}"),
        }
    }

    #[test]
    fn edn_s3_config_is_the_json_config() {
        let edn = StoreConfig::from_edn(
            r#"{:backend :s3 :bucket "b-1" :id #uuid "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10"
                :region "us-west-1" :x-ray? true :path-style-access? true
                :endpoint-override {:protocol :https :hostname "s3.example.com" :port 9000}
                :config {:optimistic-locking-retries 10 :conditional-writes :auto}}"#,
        )
        .unwrap();
        let json = S3Config::from_json(
            r#"{"bucket": "b-1", "id": "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10",
                "region": "us-west-1", "x-ray?": true, "path-style-access?": true,
                "endpoint-override": {"protocol": "https", "hostname": "s3.example.com", "port": 9000},
                "config": {"optimistic-locking-retries": 10, "conditional-writes": "auto"}}"#,
        )
        .unwrap();
        assert_eq!(edn, StoreConfig::S3(Box::new(json)));
    }

    #[test]
    fn backend_defaults_to_s3() {
        let c = StoreConfig::from_edn(r#"{:bucket "b-1"}"#).unwrap();
        assert_eq!(c.backend(), "s3");
        let c = StoreConfig::from_json(r#"{"bucket": "b-1"}"#).unwrap();
        assert_eq!(c.backend(), "s3");
    }

    #[test]
    fn file_and_memory() {
        let c = StoreConfig::from_edn(
            r#"{:backend :file :path "/tmp/s" :id #uuid "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10"
                :config {:optimistic-locking-retries 2}}"#,
        )
        .unwrap();
        let StoreConfig::File { path, id, options } = c else {
            panic!("not a file config")
        };
        assert_eq!(path, PathBuf::from("/tmp/s"));
        assert!(id.is_some());
        assert_eq!(options.optimistic_locking_retries, 2);
        // konserve filestore's flags, when they ask for what the backing does.
        let c = StoreConfig::from_edn(
            r#"{:backend :file :path "/tmp/s" :config {:sync-blob? true :in-place? false}}"#,
        )
        .unwrap();
        assert_eq!(c.options(), &StoreOptions::default());
        let c = StoreConfig::from_edn("{:backend :memory}").unwrap();
        assert_eq!(
            c,
            StoreConfig::Memory {
                id: None,
                options: StoreOptions::default()
            }
        );
    }

    #[test]
    fn tiered() {
        let c = StoreConfig::from_edn(
            r#"{:backend :tiered :id #uuid "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10"
                :frontend-config {:backend :file :path "/tmp/front" :id #uuid "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10"}
                :backend-config {:backend :s3 :bucket "b-1" :id #uuid "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10"}
                :write-policy :write-behind :read-policy :frontend-first
                :sync-on-connect :populate-missing :queue-capacity 10}"#,
        )
        .unwrap();
        assert_eq!(c.backend(), "tiered");
        let StoreConfig::Tiered(t) = &c else {
            panic!("not tiered")
        };
        assert_eq!(t.frontend.backend(), "file");
        assert_eq!(t.backend.backend(), "s3");
        assert_eq!(t.tiered.write_policy, WritePolicy::WriteBehind);
        assert_eq!(t.tiered.queue_capacity, 10);
        assert_eq!(t.sync_on_connect, Some(SyncStrategy::PopulateMissing));
        assert_eq!(
            t.resolved_options().journal,
            Some(PathBuf::from("/tmp/front").join(TIERED_JOURNAL_FILE))
        );
        let json = StoreConfig::from_json(
            r#"{"backend": "tiered", "frontend-config": {"backend": "memory"},
                "backend-config": {"backend": "memory"}, "write-policy": "frontend-only"}"#,
        )
        .unwrap();
        let StoreConfig::Tiered(t) = json else {
            panic!("not tiered")
        };
        assert_eq!(t.tiered.write_policy, WritePolicy::FrontendOnly);
        assert_eq!(t.resolved_options().journal, None);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                r#"{:bucket "b-1" :config {:optimistic-locking-retries "ten"}}"#,
                "config.optimistic-locking-retries",
            ),
            (
                r#"{:backend :file :path "/x" :config {:keys-parallelism 0}}"#,
                "config.keys-parallelism",
            ),
            (
                r#"{:backend :memory :config {:optimistic-locking-retries -1}}"#,
                "config.optimistic-locking-retries",
            ),
            (r#"{:backend :file}"#, "path"),
            (
                r#"{:backend :file :path "/x" :config {:sync-blob? false}}"#,
                "config.sync-blob?",
            ),
            (
                r#"{:backend :file :path "/x" :config {:in-place? true}}"#,
                "config.in-place?",
            ),
            (
                r#"{:backend :memory :config {:sync-blob? true}}"#,
                "config.sync-blob?",
            ),
            (r#"{:backend :file :path 3}"#, "path"),
            (r#"{:backend :memory :path "/x"}"#, "path"),
            (r#"{:backend :memory :id "nope"}"#, "id"),
            (r#"{:backend :redis}"#, "backend"),
            (r#"{:backend :tiered}"#, "frontend-config"),
            (
                r#"{:backend :tiered :frontend-config {:backend :memory} :backend-config {:backend :file}}"#,
                "backend-config.path",
            ),
            (
                r#"{:backend :tiered :frontend-config {:backend :memory} :backend-config {:backend :memory} :write-policy :sometimes}"#,
                "write-policy",
            ),
            (
                r#"{:backend :tiered :id #uuid "4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10" :frontend-config {:backend :memory} :backend-config {:backend :memory}}"#,
                "frontend-config.id",
            ),
            (
                r#"{:backend :tiered :frontend-config {:backend :memory} :backend-config {:backend :memory} :queue-capacity 0}"#,
                "queue-capacity",
            ),
            (r#"{:backend 3}"#, "backend"),
            (r#"{:bucket "b-1" :id "nope"}"#, "id"),
            (r#"{:bucket "B"}"#, "bucket"),
            (
                r#"{:bucket "b-1" :endpoint-override {:protocol :ftp :hostname "h"}}"#,
                "endpoint-override.protocol",
            ),
            (r#"{:bucket "b-1" :when #inst "2020-01-01"}"#, "when"),
            (r#"{:bucket "b-1" :config {1 2}}"#, "config"),
            ("[1 2]", "(document)"),
            ("{:bucket", "(document)"),
        ];
        for (edn, field) in cases {
            let err = StoreConfig::from_edn(edn).unwrap_err();
            assert_eq!(field_of(err), field, "{edn}");
        }
    }

    #[test]
    fn edn_syntax_errors_give_line_and_column() {
        let err = StoreConfig::from_edn("{:backend :s3\n :bucket \"b-1}").unwrap_err();
        let Error::InvalidConfig { field, reason } = err else {
            panic!("not a config error")
        };
        assert_eq!(field, "(document)");
        assert!(reason.contains("line 2, column 10"), "{reason}");
    }

    #[test]
    fn files() {
        let dir = std::env::temp_dir().join(format!("konserve-s3-cfg-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let edn = dir.join("store.edn");
        std::fs::write(&edn, "{:backend :memory}").unwrap();
        assert_eq!(
            StoreConfig::from_edn_file(&edn).unwrap().backend(),
            "memory"
        );
        let json = dir.join("store.json");
        std::fs::write(&json, r#"{"backend": "file", "path": "/x"}"#).unwrap();
        assert_eq!(
            StoreConfig::from_json_file(&json).unwrap().backend(),
            "file"
        );
        let missing = dir.join("missing.edn");
        let err = StoreConfig::from_edn_file(&missing).unwrap_err();
        assert!(
            matches!(&err, Error::Io(e) if e.to_string().contains("missing.edn")),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
