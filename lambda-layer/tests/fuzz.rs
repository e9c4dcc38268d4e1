//! Fuzz target for the extension's parser of outside input (issue 11): the
//! Telemetry API batches Lambda POSTs to the extension. Harness, budget and
//! reproduction: `otel_aws_testkit::fuzz`; corpus in
//! `tests/fixtures/fuzz/telemetry_batch/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use otel_aws_lambda::extension::telemetry::{decode, parse_time_ns};
use otel_aws_testkit::fuzz::rand::Rng;
use otel_aws_testkit::fuzz::{CountingAlloc, Fuzz, json_like};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn fuzz_telemetry_api_batch() {
    let keys = [
        "time",
        "type",
        "record",
        "requestId",
        "status",
        "metrics",
        "durationMs",
        "billedDurationMs",
        "memorySizeMB",
        "maxMemoryUsedMB",
        "initDurationMs",
        "tracing",
        "spanId",
        "value",
        "spans",
        "name",
        "start",
        "phase",
        "initializationType",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
        "platform.initStart",
        "platform.initRuntimeDone",
        "platform.initReport",
        "function",
        "extension",
    ];
    let times = [
        "2022-10-12T00:00:15.064Z",
        "9999-12-31T23:59:59.999999999Z",
        "1969-12-31T23:59:59Z",
        "2022-02-30T25:61:61Z",
        "0000-01-01T00:00:00Z",
        "2022-10-12T00:00:15.064+14:00",
        "",
    ];
    Fuzz::new("telemetry_batch")
        .generator(move |rng| {
            // Well-formed events with random types, times and records.
            let n = rng.random_range(0..6);
            let events: Vec<String> = (0..n)
                .map(|_| {
                    format!(
                        r#"{{"time":"{}","type":"{}","record":{}}}"#,
                        times[rng.random_range(0..times.len())],
                        keys[rng.random_range(19..keys.len())],
                        json_like(rng, &keys, 4)
                    )
                })
                .collect();
            format!("[{}]", events.join(",")).into_bytes()
        })
        .memory_bound(|len| len.saturating_mul(64).saturating_add(4 << 20))
        .run(|input| {
            let _ = decode(input);
            let _ = parse_time_ns(&String::from_utf8_lossy(input));
        });
}
