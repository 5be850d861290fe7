//! The async mode: what the engine needs besides sending requests —
//! sleeping, streams of bytes, bounded concurrency (futures), the per-key
//! lock — in async form, with the same names as [`super::blocking`].

use std::future::Future;
use std::io::Cursor;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};

pub use super::nonblocking_locks::KeyLocks;
pub use crate::http::reqwest_transport::{
    ReqwestBody as TransportBody, ReqwestTransport as Transport,
};

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
pub async fn run_bounded<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = R>,
{
    futures_util::stream::iter(items)
        .map(f)
        .buffered(limit.max(1))
        .collect()
        .await
}
