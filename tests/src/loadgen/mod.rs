//! Load generation for the ECS sidecar benchmarks (docs/benchmarks.md, "ECS
//! sidecar"), used by the `otel-aws-loadgen` binary.
//!
//! - [`otlp`]: OTLP/HTTP protobuf requests sent at a rate or flat out;
//! - [`udp`]: legacy X-Ray daemon datagrams (header + segment document);
//! - [`sink`]: loopback destinations the sidecar exports to, counting what
//!   arrives (an OTLP/HTTP endpoint, a `PutTraceSegments` endpoint);
//! - [`proc_stats`]: CPU time and memory of the process under test from `/proc`.
//!
//! This module is compiled into the binary only (it is not part of the
//! testkit's library API).

pub mod otlp;
pub mod proc_stats;
pub mod sink;
pub mod udp;

use std::time::{Duration, Instant};

/// Paces a loop to `per_second` events (0: flat out), in ticks of `tick`.
#[derive(Debug)]
pub struct Pacer {
    start: Instant,
    per_second: f64,
    sent: u64,
}

impl Pacer {
    /// A pacer for `per_second` events per second (0 = no limit).
    pub fn new(per_second: u64) -> Self {
        Self {
            start: Instant::now(),
            per_second: per_second as f64,
            sent: 0,
        }
    }

    /// How long to wait before sending `n` more events.
    pub fn delay_for(&mut self, n: u64) -> Duration {
        if self.per_second <= 0.0 {
            return Duration::ZERO;
        }
        let due = Duration::from_secs_f64(self.sent as f64 / self.per_second);
        self.sent += n;
        due.saturating_sub(self.start.elapsed())
    }
}
