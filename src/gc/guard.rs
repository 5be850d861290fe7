//! konserve's `konserve.gc-guard`: the store's safe point, in-process.
//!
//! A writer that stores values first and only then the pointer that makes
//! them reachable (a new index root, a branch head) leaves, for the time in
//! between, values that nothing references yet. A collection that marks in
//! that window finds them unreachable, and they are older than a cutoff of
//! "now": the sweep would delete them, and the pointer then lands on
//! nothing. The guard closes the window: the writer opens a sequence
//! ([`writing`] or [`unreferenced_writes`]) before its first value and
//! closes it ([`done`]) after the pointer; the collector takes its cutoff
//! from [`cutoff`] **before** it marks. An open sequence holds the cutoff
//! at its start, so everything it writes is spared.
//!
//! Sequences are kept per store id (konserve's `:id`, a UUID): separate
//! handles on one store share its guard by agreeing on the id.
//!
//! # Limits
//!
//! This is state of this process. A writer in another process is not seen:
//! a collection here may delete the values of its open sequence. Run one
//! collector per store with every writer in its process, coordinate above
//! the store, or give the sweep an age floor
//! ([`SweepOptions::min_age`](field@super::SweepOptions::min_age)) longer than
//! any sequence of another process can take. See docs/gc.md.
//!
//! ```
//! use konserve_s3::gc::guard;
//!
//! let store_id = konserve_s3::Uuid::new_v4();
//! let started_at = konserve_s3::gc::now();
//! {
//!     let _sequence = guard::unreferenced_writes(store_id);
//!     // … write the values, then the pointer …
//!     assert!(guard::in_flight(store_id));
//!     assert!(guard::cutoff(store_id, konserve_s3::gc::now()) >= started_at);
//! } // closed here, also on an early return, a panic or a dropped future
//! assert!(!guard::in_flight(store_id));
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use uuid::Uuid;

use super::now;

/// An open write sequence, from [`writing`]; give it back to [`done`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(u64);

/// Store id → open sequences (token → start, epoch ms).
type InFlight = BTreeMap<Uuid, BTreeMap<Token, i64>>;

static IN_FLIGHT: Mutex<InFlight> = Mutex::new(BTreeMap::new());
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

fn in_flight_map() -> MutexGuard<'static, InFlight> {
    // The map stays consistent whatever panicked while it was held.
    IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Opens a write sequence on `store_id`, stamped now; call before its first
/// value is written, and [`done`] after its pointer. Prefer
/// [`unreferenced_writes`], which cannot be left open.
pub fn writing(store_id: Uuid) -> Token {
    let token = Token(NEXT_TOKEN.fetch_add(1, Ordering::Relaxed));
    let start = now();
    in_flight_map()
        .entry(store_id)
        .or_default()
        .insert(token, start);
    token
}

/// Closes a sequence: its pointer has landed. Whether it was open (a
/// token closed twice, or by [`sweep_stale`], is not).
pub fn done(store_id: Uuid, token: Token) -> bool {
    let mut map = in_flight_map();
    let Some(open) = map.get_mut(&store_id) else {
        return false;
    };
    let was_open = open.remove(&token).is_some();
    if open.is_empty() {
        map.remove(&store_id);
    }
    was_open
}

/// Whether a sequence is open on `store_id`.
pub fn in_flight(store_id: Uuid) -> bool {
    in_flight_map().contains_key(&store_id)
}

/// The instant (epoch ms) before which everything written to `store_id` is
/// either reachable or garbage: the start of the oldest open sequence, or
/// [`now`] when none is open. Prefer [`cutoff`].
pub fn safe_point(store_id: Uuid) -> i64 {
    let oldest = in_flight_map()
        .get(&store_id)
        .and_then(|open| open.values().min().copied());
    oldest.unwrap_or_else(now)
}

