//! The blocking mode: what the engine needs besides sending requests —
//! sleeping, streams of bytes, bounded parallelism (threads), the per-key
//! lock — in their blocking form. [`super::nonblocking`] has the same names in
//! async form, so the engine source compiles against either.

use std::io::Read;

/// The doc example `$name` written for this mode, from
/// `src/engine/doc/$name.blocking.md`: the engine's items are documented once,
/// but their examples must be code of the mode they appear in.
macro_rules! doc_example {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/engine/doc/",
            $name,
            ".blocking.md"
        ))
    };
}
pub(crate) use doc_example;

mod credentials;
mod locks;
mod transport;

pub use credentials::CredentialsProvider;
pub(crate) use credentials::{RefreshLock, SharedProvider, provide, run_process, share};
pub use locks::KeyLocks;
pub use transport::{UreqBody as TransportBody, UreqTransport as Transport};

/// Bounds that only the async mode needs: in blocking mode every type
/// qualifies, so closures need not be `Send`.
pub trait MaybeSend {}
impl<T: ?Sized> MaybeSend for T {}

/// A streamed body (blocking).
pub type BodyReader = Box<dyn Read + Send>;

/// A caller's source of bytes (blocking).
pub type BodySource<'a> = dyn Read + Send + 'a;

/// The body of an answer as a [`BodyReader`].
pub fn body_reader(body: TransportBody) -> BodyReader {
    Box::new(body.into_reader())
}

/// A [`BodyReader`] over bytes in memory.
pub fn reader_of(bytes: bytes::Bytes) -> BodyReader {
    Box::new(std::io::Cursor::new(bytes))
}

/// Reads everything `reader` yields into `buf`.
///
/// # Errors
/// The reader's I/O error.
pub fn read_all(reader: &mut BodySource<'_>, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    reader.read_to_end(buf)
}

/// Reads from `reader` until `buf` holds at least `want` bytes or the reader
/// ends; returns whether it ended.
///
/// # Errors
/// The reader's I/O error.
pub fn fill(reader: &mut BodySource<'_>, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    while buf.len() < want {
        let before = buf.len();
        let chunk = (want - before).min(1 << 20);
        (&mut *reader).take(chunk as u64).read_to_end(buf)?;
        if buf.len() == before {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Runs `f` on every item with at most `limit` running at once (threads),
/// returning the results in the items' order.
pub fn run_bounded<T, R, F>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let limit = limit.max(1).min(items.len().max(1));
    if limit == 1 {
        return items.into_iter().map(f).collect();
    }
    let queue = std::sync::Mutex::new(items.into_iter().enumerate());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..limit {
            scope.spawn(|| {
                loop {
                    let next = queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .next();
                    let Some((i, item)) = next else { break };
                    let r = f(item);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((i, r));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// `first`, then everything `rest` yields.
pub fn chain(first: Vec<u8>, rest: BodyReader) -> BodyReader {
    Box::new(std::io::Cursor::new(first).chain(rest))
}

/// The blocking counterpart of the async mode's `spawn_detached`: the
/// engine's `async` block was turned into a plain block, so the work was
/// done in place, before this call, and there is nothing left to run.
/// Always `true`.
pub fn spawn_detached<T>(_done: T) -> bool {
    true
}

/// Runs `n` copies of `f` at once (threads), for the conformance suite.
#[cfg(feature = "conformance")]
pub(crate) fn concurrently<F: Fn() + Sync>(n: usize, f: F) {
    std::thread::scope(|s| {
        for _ in 0..n {
            s.spawn(&f);
        }
    });
}

/// A counter that tasks wait on to change (blocking form: a condition
/// variable). Waiting with the epoch last seen loses no notification.
#[derive(Debug, Default)]
pub struct Signal {
    epoch: std::sync::Mutex<u64>,
    changed: std::sync::Condvar,
}

impl Signal {
    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        *self
            .epoch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves the epoch on and wakes every waiter.
    pub fn notify(&self) {
        *self
            .epoch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        self.changed.notify_all();
    }

    /// Waits until the epoch is no longer `seen`, or `timeout` passed.
    pub fn wait(&self, seen: u64, timeout: std::time::Duration) {
        let epoch = self
            .epoch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = self
            .changed
            .wait_timeout_while(epoch, timeout, |e| *e == seen)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
}

/// Runs `work` in the background for as long as it runs (blocking: a
/// thread of its own named `name`). Always `true` (`false` only if the
/// operating system refuses a thread).
pub fn spawn_worker<F>(name: &str, work: F) -> bool
where
    F: FnOnce() + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
        .is_ok()
}

/// What a boxed I/O call gives (blocking: its result itself).
pub type Boxed<'a, T> = T;

/// A call that may recurse through the engine (a tiered store of tiered
/// stores), as it is: blocking calls need no boxing.
pub fn boxed<'a, T>(value: T) -> Boxed<'a, T> {
    value
}
