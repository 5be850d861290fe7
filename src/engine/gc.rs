//! Garbage collection (konserve's `konserve.gc`): [`sweep`] deletes what a
//! collection found unreachable. The options, report, clock and guard are
//! shared by both modes and live in [`konserve_s3::gc`](crate::gc); they
//! are re-exported here. See docs/gc.md.

use std::collections::{BTreeMap, BTreeSet};

use super::backing::Backing;
use super::io;
use super::mode;
use super::store::Store;
use crate::error::Result;
use crate::gc::plan;
use crate::value::Value;

pub use crate::gc::{
    MAX_BATCH, SweepFailure, SweepOptions, SweepReport, UnreadableBlob, guard, now,
};

/// Deletes every key of `store` that is not in [`SweepOptions::keep`] and
/// was last written strictly before the cutoff (a write at the cutoff is
/// spared), as konserve's `sweep!`; returns what it deleted, what it could
/// not delete and why, and what it could not judge.
///
/// How: one `keys` pass over the store's metadata (cached across calls on
/// one `Store`, see [`Store::keys`]), then the doomed blobs in batches of
/// [`SweepOptions::batch_size`](field@SweepOptions::batch_size) through
/// [`Backing::delete_blobs_reporting`]: on S3 one `DeleteObjects` per
/// batch (≤ 1000 names) rather than konserve's one `dissoc` per key. A
/// key's blobs are all of those whose metadata names it: the value's blob,
/// or an append log's head and every element, which go together, and only
/// when all of them are older than the cutoff. A failed delete does not
/// stop the sweep: the blobs left are in [`SweepReport::failures`], their
/// keys not in [`SweepReport::deleted`]. With [`SweepOptions::dry_run`](field@SweepOptions::dry_run)
/// nothing is deleted and the report says what would go. Each deleted
/// key fires the write hooks' `dissoc` event, as konserve's `dissoc` does.
///
/// The cutoff must come from [`guard::cutoff`] (or [`now`] where no writer
/// guards its sequences), read before `keep` is computed; the sweep does
/// not consult the guard itself (it could only do so after the mark).
///
#[doc = mode::doc_example!("gc_sweep")]
///
/// # Errors
/// Failures before anything is deleted: the listing, or a metadata read
/// that fails for a reason other than the blob itself (the network, the
/// credentials). Blobs whose metadata cannot be decoded are spared and
/// listed in [`SweepReport::unreadable`] instead.
#[io(AFIT)]
pub async fn sweep<B: Backing>(store: &Store<B>, options: &SweepOptions) -> Result<SweepReport> {
    let cutoff = options.effective_cutoff(now());
    let plan = plan(store.blob_metas().await?, &options.keep, cutoff)?;
    let mut report = SweepReport {
        cutoff,
        dry_run: options.dry_run,
        spared: plan.spared,
        unreadable: plan.unreadable,
        ..SweepReport::default()
    };
    let owner: BTreeMap<&str, &Value> = plan
        .doomed
        .iter()
        .flat_map(|(key, blobs)| blobs.iter().map(move |b| (b.as_str(), key)))
        .collect();
    let names: Vec<String> = owner.keys().map(|b| (*b).to_owned()).collect();
    let mut left: BTreeSet<String> = BTreeSet::new();
    if !options.dry_run {
        for batch in names.chunks(options.batch()) {
            for failure in store.backing().delete_blobs_reporting(batch).await {
                let keys: BTreeSet<&Value> = failure
                    .names
                    .iter()
                    .filter_map(|n| owner.get(n.as_str()).copied())
                    .collect();
                left.extend(failure.names.iter().cloned());
                report.failures.push(SweepFailure {
                    keys: keys.into_iter().cloned().collect(),
                    blobs: failure.names,
                    error: failure.error,
                });
            }
        }
    }
    report.deleted_blobs = names.into_iter().filter(|n| !left.contains(n)).collect();
    for (key, blobs) in &plan.doomed {
        if blobs.iter().all(|b| !left.contains(b)) {
            report.deleted.push(key.clone());
        }
    }
    if !options.dry_run {
        for key in &report.deleted {
            store.fire_deleted(key.clone());
        }
    }
    Ok(report)
}
