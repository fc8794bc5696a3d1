//! Exponential backoff with jitter between reconnection attempts.

use std::time::Duration;

/// Delays grow from `min` doubling up to `max`; each is drawn between half and all of its step so
/// that cameras that failed together (a router reboot) do not all reconnect at once.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            failures: 0,
        }
    }

    /// Forgets past failures, after a session that ran long enough to call healthy.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// The delay before the next attempt. `unit` is a random number in `[0, 1)`.
    pub(crate) fn next_delay(&mut self, unit: f64) -> Duration {
        let step = self
            .min
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        step.mul_f64(0.5 + unit / 2.0).max(self.min.min(step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_maximum() {
        let mut b = Backoff::new(100 * MS, 1000 * MS);
        let steps: Vec<_> = (0..6).map(|_| b.next_delay(1.0)).collect();
        assert_eq!(
            steps,
            [100, 200, 400, 800, 1000, 1000].map(|ms| ms * MS).to_vec()
        );
    }

    #[test]
    fn jitter_stays_within_half_and_whole_step_but_never_below_min() {
        let mut b = Backoff::new(100 * MS, 10_000 * MS);
        assert_eq!(b.next_delay(0.0), 100 * MS);
        assert_eq!(b.next_delay(0.0), 100 * MS);
        assert_eq!(b.next_delay(0.0), 200 * MS);
        assert_eq!(b.next_delay(0.5), 600 * MS);
        assert_eq!(b.next_delay(f64::NAN), 800 * MS);
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(100 * MS, 1000 * MS);
        for _ in 0..10 {
            b.next_delay(1.0);
        }
        b.reset();
        assert_eq!(b.next_delay(1.0), 100 * MS);
    }

    #[test]
    fn survives_many_failures() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for _ in 0..100_000 {
            assert!(b.next_delay(0.3) <= Duration::from_secs(60));
        }
    }
}
