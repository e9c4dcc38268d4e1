//! A per-second request quota shared by every thread without a lock.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts the requests taken in the current second: one atomic word holding
/// `(epoch second as u32) << 32 | count`, updated by compare-and-swap.
#[derive(Debug, Default)]
pub(crate) struct Reservoir(AtomicU64);

impl Reservoir {
    /// Takes one request of `quota` per second at `now_sec`; false when this
    /// second's quota is used up.
    #[inline]
    pub(crate) fn try_take(&self, now_sec: u64, quota: u32) -> bool {
        if quota == 0 {
            return false;
        }
        let sec = now_sec & 0xffff_ffff;
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let (cur_sec, count) = (cur >> 32, cur & 0xffff_ffff);
            let next = if cur_sec != sec {
                (sec << 32) | 1
            } else if count < u64::from(quota) {
                cur + 1
            } else {
                return false;
            };
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    pub(crate) fn copy_from(&self, other: &Reservoir) {
        self.0
            .store(other.0.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::Reservoir;

    #[test]
    fn quota_per_second() {
        let r = Reservoir::default();
        assert!((0..3).all(|_| r.try_take(100, 3)));
        assert!(!r.try_take(100, 3), "4th in the same second");
        assert!(r.try_take(101, 3), "next second starts afresh");
        assert!(!Reservoir::default().try_take(100, 0), "zero quota");
    }
}
