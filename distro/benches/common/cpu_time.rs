//! Thread CPU time as a criterion measurement, shared by the translation
//! benches (`translate`, `translate_exceptions`): the per-core figure on a
//! shared build machine, where wall time also counts the waits for a core.

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// Time this thread spent on a CPU: the per-core figure on a shared build
/// machine, where wall time also counts the waits for a core. Read from
/// `/proc/thread-self/schedstat` (ns on CPU; Linux), std only. The kernel
/// updates it at scheduler ticks, so a single sample may be a tick off;
/// criterion's slope over 100 samples of growing length averages that out.
pub struct ThreadCpuTime {
    /// Formats values as wall time does (ns, µs, …).
    pub wall: WallTime,
}

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = Duration;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> Duration {
        Duration::from_nanos(thread_cpu_ns().saturating_sub(start))
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}
