//! The async mode: what the engine needs besides sending requests —
//! sleeping, streams of bytes, bounded concurrency (futures), the per-key
//! lock — in async form, with the same names as [`super::blocking`].

use std::future::Future;
use std::io::Cursor;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The doc example `$name` written for this mode, from
/// `src/engine/doc/$name.async.md`: the engine's items are documented once,
/// but their examples must be code of the mode they appear in.
macro_rules! doc_example {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/engine/doc/",
            $name,
            ".async.md"
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
pub use transport::{ReqwestBody as TransportBody, ReqwestTransport as Transport};

/// Bounds that only the async mode needs: here, `Send`, so that the store's
/// futures can run on a multi-threaded runtime and in `tokio::spawn`.
pub trait MaybeSend: Send {}
impl<T: ?Sized + Send> MaybeSend for T {}

/// A streamed body (async).
pub type BodyReader = Box<dyn AsyncRead + Send + Unpin>;

/// A caller's source of bytes (async).
pub type BodySource<'a> = dyn AsyncRead + Send + Unpin + 'a;

/// The body of an answer as a [`BodyReader`].
pub fn body_reader(body: TransportBody) -> BodyReader {
    Box::new(body.into_reader())
}

/// A [`BodyReader`] over bytes in memory.
pub fn reader_of(bytes: bytes::Bytes) -> BodyReader {
    Box::new(Cursor::new(bytes))
}

/// Reads everything `reader` yields into `buf`.
///
/// # Errors
/// The reader's I/O error.
pub async fn read_all(reader: &mut BodySource<'_>, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    reader.read_to_end(buf).await
}

/// Reads from `reader` until `buf` holds at least `want` bytes or the reader
/// ends; returns whether it ended.
///
/// # Errors
/// The reader's I/O error.
pub async fn fill(
    reader: &mut BodySource<'_>,
    buf: &mut Vec<u8>,
    want: usize,
) -> std::io::Result<bool> {
    while buf.len() < want {
        let before = buf.len();
        let chunk = (want - before).min(1 << 20);
        (&mut *reader).take(chunk as u64).read_to_end(buf).await?;
        if buf.len() == before {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `first`, then everything `rest` yields.
pub fn chain(first: Vec<u8>, rest: BodyReader) -> BodyReader {
    Box::new(Cursor::new(first).chain(rest))
}

/// Runs `f` on every item with at most `limit` futures in flight, returning
/// the results in the items' order.
///
/// The futures finish in any order and a finished one frees its slot at
/// once (`buffered` would hold finished results behind a slow first one,
/// and with them their slots).
pub async fn run_bounded<T, R, F, Fut>(items: Vec<T>, limit: usize, mut f: F) -> Vec<R>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = R>,
{
    let mut results: Vec<(usize, R)> = futures_util::stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| {
            let fut = f(item);
            async move { (i, fut.await) }
        })
        .buffer_unordered(limit.max(1))
        .collect()
        .await;
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Runs `task` in the background on the current tokio runtime (cleanup
/// from a `Drop`, which cannot wait). `false` when there is no runtime:
/// the task is dropped unrun and the caller records the work for later.
pub fn spawn_detached<F>(task: F) -> bool
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            drop(handle.spawn(task));
            true
        }
        Err(_) => false,
    }
}

/// A counter that tasks wait on to change (async form: a tokio `watch`
/// channel). Waiting with the epoch last seen loses no notification.
#[derive(Debug)]
pub struct Signal {
    epoch: tokio::sync::watch::Sender<u64>,
}

impl Default for Signal {
    fn default() -> Self {
        Signal {
            epoch: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Signal {
    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        *self.epoch.borrow()
    }

    /// Moves the epoch on and wakes every waiter.
    pub fn notify(&self) {
        self.epoch.send_modify(|e| *e += 1);
    }

    /// Waits until the epoch is no longer `seen`, or `timeout` passed.
    pub async fn wait(&self, seen: u64, timeout: std::time::Duration) {
        let mut rx = self.epoch.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|e| *e != seen)).await;
    }
}

/// Runs the future `work` makes in the background for as long as it runs
/// (async: a task on the current tokio runtime, named `name` in spirit
/// only). `false` when there is no runtime to run it on.
pub fn spawn_worker<F, Fut>(name: &str, work: F) -> bool
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let _ = name;
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            drop(handle.spawn(work()));
            true
        }
        Err(_) => false,
    }
}

/// A future that may recurse through the engine (a tiered store whose
/// tiers are [`AnyBacking`](crate::nonblocking::AnyBacking)s), boxed so
/// that its type is finite.
pub fn boxed<'a, T>(future: impl Future<Output = T> + Send + 'a) -> Boxed<'a, T> {
    Box::pin(future)
}

/// What a boxed I/O call gives (async: a boxed `Send` future).
pub type Boxed<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs `n` copies of `f`'s future at once (concurrent futures), for the
/// conformance suite.
#[cfg(feature = "conformance")]
pub(crate) async fn concurrently<F, Fut>(n: usize, f: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    futures_util::future::join_all((0..n).map(|_| f())).await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::run_bounded;

    #[tokio::test]
    async fn run_bounded_keeps_order_and_frees_slots_behind_a_slow_first_item() {
        const ITEMS: usize = 20;
        const LIMIT: usize = 4;
        let in_flight = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let others_done = AtomicUsize::new(0);
        let all_others_done = tokio::sync::Notify::new();
        let run = run_bounded((0..ITEMS).collect(), LIMIT, |i: usize| {
            let (in_flight, most, others_done, all_others_done) =
                (&in_flight, &most, &others_done, &all_others_done);
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                if i == 0 {
                    // Finishes only after every other item has: a slot held
                    // by a finished item behind it would stall the rest.
                    all_others_done.notified().await;
                } else {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    if others_done.fetch_add(1, Ordering::SeqCst) + 1 == ITEMS - 1 {
                        all_others_done.notify_one();
                    }
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
                i * 10
            }
        });
        let results = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("the other items must run while the first is pending");
        assert_eq!(results, (0..ITEMS).map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), LIMIT);
    }
}
