//! Retry decisions and backoff: capped exponential backoff with full jitter,
//! bounded by a number of attempts and a total time budget.
//!
//! What is retried: throttling (429, 503 `SlowDown`), other 5xx and 499,
//! S3 `RequestTimeout`, client timeouts and transport errors (reset, refused)
//! — but only for requests that are safe to repeat
//! ([`S3Request::is_safe_to_repeat`](crate::s3::S3Request::is_safe_to_repeat)).
//! A request whose pooled connection turned out to be closed by the server is
//! repeated once at once, whatever its method, because it never reached the
//! server.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How requests are retried. Defaults: 6 attempts, backoff from 50 ms doubling
/// up to 5 s with full jitter, at most 60 s in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Backoff ceiling before the first retry, in milliseconds.
    #[serde(rename = "initial-backoff-ms", with = "millis")]
    pub initial_backoff: Duration,
    /// Largest backoff ceiling, in milliseconds.
    #[serde(rename = "max-backoff-ms", with = "millis")]
    pub max_backoff: Duration,
    /// No retry starts once this much time has passed since the first attempt
    /// (or would pass during the backoff), in milliseconds.
    #[serde(rename = "total-budget-ms", with = "millis")]
    pub total_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            total_budget: Duration::from_secs(60),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Return the error.
    GiveUp,
}

impl RetryPolicy {
    /// Never retry.
    pub const NEVER: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        total_budget: Duration::ZERO,
    };

    /// The backoff ceiling before retry number `retry` (0 for the first
    /// retry): `min(max_backoff, initial_backoff × 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// A full-jitter backoff: uniform in `[0, ceiling(retry)]`, from `unit`
    /// in `[0, 1)` (a random number; injected so that tests are exact).
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        self.ceiling(retry).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Decides whether attempt number `attempt` (1-based) that failed with
    /// `error` is retried, for a request that is `safe_to_repeat`, when
    /// `elapsed` has passed since the first attempt. `unit` is a random
    /// number in `[0, 1)` for the jitter.
    pub fn decide(
        &self,
        error: &Error,
        safe_to_repeat: bool,
        attempt: u32,
        elapsed: Duration,
        unit: f64,
    ) -> Decision {
        if !safe_to_repeat || !error.is_retryable() || attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        let wait = self.backoff(attempt - 1, unit);
        if elapsed + wait >= self.total_budget {
            return Decision::GiveUp;
        }
        Decision::RetryAfter(wait)
    }
}

pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorContext;

    fn ctx() -> Box<ErrorContext> {
        Box::default()
    }

    #[test]
    fn ceiling_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            total_budget: Duration::from_secs(10),
        };
        let c: Vec<u128> = (0..6).map(|r| p.ceiling(r).as_millis()).collect();
        assert_eq!(c, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.ceiling(200), Duration::from_millis(1000));
        assert_eq!(p.backoff(1, 0.5), Duration::from_millis(100));
        assert_eq!(p.backoff(1, 0.0), Duration::ZERO);
    }

    #[test]
    fn retries_only_transient_errors_of_safe_requests() {
        let p = RetryPolicy::default();
        let slow = Error::Throttled(ctx());
        assert_eq!(
            p.decide(&slow, true, 1, Duration::ZERO, 0.5),
            Decision::RetryAfter(Duration::from_millis(25))
        );
        assert_eq!(
            p.decide(&slow, false, 1, Duration::ZERO, 0.5),
            Decision::GiveUp
        );
        let denied = Error::AccessDenied(ctx());
        assert_eq!(
            p.decide(&denied, true, 1, Duration::ZERO, 0.5),
            Decision::GiveUp
        );
        let pre = Error::PreconditionFailed(ctx());
        assert_eq!(
            p.decide(&pre, true, 1, Duration::ZERO, 0.5),
            Decision::GiveUp
        );
    }

    #[test]
    fn stops_at_attempt_limit_and_budget() {
        let p = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            total_budget: Duration::from_secs(1),
        };
        let e = Error::Unavailable(ctx());
        assert!(matches!(
            p.decide(&e, true, 2, Duration::ZERO, 0.9),
            Decision::RetryAfter(_)
        ));
        assert_eq!(p.decide(&e, true, 3, Duration::ZERO, 0.9), Decision::GiveUp);
        assert_eq!(
            p.decide(&e, true, 1, Duration::from_millis(950), 0.9),
            Decision::GiveUp
        );
        assert_eq!(
            RetryPolicy::NEVER.decide(&e, true, 1, Duration::ZERO, 0.0),
            Decision::GiveUp
        );
    }

    #[test]
    fn serde_uses_kebab_case_millis() {
        let p: RetryPolicy =
            serde_json::from_str(r#"{"max-attempts": 2, "total-budget-ms": 1500}"#).unwrap();
        assert_eq!(p.max_attempts, 2);
        assert_eq!(p.total_budget, Duration::from_millis(1500));
        assert_eq!(p.initial_backoff, RetryPolicy::default().initial_backoff);
        assert!(serde_json::from_str::<RetryPolicy>(r#"{"max-atempts": 2}"#).is_err());
    }
}
