//! The clock every time-dependent sampling decision reads (injected so the
//! reservoir, quota TTL and rule expiry can be tested without sleeping).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time source of the X-Ray sampler.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Milliseconds since the Unix epoch, as every sampling decision reads
    /// it (per-second reservoirs, millisecond TTLs): [`Clock::now`] unless
    /// the clock has a cheaper read good to a few milliseconds.
    fn now_millis(&self) -> u64 {
        epoch_millis(self.now())
    }
}

/// [`SystemTime::now`]; decisions read the kernel's coarse wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// On Linux, `CLOCK_REALTIME_COARSE`: the wall clock as of the last
    /// timer tick (1–4 ms old), read without the hardware counter that
    /// `SystemTime::now` reads: about a tenth of a sampling decision's
    /// time otherwise (docs/benchmarks.md, "X-Ray adaptive sampling"). The
    /// reservoirs count per second and the X-Ray TTLs are far longer than
    /// the tick.
    #[cfg(target_os = "linux")]
    fn now_millis(&self) -> u64 {
        use rustix::time::{ClockId, clock_gettime};
        let t = clock_gettime(ClockId::RealtimeCoarse);
        match u64::try_from(t.tv_sec) {
            Ok(secs) => secs
                .saturating_mul(1000)
                .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0) / 1_000_000),
            Err(_) => 0,
        }
    }
}

/// A clock that moves only when told to (tests, benchmarks).
#[derive(Debug)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self {
            nanos: AtomicU64::new(to_nanos(start)),
        }
    }

    /// A clock standing at `secs` seconds after the Unix epoch.
    pub fn at_secs(secs: u64) -> Self {
        Self::new(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }

    /// Puts the clock at `to`.
    pub fn set(&self, to: SystemTime) {
        self.nanos.store(to_nanos(to), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

fn to_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn epoch_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The system clock's decision read is the wall clock as of the last
    /// timer tick: never ahead of it, and behind it by a tick at most (a
    /// second allowed here, so a loaded machine cannot fail it).
    #[test]
    fn the_system_clocks_decision_read_is_the_wall_clock() {
        for _ in 0..100 {
            let before = epoch_millis(SystemTime::now());
            let coarse = SystemClock.now_millis();
            let after = epoch_millis(SystemTime::now());
            assert!(coarse <= after, "{coarse} ahead of {after}");
            assert!(coarse + 1000 >= before, "{coarse} far behind {before}");
        }
    }
}
