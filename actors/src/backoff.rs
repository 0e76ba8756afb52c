//! Exponential backoff, sans-IO: the caller passes the time (tokio's clock in the actors, so it
//! is paused in tests and simulated under turmoil) and gets the delay back.

use std::time::Duration;

use tokio::time::Instant;

/// How retry delays grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The delay after the first failure.
    pub initial: Duration,
    /// The delay never exceeds this.
    pub max: Duration,
    /// A failure more than this long after the previous one starts again from `initial`.
    pub reset_after: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

/// Consecutive failures of one thing, and the delay each calls for: `initial`, doubling up to
/// `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    failures: u32,
    last_failure: Option<Instant>,
}

impl Backoff {
    pub fn new(policy: BackoffPolicy) -> Self {
        Backoff {
            policy,
            failures: 0,
            last_failure: None,
        }
    }

    /// Records a failure at `now`; returns how long to wait before trying again.
    pub fn failed(&mut self, now: Instant) -> Duration {
        if self
            .last_failure
            .is_some_and(|last| now.saturating_duration_since(last) > self.policy.reset_after)
        {
            self.failures = 0;
        }
        self.last_failure = Some(now);
        self.failures = self.failures.saturating_add(1);
        let doublings = self.failures.saturating_sub(1).min(31);
        self.policy
            .initial
            .saturating_mul(1u32 << doublings)
            .min(self.policy.max)
    }

    /// Records a success: the next failure waits `initial` again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.last_failure = None;
    }

    /// Failures since the last success (or since the last quiet period).
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BackoffPolicy {
        BackoffPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            reset_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn delays_double_up_to_the_maximum() {
        let mut b = Backoff::new(policy());
        let now = Instant::now();
        let delays: Vec<u64> = (0..6).map(|_| b.failed(now).as_millis() as u64).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.failures(), 6);
    }

    #[test]
    fn a_success_or_a_quiet_period_starts_again_from_the_initial_delay() {
        let mut b = Backoff::new(policy());
        let now = Instant::now();
        b.failed(now);
        b.failed(now);
        b.succeeded();
        assert_eq!(b.failed(now), Duration::from_millis(100));
        assert_eq!(b.failed(now), Duration::from_millis(200));
        let later = now + Duration::from_secs(11);
        assert_eq!(b.failed(later), Duration::from_millis(100));
    }

    #[test]
    fn many_failures_never_overflow() {
        let mut b = Backoff::new(policy());
        let now = Instant::now();
        for _ in 0..100 {
            assert!(b.failed(now) <= Duration::from_secs(1));
        }
    }
}
