//! What differs between the blocking and the async mode: the HTTP transport,
//! sleeping, byte streams, bounded parallelism and the per-key lock. Each
//! mode's folder offers the same names; the engine (`src/engine/`) is
//! compiled once against each, through the parent modules
//! [`crate::blocking`] and [`crate::nonblocking`].

#[cfg(feature = "blocking")]
pub(crate) mod blocking;

#[cfg(feature = "async")]
pub(crate) mod nonblocking;

#[cfg(any(feature = "blocking", feature = "async"))]
pub(crate) mod process;
