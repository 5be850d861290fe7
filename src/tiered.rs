//! konserve.tiered's configuration and the write-behind queue's pure parts:
//! policies, options, failures, and the pending-writes journal's format.
//! The tiered backing itself is in `src/engine/tiered.rs`.

use std::path::PathBuf;
use std::time::Duration;

/// Where a tiered store writes (konserve's `:write-policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WritePolicy {
    /// `:write-through` (default): the backend first (it decides
    /// conditional writes), then the frontend. A write returns once both
    /// have it.
    #[default]
    WriteThrough,
    /// `:write-behind`: the frontend now, the backend later from a bounded
    /// queue (see `TieredBacking::flush`). A write returns once the
    /// frontend has it.
    WriteBehind,
    /// `:write-around`: the backend only; the frontend's copy is dropped
    /// (the next read fills it again).
    WriteAround,
    /// `:frontend-only`: the frontend only; the backend is never written
    /// (a read-through cache over a backend another peer owns).
    FrontendOnly,
}

impl WritePolicy {
    /// konserve's keyword name (`write-through`, …).
    pub fn name(self) -> &'static str {
        match self {
            WritePolicy::WriteThrough => "write-through",
            WritePolicy::WriteBehind => "write-behind",
            WritePolicy::WriteAround => "write-around",
            WritePolicy::FrontendOnly => "frontend-only",
        }
    }

    /// The policy of konserve's keyword name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.trim_start_matches(':') {
            "write-through" => WritePolicy::WriteThrough,
            "write-behind" => WritePolicy::WriteBehind,
            "write-around" => WritePolicy::WriteAround,
            "frontend-only" => WritePolicy::FrontendOnly,
            _ => return None,
        })
    }

    /// konserve's `owns-backend?`: every policy but `frontend-only` owns
    /// the backend, so deleting the store deletes both tiers.
    pub fn owns_backend(self) -> bool {
        self != WritePolicy::FrontendOnly
    }
}

/// Where a tiered store reads (konserve's `:read-policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadPolicy {
    /// `:frontend-first` (default): the frontend, then on a miss the
    /// backend, whose answer fills the frontend.
    #[default]
    FrontendFirst,
    /// `:frontend-only`: the frontend alone.
    FrontendOnly,
}

impl ReadPolicy {
    /// konserve's keyword name.
    pub fn name(self) -> &'static str {
        match self {
            ReadPolicy::FrontendFirst => "frontend-first",
            ReadPolicy::FrontendOnly => "frontend-only",
        }
    }

    /// The policy of konserve's keyword name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.trim_start_matches(':') {
            "frontend-first" => ReadPolicy::FrontendFirst,
            "frontend-only" => ReadPolicy::FrontendOnly,
            _ => return None,
        })
    }
}

/// What a sync copies from the backend into the frontend (konserve's
/// sync strategies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyncStrategy {
    /// `populate-missing`: the blobs the frontend does not have.
    PopulateMissing,
    /// `full`: every blob of the backend (the frontend's copies are
    /// replaced).
    Full,
}

impl SyncStrategy {
    /// konserve's name.
    pub fn name(self) -> &'static str {
        match self {
            SyncStrategy::PopulateMissing => "populate-missing",
            SyncStrategy::Full => "full",
        }
    }

    /// The strategy of konserve's name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.trim_start_matches(':') {
            "populate-missing" => SyncStrategy::PopulateMissing,
            "full" => SyncStrategy::Full,
            _ => return None,
        })
    }
}

/// What a sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// Blobs copied into the frontend.
    pub synced: usize,
    /// The frontend's blobs before the sync.
    pub frontend_blobs: usize,
    /// The backend's blobs.
    pub backend_blobs: usize,
}

/// How a tiered store behaves.
///
/// ```
/// use konserve_s3::config::{TieredOptions, WritePolicy};
/// let o = TieredOptions::new(WritePolicy::WriteBehind)
///     .queue_capacity(10_000)
///     .journal("/var/lib/app/cache/konserve-tiered.pending");
/// assert_eq!(o.write_policy, WritePolicy::WriteBehind);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TieredOptions {
    /// Where writes go.
    pub write_policy: WritePolicy,
    /// Where reads go.
    pub read_policy: ReadPolicy,
    /// Write-behind: the most blobs queued for the backend; a write of
    /// another blob waits while the queue is full (back-pressure). Writes
    /// to a blob already queued never wait (they replace the queued one).
    pub queue_capacity: usize,
    /// Write-behind: a file where queued blob names are kept (written and
    /// fsynced before the frontend is written), so that a process that
    /// stops with writes queued sends them after a restart. `None`: the
    /// queue is in memory only. The `any` module puts it in a file
    /// frontend's directory.
    pub journal: Option<PathBuf>,
    /// Write-behind: the first wait after a failed backend write; it
    /// doubles per failed round up to `max_retry_backoff`.
    pub retry_backoff: Duration,
    /// Write-behind: the longest wait between retries.
    pub max_retry_backoff: Duration,
}

impl Default for TieredOptions {
    fn default() -> Self {
        TieredOptions::new(WritePolicy::default())
    }
}

