//! X-Ray compatible trace and span ids.
//!
//! An X-Ray trace id is `1-<8 hex epoch seconds>-<24 hex random>`; as a W3C
//! trace id it is the 32 hex digits of both parts, so the high 32 bits carry
//! the epoch seconds of the trace's start. X-Ray rejects traces whose epoch
//! is older than 30 days or more than a few minutes in the future, which is
//! why the SDK's purely random ids cannot be used with X-Ray.

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::IdGenerator;
use rand::{Rng, SeedableRng, rngs::SmallRng};
use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Mask of the 96 random low bits of an X-Ray trace id.
const RANDOM_BITS_MASK: u128 = (1u128 << 96) - 1;

thread_local! {
    /// One fast, non-cryptographic generator per thread, seeded from the OS
    /// (the same choice as the SDK's `RandomIdGenerator`): ids need to be
    /// unique, not secret, and a thread-local avoids any locking.
    static RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_os_rng());
}

/// Generates X-Ray compatible ids for the SDK's `TracerProvider`.
///
/// * trace id = `(epoch seconds as u32) << 96 | 96 random bits`;
/// * span id = 64 random bits, never zero.
///
/// It replaces `opentelemetry_aws::trace::XrayIdGenerator` (same ids, no
/// string formatting on the hot path; see `docs/benchmarks.md`).
///
/// ```
/// use opentelemetry_sdk::trace::{IdGenerator, SdkTracerProvider};
/// use otel_aws_distro::xray::XrayIdGenerator;
///
/// let provider = SdkTracerProvider::builder()
///     .with_id_generator(XrayIdGenerator::default())
///     .build();
/// let trace_id = XrayIdGenerator::default().new_trace_id();
/// assert_ne!(trace_id.to_string()[..8], *"00000000");
/// # drop(provider);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct XrayIdGenerator {
    clock: fn() -> SystemTime,
}

impl Default for XrayIdGenerator {
    fn default() -> Self {
        Self {
            clock: SystemTime::now,
        }
    }
}

impl XrayIdGenerator {
    /// A generator using the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// A generator reading the time from `clock` (for tests and replays).
    pub fn with_clock(clock: fn() -> SystemTime) -> Self {
        Self { clock }
    }

    fn epoch_seconds(&self) -> u32 {
        // A clock before 1970 yields 0; after 2106 the seconds wrap, as u32 in X-Ray does.
        (self.clock)()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0)
    }
}

impl IdGenerator for XrayIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        let epoch = u128::from(self.epoch_seconds());
        let random = RNG.with(|rng| rng.borrow_mut().random::<u128>());
        TraceId::from((epoch << 96) | (random & RANDOM_BITS_MASK))
    }

    fn new_span_id(&self) -> SpanId {
        let id = RNG.with(|rng| rng.borrow_mut().random::<u64>());
        // Zero (probability 2^-64) becomes 1: branch-free, and never invalid.
        SpanId::from(id | u64::from(id == 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fixed_clock() -> SystemTime {
        // 2016-12-01T18:00:00Z = 0x58406520, the example in the X-Ray docs.
        UNIX_EPOCH + Duration::from_secs(1_480_615_200)
    }

    fn before_epoch() -> SystemTime {
        UNIX_EPOCH - Duration::from_secs(5)
    }

    #[test]
    fn trace_id_high_bits_are_the_clock_seconds() {
        let id = XrayIdGenerator::with_clock(fixed_clock).new_trace_id();
        assert_eq!(&id.to_string()[..8], "58406520");
    }

    #[test]
    fn clock_before_epoch_gives_zero_seconds_but_valid_id() {
        let id = XrayIdGenerator::with_clock(before_epoch).new_trace_id();
        assert_eq!(&id.to_string()[..8], "00000000");
    }

    #[test]
    fn ids_differ_and_span_ids_are_valid() {
        let generator = XrayIdGenerator::new();
        let a = generator.new_trace_id();
        let b = generator.new_trace_id();
        assert_ne!(a, b);
        for _ in 0..1000 {
            assert_ne!(generator.new_span_id(), SpanId::INVALID);
        }
    }
}
