//! What both log-capture test binaries share: the workload in each mode and
//! the checks of the captured output.

#[path = "blocking.rs"]
pub mod blocking;
#[path = "check.rs"]
pub mod check;
#[cfg(feature = "async")]
#[path = "nonblocking.rs"]
pub mod nonblocking;
