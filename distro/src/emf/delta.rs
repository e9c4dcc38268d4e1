//! Cumulative → delta conversion, as the collector's `awsemf` does it: the
//! first point of a series is withheld (nothing to subtract from) unless
//! `retain_initial_value_of_delta_metric`; a negative difference (a reset)
//! sends the current value; series not seen for [`SERIES_TTL`] are forgotten.
//!
//! Bounded: at most `max_series` series are tracked; a new series past the
//! bound is treated as a first point every time (counted by the caller).

use std::time::Duration;

/// How long a series is remembered without a new point (awsemf: 5 min).
pub const SERIES_TTL: Duration = Duration::from_secs(5 * 60);
/// Default bound on tracked series.
pub const DEFAULT_MAX_SERIES: usize = 1_000_000;
/// How often expired series are swept.
const SWEEP_EVERY_MS: i64 = 60_000;

#[derive(Clone, Copy, Debug)]
struct Entry {
    sum: f64,
    count: u64,
    seen_ms: i64,
}

/// What [`DeltaState::delta`] decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Delta {
    /// The value to send (a difference, or the value after a reset).
    Send {
        /// Sum or value.
        sum: f64,
        /// Count (summaries).
        count: u64,
    },
    /// First point of the series: nothing to send.
    First,
    /// First point, and the state is full: the series cannot be tracked.
    Untracked,
}

/// Previous values by series key.
#[derive(Debug)]
pub(super) struct DeltaState {
    /// foldhash (hashbrown's default): SipHash cost more than the lookup.
    series: hashbrown::HashMap<String, Entry>,
    max_series: usize,
    last_sweep_ms: i64,
}

impl DeltaState {
    pub(super) fn new(max_series: usize) -> Self {
        Self {
            series: hashbrown::HashMap::new(),
            max_series,
            last_sweep_ms: 0,
        }
    }

    /// Number of tracked series.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.series.len()
    }

    /// Forgets series not updated within [`SERIES_TTL`] of `now_ms` (at most
    /// once a minute).
    pub(super) fn sweep(&mut self, now_ms: i64) {
        if now_ms - self.last_sweep_ms < SWEEP_EVERY_MS {
            return;
        }
        self.last_sweep_ms = now_ms;
        let ttl = SERIES_TTL.as_millis() as i64;
        self.series.retain(|_, e| now_ms - e.seen_ms <= ttl);
    }

    /// The delta of `(sum, count)` against the series' previous point, and
    /// remembers this one. A negative sum difference (reset) sends the
    /// current values.
    pub(super) fn delta(&mut self, key: &str, sum: f64, count: u64, now_ms: i64) -> Delta {
        if let Some(prev) = self.series.get_mut(key) {
            let d_sum = sum - prev.sum;
            let d_count = count.wrapping_sub(prev.count);
            let reset = d_sum < 0.0 || count < prev.count;
            *prev = Entry {
                sum,
                count,
                seen_ms: now_ms,
            };
            return if reset {
                Delta::Send { sum, count }
            } else {
                Delta::Send {
                    sum: d_sum,
                    count: d_count,
                }
            };
        }
        if self.series.len() >= self.max_series {
            return Delta::Untracked;
        }
        self.series.insert(
            key.to_owned(),
            Entry {
                sum,
                count,
                seen_ms: now_ms,
            },
        );
        Delta::First
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_withheld_then_differences_and_reset() {
        let mut s = DeltaState::new(10);
        assert_eq!(s.delta("a", 10.0, 0, 0), Delta::First);
        assert_eq!(s.delta("a", 15.0, 0, 1), Delta::Send { sum: 5.0, count: 0 });
        // Reset: the counter went down; the current value is sent.
        assert_eq!(s.delta("a", 3.0, 0, 2), Delta::Send { sum: 3.0, count: 0 });
        assert_eq!(s.delta("a", 4.0, 0, 3), Delta::Send { sum: 1.0, count: 0 });
        assert_eq!(s.delta("b", 4.0, 0, 3), Delta::First);
    }

    #[test]
    fn bounded_and_expiring() {
        let mut s = DeltaState::new(1);
        assert_eq!(s.delta("a", 1.0, 1, 0), Delta::First);
        assert_eq!(s.delta("b", 1.0, 1, 0), Delta::Untracked);
        let later = SERIES_TTL.as_millis() as i64 + SWEEP_EVERY_MS + 1;
        s.sweep(later);
        assert_eq!(s.len(), 0);
        assert_eq!(s.delta("b", 1.0, 1, later), Delta::First);
    }
}
