//! Retry timing for kernel operations that failed: exponential backoff with a cap. Pure (the
//! caller supplies the clock), so the simulation and tests control time.

use std::time::{Duration, Instant};

/// Exponential backoff: after each failure the delay doubles, from `base` up to `max`; a
/// success resets it.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    next_delay: Duration,
    not_before: Option<Instant>,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            next_delay: base,
            not_before: None,
            failures: 0,
        }
    }

    /// Records a failure at `now`; returns the delay before the next attempt.
    pub fn failed(&mut self, now: Instant) -> Duration {
        let delay = self.next_delay;
        self.not_before = Some(now + delay);
        self.next_delay = (self.next_delay * 2).min(self.max);
        self.failures += 1;
        delay
    }

    /// Records a success: the next failure waits `base` again.
    pub fn succeeded(&mut self) {
        self.next_delay = self.base;
        self.not_before = None;
        self.failures = 0;
    }

    /// Whether an attempt may be made at `now`.
    pub fn ready(&self, now: Instant) -> bool {
        self.not_before.is_none_or(|t| now >= t)
    }

    /// When the next attempt may be made, if a failure is pending.
    pub fn not_before(&self) -> Option<Instant> {
        self.not_before
    }

    /// Consecutive failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

impl Default for Backoff {
    /// 100 ms doubling to 10 s (Felix retries failed applies every 10 s).
    fn default() -> Self {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets() {
        let t0 = Instant::now();
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        assert!(b.ready(t0));
        assert_eq!(b.failed(t0), Duration::from_millis(100));
        assert!(!b.ready(t0 + Duration::from_millis(99)));
        assert!(b.ready(t0 + Duration::from_millis(100)));
        assert_eq!(b.failed(t0), Duration::from_millis(200));
        assert_eq!(b.failed(t0), Duration::from_millis(350));
        assert_eq!(b.failed(t0), Duration::from_millis(350));
        assert_eq!(b.failures(), 4);
        b.succeeded();
        assert!(b.ready(t0));
        assert_eq!(b.failed(t0), Duration::from_millis(100));
    }
}
