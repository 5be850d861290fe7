//! Garbage collection, as konserve's `konserve.gc` and `konserve.gc-guard`:
//! what a sweep is told ([`SweepOptions`]) and reports ([`SweepReport`]),
//! the clock its cutoff comes from ([`now`]), and the in-process
//! [`guard`] for write sequences a collection must not cut into. The sweep
//! itself does I/O and lives in each mode: `konserve_s3::blocking::gc::sweep`
//! and `konserve_s3::nonblocking::gc::sweep`. See docs/gc.md.
//!
//! A collection, in the order konserve requires:
//!
//! ```
//! # #[cfg(feature = "blocking")]
//! # fn main() -> Result<(), konserve_s3::Error> {
//! use konserve_s3::blocking::{MemoryBacking, Store, gc};
//! use konserve_s3::gc::{SweepOptions, guard, now};
//! use konserve_s3::value::{Set, Value};
//!
//! let store_id = konserve_s3::Uuid::new_v4();
//! let store = Store::new(MemoryBacking::new());
//! store.assoc("root", Value::from("live"))?;
//! store.assoc("orphan", Value::from("garbage"))?;
//! // (a write in the cutoff's own millisecond would be spared)
//! std::thread::sleep(std::time::Duration::from_millis(2));
//!
//! // 1. the cutoff, before marking
//! let cutoff = guard::cutoff(store_id, now());
//! // 2. mark: what is reachable (here: by hand)
//! let keep: Set = [Value::from("root")].into_iter().collect();
//! // 3. sweep
//! let report = gc::sweep(&store, &SweepOptions::new(keep, cutoff))?;
//! assert_eq!(report.deleted, vec![Value::from("orphan")]);
//! assert!(report.is_complete());
//! assert!(store.exists("root")?);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "blocking"))]
//! # fn main() {}
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use crate::codec::CodecError;
use crate::error::{Error, Result};
use crate::value::{Set, Value};

pub mod guard;

/// The most blobs one delete request names (S3's `DeleteObjects` limit),
/// and the default batch of a sweep.
pub const MAX_BATCH: usize = 1000;

/// Milliseconds since the epoch from the clock the store stamps
/// `:last-write` with (konserve's `monotonic-now-ms`: the wall clock, but
/// never behind a stamp this process already gave). Take a sweep's cutoff
/// from here, or from [`guard::cutoff`], never from another clock: an NTP
/// step back would otherwise stamp a fresh write before a cutoff taken
/// earlier.
pub fn now() -> i64 {
    crate::meta::monotonic_now_ms()
}

/// What a sweep deletes: every key not in [`SweepOptions::keep`] whose
/// blobs were all last written strictly before the cutoff (a write at the
/// cutoff itself is spared).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SweepOptions {
    /// The keys to keep whatever their age (the marked, reachable ones),
    /// compared with each blob's metadata `:key`.
    pub keep: Set,
    /// Epoch milliseconds: blobs written at or after it are spared. From
    /// [`guard::cutoff`] (or [`now`] on a store no writer guards), read
    /// before `keep` is computed. From a konserve instant:
    /// `"#inst \"2026-01-02T03:04:05.678-00:00\"".parse::<Value>()?.as_inst()`.
    pub cutoff: i64,
    /// A floor under the age of what goes: with `Some(d)`, blobs written
    /// less than `d` before the sweep starts are spared whatever the
    /// cutoff (datahike's `:min-age-ms`). The guard is in-process only;
    /// this is the margin for writers in other processes.
    pub min_age: Option<Duration>,
    /// Report what would be deleted, and delete nothing.
    pub dry_run: bool,
    /// Blobs per delete request (1 to [`MAX_BATCH`]; default 1000).
    pub batch_size: usize,
}

impl SweepOptions {
    /// Keep `keep`, delete the rest written before `cutoff` (epoch ms),
    /// in batches of 1000, no age floor, for real.
    pub fn new(keep: Set, cutoff: i64) -> Self {
        SweepOptions {
            keep,
            cutoff,
            min_age: None,
            dry_run: false,
            batch_size: MAX_BATCH,
        }
    }

    /// With `dry_run` set as given.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// With an age floor ([`SweepOptions::min_age`](field@SweepOptions::min_age)).
    pub fn min_age(mut self, min_age: Duration) -> Self {
        self.min_age = Some(min_age);
        self
    }

    /// With `batch_size` blobs per delete request (clamped to 1 to
    /// [`MAX_BATCH`]).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// The cutoff in force for a sweep starting at `now` (epoch ms): the
    /// earlier of [`SweepOptions::cutoff`] and `now - min_age`.
    pub fn effective_cutoff(&self, now: i64) -> i64 {
        match self.min_age {
            None => self.cutoff,
            Some(age) => {
                let age = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
                self.cutoff.min(now.saturating_sub(age))
            }
        }
    }

