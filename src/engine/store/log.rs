//! konserve's append logs: `append`, `log`, `reduce_log`.

use uuid::Uuid;

use super::Backing;
use super::io;
use super::mode::Transport;
use super::{Settled, Store, blob_error};
use crate::Conditions;
use crate::codec::CodecError;
use crate::error::{Error, Result};
use crate::layout;
use crate::meta::{self, BlobType};
use crate::path;
use crate::value::Value;

#[io(AFIT)]
impl<B: Backing> Store<B> {
    /// Appends `elem` to the append log at `key`; returns the log's first
    /// element id (`None` on the first append) and the new element's id.
    ///
    /// # Errors
    /// [`Error::NotAnAppendLog`] when `key` holds something else; backing
    /// failures.
    pub async fn append(&self, key: impl Into<Value>, elem: Value) -> Result<(Option<Uuid>, Uuid)> {
        let key = key.into();
        let head_name = layout::blob_name(&key);
        let max_attempts = if self.inner.options.locking() {
            self.inner
                .options
                .optimistic_locking_retries
                .saturating_add(1)
        } else {
            1
        };
        let _guard = self.inner.locks.lock(&head_name).await;
        self.cache_take(&head_name);
        let mut attempt = 1;
        loop {
            let error = match self.try_append(&key, &head_name, &elem).await? {
                Ok(ids) => return Ok(ids),
                Err(e) => e,
            };
            if attempt >= max_attempts {
                return Err(Self::exhausted(&key, attempt, error));
            }
            Transport::sleep(self.locking_backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// One attempt at an append. The element is committed once the old
    /// last element links to it (a conditional write); moving the head
    /// to it afterwards is best effort, since a later append that finds
    /// the head behind the chain moves it forward first ("helping").
    /// The inner error is a conflict with another writer (after removing
    /// this attempt's element); the outer one any other failure.
    pub(super) async fn try_append(
        &self,
        key: &Value,
        head_name: &str,
        elem: &Value,
    ) -> Result<std::result::Result<(Option<Uuid>, Uuid), Error>> {
        let head = self.read_current(head_name).await?;
        let ids = match &head {
            None => None,
            Some(c) => Some(log_ids(key, c.value.as_ref().unwrap_or(&Value::Nil))?),
        };
        let head_meta = meta::updated(
            key,
            BlobType::AppendLog,
            head.as_ref().map(|c| c.meta.clone()),
        );
        let head_conditions = self.conditions_for(head.as_ref())?;
        let head_blob = |last: Uuid, first: Uuid| {
            let value = Value::Vector(vec![
                Value::keyword("append-log"),
                Value::Uuid(last),
                Value::Uuid(first),
            ]);
            self.encode_edn(head_name, &head_meta, &value)
        };
        // The old last element, which must have no successor yet.
        let last = match ids {
            None => None,
            Some((last, first)) => {
                let last_name = layout::blob_name(&Value::Uuid(last));
                let current = self.read_current(&last_name).await?.ok_or_else(|| {
                    blob_error(
                        &last_name,
                        CodecError::Malformed("append log element is missing".into()),
                    )
                })?;
                let next = current
                    .value
                    .as_ref()
                    .and_then(|v| v.get(&Value::keyword("next")))
                    .and_then(Value::as_uuid);
                if let Some(next) = next {
                    // The head is behind the chain: move it forward, try again.
                    let blob = head_blob(next, first)?;
                    let _ = self
                        .inner
                        .backing
                        .write_blob(head_name, blob, &head_conditions)
                        .await;
                    return Ok(Err(Error::Conflict(Box::default())));
                }
                Some((last_name, current, first))
            }
        };
        let new_id = Uuid::new_v4();
        let element = Value::map([
            (Value::keyword("next"), Value::Nil),
            (Value::keyword("elem"), elem.clone()),
        ]);
        let elem_name = layout::blob_name(&Value::Uuid(new_id));
        let elem_meta = meta::fresh(key, BlobType::AppendLog, None);
        let blob = self.encode_edn(&elem_name, &elem_meta, &element)?;
        self.inner
            .backing
            .write_blob(&elem_name, blob, &Conditions::NONE)
            .await?;
        // The commit: creating the head for the first element, else
        // linking the old last element to the new one.
        let (commit_name, blob, conditions, first) = match last {
            None => (
                head_name.to_owned(),
                head_blob(new_id, new_id)?,
                head_conditions.clone(),
                None,
            ),
            Some((last_name, current, first)) => {
                let old_value = current.value.clone().unwrap_or(Value::Nil);
                let linked =
                    path::assoc_in(old_value, &[Value::keyword("next")], Value::Uuid(new_id))?;
                let last_meta = meta::updated(key, BlobType::AppendLog, Some(current.meta.clone()));
                let blob = self.encode_edn(&last_name, &last_meta, &linked)?;
                let conditions = self.conditions_for(Some(&current))?;
                (last_name, blob, conditions, Some(first))
            }
        };
        self.cache_take(&elem_name);
        self.cache_take(&commit_name);
        let written = self
            .write_settled(key, &commit_name, blob, &conditions)
            .await?;
        if let Settled::NotLanded(e) = written {
            self.inner
                .backing
                .delete_blob(&elem_name, &Conditions::NONE)
                .await?;
            return Ok(Err(e));
        }
        let Some(first) = first else {
            return Ok(Ok((None, new_id)));
        };
        // Committed. Point the head at the new element; if someone got
        // there first, they have moved it already or the next append will.
        let blob = head_blob(new_id, first)?;
        match self
            .inner
            .backing
            .write_blob(head_name, blob, &head_conditions)
            .await
        {
            Err(e) if !head_conditions.is_conditional() => return Err(e),
            Err(e) => {
                tracing::debug!(
                    key = %key,
                    error = %e,
                    "append log head left behind; the next append moves it"
                )
            }
            Ok(()) => {}
        }
        Ok(Ok((Some(first), new_id)))
    }

    /// The elements of the append log at `key`, in order; `None` when
    /// missing.
    ///
    /// # Errors
    /// [`Error::NotAnAppendLog`]; backing failures.
    pub async fn log(&self, key: impl Into<Value>) -> Result<Option<Vec<Value>>> {
        let key = key.into();
        let Some(head) = self.get(key.clone()).await? else {
            return Ok(None);
        };
        let (_, first) = log_ids(&key, &head)?;
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(id) = next {
            let name = layout::blob_name(&Value::Uuid(id));
            let Some((_, element)) = self.read_entry(&name).await? else {
                return Err(blob_error(
                    &name,
                    CodecError::Malformed("append log element is missing".into()),
                ));
            };
            out.push(
                element
                    .get(&Value::keyword("elem"))
                    .cloned()
                    .unwrap_or(Value::Nil),
            );
            next = element
                .get(&Value::keyword("next"))
                .and_then(Value::as_uuid);
            if out.len() > 100_000_000 {
                return Err(blob_error(
                    &name,
                    CodecError::Malformed("append log has a cycle".into()),
                ));
            }
        }
        Ok(Some(out))
    }

    /// Folds `f` over the append log at `key`, starting from `init`
    /// (`init` when the log is missing).
    ///
    /// # Errors
    /// As [`Store::log`].
    pub async fn reduce_log<A>(
        &self,
        key: impl Into<Value>,
        init: A,
        f: impl FnMut(A, Value) -> A,
    ) -> Result<A> {
        Ok(self
            .log(key)
            .await?
            .unwrap_or_default()
            .into_iter()
            .fold(init, f))
    }
}

/// `(last-id, first-id)` of an append-log head `[:append-log last first]`.
fn log_ids(key: &Value, head: &Value) -> Result<(Uuid, Uuid)> {
    let not_log = || Error::NotAnAppendLog {
        key: key.to_string(),
    };
    let items = head.as_seq().ok_or_else(not_log)?;
    match items {
        [tag, last, first] if *tag == Value::keyword("append-log") => Ok((
            last.as_uuid().ok_or_else(not_log)?,
            first.as_uuid().ok_or_else(not_log)?,
        )),
        _ => Err(not_log()),
    }
}
