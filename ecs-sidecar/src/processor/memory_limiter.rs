//! `memory_limiter`: refuses data (backpressure) before the process runs
//! out of memory, as the collector's processor does.
//!
//! The decision is made on **accounted** bytes: everything the sidecar
//! holds is admitted here before it is held (request bodies as they
//! arrive, decoded batches by their in-memory size, in-progress UDP
//! documents, batches in the export queues) and given back when dropped.
//! The budget is the soft limit (`limit_mib - spike_limit_mib`). The
//! process RSS, read every `check_interval`, only tightens the budget to
//! half while it is above the soft limit: RSS stays high after data is
//! gone (the allocator keeps the pages), so it must never latch the
//! limiter shut; as soon as accounted data drains below the budget, data
//! is accepted again.
//!
//! The limiter also remembers since when it has been refusing, so the
//! health endpoint can report unhealthy while it refuses for too long.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use otel_aws_distro::receiver::Backpressure;

const MIB: u64 = 1024 * 1024;
/// Suggested retry delay sent with memory backpressure.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Bound on the accounted bytes of a pipeline that has no `memory_limiter`:
/// without one a slow exporter and large requests filled the exporter
/// queue to 649 MB RSS in a benchmark. Configure `memory_limiter` to size
/// it to the task; this only keeps a config without one from growing
/// without bound.
pub const DEFAULT_HELD_LIMIT_MIB: u64 = 32;

/// Admission control by memory.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit_bytes: u64,
    soft_bytes: u64,
    held: AtomicU64,
    held_spans: AtomicU64,
    rss_over: AtomicBool,
    epoch: Instant,
    /// Milliseconds since `epoch` + 1 of the first refusal since the last admission; 0 = not refusing.
    refusing_since: AtomicU64,
}

/// Bytes accounted to held data; released when dropped.
#[derive(Debug)]
pub struct MemoryPermit {
    limiter: Arc<MemoryLimiter>,
    bytes: u64,
    spans: u64,
}

impl Drop for MemoryPermit {
    fn drop(&mut self) {
        self.limiter.held.fetch_sub(self.bytes, Ordering::AcqRel);
        self.limiter
            .held_spans
            .fetch_sub(self.spans, Ordering::AcqRel);
    }
}

impl MemoryPermit {
    /// The bytes this permit accounts for.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Marks this permit as holding `spans` accepted spans (until they are
    /// exported, dropped by an exporter or lost at shutdown).
    pub fn with_spans(mut self, spans: u64) -> Self {
        self.limiter.held_spans.fetch_add(spans, Ordering::AcqRel);
        self.spans += spans;
        self
    }

    /// Accounts the held data as `bytes` from now on, without refusing: for
    /// data already accepted that a processor made larger (or smaller).
    pub fn resize(&mut self, bytes: u64) {
        if bytes > self.bytes {
            self.limiter
                .held
                .fetch_add(bytes - self.bytes, Ordering::AcqRel);
        } else {
            self.limiter
                .held
                .fetch_sub(self.bytes - bytes, Ordering::AcqRel);
        }
        self.bytes = bytes;
    }

    /// Accounts `bytes` more with the same limiter, without refusing: for
    /// copies of data already accepted (a batch shared by several
    /// exporters). Data arriving later is refused until they are released.
    pub fn charge_more(&self, bytes: u64) -> MemoryPermit {
        self.limiter.held.fetch_add(bytes, Ordering::AcqRel);
        MemoryPermit {
            limiter: Arc::clone(&self.limiter),
            bytes,
            spans: 0,
        }
    }
}

impl MemoryLimiter {
    /// The limiter of a pipeline without a `memory_limiter`: accounted
    /// bytes bounded by [`DEFAULT_HELD_LIMIT_MIB`] (no RSS sampling).
    pub fn implicit() -> Arc<Self> {
        Self::new(DEFAULT_HELD_LIMIT_MIB, Some(0))
    }

    /// `limit_mib` hard limit; `spike_limit_mib` headroom (default 20 % of the limit).
    pub fn new(limit_mib: u64, spike_limit_mib: Option<u64>) -> Arc<Self> {
        let limit_bytes = limit_mib.saturating_mul(MIB);
        let spike = spike_limit_mib.map_or(limit_bytes / 5, |s| s.saturating_mul(MIB));
        Arc::new(Self {
            limit_bytes,
            soft_bytes: limit_bytes.saturating_sub(spike),
            held: AtomicU64::new(0),
            held_spans: AtomicU64::new(0),
            rss_over: AtomicBool::new(false),
            epoch: Instant::now(),
            refusing_since: AtomicU64::new(0),
        })
    }