/// The sweep cutoff for a collection that started at `started_at` (epoch
/// ms, from [`now`], read **before** this call): the earlier of the two.
/// Call it before marking, and give the result to
/// [`SweepOptions::new`](super::SweepOptions::new): a sequence that opens
/// after this reading lands its pointer before the mark or is younger than
/// the cutoff; one that was open holds the cutoff at its start.
pub fn cutoff(store_id: Uuid, started_at: i64) -> i64 {
    safe_point(store_id).min(started_at)
}

/// The sequences on `store_id` open for longer than `max_age`, with their
/// starts (epoch ms). A sequence that is never closed holds the cutoff
/// for good, so that collection stops freeing anything, silently: look
/// here to notice.
pub fn stale(store_id: Uuid, max_age: Duration) -> Vec<(Token, i64)> {
    let cut = now().saturating_sub(i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX));
    in_flight_map()
        .get(&store_id)
        .map(|open| {
            open.iter()
                .filter(|(_, start)| **start < cut)
                .map(|(t, s)| (*t, *s))
                .collect()
        })
        .unwrap_or_default()
}

/// Closes the sequences [`stale`] reports and returns them. A last
/// resort: closing a sequence that is still writing reopens the window
/// the guard exists for. Fix the missing [`done`] instead where you can.
pub fn sweep_stale(store_id: Uuid, max_age: Duration) -> Vec<(Token, i64)> {
    let leaked = stale(store_id, max_age);
    for (token, _) in &leaked {
        done(store_id, *token);
    }
    leaked
}

/// An open write sequence that closes itself when dropped: at the end of
/// its scope, on an early return or a panic, and in async code when the
/// future holding it completes or is dropped.
#[derive(Debug)]
#[must_use = "the sequence closes when this is dropped"]
pub struct UnreferencedWrites {
    store_id: Uuid,
    token: Token,
}

impl UnreferencedWrites {
    /// The sequence's token.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Closes the sequence now (as dropping it does).
    pub fn finish(self) {}
}

impl Drop for UnreferencedWrites {
    fn drop(&mut self) {
        done(self.store_id, self.token);
    }
}

/// Opens a write sequence on `store_id` ([`writing`]) that closes when the
/// returned value is dropped (konserve's `with-unreferenced-writes`).
pub fn unreferenced_writes(store_id: Uuid) -> UnreferencedWrites {
    UnreferencedWrites {
        store_id,
        token: writing(store_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_sequence_holds_the_cutoff_at_its_start() {
        let id = Uuid::new_v4();
        assert!(!in_flight(id));
        let first = writing(id);
        let start = in_flight_map()[&id][&first];
        let second = writing(id);
        std::thread::sleep(Duration::from_millis(3));
        let later = now();
        assert_eq!(safe_point(id), start);
        assert_eq!(cutoff(id, later), start);
        assert!(done(id, first));
        assert!(!done(id, first));
        assert!(in_flight(id));
        assert!(cutoff(id, later) >= start);
        assert!(done(id, second));
        assert!(!in_flight(id));
        // Idle: the cutoff is the collection's own start.
        assert_eq!(cutoff(id, later), later);
    }

    #[test]
    fn guards_of_different_stores_do_not_mix() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let sequence = unreferenced_writes(a);
        assert!(in_flight(a));
        assert!(!in_flight(b));
        drop(sequence);
        assert!(!in_flight(a));
    }

    #[test]
    fn stale_sequences_are_reported_and_swept() {
        let id = Uuid::new_v4();
        let old = writing(id);
        std::thread::sleep(Duration::from_millis(30));
        let young = writing(id);
        let leaked = stale(id, Duration::from_millis(20));
        assert_eq!(
            leaked.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            vec![old]
        );
        assert_eq!(sweep_stale(id, Duration::from_millis(20)).len(), 1);
        assert!(in_flight(id));
        assert!(done(id, young));
        assert!(!in_flight(id));
    }

    #[test]
    fn a_dropped_sequence_closes_even_on_panic() {
        let id = Uuid::new_v4();
        let r = std::panic::catch_unwind(|| {
            let _s = unreferenced_writes(id);
            panic!("writer failed");
        });
        assert!(r.is_err());
        assert!(!in_flight(id));
    }
}
