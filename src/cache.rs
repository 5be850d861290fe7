//! konserve.cache's value cache, without I/O: an LRU of decoded values
//! (and of keys known to be missing) bounded in entries and bytes, and its
//! counters. The store (`src/engine/store/`) reads and writes through it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::value::Value;

/// konserve's cache size: 32 entries.
pub const DEFAULT_CACHE_ENTRIES: usize = 32;

/// How a store caches decoded values (konserve's `konserve.cache`): an LRU
/// of the values `get`, `get_in` and `exists` read, misses included.
///
/// ```
/// use konserve_s3::config::CacheOptions;
/// let trusting = CacheOptions::default();
/// assert_eq!(trusting.max_entries, 32);
/// let shared = CacheOptions::default().max_bytes(64 << 20).revalidate(true);
/// assert!(shared.revalidate);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheOptions {
    /// The most entries kept (konserve's default, 32). At least 1.
    pub max_entries: usize,
    /// The most bytes kept, counted as the stored blobs' sizes; `None`:
    /// no bound but the entries'.
    pub max_bytes: Option<u64>,
    /// Revalidate every hit on a value: ask the backing whether the blob is
    /// still the version cached (on S3 one `GET` with `If-None-Match:
    /// <etag>`, answered `304` without a body). For a store that other
    /// processes write to. Without it (konserve's behaviour) a hit costs
    /// no request and trusts that only this store writes the key.
    pub revalidate: bool,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_entries: DEFAULT_CACHE_ENTRIES,
            max_bytes: None,
            revalidate: false,
        }
    }
}

impl CacheOptions {
    /// These options with at most `n` entries.
    pub fn max_entries(mut self, n: usize) -> Self {
        self.max_entries = n.max(1);
        self
    }

    /// These options with at most `bytes` bytes of cached blobs.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// These options, revalidating hits or not.
    pub fn revalidate(mut self, on: bool) -> Self {
        self.revalidate = on;
        self
    }
}

/// A store cache's counters since the store was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads answered from the cache without asking the backing.
    pub hits: u64,
    /// Reads answered from the cache after the backing confirmed the
    /// version (revalidating mode; one conditional GET on S3).
    pub revalidated_hits: u64,
    /// Reads the backing answered (then cached).
    pub misses: u64,
    /// Entries dropped to stay within the bounds.
    pub evictions: u64,
    /// Entries held now.
    pub entries: u64,
    /// Bytes held now (the cached blobs' sizes).
    pub bytes: u64,
}

/// What the cache holds for a blob.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cached {
    /// The decoded value and the blob's version tag.
    Present { value: Value, etag: Option<String> },
    /// The blob does not exist.
    Missing,
}

struct Slot {
    entry: Cached,
    tick: u64,
    size: u64,
}

#[derive(Default)]
struct Lru {
    slots: HashMap<String, Slot>,
    /// Last use → name; the first entry is the least recently used.
    order: BTreeMap<u64, String>,
    tick: u64,
    bytes: u64,
}

/// The LRU and its counters (shared by a store's clones).
pub(crate) struct ValueCache {
    options: CacheOptions,
    lru: Mutex<Lru>,
    hits: AtomicU64,
    revalidated_hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

impl ValueCache {
    pub(crate) fn new(options: CacheOptions) -> Self {
        ValueCache {
            options: CacheOptions {
                max_entries: options.max_entries.max(1),
                ..options
            },
            lru: Mutex::default(),
            hits: AtomicU64::new(0),
            revalidated_hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    pub(crate) fn revalidating(&self) -> bool {
        self.options.revalidate
    }

    fn lru(&self) -> MutexGuard<'_, Lru> {
        // Every mutation keeps `slots`, `order` and `bytes` consistent
        // before it can panic (no user code runs under the lock).
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry of `name` (marking it used), if cached.
    pub(crate) fn lookup(&self, name: &str) -> Option<Cached> {
        let mut lru = self.lru();
        lru.tick += 1;
        let tick = lru.tick;
        let slot = lru.slots.get_mut(name)?;
        let old = std::mem::replace(&mut slot.tick, tick);
        let entry = slot.entry.clone();
        lru.order.remove(&old);
        lru.order.insert(tick, name.to_owned());
        Some(entry)
    }

    /// Caches `entry` for `name` (a blob of `size` bytes), evicting the
    /// least recently used entries beyond the bounds. An entry larger than
    /// the byte bound is not cached.
    pub(crate) fn insert(&self, name: &str, entry: Cached, size: u64) {
        let size = size.max(name.len() as u64);
        let mut lru = self.lru();
        lru.remove(name);
        if self.options.max_bytes.is_some_and(|max| size > max) {
            return;
        }
        lru.tick += 1;
        let tick = lru.tick;
        lru.order.insert(tick, name.to_owned());
        lru.slots
            .insert(name.to_owned(), Slot { entry, tick, size });
        lru.bytes += size;
        let mut evicted = 0;
        while lru.slots.len() > self.options.max_entries
            || self.options.max_bytes.is_some_and(|max| lru.bytes > max)
        {
            let Some((_, oldest)) = lru.order.pop_first() else {
                break;
            };
            if let Some(slot) = lru.slots.remove(&oldest) {
                lru.bytes -= slot.size;
                evicted += 1;
            }
        }
        drop(lru);
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
    }

    /// Drops the entry of `name`; whether there was one.
    pub(crate) fn remove(&self, name: &str) -> bool {
        self.lru().remove(name)
    }

    pub(crate) fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn revalidated_hit(&self) {
        self.revalidated_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let lru = self.lru();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            revalidated_hits: self.revalidated_hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: lru.slots.len() as u64,
            bytes: lru.bytes,
        }
    }
}

impl Lru {
    fn remove(&mut self, name: &str) -> bool {
        match self.slots.remove(name) {
            Some(slot) => {
                self.order.remove(&slot.tick);
                self.bytes -= slot.size;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(n: i64) -> Cached {
        Cached::Present {
            value: Value::from(n),
            etag: None,
        }
    }

    #[test]
    fn least_recently_used_goes_first() {
        let c = ValueCache::new(CacheOptions::default().max_entries(2));
        c.insert("a", present(1), 1);
        c.insert("b", present(2), 1);
        assert_eq!(c.lookup("a"), Some(present(1)));
        c.insert("c", Cached::Missing, 1);
        assert_eq!(c.lookup("b"), None, "b was the least recently used");
        assert_eq!(c.lookup("a"), Some(present(1)));
        assert_eq!(c.lookup("c"), Some(Cached::Missing));
        let s = c.stats();
        assert_eq!((s.entries, s.evictions), (2, 1));
    }

    #[test]
    fn byte_bound_evicts_and_refuses_what_cannot_fit() {
        let c = ValueCache::new(CacheOptions::default().max_entries(100).max_bytes(10));
        c.insert("a", present(1), 4);
        c.insert("b", present(2), 4);
        c.insert("c", present(3), 4);
        assert_eq!(c.lookup("a"), None);
        assert_eq!(c.stats().bytes, 8);
        c.insert("huge", present(4), 11);
        assert_eq!(c.lookup("huge"), None);
        assert_eq!(c.stats().bytes, 8);
        // Replacing an entry counts its new size only.
        c.insert("b", present(5), 2);
        assert_eq!(c.stats().bytes, 6);
        assert!(c.remove("b"));
        assert!(!c.remove("b"));
        assert_eq!(c.stats().bytes, 4);
    }
}