    /// The bytes that may be held now: the soft limit, halved while the
    /// process RSS is above it.
    fn budget(&self) -> u64 {
        if self.rss_over.load(Ordering::Relaxed) {
            self.soft_bytes / 2
        } else {
            self.soft_bytes
        }
    }

    /// Takes `bytes`, or refuses when they would not fit the budget.
    pub fn admit(self: &Arc<Self>, bytes: u64) -> Result<MemoryPermit, Backpressure> {
        self.admit_within(bytes, self.budget())
    }

    /// Takes `bytes` for data held for a long time (in-progress documents):
    /// refused beyond half the budget, so such data cannot starve the rest.
    pub fn admit_long_lived(self: &Arc<Self>, bytes: u64) -> Result<MemoryPermit, Backpressure> {
        self.admit_within(bytes, self.budget() / 2)
    }

    /// Whether `bytes` would be admitted now, without taking them: the
    /// refusal [`MemoryLimiter::admit`] would give, for data not received
    /// yet (a batch's expected size before its body is read and decoded).
    pub fn check(&self, bytes: u64) -> Result<(), Backpressure> {
        let held = self.held.load(Ordering::Acquire);
        let budget = self.budget();
        if held > 0 && held.saturating_add(bytes) > budget {
            return Err(self.refuse(held, budget));
        }
        Ok(())
    }

    /// The refusal of `held` bytes against `budget`, noted for
    /// [`MemoryLimiter::refusing_for`].
    fn refuse(&self, held: u64, budget: u64) -> Backpressure {
        let now = self.now_ms();
        let _ = self
            .refusing_since
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed);
        Backpressure::new(
            format!(
                "memory limit reached: {} MiB held (limit {} MiB{})",
                held / MIB,
                budget / MIB,
                if self.rss_over.load(Ordering::Relaxed) {
                    ", halved while process memory is above the soft limit"
                } else {
                    ""
                }
            ),
            RETRY_AFTER,
        )
    }

    fn admit_within(
        self: &Arc<Self>,
        bytes: u64,
        budget: u64,
    ) -> Result<MemoryPermit, Backpressure> {
        let before = self.held.fetch_add(bytes, Ordering::AcqRel);
        // Always let something in when nothing is held, however large.
        if before > 0 && before.saturating_add(bytes) > budget {
            self.held.fetch_sub(bytes, Ordering::AcqRel);
            return Err(self.refuse(before, budget));
        }
        self.refusing_since.store(0, Ordering::Release);
        Ok(MemoryPermit {
            limiter: Arc::clone(self),
            bytes,
            spans: 0,
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    /// Accounted bytes held.
    pub fn held_bytes(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }

    /// Spans accepted and not yet through every exporter (see [`MemoryPermit::with_spans`]).
    pub fn held_spans(&self) -> u64 {
        self.held_spans.load(Ordering::Acquire)
    }

    /// How long the limiter has been refusing data without admitting any,
    /// or `None` when it would admit data now (nothing refused, or the
    /// accounted data drained since the last refusal).
    pub fn refusing_for(&self) -> Option<Duration> {
        let since = self.refusing_since.load(Ordering::Acquire);
        let held = self.held_bytes();
        if since == 0 || held == 0 || held < self.budget() / 2 {
            return None;
        }
        Some(Duration::from_millis(self.now_ms().saturating_sub(since)))
    }

    /// Records one RSS sample (bytes): above the soft limit the budget is halved.
    pub fn observe_rss(&self, rss: u64) {
        let over = rss > self.soft_bytes;
        if over != self.rss_over.swap(over, Ordering::Relaxed) {
            if over {
                tracing::warn!(
                    rss_mib = rss / MIB,
                    limit_mib = self.limit_bytes / MIB,
                    held_mib = self.held_bytes() / MIB,
                    "memory limiter: process memory above the soft limit; accepting half as much"
                );
            } else {
                tracing::info!(
                    rss_mib = rss / MIB,
                    "memory limiter: process memory below the soft limit"
                );
            }
        }
    }

    /// Samples RSS every `interval` until the returned task is aborted.
    pub fn spawn_sampler(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
            loop {
                tick.tick().await;
                if let Some(rss) = rss_bytes() {
                    me.observe_rss(rss);
                }
            }
        })
    }
}

