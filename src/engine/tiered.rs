//! [`TieredBacking`]: konserve's tiered store (`konserve.tiered`) — a fast
//! frontend (memory, a local directory) in front of a durable backend
//! (S3) — as a [`Backing`], so that a `Store` over it has every konserve
//! operation, unchanged, and blobs are copied between the tiers as they are
//! (no decoding, no re-encoding).
//!
//! Which tier decides a conditional write (optimistic locking): the
//! backend under write-through and write-around (a refused write drops
//! the frontend's copy, so the retry reads the backend's version); the
//! frontend under write-behind and frontend-only. See docs/tiered.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;

use super::backing::{Backing, BlobStream, BlobVersion, Revalidated, StoredBlob};
use super::io;
use super::mode::{self, BodySource, Signal, read_all};
use crate::Conditions;
use crate::error::{Error, Result};
use crate::layout;
use crate::tiered::{
    QueuedOp, ReadPolicy, SyncReport, SyncStrategy, TieredOptions, WriteFailure, WritePolicy,
    format_journal, parse_journal,
};
use crate::value::Value;

/// How long an idle write-behind worker sleeps before it looks whether
/// its store is still there.
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// How long a writer waiting for room in a full queue sleeps between looks.
const ROOM_WAIT: Duration = Duration::from_millis(50);

/// A frontend in front of a backend, konserve's tiered store, as a
/// [`Backing`] (put a [`Store`](super::Store) over it).
///
/// Clones share the tiers and the write-behind queue.
///
#[doc = mode::doc_example!("tiered_backing")]
///
/// # Write-behind
///
/// A write goes to the frontend and its blob's name into a bounded queue;
/// a background worker (a thread in the blocking API, a tokio task in the
/// async one) sends the frontend's current blob to the backend, retrying
/// failures with backoff. Several writes to one blob before it is sent
/// are sent once (the latest). While a blob is queued, reads of it come
/// from the frontend only. [`TieredBacking::flush`] waits until the queue
/// is empty or returns the failures; [`TieredBacking::queue_depth`] and
/// [`TieredBacking::failures`] tell the state; a write of a new blob waits
/// while the queue is full. With a journal
/// ([`TieredOptions::journal`]) the queued names survive a restart. What
/// can be lost, and when: docs/tiered.md.
pub struct TieredBacking<F, B> {
    shared: Arc<Shared<F, B>>,
}

/// konserve's `TieredStore`: a [`Store`](super::Store) over a
/// [`TieredBacking`] (`Store::new(TieredBacking::new(frontend, backend,
/// options)?)`).
pub type TieredStore<F, B> = super::Store<TieredBacking<F, B>>;

impl<F, B> Clone for TieredBacking<F, B> {
    fn clone(&self) -> Self {
        TieredBacking {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<F: std::fmt::Debug, B: std::fmt::Debug> std::fmt::Debug for TieredBacking<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TieredBacking")
            .field("frontend", &self.shared.frontend)
            .field("backend", &self.shared.backend)
            .field("write_policy", &self.shared.options.write_policy)
            .field("read_policy", &self.shared.options.read_policy)
            .finish_non_exhaustive()
    }
}

struct Shared<F, B> {
    frontend: F,
    backend: B,
    options: TieredOptions,
    queue: Arc<Queue>,
}

/// The write-behind queue: blob names and what to do with them.
struct Queue {
    state: Mutex<QueueState>,
    /// Wakes the worker (new work, a flush).
    wake: Signal,
    /// The worker finished a round, or made room.
    progress: Signal,
    journal: Option<PathBuf>,
    capacity: usize,
    worker_started: AtomicBool,
}

#[derive(Default)]
struct QueueState {
    pending: BTreeMap<String, Entry>,
    failures: BTreeMap<String, WriteFailure>,
    /// Bumped by every enqueue: a blob sent is dropped from the queue only
    /// if no write came after the one sent.
    generation: u64,
    rounds_done: u64,
    round_running: bool,
    journal_dirty: bool,
}

#[derive(Clone, Copy)]
struct Entry {
    op: QueuedOp,
    generation: u64,
    /// Writes of the frontend under way for this blob: the worker leaves
    /// it alone until they are done (it would send what is being replaced).
    writing: u32,
}

/// A blob queued by [`TieredBacking::enqueue`] whose frontend write is
/// under way; dropped when it is done (or failed, or cancelled), after which
/// the worker may send the blob (again, if it read it meanwhile).
struct Queued {
    queue: Arc<Queue>,
    name: String,
}

impl Drop for Queued {
    fn drop(&mut self) {
        let mut state = self.queue.state();
        state.generation += 1;
        let generation = state.generation;
        if let Some(entry) = state.pending.get_mut(&self.name) {
            entry.writing = entry.writing.saturating_sub(1);
            entry.generation = generation;
        }
        drop(state);
        self.queue.wake.notify();
    }
}

impl Queue {
    fn state(&self) -> MutexGuard<'_, QueueState> {
        // No code that can panic runs under the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_pending(&self, name: &str) -> bool {
        self.state().pending.contains_key(name)
    }