impl TieredOptions {
    /// Options with `write_policy`, frontend-first reads, a queue of 1024
    /// blobs, no journal.
    pub fn new(write_policy: WritePolicy) -> Self {
        TieredOptions {
            write_policy,
            read_policy: ReadPolicy::FrontendFirst,
            queue_capacity: 1024,
            journal: None,
            retry_backoff: Duration::from_millis(100),
            max_retry_backoff: Duration::from_secs(30),
        }
    }

    /// These options with `policy` for reads.
    pub fn read_policy(mut self, policy: ReadPolicy) -> Self {
        self.read_policy = policy;
        self
    }

    /// These options with a write-behind queue of `blobs` (at least 1).
    pub fn queue_capacity(mut self, blobs: usize) -> Self {
        self.queue_capacity = blobs.max(1);
        self
    }

    /// These options with the write-behind journal in file `path`.
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.journal = Some(path.into());
        self
    }

    /// These options with retry waits from `first` up to `max`.
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.retry_backoff = first;
        self.max_retry_backoff = max.max(first);
        self
    }
}

/// A queued write that failed to reach the backend (its last failure).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteFailure {
    /// The blob (store-relative name, `<uuid>.ksv`).
    pub blob: String,
    /// The last error, as text.
    pub error: String,
    /// Failed attempts so far.
    pub attempts: u32,
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} failed {} time(s), last: {}",
            self.blob, self.attempts, self.error
        )
    }
}

/// The failures, for [`crate::Error::WriteBehindPending`]'s message.
pub(crate) fn describe_failures(failures: &[WriteFailure]) -> String {
    match failures.first() {
        None => "none failed yet: other writes kept coming; flush again".to_owned(),
        Some(first) if failures.len() == 1 => format!("{first}"),
        Some(first) => format!("{first} (and {} more)", failures.len() - 1),
    }
}

/// A queued write: the blob is to be written, or deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueuedOp {
    /// Send the frontend's blob (nothing when the frontend has none).
    Put,
    /// Delete the backend's blob (send the frontend's if it has one again).
    Delete,
}

/// The journal's first line.
const JOURNAL_HEADER: &str = "konserve-s3 tiered write-behind journal v1";

/// The journal's text for `entries`.
pub(crate) fn format_journal<'a>(entries: impl Iterator<Item = (&'a str, QueuedOp)>) -> String {
    let mut out = String::from(JOURNAL_HEADER);
    out.push('\n');
    for (name, op) in entries {
        out.push(match op {
            QueuedOp::Put => 'P',
            QueuedOp::Delete => 'D',
        });
        out.push(' ');
        out.push_str(name);
        out.push('\n');
    }
    out
}

/// The entries of a journal's text; `Err` names the line that is not one.
pub(crate) fn parse_journal(text: &str) -> Result<Vec<(String, QueuedOp)>, String> {
    let mut lines = text.lines();
    match lines.next() {
        None => return Ok(Vec::new()),
        Some(JOURNAL_HEADER) => {}
        Some(other) => return Err(format!("unknown first line {other:?}")),
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let (op, name) = match line.split_once(' ') {
            Some(("P", name)) => (QueuedOp::Put, name),
            Some(("D", name)) => (QueuedOp::Delete, name),
            _ => return Err(format!("line {} is not `P <blob>` or `D <blob>`", i + 2)),
        };
        if name.is_empty() || name.contains(['/', '\\', '\0']) {
            return Err(format!("line {} names no plain blob", i + 2));
        }
        out.push((name.to_owned(), op));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_round_trips_and_refuses_garbage() {
        let text =
            format_journal([("a.ksv", QueuedOp::Put), ("b.ksv", QueuedOp::Delete)].into_iter());
        assert_eq!(
            parse_journal(&text).unwrap(),
            vec![
                ("a.ksv".to_owned(), QueuedOp::Put),
                ("b.ksv".to_owned(), QueuedOp::Delete)
            ]
        );
        assert_eq!(parse_journal("").unwrap(), vec![]);
        assert!(parse_journal("something else\n").is_err());
        let bad = format!("{JOURNAL_HEADER}\nX a.ksv\n");
        assert!(parse_journal(&bad).unwrap_err().contains("line 2"));
        let bad = format!("{JOURNAL_HEADER}\nP ../etc\n");
        assert!(parse_journal(&bad).is_err());
    }

    #[test]
    fn policy_names_are_konserves() {
        for p in [
            WritePolicy::WriteThrough,
            WritePolicy::WriteBehind,
            WritePolicy::WriteAround,
            WritePolicy::FrontendOnly,
        ] {
            assert_eq!(WritePolicy::from_name(p.name()), Some(p));
        }
        assert_eq!(
            ReadPolicy::from_name(":frontend-only"),
            Some(ReadPolicy::FrontendOnly)
        );
        assert!(!WritePolicy::FrontendOnly.owns_backend());
        assert!(WritePolicy::WriteBehind.owns_backend());
        assert_eq!(SyncStrategy::from_name("full"), Some(SyncStrategy::Full));
    }
}
