//! What differs between the blocking and the async mode besides the HTTP
//! client: sleeping, byte streams, bounded parallelism, the per-key lock.
//! Both modules offer the same names; the engine is compiled once against
//! each (see `lib.rs`).

#[cfg(feature = "blocking")]
mod blocking_locks;

#[cfg(feature = "blocking")]
pub mod blocking;

#[cfg(feature = "async")]
mod nonblocking_locks;

#[cfg(feature = "async")]
pub mod nonblocking;