    /// Writes the journal of `state` (fsynced, renamed into place), if
    /// there is one.
    fn write_journal(&self, state: &QueueState) -> Result<()> {
        let Some(path) = &self.journal else {
            return Ok(());
        };
        let text = format_journal(state.pending.iter().map(|(n, e)| (n.as_str(), e.op)));
        write_atomically(path, text.as_bytes())
    }
}

/// `bytes` into `path` atomically and durably (write `path.new`, fsync,
/// rename, fsync the directory).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut staging = path.as_os_str().to_owned();
    staging.push(".new");
    let staging = PathBuf::from(staging);
    let mut file = std::fs::File::create(&staging)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&staging, path)?;
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The entries of the journal at `path` (none when it does not exist).
fn read_journal(path: &Path) -> Result<Vec<(String, QueuedOp)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    parse_journal(&text).map_err(|why| {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the write-behind journal {} is not one this library wrote ({why}); \
                 move it away to start without it (its queued writes are then not sent)",
                path.display()
            ),
        ))
    })
}

impl<F: Backing + 'static, B: Backing + 'static> TieredBacking<F, B> {
    /// `frontend` in front of `backend`, with `options`. With a journal,
    /// the writes it lists (queued when a previous process stopped) are
    /// queued again and sent as soon as the worker runs.
    ///
    /// # Errors
    /// [`Error::Io`] when the journal cannot be read or is not one this
    /// library wrote.
    pub fn new(frontend: F, backend: B, options: TieredOptions) -> Result<Self> {
        let mut state = QueueState::default();
        if let Some(path) = &options.journal {
            for (name, op) in read_journal(path)? {
                state.generation += 1;
                let generation = state.generation;
                let entry = Entry {
                    op,
                    generation,
                    writing: 0,
                };
                state.pending.insert(name, entry);
            }
        }
        let queue = Arc::new(Queue {
            state: Mutex::new(state),
            wake: Signal::default(),
            progress: Signal::default(),
            journal: options.journal.clone(),
            capacity: options.queue_capacity.max(1),
            worker_started: AtomicBool::new(false),
        });
        let tiered = TieredBacking {
            shared: Arc::new(Shared {
                frontend,
                backend,
                options,
                queue,
            }),
        };
        if tiered.queue_depth() > 0 {
            // Replayed writes: send them now where a worker can start (in
            // the async API, within a runtime); otherwise with the first
            // write or flush.
            tiered.ensure_worker();
        }
        Ok(tiered)
    }

    /// The frontend.
    pub fn frontend(&self) -> &F {
        &self.shared.frontend
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.shared.backend
    }

    /// The options.
    pub fn options(&self) -> &TieredOptions {
        &self.shared.options
    }

    /// Write-behind: how many blobs are queued for the backend (0 under
    /// the other policies).
    pub fn queue_depth(&self) -> usize {
        self.shared.queue.state().pending.len()
    }

    /// Write-behind: the last failure of each queued blob whose sending
    /// failed (a blob sent later drops out).
    pub fn failures(&self) -> Vec<WriteFailure> {
        self.shared
            .queue
            .state()
            .failures
            .values()
            .cloned()
            .collect()
    }

    fn policy(&self) -> WritePolicy {
        self.shared.options.write_policy
    }

    fn behind(&self) -> bool {
        self.policy() == WritePolicy::WriteBehind
    }

