//! Where konserve puts things: blob names, object keys, the store marker.
//!
//! - A key's blob is named `<hasch-uuid-of-key>.ksv` (konserve's filestore
//!   name); staging and backup copies add `.new` / `.backup`.
//! - In a bucket, every object of store `<id>` is `<id>_<name>`, so many stores
//!   share one flat bucket; the store's marker is `<id>_.konserve-metadata`
//!   with the 8-byte body `konserve`, and the set of markers is the set of
//!   stores.

use uuid::Uuid;

use crate::hasch;
use crate::value::Value;

/// Suffix of a value blob.
pub const BLOB_SUFFIX: &str = ".ksv";
/// Suffix of a staging blob (konserve's not-in-place writes).
pub const STAGING_SUFFIX: &str = ".ksv.new";
/// Suffix of a backup blob.
pub const BACKUP_SUFFIX: &str = ".ksv.backup";
/// Name of the store marker after the `<id>_` prefix.
pub const MARKER_NAME: &str = ".konserve-metadata";
/// Body of the store marker.
pub const MARKER_BODY: &[u8] = b"konserve";

/// The blob name of a top-level key: `<hasch uuid>.ksv`.
///
/// ```
/// use konserve_s3::internals::layout::blob_name;
/// use konserve_s3::value::Value;
/// assert_eq!(blob_name(&Value::from("bar")), "2c8e57a6-ed4e-5746-9f7e-af7ff2ac25c5.ksv");
/// ```
pub fn blob_name(key: &Value) -> String {
    blob_name_of_uuid(hasch::uuid(key))
}

/// The blob name of a blob id (append-log elements are stored under the
/// hasch of their UUID key, like any key).
pub fn blob_name_of_uuid(id: Uuid) -> String {
    let mut s = id.hyphenated().to_string();
    s.push_str(BLOB_SUFFIX);
    s
}

/// `<id>_`: the prefix of every object of a store.
pub fn store_prefix(store_id: Uuid) -> String {
    format!("{}_", store_id.hyphenated())
}

/// `<id>_<name>`.
pub fn object_key(store_id: Uuid, name: &str) -> String {
    format!("{}_{name}", store_id.hyphenated())
}

/// `<id>_.konserve-metadata`.
pub fn marker_key(store_id: Uuid) -> String {
    object_key(store_id, MARKER_NAME)
}

/// What an object name within a store is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobKind {
    /// `<uuid>.ksv`: a value blob.
    Value,
    /// `<uuid>.ksv.new`: a staging leftover.
    Staging,
    /// `<uuid>.ksv.backup`: a backup leftover.
    Backup,
    /// The store marker.
    Marker,
}

/// Classifies a store-relative name (`<uuid>.ksv`, …); `None` for names that
/// are none of konserve's.
pub fn blob_kind(name: &str) -> Option<BlobKind> {
    if name == MARKER_NAME {
        Some(BlobKind::Marker)
    } else if name.ends_with(BLOB_SUFFIX) {
        Some(BlobKind::Value)
    } else if name.ends_with(STAGING_SUFFIX) {
        Some(BlobKind::Staging)
    } else if name.ends_with(BACKUP_SUFFIX) {
        Some(BlobKind::Backup)
    } else {
        None
    }
}

/// The store id of a marker's object key, if `object_key` is one
/// (`<uuid>_.konserve-metadata` with a valid UUID).
pub fn marker_store_id(object_key: &str) -> Option<Uuid> {
    let prefix = object_key.strip_suffix(MARKER_NAME)?.strip_suffix('_')?;
    Uuid::parse_str(prefix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let id = Uuid::parse_str("550e8400-e29b-41d4-a716-446655440000").unwrap();
        assert_eq!(
            object_key(id, &blob_name(&Value::from("bar"))),
            "550e8400-e29b-41d4-a716-446655440000_2c8e57a6-ed4e-5746-9f7e-af7ff2ac25c5.ksv"
        );
        assert_eq!(
            marker_key(id),
            "550e8400-e29b-41d4-a716-446655440000_.konserve-metadata"
        );
        assert_eq!(marker_store_id(&marker_key(id)), Some(id));
        assert_eq!(marker_store_id("nope_.konserve-metadata"), None);
        assert_eq!(
            marker_store_id("550e8400-e29b-41d4-a716-446655440000_x.ksv"),
            None
        );
        assert_eq!(store_prefix(id), "550e8400-e29b-41d4-a716-446655440000_");
    }

    #[test]
    fn kinds() {
        assert_eq!(blob_kind("a.ksv"), Some(BlobKind::Value));
        assert_eq!(blob_kind("a.ksv.new"), Some(BlobKind::Staging));
        assert_eq!(blob_kind("a.ksv.backup"), Some(BlobKind::Backup));
        assert_eq!(blob_kind(MARKER_NAME), Some(BlobKind::Marker));
        assert_eq!(blob_kind("a.txt"), None);
    }
}