    /// The batch size in force (1 to [`MAX_BATCH`]).
    pub fn batch(&self) -> usize {
        self.batch_size.clamp(1, MAX_BATCH)
    }
}

/// Blobs a sweep meant to delete and could not, and why: one entry per
/// blob the server refused, or per batch whose request failed as a whole.
/// The keys named keep (some of) their blobs; a later sweep retries them.
#[derive(Debug)]
#[non_exhaustive]
pub struct SweepFailure {
    /// The keys whose blobs were left.
    pub keys: Vec<Value>,
    /// The blobs left (store-relative names, `<uuid>.ksv`).
    pub blobs: Vec<String>,
    /// Why.
    pub error: Error,
}

/// A blob whose metadata could not be read or is not konserve's (no
/// `:key`, no `:last-write`): a sweep cannot tell whose it is or how old,
/// so it spares it and says so.
#[derive(Debug)]
#[non_exhaustive]
pub struct UnreadableBlob {
    /// The blob's store-relative name.
    pub blob: String,
    /// Why it could not be judged ([`Error::Blob`] or
    /// [`Error::BlobKeptChanging`]).
    pub error: Error,
}

/// What a sweep did (or, in a dry run, would do).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct SweepReport {
    /// The cutoff in force (epoch ms), after the age floor.
    pub cutoff: i64,
    /// Whether this was a dry run (nothing deleted).
    pub dry_run: bool,
    /// The keys deleted, all their blobs gone (a dry run: that would go),
    /// in key order.
    pub deleted: Vec<Value>,
    /// The blobs deleted (would go), store-relative names: one per key,
    /// plus an append log's element blobs.
    pub deleted_blobs: Vec<String>,
    /// How many keys were spared (kept, or written at or after the cutoff).
    pub spared: usize,
    /// Deletes that failed; empty when the sweep did all it meant to.
    pub failures: Vec<SweepFailure>,
    /// Blobs spared because their metadata could not be judged.
    pub unreadable: Vec<UnreadableBlob>,
}

impl SweepReport {
    /// Whether every delete the sweep meant to do was done.
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty()
    }
}

/// What a sweep is to delete, decided from the store's metadata alone.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The keys to delete with all their blobs, in key order.
    pub doomed: Vec<(Value, Vec<String>)>,
    pub spared: usize,
    pub unreadable: Vec<UnreadableBlob>,
}

/// When a blob was last written: `:last-write`, or the legacy
/// `:konserve.core/timestamp` of old stores.
fn last_write(meta: &Value) -> Option<i64> {
    meta.get(&Value::keyword("last-write"))
        .or_else(|| meta.get(&Value::keyword_ns("konserve.core", "timestamp")))
        .and_then(Value::as_inst)
}