    /// Whether the backend decides conditional writes.
    fn backend_decides(&self) -> bool {
        matches!(
            self.policy(),
            WritePolicy::WriteThrough | WritePolicy::WriteAround
        )
    }

    /// Whether a read that misses the frontend may ask the backend: with
    /// frontend-first reads, and not for a blob queued for the backend
    /// (the frontend has its latest state, a deletion included).
    fn may_fall_through(&self, name: &str) -> bool {
        self.shared.options.read_policy == ReadPolicy::FrontendFirst
            && !(self.behind() && self.shared.queue.is_pending(name))
    }

    /// Starts the write-behind worker if it is not running.
    fn ensure_worker(&self) {
        let queue = &self.shared.queue;
        if queue.worker_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak = Arc::downgrade(&self.shared);
        let started = spawn_write_behind(weak, Arc::clone(queue));
        if !started {
            queue.worker_started.store(false, Ordering::SeqCst);
        }
    }
}

/// Starts the worker on `shared`'s queue; whether it could be started.
#[io(AFIT)]
fn spawn_write_behind<F: Backing + 'static, B: Backing + 'static>(
    shared: Weak<Shared<F, B>>,
    queue: Arc<Queue>,
) -> bool {
    mode::spawn_worker("konserve-write-behind", move || async move {
        run_worker(shared, queue).await;
    })
}

/// The write-behind worker: rounds over the queued blobs until the store
/// is dropped.
#[io(AFIT)]
async fn run_worker<F: Backing + 'static, B: Backing + 'static>(
    shared: Weak<Shared<F, B>>,
    queue: Arc<Queue>,
) {
    let mut backoff: Option<Duration> = None;
    loop {
        let seen = queue.wake.epoch();
        let Some(tiered) = shared.upgrade().map(|shared| TieredBacking { shared }) else {
            return;
        };
        let failed = tiered.round().await;
        let (first, max) = (
            tiered.shared.options.retry_backoff,
            tiered.shared.options.max_retry_backoff,
        );
        drop(tiered);
        let wait = if failed {
            let next = backoff.map_or(first, |b| (b * 2).min(max));
            backoff = Some(next);
            next
        } else {
            backoff = None;
            // Blobs that came meanwhile go at once; blobs whose frontend
            // write is under way wake the worker when it is done.
            let ready = queue.state().pending.values().any(|e| e.writing == 0);
            if ready { Duration::ZERO } else { IDLE_WAIT }
        };
        if !wait.is_zero() {
            queue.wake.wait(seen, wait).await;
        }
    }
}

#[io(AFIT)]
impl<F: Backing + 'static, B: Backing + 'static> TieredBacking<F, B> {
    /// One round: tries to send every queued blob once. Whether any failed.
    async fn round(&self) -> bool {
        let queue = &self.shared.queue;
        let batch: Vec<(String, Entry)> = {
            let mut state = queue.state();
            state.round_running = true;
            state
                .pending
                .iter()
                .filter(|(_, e)| e.writing == 0)
                .map(|(n, e)| (n.clone(), *e))
                .collect()
        };
        let mut failed = false;
        for (name, entry) in batch {
            let sent = self.send(&name, entry.op).await;
            let mut state = queue.state();
            match sent {
                Ok(()) => {
                    if state
                        .pending
                        .get(&name)
                        .is_some_and(|e| e.generation == entry.generation && e.writing == 0)
                    {
                        state.pending.remove(&name);
                        state.journal_dirty = true;
                    }
                    state.failures.remove(&name);
                }
                Err(e) => {
                    failed = true;
                    tracing::warn!(blob = %name, error = %e, "write-behind: sending to the backend failed; will retry");
                    let attempts = state.failures.get(&name).map_or(0, |f| f.attempts) + 1;
                    state.failures.insert(
                        name.clone(),
                        WriteFailure {
                            blob: name,
                            error: e.to_string(),
                            attempts,
                        },
                    );
                }
            }
            drop(state);
            queue.progress.notify();
        }
        let mut state = queue.state();
        if state.journal_dirty {
            match queue.write_journal(&state) {
                Ok(()) => state.journal_dirty = false,
                Err(e) => {
                    tracing::warn!(error = %e, "write-behind: cannot rewrite the journal");
                }
            }
        }
        state.round_running = false;
        state.rounds_done += 1;
        drop(state);
        queue.progress.notify();
        failed
    }

