//! Per-key metadata, as konserve builds it.
//!
//! A fresh write gets `{:key <top-level key> :type <:edn|:binary|:append-log>
//! :last-write #inst …}`; caller fields passed to `assoc` are merged *under*
//! it (the built fields win). A read-modify-write keeps the old map and only
//! replaces `:last-write`. `:last-write` comes from a process-wide clock that
//! never goes backwards.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::codec::CodecError;
use crate::value::{Map, Value};

/// What a blob holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlobType {
    /// An EDN value (`:edn`).
    Edn,
    /// Raw bytes (`:binary`).
    Binary,
    /// A head or element of an append log (`:append-log`).
    AppendLog,
}

impl BlobType {
    /// The keyword name (`edn`, `binary`, `append-log`).
    pub fn name(self) -> &'static str {
        match self {
            BlobType::Edn => "edn",
            BlobType::Binary => "binary",
            BlobType::AppendLog => "append-log",
        }
    }

    /// The type recorded in a metadata map, if known.
    pub fn of_meta(meta: &Value) -> Option<BlobType> {
        match meta.get(&Value::keyword("type"))?.as_keyword()?.name() {
            "edn" => Some(BlobType::Edn),
            "binary" => Some(BlobType::Binary),
            "append-log" => Some(BlobType::AppendLog),
            _ => None,
        }
    }
}

/// Checks that `meta` is konserve's metadata: a map with `:key`, `:type`
/// and `:last-write`.
///
/// # Errors
/// [`CodecError::NotMetadata`] with the start of what `meta` is.
pub fn check_shape(meta: &Value) -> Result<(), CodecError> {
    if let Value::Map(m) = meta
        && ["key", "type", "last-write"]
            .iter()
            .all(|k| m.contains_key(&Value::keyword(*k)))
    {
        return Ok(());
    }
    let mut found = meta.to_string();
    if let Some((cut, _)) = found.char_indices().nth(80) {
        found.truncate(cut);
        found.push('…');
    }
    Err(CodecError::NotMetadata(found))
}

static LAST_STAMP: AtomicI64 = AtomicI64::new(0);

/// Milliseconds since the epoch from a clock that never goes backwards in
/// this process: `max(wall clock, last stamp)`.
pub fn monotonic_now_ms() -> i64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let previous = LAST_STAMP.fetch_max(wall, Ordering::AcqRel);
    previous.max(wall)
}

/// Fresh metadata for `key`, with caller fields of `extra` (a map) under it.
pub fn fresh(key: &Value, blob_type: BlobType, extra: Option<&Value>) -> Value {
    let mut map: Map = match extra {
        Some(Value::Map(m)) => m.clone(),
        _ => Map::new(),
    };
    map.insert(Value::keyword("key"), key.clone());
    map.insert(Value::keyword("type"), Value::keyword(blob_type.name()));
    map.insert(
        Value::keyword("last-write"),
        Value::Inst(monotonic_now_ms()),
    );
    Value::Map(map)
}

/// Metadata after a read-modify-write: the old map with a new `:last-write`,
/// or fresh metadata when there was none (or it was not a map).
pub fn updated(key: &Value, blob_type: BlobType, old: Option<Value>) -> Value {
    match old {
        Some(Value::Map(mut map)) => {
            map.insert(
                Value::keyword("last-write"),
                Value::Inst(monotonic_now_ms()),
            );
            // What is written now decides how it is read: a binary value
            // over an EDN one (or back) must not keep the old type, or
            // `get` would decode the new bytes the old way. (konserve's
            // `meta-update` keeps the old `:type`, and its own reads of
            // such a key then go wrong the same way.)
            map.insert(Value::keyword("type"), Value::keyword(blob_type.name()));
            Value::Map(map)
        }
        _ => fresh(key, blob_type, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_meta_wins_over_extra() {
        let extra = Value::map([
            (Value::keyword("immutable?"), Value::from(true)),
            (Value::keyword("key"), Value::from("ignored")),
        ]);
        let m = fresh(&Value::keyword("k"), BlobType::Edn, Some(&extra));
        assert_eq!(m.get(&Value::keyword("key")), Some(&Value::keyword("k")));
        assert_eq!(
            m.get(&Value::keyword("immutable?")),
            Some(&Value::from(true))
        );
        assert_eq!(BlobType::of_meta(&m), Some(BlobType::Edn));
        assert!(
            m.get(&Value::keyword("last-write"))
                .unwrap()
                .as_inst()
                .is_some()
        );
    }

    #[test]
    fn updated_keeps_old_fields_and_sets_the_type_written() {
        let mut old = fresh(&Value::from(1), BlobType::Binary, None);
        if let Value::Map(m) = &mut old {
            m.insert(Value::keyword("immutable?"), Value::from(true));
        }
        let new = updated(&Value::from(1), BlobType::Edn, Some(old.clone()));
        assert_eq!(BlobType::of_meta(&new), Some(BlobType::Edn));
        assert_eq!(
            new.get(&Value::keyword("immutable?")),
            Some(&Value::from(true))
        );
        let t = |m: &Value| {
            m.get(&Value::keyword("last-write"))
                .unwrap()
                .as_inst()
                .unwrap()
        };
        assert!(t(&new) >= t(&old));
    }

    #[test]
    fn clock_never_goes_backwards() {
        let mut last = 0;
        for _ in 0..10_000 {
            let now = monotonic_now_ms();
            assert!(now >= last);
            last = now;
        }
    }
}
