//! Reading a store blob by blob through its backing: the names, and each
//! blob's format and metadata (for `info`, `keys`) or whole decoded content
//! (for `verify`, `copy`).

use konserve_s3::blob::BlobFormat;
use konserve_s3::blocking::{AnyStore, Backing};
use konserve_s3::config::Encoding;
use konserve_s3::error::CodecError;
use konserve_s3::value::Value;

use crate::error::{CliResult, explain, explain_codec};

/// Suffix of a konserve value blob.
const BLOB_SUFFIX: &str = ".ksv";

/// How much of a blob a metadata read fetches first.
const META_PREFIX: u64 = 4096;

/// The value blobs of a store (`<uuid>.ksv`; staging and backup leftovers
/// and the marker are not the store's values).
pub fn value_blobs(store: &AnyStore) -> CliResult<Vec<String>> {
    let mut names: Vec<String> = store
        .backing()
        .list_blobs()?
        .into_iter()
        .filter(|n| n.ends_with(BLOB_SUFFIX))
        .collect();
    names.sort();
    Ok(names)
}

/// The format, metadata and size of one blob.
pub struct BlobMeta {
    pub format: BlobFormat,
    pub meta: Value,
    pub size: u64,
}

/// A blob whose metadata could not be read.
pub struct Unreadable {
    /// Why.
    pub reason: String,
    /// Its format, when at least its header was read.
    pub format: Option<BlobFormat>,
    /// Its size, when known.
    pub size: u64,
}

/// Reads the header and metadata of `name` (a prefix read, the whole blob
/// when the metadata is larger); `Ok(None)` when it vanished.
///
/// # Errors
/// Why it does not read or decode (with its format when the header at
/// least was read, as for an encrypted blob without its key).
pub fn read_meta(
    store: &AnyStore,
    enc: &Encoding,
    name: &str,
) -> Result<Option<BlobMeta>, Unreadable> {
    let failed = |reason: String, bytes: Option<&[u8]>, size: u64| Unreadable {
        reason,
        format: bytes.and_then(|b| BlobFormat::of(b).ok()),
        size,
    };
    let backing = store.backing();
    let Some(prefix) = backing
        .read_blob_prefix(name, META_PREFIX)
        .map_err(|e| failed(explain(&e), None, 0))?
    else {
        return Ok(None);
    };
    let size = prefix.total_size.unwrap_or(prefix.bytes.len() as u64);
    match enc.decode_blob_meta(&prefix.bytes) {
        Ok((format, meta)) => Ok(Some(BlobMeta { format, meta, size })),
        Err(CodecError::Truncated(_)) if (prefix.bytes.len() as u64) < size => {
            let Some(whole) = backing
                .read_blob(name)
                .map_err(|e| failed(explain(&e), Some(&prefix.bytes), size))?
            else {
                return Ok(None);
            };
            let (format, meta) = enc
                .decode_blob_meta(&whole.bytes)
                .map_err(|e| failed(explain_codec(&e), Some(&whole.bytes), size))?;
            Ok(Some(BlobMeta {
                format,
                meta,
                size: whole.bytes.len() as u64,
            }))
        }
        Err(e) => Err(failed(explain_codec(&e), Some(&prefix.bytes), size)),
    }
}

/// Whether `meta` is konserve's metadata map (`:key`, `:type`,
/// `:last-write`); the reason when not.
pub fn check_meta(meta: &Value) -> Result<(), String> {
    let Some(m) = meta.as_map() else {
        return Err(format!(
            "metadata is a {}, not konserve's map",
            meta.kind_name()
        ));
    };
    for field in ["key", "type", "last-write"] {
        if !m.contains_key(&Value::keyword(field)) {
            return Err(format!("metadata has no :{field}"));
        }
    }
    if meta
        .get(&Value::keyword("last-write"))
        .and_then(Value::as_inst)
        .is_none()
    {
        return Err("metadata's :last-write is not an #inst".into());
    }
    Ok(())
}

/// A metadata field.
pub fn field<'a>(meta: &'a Value, name: &str) -> Option<&'a Value> {
    meta.get(&Value::keyword(name))
}

/// The `:type` keyword's name (`edn`, `binary`, `append-log`), `?` when none.
pub fn type_name(meta: &Value) -> String {
    field(meta, "type")
        .and_then(Value::as_keyword)
        .map_or_else(|| "?".to_owned(), |k| k.name().to_owned())
}