    /// Sends blob `name`'s queued write: the frontend's blob, or the
    /// deletion when the frontend has none and a deletion was queued.
    async fn send(&self, name: &str, op: QueuedOp) -> Result<()> {
        let backend = &self.shared.backend;
        match self.shared.frontend.read_blob_stream(name).await? {
            Some(mut stream) => {
                backend
                    .write_blob_stream(name, Vec::new(), &mut *stream.reader, &Conditions::NONE)
                    .await
            }
            None if op == QueuedOp::Delete => backend.delete_blob(name, &Conditions::NONE).await,
            None => Ok(()),
        }
    }

    /// Queues `op` on blob `name` for the backend (write-behind), waiting
    /// while the queue is full, and records it in the journal before the
    /// frontend is written. Hold the answer until the frontend write is
    /// done.
    async fn enqueue(&self, name: &str, op: QueuedOp) -> Result<Queued> {
        self.ensure_worker();
        let queue = &self.shared.queue;
        loop {
            let seen = queue.progress.epoch();
            {
                let mut state = queue.state();
                let queued = state.pending.get(name).map(|e| e.op);
                if queued.is_some() || state.pending.len() < queue.capacity {
                    // A queued deletion stays one: the worker sends the
                    // frontend's blob if there is one again, and deletes
                    // otherwise, whatever became of the writes after it.
                    let op = if queued == Some(QueuedOp::Delete) {
                        QueuedOp::Delete
                    } else {
                        op
                    };
                    state.generation += 1;
                    let generation = state.generation;
                    let writing = state.pending.get(name).map_or(0, |e| e.writing) + 1;
                    let entry = Entry {
                        op,
                        generation,
                        writing,
                    };
                    state.pending.insert(name.to_owned(), entry);
                    let journaled = if queued == Some(op) {
                        Ok(())
                    } else {
                        queue.write_journal(&state)
                    };
                    drop(state);
                    let guard = Queued {
                        queue: Arc::clone(queue),
                        name: name.to_owned(),
                    };
                    journaled?;
                    return Ok(guard);
                }
            }
            // Full: wait for the worker to make room.
            queue.wake.notify();
            queue.progress.wait(seen, ROOM_WAIT).await;
        }
    }

    /// Write-behind: waits until every write queued so far has reached the
    /// backend (`Ok`), or until the worker has tried each queued blob once
    /// more since this call and some failed: then
    /// [`Error::WriteBehindPending`] with the failures (they stay queued and
    /// are retried). Under the other policies there is nothing to wait for.
    ///
    /// # Errors
    /// [`Error::WriteBehindPending`]; [`Error::Unsupported`] in the async
    /// API outside a tokio runtime (no worker can run).
    pub async fn flush(&self) -> Result<()> {
        let queue = &self.shared.queue;
        if queue.state().pending.is_empty() {
            return Ok(());
        }
        self.ensure_worker();
        if !queue.worker_started.load(Ordering::SeqCst) {
            return Err(Error::Unsupported {
                operation: "write-behind flush",
                reason: "the worker that sends queued writes needs a tokio runtime".into(),
            });
        }
        // A round that starts after this call: the one after any running now.
        let target = {
            let s = queue.state();
            s.rounds_done + u64::from(s.round_running) + 1
        };
        loop {
            let seen = queue.progress.epoch();
            {
                let state = queue.state();
                // Empty, and the journal says so (rewritten at the end of
                // the round that emptied it).
                if state.pending.is_empty() && !(state.round_running && state.journal_dirty) {
                    return Ok(());
                }
                if state.rounds_done >= target {
                    if state.failures.is_empty() {
                        // Only writes that came after the round: wait on.
                    } else {
                        return Err(Error::WriteBehindPending {
                            pending: state.pending.len(),
                            failures: state.failures.values().cloned().collect(),
                        });
                    }
                }
            }
            queue.wake.notify();
            queue.progress.wait(seen, IDLE_WAIT).await;
        }
    }

