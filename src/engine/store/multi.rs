//! Multi-key operations (atomic where the backing offers them).

use std::collections::BTreeMap;

use super::Backing;
use super::io;
use super::{ApiOp, Store, WriteEvent};
use crate::error::Result;
use crate::layout;
use crate::meta::{self, BlobType};
use crate::value::Value;

#[io(AFIT)]
impl<B: Backing> Store<B> {
    /// konserve's `multi-get`: the values of the keys that exist, read at
    /// one point in time.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) on backings without atomic multi-key
    /// operations (S3).
    pub async fn multi_get(&self, keys: &[Value]) -> Result<BTreeMap<Value, Value>> {
        self.require_multi_key("multi-get")?;
        let names: Vec<String> = keys.iter().map(layout::blob_name).collect();
        let blobs = self.inner.backing.multi_read_blobs(&names).await?;
        let mut out = BTreeMap::new();
        for ((key, name), blob) in keys.iter().zip(&names).zip(blobs) {
            if let Some(bytes) = blob {
                let (_, _, value) = self.decode_whole(name, bytes)?;
                out.insert(key.clone(), value);
            }
        }
        Ok(out)
    }

    /// konserve's `multi-assoc`: writes all pairs atomically, in order
    /// (a later pair wins for a repeated key), with fresh metadata;
    /// `meta` gives caller metadata per key. Returns `{key true}`.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) on S3.
    pub async fn multi_assoc(
        &self,
        kvs: Vec<(Value, Value)>,
        meta: Option<BTreeMap<Value, Value>>,
    ) -> Result<BTreeMap<Value, bool>> {
        self.require_multi_key("multi-assoc")?;
        let mut blobs = Vec::with_capacity(kvs.len());
        let mut out = BTreeMap::new();
        for (key, value) in &kvs {
            let name = layout::blob_name(key);
            let extra = meta.as_ref().and_then(|m| m.get(key));
            let m = meta::fresh(key, BlobType::Edn, extra);
            blobs.push((name.clone(), self.encode_edn(&name, &m, value)?));
            out.insert(key.clone(), true);
        }
        for (name, _) in &blobs {
            self.cache_take(name);
        }
        let names: Vec<String> = blobs.iter().map(|(n, _)| n.clone()).collect();
        self.inner.backing.multi_write_blobs(blobs).await?;
        // Again after the write: a read that raced it (multi-key writes
        // take no per-key locks) may have cached the old value.
        for name in &names {
            self.cache_take(name);
        }
        let mut event = WriteEvent::new(ApiOp::MultiAssoc, Value::Nil);
        event.kvs = Some(kvs);
        event.meta = meta.map(Value::Map);
        self.fire(event);
        Ok(out)
    }

    /// konserve's `multi-dissoc`: deletes all keys atomically; tells for
    /// each whether it existed.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) on S3.
    pub async fn multi_dissoc(&self, keys: &[Value]) -> Result<BTreeMap<Value, bool>> {
        self.require_multi_key("multi-dissoc")?;
        let names: Vec<String> = keys.iter().map(layout::blob_name).collect();
        for name in &names {
            self.cache_take(name);
        }
        let existed = self.inner.backing.multi_delete_blobs(&names).await?;
        for name in &names {
            self.cache_take(name);
        }
        Ok(keys.iter().cloned().zip(existed).collect())
    }
}
