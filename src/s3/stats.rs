//! Request statistics: count, failures, retries, bytes and latency per action.
//!
//! Lock-free counters, cheap enough to stay on in production. Latencies go
//! into power-of-two microsecond buckets, from which approximate percentiles
//! are read. Tests use the counts to assert how many requests each konserve
//! operation makes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::Action;

const BUCKETS: usize = 40;

#[derive(Debug)]
struct Counters {
    requests: AtomicU64,
    failures: AtomicU64,
    retries: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    total_micros: AtomicU64,
    max_micros: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

impl Counters {
    fn new() -> Self {
        Counters {
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            total_micros: AtomicU64::new(0),
            max_micros: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Live counters of one client; read them with [`RequestStats::snapshot`].
#[derive(Debug)]
pub struct RequestStats {
    per_action: [Counters; Action::ALL.len()],
}

impl Default for RequestStats {
    fn default() -> Self {
        RequestStats {
            per_action: std::array::from_fn(|_| Counters::new()),
        }
    }
}

/// One finished attempt, as recorded.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    /// The action.
    pub action: Action,
    /// Whether it is a retry of an earlier attempt.
    pub is_retry: bool,
    /// Whether it failed (error answer or transport error).
    pub failed: bool,
    /// Request body bytes.
    pub bytes_sent: u64,
    /// Response body bytes read.
    pub bytes_received: u64,
    /// From sending to having the answer's head.
    pub latency: Duration,
}

fn bucket_of(micros: u64) -> usize {
    (64 - micros.leading_zeros() as usize).min(BUCKETS - 1)
}

impl RequestStats {
    /// Records one attempt (every attempt counts as a request).
    pub fn record(&self, a: Attempt) {
        let c = &self.per_action[a.action as usize];
        let micros = u64::try_from(a.latency.as_micros()).unwrap_or(u64::MAX);
        c.requests.fetch_add(1, Relaxed);
        if a.failed {
            c.failures.fetch_add(1, Relaxed);
        }
        if a.is_retry {
            c.retries.fetch_add(1, Relaxed);
        }
        c.bytes_sent.fetch_add(a.bytes_sent, Relaxed);
        c.bytes_received.fetch_add(a.bytes_received, Relaxed);
        c.total_micros.fetch_add(micros, Relaxed);
        c.max_micros.fetch_max(micros, Relaxed);
        c.buckets[bucket_of(micros)].fetch_add(1, Relaxed);
    }

    /// A consistent-enough copy of the counters (actions never used are left out).
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut per_action = BTreeMap::new();
        for action in Action::ALL {
            let c = &self.per_action[action as usize];
            let requests = c.requests.load(Relaxed);
            if requests == 0 {
                continue;
            }
            let buckets: Vec<u64> = c.buckets.iter().map(|b| b.load(Relaxed)).collect();
            per_action.insert(
                action,
                ActionStats {
                    requests,
                    failures: c.failures.load(Relaxed),
                    retries: c.retries.load(Relaxed),
                    bytes_sent: c.bytes_sent.load(Relaxed),
                    bytes_received: c.bytes_received.load(Relaxed),
                    total_latency: Duration::from_micros(c.total_micros.load(Relaxed)),
                    max_latency: Duration::from_micros(c.max_micros.load(Relaxed)),
                    p50: percentile(&buckets, 0.50),
                    p99: percentile(&buckets, 0.99),
                },
            );
        }
        StatsSnapshot { per_action }
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        for c in &self.per_action {
            for a in [
                &c.requests,
                &c.failures,
                &c.retries,
                &c.bytes_sent,
                &c.bytes_received,
                &c.total_micros,
                &c.max_micros,
            ] {
                a.store(0, Relaxed);
            }
            for b in &c.buckets {
                b.store(0, Relaxed);
            }
        }
    }
}

/// Upper bound of the bucket holding the `q`-quantile.
fn percentile(buckets: &[u64], q: f64) -> Duration {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return Duration::ZERO;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Duration::from_micros(if i == 0 { 0 } else { (1u64 << i) - 1 });
        }
    }
    Duration::MAX
}

/// Statistics of one action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActionStats {
    /// Attempts sent (retries included).
    pub requests: u64,
    /// Attempts that failed: error answers and transport errors, but not
    /// the 404 that says a key (or, to `HeadBucket`, the bucket) is not
    /// there, which is an answer.
    pub failures: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Request body bytes.
    pub bytes_sent: u64,
    /// Response body bytes.
    pub bytes_received: u64,
    /// Sum of latencies.
    pub total_latency: Duration,
    /// Largest latency.
    pub max_latency: Duration,
    /// Median latency (upper bound of its power-of-two bucket).
    pub p50: Duration,
    /// 99th percentile latency (upper bound of its power-of-two bucket).
    pub p99: Duration,
}

/// A copy of a client's request statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Statistics per action that was used.
    pub per_action: BTreeMap<Action, ActionStats>,
}

impl StatsSnapshot {
    /// Attempts of `action`.
    pub fn requests(&self, action: Action) -> u64 {
        self.per_action.get(&action).map_or(0, |s| s.requests)
    }

    /// Attempts of all actions.
    pub fn total_requests(&self) -> u64 {
        self.per_action.values().map(|s| s.requests).sum()
    }

    /// What happened between `earlier` and `self`: request, failure and retry
    /// counts and bytes subtracted (latency figures are `self`'s).
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        let mut per_action = BTreeMap::new();
        for (action, s) in &self.per_action {
            let e = earlier.per_action.get(action).copied().unwrap_or_default();
            if s.requests == e.requests {
                continue;
            }
            per_action.insert(
                *action,
                ActionStats {
                    requests: s.requests - e.requests,
                    failures: s.failures - e.failures,
                    retries: s.retries - e.retries,
                    bytes_sent: s.bytes_sent - e.bytes_sent,
                    bytes_received: s.bytes_received - e.bytes_received,
                    total_latency: s.total_latency.saturating_sub(e.total_latency),
                    ..*s
                },
            );
        }
        StatsSnapshot { per_action }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(action: Action, ms: u64, failed: bool) -> Attempt {
        Attempt {
            action,
            is_retry: failed,
            failed,
            bytes_sent: 10,
            bytes_received: 5,
            latency: Duration::from_millis(ms),
        }
    }

    #[test]
    fn counts_and_percentiles() {
        let s = RequestStats::default();
        for ms in [1, 1, 1, 1, 1, 1, 1, 1, 1, 100] {
            s.record(attempt(Action::GetObject, ms, ms == 100));
        }
        s.record(attempt(Action::PutObject, 3, false));
        let snap = s.snapshot();
        let g = snap.per_action[&Action::GetObject];
        assert_eq!(g.requests, 10);
        assert_eq!(g.failures, 1);
        assert_eq!(g.retries, 1);
        assert_eq!(g.bytes_sent, 100);
        assert_eq!(g.max_latency, Duration::from_millis(100));
        assert!(
            g.p50 >= Duration::from_millis(1) && g.p50 < Duration::from_millis(3),
            "{g:?}"
        );
        assert!(
            g.p99 >= Duration::from_millis(100) && g.p99 < Duration::from_millis(200),
            "{g:?}"
        );
        assert_eq!(snap.total_requests(), 11);
        assert_eq!(snap.requests(Action::HeadObject), 0);
        let later = {
            s.record(attempt(Action::PutObject, 3, false));
            s.snapshot()
        };
        let d = later.since(&snap);
        assert_eq!(d.total_requests(), 1);
        assert_eq!(d.requests(Action::PutObject), 1);
        s.reset();
        assert_eq!(s.snapshot().total_requests(), 0);
    }
}
