//! konserve's in-process per-key exclusive lock (blocking form): one holder
//! per key at a time; the entry of a key disappears when nobody holds or
//! waits for it, so a long-lived store does not accumulate locks.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

#[derive(Default)]
struct Entry {
    held: bool,
    waiters: usize,
}

/// The lock table of one store.
#[derive(Default)]
pub struct KeyLocks {
    table: Mutex<HashMap<String, Entry>>,
    released: Condvar,
}

impl std::fmt::Debug for KeyLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLocks")
            .field("entries", &self.len())
            .finish()
    }
}

/// Holds a key's lock until dropped.
#[must_use = "the lock is released when the guard is dropped"]
pub struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    key: String,
}

impl KeyLocks {
    fn table(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `key` is free, then holds it.
    pub fn lock(&self, key: &str) -> KeyGuard<'_> {
        let mut table = self.table();
        loop {
            let entry = table.entry(key.to_owned()).or_default();
            if !entry.held {
                entry.held = true;
                break;
            }
            entry.waiters += 1;
            table = self
                .released
                .wait(table)
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = table.get_mut(key) {
                entry.waiters -= 1;
            }
        }
        KeyGuard {
            locks: self,
            key: key.to_owned(),
        }
    }

    /// How many keys are held or waited for (0 when idle).
    pub fn len(&self) -> usize {
        self.table().len()
    }

    /// Whether no key is held or waited for.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        let mut table = self.locks.table();
        let idle = match table.get_mut(&self.key) {
            Some(entry) => {
                entry.held = false;
                entry.waiters == 0
            }
            None => false,
        };
        if idle {
            table.remove(&self.key);
        }
        drop(table);
        self.locks.released.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn exclusive_and_reclaimed() {
        let locks = KeyLocks::default();
        let inside = AtomicUsize::new(0);
        let max_inside = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..200 {
                        let _g = locks.lock("k");
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max_inside.fetch_max(n, Ordering::SeqCst);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(max_inside.load(Ordering::SeqCst), 1);
        assert!(locks.is_empty());
        {
            let _a = locks.lock("a");
            let _b = locks.lock("b");
            assert_eq!(locks.len(), 2);
        }
        assert!(locks.is_empty());
    }
}