    /// Copies blobs from the backend into the frontend (konserve's sync on
    /// connect): those the frontend lacks, or all of them.
    ///
    /// # Errors
    /// Failures of either tier.
    pub async fn sync(&self, strategy: SyncStrategy) -> Result<SyncReport> {
        let backend: Vec<String> = store_blobs(self.shared.backend.list_blobs().await?);
        let frontend: Vec<String> = store_blobs(self.shared.frontend.list_blobs().await?);
        let names: Vec<String> = match strategy {
            SyncStrategy::Full => backend.clone(),
            SyncStrategy::PopulateMissing => {
                let have: std::collections::BTreeSet<&String> = frontend.iter().collect();
                backend
                    .iter()
                    .filter(|n| !have.contains(n))
                    .cloned()
                    .collect()
            }
        };
        let synced = self.copy_to_frontend(&names).await?;
        Ok(SyncReport {
            synced,
            frontend_blobs: frontend.len(),
            backend_blobs: backend.len(),
        })
    }

    /// Copies the blobs of `keys` from the backend into the frontend
    /// (konserve's `sync-keys-to-frontend!`); keys the backend lacks are
    /// skipped. Returns how many were copied.
    ///
    /// # Errors
    /// Failures of either tier.
    pub async fn sync_keys(&self, keys: &[Value]) -> Result<usize> {
        let names: Vec<String> = keys.iter().map(layout::blob_name).collect();
        self.copy_to_frontend(&names).await
    }

    async fn copy_to_frontend(&self, names: &[String]) -> Result<usize> {
        let mut copied = 0;
        for name in names {
            if self.behind() && self.shared.queue.is_pending(name) {
                // The frontend's is newer.
                continue;
            }
            if let Some(mut stream) = self.shared.backend.read_blob_stream(name).await? {
                self.shared
                    .frontend
                    .write_blob_stream(name, Vec::new(), &mut *stream.reader, &Conditions::NONE)
                    .await?;
                copied += 1;
            }
        }
        Ok(copied)
    }

    /// Puts a blob read from the backend into the frontend, only if the
    /// frontend still has none (a write that came meanwhile wins); a
    /// failure only costs the next read a trip to the backend.
    async fn populate(&self, name: &str, bytes: Bytes) {
        let filled = self
            .shared
            .frontend
            .write_blob(name, bytes, &Conditions::if_absent())
            .await;
        if let Err(e) = filled
            && !matches!(e, Error::PreconditionFailed(_) | Error::Conflict(_))
        {
            tracing::debug!(blob = %name, error = %e, "tiered: filling the frontend failed");
        }
    }

    /// After a write to the backend that landed: the frontend gets the
    /// blob too (write-through) or loses its copy (write-around). A
    /// frontend that cannot take it loses its copy, so it never serves an
    /// older version.
    async fn after_backend_write(&self, name: &str, blob: Option<Bytes>) {
        let frontend = &self.shared.frontend;
        let written = match (self.policy(), blob) {
            (WritePolicy::WriteThrough, Some(blob)) => {
                frontend.write_blob(name, blob, &Conditions::NONE).await
            }
            _ => frontend.delete_blob(name, &Conditions::NONE).await,
        };
        if let Err(e) = written {
            tracing::warn!(blob = %name, error = %e, "tiered: updating the frontend failed; dropping its copy");
            let _ = frontend.delete_blob(name, &Conditions::NONE).await;
        }
    }

    /// After a write-through or write-around write (or delete) on the
    /// backend answered `result`: the frontend follows what landed
    /// ([`Self::after_backend_write`]), or drops a copy a refused condition
    /// shows stale ([`Self::after_backend_refusal`]); `result` is returned.
    async fn after_backend(
        &self,
        name: &str,
        keep: Option<Bytes>,
        result: Result<()>,
    ) -> Result<()> {
        match &result {
            Ok(()) => self.after_backend_write(name, keep).await,
            Err(e) => self.after_backend_refusal(name, e).await,
        }
        result
    }

    /// After the backend refused a conditional write: the frontend's copy
    /// is stale, drop it so that the retry reads the backend's version.
    async fn after_backend_refusal(&self, name: &str, error: &Error) {
        if matches!(error, Error::PreconditionFailed(_) | Error::Conflict(_)) {
            let _ = self
                .shared
                .frontend
                .delete_blob(name, &Conditions::NONE)
                .await;
        }
    }

