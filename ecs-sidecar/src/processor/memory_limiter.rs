//! `memory_limiter`: refuses data (backpressure) before the process runs
//! out of memory, as the collector's processor does: above the soft limit
//! (`limit_mib - spike_limit_mib`) new data is refused until memory drops.
//!
//! Two measures, either one refuses: the process RSS read from
//! `/proc/self/statm` every `check_interval`, and the bytes of batches
//! accepted but not yet exported (exact and immediate, so a burst is
//! refused before the next RSS sample).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use otel_aws_distro::receiver::Backpressure;

const MIB: u64 = 1024 * 1024;
/// Suggested retry delay sent with memory backpressure.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Bound on the bytes of accepted, unexported batches in a pipeline that
/// has no `memory_limiter`: without one a slow exporter and large requests
/// filled the exporter queue to 649 MB RSS in a benchmark. Configure
/// `memory_limiter` to size it to the task; this only keeps a config
/// without one from growing without bound.
pub const DEFAULT_HELD_LIMIT_MIB: u64 = 128;

/// Admission control by memory.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit_bytes: u64,
    soft_bytes: u64,
    held: AtomicU64,
    rss_over: AtomicBool,
}

/// Bytes accounted to an accepted batch; released when dropped (after export).
#[derive(Debug)]
pub struct MemoryPermit {
    limiter: Arc<MemoryLimiter>,
    bytes: u64,
}

impl Drop for MemoryPermit {
    fn drop(&mut self) {
        self.limiter.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl MemoryLimiter {
    /// The limiter of a pipeline without a `memory_limiter`: accepted,
    /// unexported batches bounded by [`DEFAULT_HELD_LIMIT_MIB`] (no RSS sampling).
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
            rss_over: AtomicBool::new(false),
        })
    }

    /// Takes `bytes` for a batch, or refuses when over the soft limit.
    pub fn admit(self: &Arc<Self>, bytes: u64) -> Result<MemoryPermit, Backpressure> {
        if self.rss_over.load(Ordering::Relaxed) {
            return Err(Backpressure::new(
                format!(
                    "memory limit reached: process memory above {} MiB",
                    self.soft_bytes / MIB
                ),
                RETRY_AFTER,
            ));
        }
        let before = self.held.fetch_add(bytes, Ordering::Relaxed);
        if before + bytes > self.soft_bytes {
            self.held.fetch_sub(bytes, Ordering::Relaxed);
            return Err(Backpressure::new(
                format!(
                    "memory limit reached: {} MiB of spans waiting for export",
                    self.soft_bytes / MIB
                ),
                RETRY_AFTER,
            ));
        }
        Ok(MemoryPermit {
            limiter: Arc::clone(self),
            bytes,
        })
    }

    /// Bytes held by accepted, not yet exported batches.
    pub fn held_bytes(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// Records one RSS sample (bytes); refuses data while it is above the soft limit.
    pub fn observe_rss(&self, rss: u64) {
        let over = rss > self.soft_bytes;
        if over != self.rss_over.swap(over, Ordering::Relaxed) {
            if over {
                tracing::warn!(
                    rss_mib = rss / MIB,
                    limit_mib = self.limit_bytes / MIB,
                    "memory limiter: refusing data"
                );
            } else {
                tracing::info!(rss_mib = rss / MIB, "memory limiter: accepting data again");
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
        let _c = m.admit(4 * MIB).unwrap();
        drop(b);
        m.observe_rss(9 * MIB);
        let err = m.admit(1).unwrap_err();
        assert!(err.reason.contains("process memory"), "{err:?}");
        m.observe_rss(7 * MIB);
        assert!(m.admit(1).is_ok());
    }

    #[test]
    fn the_implicit_limiter_bounds_held_bytes_at_the_default() {
        let m = MemoryLimiter::implicit();
        let held = m.admit(DEFAULT_HELD_LIMIT_MIB * MIB - 1).unwrap();
        let at_limit = m.admit(1).expect("exactly at the limit is admitted");
        let err = m.admit(1).unwrap_err();
        assert!(err.reason.contains("128 MiB"), "{err:?}");
        drop(held);
        drop(at_limit);
        assert!(m.admit(MIB).is_ok());
    }

    #[test]
    fn reads_own_rss() {
        assert!(rss_bytes().unwrap() > 0);
    }
}
