//! Fuzz targets for the sidecar's parsers of outside input (issue 11): the
//! X-Ray daemon datagrams legacy SDKs send to UDP :2000 (header line, then a
//! segment document or `T1S`/`T1U` base64 OTLP), and the collector YAML with
//! `${env:VAR}` substitution. Harness, budget and reproduction:
//! `otel_aws_testkit::fuzz`; corpora in `tests/fixtures/fuzz/<target>/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::time::Instant;

use otel_aws_distro::Env;
use otel_aws_sidecar::config::Config;
use otel_aws_sidecar::receiver::legacy::LegacyMode;
use otel_aws_sidecar::receiver::udp::{Decoder, MAX_DATAGRAM, parse_datagram};
use otel_aws_testkit::fuzz::rand::Rng;
use otel_aws_testkit::fuzz::{CountingAlloc, Fuzz, json_like};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn fuzz_daemon_datagram() {
    let keys = [
        "name",
        "id",
        "trace_id",
        "parent_id",
        "start_time",
        "end_time",
        "in_progress",
        "type",
        "subsegments",
        "http",
        "aws",
        "namespace",
        "error",
        "fault",
        "cause",
    ];
    Fuzz::new("daemon_datagram")
        .generator(move |rng| {
            let header = [
                "{\"format\":\"json\",\"version\":1}\n",
                "{\"format\": \"json\", \"version\": 1}\n",
                "\n",
                "",
            ];
            let body = match rng.random_range(0..3) {
                0 => format!("T1S{}", "QUJD".repeat(rng.random_range(0..50))),
                _ => json_like(rng, &keys, 5),
            };
            format!("{}{body}", header[rng.random_range(0..header.len())]).into_bytes()
        })
        // A datagram is at most 64 KiB on the wire; the decoders hold it,
        // what it decodes into and, in passthrough, a copy.
        .memory_bound(|len| {
            len.min(MAX_DATAGRAM + 1)
                .saturating_mul(128)
                .saturating_add(4 << 20)
        })
        .run(|input| {
            let input = &input[..input.len().min(MAX_DATAGRAM)];
            let _ = parse_datagram(input);
            for (translate, passthrough) in [(true, false), (false, true), (true, true)] {
                let mut decoder = Decoder::new(LegacyMode {
                    translate,
                    passthrough,
                });
                let now = Instant::now();
                let _ = decoder.decode(input, now);
                let _ = decoder.release(now, true);
            }
        });
}

#[test]
fn fuzz_sidecar_yaml() {
    let env = Env::from_pairs([
        ("AWS_REGION", "us-east-1"),
        ("OTEL_AWS_MEMORY_LIMIT_MIB", "64"),
        ("LIMIT", "18446744073709551616"),
        ("NESTED", "${env:NESTED}"),
        ("YAML", "{a: [1, 2, *x]}"),
    ]);
    let snippets = [
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: ${env:HOST:-0.0.0.0}:4318\n",
        "processors:\n  batch:\n    timeout: ${env:LIMIT}h\n    send_batch_size: ${env:LIMIT}\n",
        "processors:\n  memory_limiter:\n    check_interval: 1s\n    limit_mib: ${env:LIMIT}\n",
        "exporters:\n  otlphttp:\n    endpoint: ${env:NESTED}\n    headers:\n      authorization: ${env:YAML}\n",
        "a: &x [1, 2]\nb: [*x, *x, *x, *x]\n",
        "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n",
        "extensions:\n  health_check:\n    endpoint: $${env:AWS_REGION}\n",
        "processors:\n  batch:\n    timeout: 99999999999999999999999h\n",
    ];
    Fuzz::new("sidecar_yaml")
        .generator(move |rng| {
            let n = rng.random_range(1..4);
            (0..n)
                .map(|_| snippets[rng.random_range(0..snippets.len())])
                .collect::<String>()
                .into_bytes()
        })
        .memory_bound(|len| len.saturating_mul(256).saturating_add(8 << 20))
        .run(|input| {
            let _ = Config::parse(&String::from_utf8_lossy(input), "fuzz.yaml", &env);
        });
}

/// Not a fuzz target: the parsed configuration's `Debug` (e.g. a `?cfg` in a
/// log line) shows the otlphttp header names, never their values.
#[test]
fn otlphttp_header_values_are_redacted_in_debug() {
    let secret = "s3cr3t-api-key-42";
    let yaml = "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:4318\n\
        exporters:\n  otlphttp:\n    endpoint: https://collector.example.com\n    headers:\n      x-api-key: ${env:API_KEY}\n\
        service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlphttp]\n";
    let env = Env::from_pairs([("API_KEY", secret)]);
    let cfg = Config::parse(yaml, "test.yaml", &env).unwrap();
    for text in [format!("{cfg:?}"), format!("{cfg:#?}")] {
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("x-api-key"), "{text}");
    }
}