    /// A write of a whole blob, optionally tagged.
    async fn write(
        &self,
        name: &str,
        blob: Bytes,
        conditions: &Conditions,
        tag: Option<&str>,
    ) -> Result<()> {
        let frontend = &self.shared.frontend;
        let backend = &self.shared.backend;
        match self.policy() {
            WritePolicy::WriteThrough | WritePolicy::WriteAround => {
                let keep = (self.policy() == WritePolicy::WriteThrough).then(|| blob.clone());
                let written = match tag {
                    Some(tag) => backend.write_blob_tagged(name, blob, conditions, tag).await,
                    None => backend.write_blob(name, blob, conditions).await,
                };
                self.after_backend(name, keep, written).await
            }
            WritePolicy::WriteBehind => {
                let queued = self.enqueue(name, QueuedOp::Put).await?;
                let written = match tag {
                    Some(tag) => {
                        frontend
                            .write_blob_tagged(name, blob, conditions, tag)
                            .await
                    }
                    None => frontend.write_blob(name, blob, conditions).await,
                };
                drop(queued);
                written
            }
            WritePolicy::FrontendOnly => match tag {
                Some(tag) => {
                    frontend
                        .write_blob_tagged(name, blob, conditions, tag)
                        .await
                }
                None => frontend.write_blob(name, blob, conditions).await,
            },
        }
    }

    /// A streamed write, optionally tagged. Write-through holds the value
    /// in memory (two tiers cannot read one stream; konserve does the
    /// same); the other policies stream into their one tier.
    async fn write_stream(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
        tag: Option<&str>,
    ) -> Result<()> {
        let frontend = &self.shared.frontend;
        let backend = &self.shared.backend;
        match self.policy() {
            WritePolicy::WriteThrough => {
                let mut all = prefix;
                read_all(reader, &mut all).await?;
                self.write(name, Bytes::from(all), conditions, tag).await
            }
            WritePolicy::WriteAround => {
                let written = match tag {
                    Some(tag) => {
                        backend
                            .write_blob_stream_tagged(name, prefix, reader, conditions, tag)
                            .await
                    }
                    None => {
                        backend
                            .write_blob_stream(name, prefix, reader, conditions)
                            .await
                    }
                };
                self.after_backend(name, None, written).await
            }
            WritePolicy::WriteBehind | WritePolicy::FrontendOnly => {
                let queued = if self.behind() {
                    Some(self.enqueue(name, QueuedOp::Put).await?)
                } else {
                    None
                };
                let written = match tag {
                    Some(tag) => {
                        frontend
                            .write_blob_stream_tagged(name, prefix, reader, conditions, tag)
                            .await
                    }
                    None => {
                        frontend
                            .write_blob_stream(name, prefix, reader, conditions)
                            .await
                    }
                };
                drop(queued);
                written
            }
        }
    }
}

/// The names among `names` that are a store's blobs (not a journal or a
/// leftover).
fn store_blobs(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| layout::blob_kind(n).is_some())
        .collect()
}

