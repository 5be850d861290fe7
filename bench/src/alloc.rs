//! A counting global allocator (the benchmark's only, never the
//! library's): bytes allocated since start, for the copies per operation in
//! the matrix tables (`alloc ÷ value`), and the peak of live heap bytes,
//! for the memory of a `keys` listing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The system allocator, counting.
pub struct Counting;

/// Bytes ever allocated (a `realloc` counts its new size: a copy).
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
/// Bytes live now.
static LIVE: AtomicU64 = AtomicU64::new(0);
/// The largest `LIVE` since the last [`reset_peak`].
static PEAK: AtomicU64 = AtomicU64::new(0);

fn grew(size: usize) {
    let size = size as u64;
    ALLOCATED.fetch_add(size, Relaxed);
    let live = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(live, Relaxed);
}

fn shrank(size: usize) {
    LIVE.fetch_sub(size as u64, Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are
// atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

/// Bytes allocated since the process started.
pub fn allocated() -> u64 {
    ALLOCATED.load(Relaxed)
}

/// Starts a new peak at the live bytes of now; returns them.
pub fn reset_peak() -> u64 {
    let now = LIVE.load(Relaxed);
    PEAK.store(now, Relaxed);
    now
}

/// The largest live heap since the last [`reset_peak`].
pub fn peak() -> u64 {
    PEAK.load(Relaxed)
}
