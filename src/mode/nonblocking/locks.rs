//! konserve's in-process per-key exclusive lock (async form): one holder per
//! key at a time, waiting without blocking a thread; the entry of a key
//! disappears when nobody holds or waits for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::OwnedMutexGuard;

type KeyMutex = Arc<tokio::sync::Mutex<()>>;

/// The lock table of one store.
#[derive(Default)]
pub struct KeyLocks {
    table: Mutex<HashMap<String, KeyMutex>>,
}

impl std::fmt::Debug for KeyLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLocks")
            .field("entries", &self.len())
            .finish()
    }
}

/// Holds (or waits for) a key's lock until dropped; dropping it while still
/// waiting (a cancelled future) cleans up too.
#[must_use = "the lock is released when the guard is dropped"]
pub struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    key: String,
    mutex: Option<KeyMutex>,
    held: Option<OwnedMutexGuard<()>>,
}

impl KeyLocks {
    fn table(&self) -> MutexGuard<'_, HashMap<String, KeyMutex>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `key` is free, then holds it.
    pub async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let mutex = Arc::clone(self.table().entry(key.to_owned()).or_default());
        let mut guard = KeyGuard {
            locks: self,
            key: key.to_owned(),
            mutex: Some(Arc::clone(&mutex)),
            held: None,
        };
        guard.held = Some(mutex.lock_owned().await);
        guard
    }

    /// How many keys are held or waited for (0 when idle).
    pub fn len(&self) -> usize {
        self.table().len()
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        let mut table = self.locks.table();
        self.held.take();
        self.mutex.take();
        if table
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            table.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn exclusive_and_reclaimed() {
        let locks = Arc::new(KeyLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let max_inside = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (locks, inside, max_inside) = (locks.clone(), inside.clone(), max_inside.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..100 {
                    let _g = locks.lock("k").await;
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max_inside.fetch_max(n, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(max_inside.load(Ordering::SeqCst), 1);
        assert_eq!(locks.len(), 0);
        // A waiter that gives up leaves nothing behind.
        let held = locks.lock("x").await;
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(20), locks.lock("x")).await;
        assert!(waiting.is_err());
        drop(held);
        assert_eq!(locks.len(), 0);
    }
}