#[io(AFIT)]
impl<F: Backing + 'static, B: Backing + 'static> Backing for TieredBacking<F, B> {
    fn kind(&self) -> &'static str {
        "tiered"
    }

    async fn read_blob(&self, name: &str) -> Result<Option<StoredBlob>> {
        if let Some(blob) = self.shared.frontend.read_blob(name).await? {
            return Ok(Some(blob));
        }
        if !self.may_fall_through(name) {
            return Ok(None);
        }
        let found = self.shared.backend.read_blob(name).await?;
        if let Some(blob) = &found {
            self.populate(name, blob.bytes.clone()).await;
        }
        Ok(found)
    }

    async fn read_blob_prefix(&self, name: &str, len: u64) -> Result<Option<StoredBlob>> {
        if let Some(blob) = self.shared.frontend.read_blob_prefix(name, len).await? {
            return Ok(Some(blob));
        }
        if !self.may_fall_through(name) {
            return Ok(None);
        }
        self.shared.backend.read_blob_prefix(name, len).await
    }

    async fn read_blob_prefix_if_match(
        &self,
        name: &str,
        len: u64,
        etag: &str,
    ) -> Result<Option<StoredBlob>> {
        let front = self
            .shared
            .frontend
            .read_blob_prefix_if_match(name, len, etag)
            .await?;
        if front.is_some() || !self.may_fall_through(name) {
            return Ok(front);
        }
        self.shared
            .backend
            .read_blob_prefix_if_match(name, len, etag)
            .await
    }

    async fn read_blob_if_none_match(&self, name: &str, etag: &str) -> Result<Revalidated> {
        match self
            .shared
            .frontend
            .read_blob_if_none_match(name, etag)
            .await?
        {
            Revalidated::Missing if self.may_fall_through(name) => {}
            found => return Ok(found),
        }
        let found = self
            .shared
            .backend
            .read_blob_if_none_match(name, etag)
            .await?;
        if let Revalidated::Changed(blob) = &found {
            self.populate(name, blob.bytes.clone()).await;
        }
        Ok(found)
    }

    async fn read_blob_stream(&self, name: &str) -> Result<Option<BlobStream>> {
        if let Some(stream) = self.shared.frontend.read_blob_stream(name).await? {
            return Ok(Some(stream));
        }
        if !self.may_fall_through(name) {
            return Ok(None);
        }
        self.shared.backend.read_blob_stream(name).await
    }

    async fn write_blob(&self, name: &str, blob: Bytes, conditions: &Conditions) -> Result<()> {
        self.write(name, blob, conditions, None).await
    }

    async fn write_blob_stream(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
    ) -> Result<()> {
        self.write_stream(name, prefix, reader, conditions, None)
            .await
    }

    fn keeps_write_tags(&self) -> bool {
        if self.backend_decides() {
            self.shared.backend.keeps_write_tags()
        } else {
            self.shared.frontend.keeps_write_tags()
        }
    }

    async fn write_blob_tagged(
        &self,
        name: &str,
        blob: Bytes,
        conditions: &Conditions,
        tag: &str,
    ) -> Result<()> {
        self.write(name, blob, conditions, Some(tag)).await
    }

    async fn write_blob_stream_tagged(
        &self,
        name: &str,
        prefix: Vec<u8>,
        reader: &mut BodySource<'_>,
        conditions: &Conditions,
        tag: &str,
    ) -> Result<()> {
        self.write_stream(name, prefix, reader, conditions, Some(tag))
            .await
    }

    async fn blob_version(&self, name: &str) -> Result<Option<BlobVersion>> {
        if self.backend_decides() {
            self.shared.backend.blob_version(name).await
        } else {
            self.shared.frontend.blob_version(name).await
        }
    }

    async fn blob_exists(&self, name: &str) -> Result<bool> {
        if self.shared.frontend.blob_exists(name).await? {
            return Ok(true);
        }
        if !self.may_fall_through(name) {
            return Ok(false);
        }
        self.shared.backend.blob_exists(name).await
    }

    async fn blob_etag(&self, name: &str) -> Result<Option<String>> {
        if let Some(etag) = self.shared.frontend.blob_etag(name).await? {
            return Ok(Some(etag));
        }
        if !self.may_fall_through(name) {
            return Ok(None);
        }
        self.shared.backend.blob_etag(name).await
    }

    async fn delete_blob(&self, name: &str, conditions: &Conditions) -> Result<()> {
        let frontend = &self.shared.frontend;
        match self.policy() {
            WritePolicy::WriteThrough | WritePolicy::WriteAround => {
                let deleted = self.shared.backend.delete_blob(name, conditions).await;
                self.after_backend(name, None, deleted).await
            }
            WritePolicy::WriteBehind => {
                let queued = self.enqueue(name, QueuedOp::Delete).await?;
                let deleted = frontend.delete_blob(name, conditions).await;
                drop(queued);
                deleted
            }
            WritePolicy::FrontendOnly => frontend.delete_blob(name, conditions).await,
        }
    }

    async fn delete_blobs(&self, names: &[String]) -> Result<()> {
        let frontend = &self.shared.frontend;
        match self.policy() {
            WritePolicy::WriteThrough | WritePolicy::WriteAround => {
                self.shared.backend.delete_blobs(names).await?;
                frontend.delete_blobs(names).await
            }
            WritePolicy::WriteBehind => {
                let mut queued = Vec::with_capacity(names.len());
                for name in names {
                    queued.push(self.enqueue(name, QueuedOp::Delete).await?);
                }
                let deleted = frontend.delete_blobs(names).await;
                drop(queued);
                deleted
            }
            WritePolicy::FrontendOnly => frontend.delete_blobs(names).await,
        }
    }

    async fn list_blobs(&self) -> Result<Vec<String>> {
        let frontend_lists = self.policy() == WritePolicy::FrontendOnly
            || self.shared.options.read_policy == ReadPolicy::FrontendOnly;
        if frontend_lists {
            return Ok(store_blobs(self.shared.frontend.list_blobs().await?));
        }
        // Queued blobs (taken first: a blob that leaves the queue after
        // this has reached the backend before the listing below): the
        // frontend says whether they exist.
        let queued: Vec<String> = if self.behind() {
            self.shared.queue.state().pending.keys().cloned().collect()
        } else {
            Vec::new()
        };
        let mut names: std::collections::BTreeSet<String> = self
            .shared
            .backend
            .list_blobs()
            .await?
            .into_iter()
            .collect();
        {
            for name in queued {
                if self.shared.frontend.blob_exists(&name).await? {
                    names.insert(name);
                } else {
                    names.remove(&name);
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    fn supports_multi_key(&self) -> bool {
        let frontend = self.shared.frontend.supports_multi_key();
        match self.policy() {
            WritePolicy::WriteThrough | WritePolicy::WriteAround => {
                frontend && self.shared.backend.supports_multi_key()
            }
            WritePolicy::WriteBehind | WritePolicy::FrontendOnly => frontend,
        }
    }

    async fn multi_write_blobs(&self, blobs: Vec<(String, Bytes)>) -> Result<()> {
        let frontend = &self.shared.frontend;
        let names: Vec<String> = blobs.iter().map(|(n, _)| n.clone()).collect();
        match self.policy() {
            WritePolicy::WriteThrough => {
                self.shared.backend.multi_write_blobs(blobs.clone()).await?;
                if let Err(e) = frontend.multi_write_blobs(blobs).await {
                    tracing::warn!(error = %e, "tiered: updating the frontend failed; dropping its copies");
                    let _ = frontend.delete_blobs(&names).await;
                }
                Ok(())
            }
            WritePolicy::WriteAround => {
                self.shared.backend.multi_write_blobs(blobs).await?;
                let _ = frontend.delete_blobs(&names).await;
                Ok(())
            }
            WritePolicy::WriteBehind => {
                let mut queued = Vec::with_capacity(names.len());
                for name in &names {
                    queued.push(self.enqueue(name, QueuedOp::Put).await?);
                }
                let written = frontend.multi_write_blobs(blobs).await;
                drop(queued);
                written
            }
            WritePolicy::FrontendOnly => frontend.multi_write_blobs(blobs).await,
        }
    }

    async fn multi_read_blobs(&self, names: &[String]) -> Result<Vec<Option<Bytes>>> {
        if self.backend_decides() && self.shared.options.read_policy == ReadPolicy::FrontendFirst {
            // One point in time: the tier that decides.
            return self.shared.backend.multi_read_blobs(names).await;
        }
        let mut found = self.shared.frontend.multi_read_blobs(names).await?;
        for (name, slot) in names.iter().zip(found.iter_mut()) {
            if slot.is_none() && self.may_fall_through(name) {
                *slot = self.shared.backend.read_blob(name).await?.map(|b| b.bytes);
            }
        }
        Ok(found)
    }

    async fn multi_delete_blobs(&self, names: &[String]) -> Result<Vec<bool>> {
        let frontend = &self.shared.frontend;
        match self.policy() {
            WritePolicy::WriteThrough | WritePolicy::WriteAround => {
                let existed = self.shared.backend.multi_delete_blobs(names).await?;
                let _ = frontend.delete_blobs(names).await;
                Ok(existed)
            }
            WritePolicy::WriteBehind => {
                let mut existed = Vec::with_capacity(names.len());
                for name in names {
                    existed.push(self.blob_exists(name).await?);
                }
                let mut queued = Vec::with_capacity(names.len());
                for name in names {
                    queued.push(self.enqueue(name, QueuedOp::Delete).await?);
                }
                let deleted = frontend.multi_delete_blobs(names).await;
                drop(queued);
                deleted?;
                Ok(existed)
            }
            WritePolicy::FrontendOnly => frontend.multi_delete_blobs(names).await,
        }
    }
}
