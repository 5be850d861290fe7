//! Typed helpers: the `*_as` operations convert through serde.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Backing;
use super::io;
use super::mode::MaybeSend;
use super::{ApiOp, Current, Store, WriteEvent};
use crate::error::Result;
use crate::layout;
use crate::meta::{self, BlobType};
use crate::value::{Value, from_value, to_value};

/// Old and new value of an update, with the caller's typed new value.
type TypedUpdate<T> = (Option<Value>, Value, T);

#[io(AFIT)]
impl<B: Backing> Store<B> {
    /// The value of `key` as a `T` (through serde).
    ///
    /// # Errors
    /// As [`Store::get`]; [`Error::Value`](crate::Error::Value) when it is not a `T`.
    pub async fn get_as<T: DeserializeOwned>(&self, key: impl Into<Value>) -> Result<Option<T>> {
        match self.get(key).await? {
            None => Ok(None),
            Some(v) => Ok(Some(from_value(v)?)),
        }
    }

    /// The value at `path` as a `T`.
    ///
    /// # Errors
    /// As [`Store::get_in`]; [`Error::Value`](crate::Error::Value).
    pub async fn get_in_as<T: DeserializeOwned>(&self, path: &[Value]) -> Result<Option<T>> {
        match self.get_in(path).await? {
            None => Ok(None),
            Some(v) => Ok(Some(from_value(v)?)),
        }
    }

    /// Stores a `T` (struct fields become keyword keys).
    ///
    /// # Errors
    /// As [`Store::assoc`]; [`Error::Value`](crate::Error::Value).
    pub async fn assoc_as<T: Serialize + ?Sized>(
        &self,
        key: impl Into<Value>,
        value: &T,
    ) -> Result<()> {
        self.assoc(key, to_value(value)?).await
    }

    /// Updates a `T` in place: `f` gets the old value (`None` when
    /// missing) and returns the new one; returns both. `f` may run more
    /// than once when optimistic locking retries.
    ///
    /// # Errors
    /// As [`Store::update`]; [`Error::Value`](crate::Error::Value) when the stored value is not
    /// a `T` (nothing is written then).
    pub async fn update_as<T: Serialize + DeserializeOwned + MaybeSend>(
        &self,
        key: impl Into<Value>,
        mut f: impl FnMut(Option<T>) -> T + MaybeSend,
    ) -> Result<(Option<T>, T)> {
        let key = key.into();
        let name = layout::blob_name(&key);
        let mut make = |current: Option<Current>| -> Result<(Bytes, TypedUpdate<T>)> {
            let (old, old_meta) = match current {
                Some(c) => (Some(c.value.unwrap_or(Value::Nil)), Some(c.meta)),
                None => (None, None),
            };
            let old_t: Option<T> = old.clone().map(from_value).transpose()?;
            let new_t = f(old_t);
            let new = to_value(&new_t)?;
            let meta = meta::updated(&key, BlobType::Edn, old_meta);
            let blob = self.encode_edn(&name, &meta, &new)?;
            Ok((blob, (old, new, new_t)))
        };
        let (old, new, new_t) = self
            .read_modify_write(&key, &name, false, &mut make, typed_new::<T>)
            .await?;
        // The old value is copied only for a hook to see.
        let (old, old_t) = if self.has_hooks() {
            let old_t = old.clone().map(from_value).transpose()?;
            (old, old_t)
        } else {
            (None, old.map(from_value).transpose()?)
        };
        self.fire_with(|| {
            let mut event = WriteEvent::new(ApiOp::UpdateIn, key.clone());
            event.key_vec = Some(vec![key]);
            event.old_value = old;
            event.value = Some(new);
            event
        });
        Ok((old_t, new_t))
    }
}

/// The new value of a typed update's result, for the cache.
fn typed_new<T>(out: &TypedUpdate<T>) -> Option<&Value> {
    Some(&out.1)
}