/// Resident set size of this process, from `/proc/self/statm` (Linux).
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_above_the_soft_limit_and_releases_on_drop() {
        let m = MemoryLimiter::new(10, Some(2)); // soft limit 8 MiB
        let a = m.admit(5 * MIB).unwrap();
        let b = m.admit(3 * MIB).unwrap();
        assert!(m.admit(1).is_err());
        drop(a);
        assert_eq!(m.held_bytes(), 3 * MIB);
        let c = m.admit(4 * MIB).unwrap();
        drop(b);
        // RSS above the soft limit halves the budget (4 MiB): 4 MiB held, refused.
        m.observe_rss(9 * MIB);
        let err = m.admit(1).unwrap_err();
        assert!(err.reason.contains("halved"), "{err:?}");
        m.observe_rss(7 * MIB);
        assert!(m.admit(1).is_ok());
        drop(c);
    }

    #[test]
    fn high_rss_alone_never_latches_the_limiter() {
        // The allocator keeps pages after the data is gone: RSS stays above
        // the limit. Once accounted data drains, data is accepted again.
        let m = MemoryLimiter::new(10, Some(2));
        let held = m.admit(7 * MIB).unwrap();
        m.observe_rss(50 * MIB);
        assert!(m.admit(MIB).is_err());
        assert!(m.refusing_for().is_some());
        drop(held);
        assert_eq!(m.refusing_for(), None, "drained: no longer refusing");
        for _ in 0..3 {
            let p = m.admit(MIB).expect("RSS alone must not refuse");
            drop(p);
        }
        assert_eq!(m.held_bytes(), 0);
    }

    #[test]
    fn refusing_for_measures_the_refusal_period() {
        let m = MemoryLimiter::new(10, Some(2));
        assert_eq!(m.refusing_for(), None);
        let held = m.admit(8 * MIB).unwrap();
        assert_eq!(m.refusing_for(), None, "full but nothing refused yet");
        assert!(m.admit(MIB).is_err());
        let first = m.refusing_for().unwrap();
        assert!(m.admit(MIB).is_err());
        assert!(
            m.refusing_for().unwrap() >= first,
            "measured from the first refusal"
        );
        drop(held);
        assert!(m.admit(MIB).is_ok());
        assert_eq!(m.refusing_for(), None);
    }

    #[test]
    fn a_resized_permit_accounts_and_releases_its_new_size() {
        let m = MemoryLimiter::new(10, Some(2)); // 8 MiB budget
        let mut p = m.admit(5 * MIB).unwrap();
        p.resize(9 * MIB);
        assert_eq!(m.held_bytes(), 9 * MIB, "grown without being refused");
        assert!(
            m.admit(1).is_err(),
            "the grown data counts against the budget"
        );
        p.resize(2 * MIB);
        assert_eq!(m.held_bytes(), 2 * MIB);
        drop(p);
        assert_eq!(m.held_bytes(), 0, "the new size is what is released");
    }

    #[test]
    fn long_lived_data_gets_half_the_budget() {
        let m = MemoryLimiter::new(10, Some(2)); // 8 MiB budget
        let a = m.admit_long_lived(3 * MIB).unwrap();
        assert!(m.admit_long_lived(2 * MIB).is_err());
        let b = m.admit(4 * MIB).expect("the rest stays available");
        drop((a, b));
    }

    #[test]
    fn the_implicit_limiter_bounds_held_bytes_at_the_default() {
        let m = MemoryLimiter::implicit();
        let held = m.admit(DEFAULT_HELD_LIMIT_MIB * MIB - 1).unwrap();
        let at_limit = m.admit(1).expect("exactly at the limit is admitted");
        let err = m.admit(1).unwrap_err();
        assert!(err.reason.contains("limit 32 MiB"), "{err:?}");
        drop(held);
        drop(at_limit);
        assert!(m.admit(MIB).is_ok());
    }

    #[test]
    fn reads_own_rss() {
        assert!(rss_bytes().unwrap() > 0);
    }
}