/// Decides a sweep: groups the blobs by their metadata `:key` (a key's
/// blob, or an append log's head and elements) and dooms a group when its
/// key is not kept and every one of its blobs was written before `cutoff`
/// (so a log being appended to, whose newest blob is young, keeps its old
/// elements too). A blob whose metadata could not be read, or lacks `:key`
/// or a timestamp, is spared and listed; a blob gone since the listing is
/// ignored.
///
/// # Errors
/// A failure that is not about one blob (the backing, the network): the
/// sweep stops before deleting anything.
pub(crate) fn plan(
    metas: Vec<(String, Result<Option<Value>>)>,
    keep: &Set,
    cutoff: i64,
) -> Result<Plan> {
    let mut groups: BTreeMap<Value, (Vec<String>, i64)> = BTreeMap::new();
    let mut unreadable = Vec::new();
    for (blob, meta) in metas {
        let meta = match meta {
            Ok(Some(meta)) => meta,
            Ok(None) => continue,
            Err(error @ (Error::Blob { .. } | Error::BlobKeptChanging { .. })) => {
                unreadable.push(UnreadableBlob { blob, error });
                continue;
            }
            Err(e) => return Err(e),
        };
        let (Some(key), Some(stamp)) = (meta.get(&Value::keyword("key")), last_write(&meta)) else {
            let mut found = meta.to_string();
            if let Some((cut, _)) = found.char_indices().nth(80) {
                found.truncate(cut);
                found.push('…');
            }
            let error = Error::Blob {
                blob: blob.clone(),
                source: CodecError::NotMetadata(found),
            };
            unreadable.push(UnreadableBlob { blob, error });
            continue;
        };
        let group = groups.entry(key.clone()).or_insert((Vec::new(), stamp));
        group.0.push(blob);
        group.1 = group.1.max(stamp);
    }
    let mut plan = Plan {
        unreadable,
        ..Plan::default()
    };
    for (key, (mut blobs, newest)) in groups {
        if keep.contains(&key) || newest >= cutoff {
            plan.spared += 1;
        } else {
            blobs.sort_unstable();
            plan.doomed.push((key, blobs));
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, kind: &str, stamp: i64) -> Value {
        Value::map([
            (Value::keyword("key"), Value::keyword(key)),
            (Value::keyword("type"), Value::keyword(kind)),
            (Value::keyword("last-write"), Value::Inst(stamp)),
        ])
    }

    fn entry(blob: &str, m: Value) -> (String, Result<Option<Value>>) {
        (blob.to_owned(), Ok(Some(m)))
    }

    fn doomed_keys(p: &Plan) -> Vec<Value> {
        p.doomed.iter().map(|(k, _)| k.clone()).collect()
    }

    #[test]
    fn strictly_before_the_cutoff_goes_equal_is_spared() {
        let metas = vec![
            entry("a.ksv", meta("a", "edn", 999)),
            entry("b.ksv", meta("b", "edn", 1000)),
            entry("c.ksv", meta("c", "edn", 1001)),
        ];
        let p = plan(metas, &Set::new(), 1000).unwrap();
        assert_eq!(doomed_keys(&p), vec![Value::keyword("a")]);
        assert_eq!(p.spared, 2);
    }

    #[test]
    fn kept_keys_stay_whatever_their_age() {
        let metas = vec![
            entry("a.ksv", meta("a", "edn", 1)),
            entry("b.ksv", meta("b", "binary", 1)),
        ];
        let keep: Set = [Value::keyword("a")].into_iter().collect();
        let p = plan(metas, &keep, 1000).unwrap();
        assert_eq!(doomed_keys(&p), vec![Value::keyword("b")]);
    }

    #[test]
    fn a_log_goes_whole_and_only_when_all_of_it_is_old() {
        let old_log = vec![
            entry("h.ksv", meta("log", "append-log", 10)),
            entry("e1.ksv", meta("log", "append-log", 5)),
            entry("e2.ksv", meta("log", "append-log", 8)),
        ];
        let p = plan(old_log, &Set::new(), 100).unwrap();
        assert_eq!(
            p.doomed,
            vec![(
                Value::keyword("log"),
                vec!["e1.ksv".to_owned(), "e2.ksv".to_owned(), "h.ksv".to_owned()]
            )]
        );
        // An element written at the cutoff (an append in progress) spares
        // the whole log, old head and elements included.
        let busy_log = vec![
            entry("h.ksv", meta("log", "append-log", 10)),
            entry("e1.ksv", meta("log", "append-log", 5)),
            entry("e2.ksv", meta("log", "append-log", 100)),
        ];
        let p = plan(busy_log, &Set::new(), 100).unwrap();
        assert!(p.doomed.is_empty());
        assert_eq!(p.spared, 1);
    }

    #[test]
    fn legacy_timestamps_count_and_unjudgeable_blobs_are_spared() {
        let legacy = Value::map([
            (Value::keyword("key"), Value::keyword("old")),
            (
                Value::keyword_ns("konserve.core", "timestamp"),
                Value::Inst(1),
            ),
        ]);
        let no_stamp = Value::map([(Value::keyword("key"), Value::keyword("x"))]);
        let metas = vec![
            entry("old.ksv", legacy),
            entry("x.ksv", no_stamp),
            ("gone.ksv".to_owned(), Ok(None)),
            (
                "bad.ksv".to_owned(),
                Err(Error::Blob {
                    blob: "bad.ksv".into(),
                    source: CodecError::Malformed("x".into()),
                }),
            ),
        ];
        let p = plan(metas, &Set::new(), 1000).unwrap();
        assert_eq!(doomed_keys(&p), vec![Value::keyword("old")]);
        let unreadable: Vec<&str> = p.unreadable.iter().map(|u| u.blob.as_str()).collect();
        assert_eq!(unreadable, vec!["x.ksv", "bad.ksv"]);
        assert!(matches!(
            &p.unreadable[0].error,
            Error::Blob {
                source: CodecError::NotMetadata(_),
                ..
            }
        ));
    }

    #[test]
    fn a_failure_beyond_one_blob_stops_the_plan() {
        let metas = vec![
            entry("a.ksv", meta("a", "edn", 1)),
            (
                "b.ksv".to_owned(),
                Err(Error::Io(std::io::Error::other("down"))),
            ),
        ];
        assert!(plan(metas, &Set::new(), 1000).is_err());
    }

    #[test]
    fn the_age_floor_only_moves_the_cutoff_back() {
        let o = SweepOptions::new(Set::new(), 10_000);
        assert_eq!(o.effective_cutoff(50_000), 10_000);
        let o = o.min_age(Duration::from_secs(45));
        assert_eq!(o.effective_cutoff(50_000), 5_000);
        assert_eq!(o.effective_cutoff(100_000), 10_000);
        assert_eq!(SweepOptions::new(Set::new(), 0).batch_size(0).batch(), 1);
        assert_eq!(
            SweepOptions::new(Set::new(), 0).batch_size(5000).batch(),
            1000
        );
    }
}
