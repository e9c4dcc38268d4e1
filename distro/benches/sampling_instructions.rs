//! Instruction counts of one X-Ray sampling decision, with and without an
//! adaptive sampling boost, through the sampler `init()` installs: run under
//! callgrind, which counts instructions instead of timing them, so the
//! comparison does not depend on what else the machine runs.
//!
//! ```sh
//! cargo bench -p otel-aws-distro --bench sampling_instructions --no-run
//! for m in plain boosted; do for n in 100000 200000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/sampling_instructions-* $m $n 2>&1 | grep Collected
//! done; done
//! ```
//! Instructions per decision = (refs at 200000 − refs at 100000) / 100000.

use std::hint::black_box;

use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry_sdk::trace::ShouldSample;

mod sampling_common;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "boosted".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let sampler = if mode == "plain" {
        sampling_common::plain(sampling_common::resource())
    } else {
        sampling_common::boosted(sampling_common::resource())
    };
    let attrs = sampling_common::attrs();
    let cx = Context::new();
    for i in 0..n {
        let trace = TraceId::from_bytes(
            (0x6553_f100_1234_5678_9abc_def0_0000_0000u128 | i as u128).to_be_bytes(),
        );
        black_box(sampler.should_sample(
            Some(&cx),
            black_box(trace),
            "GET /svc18",
            &SpanKind::Server,
            black_box(&attrs),
            &[],
        ));
    }
}
