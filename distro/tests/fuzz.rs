//! Fuzz targets for the distro's parsers of outside input (issue 11): OTLP
//! protobuf and JSON bodies (with gzip), X-Ray segment documents, the X-Ray
//! trace header, the X-Ray sampling rules and targets answers, local
//! sampling rule files, and the `Retry-After` header of an OTLP endpoint. Harness, budget and reproduction:
//! `otel_aws_testkit::fuzz` (`OTEL_AWS_FUZZ_SECONDS`, `OTEL_AWS_FUZZ_SEED`);
//! corpora in `tests/fixtures/fuzz/<target>/`. `make test` runs each for a
//! couple of seconds, `make fuzz` for longer.
//!
//! Each target must not panic on any input, and its peak allocation per
//! input stays within a bound linear in the input's size (the parsers hold
//! the input and what was decoded from it, nothing unbounded).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use otel_aws_distro::export::parse_retry_after;
use otel_aws_distro::sampling::xray::{LocalRules, parse_sampling_rules, parse_sampling_targets};
use otel_aws_distro::translate::{TranslateOptions, from_segment, to_segments};
use otel_aws_distro::xray::{TraceHeader, decode_trace_header};
use otel_aws_testkit::fuzz::rand::Rng;
use otel_aws_testkit::fuzz::{CountingAlloc, Fuzz, json_like};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Peak allocation allowed for an input of `len` bytes: a generous linear
/// factor (decoded structures are larger than their text) plus a constant.
fn linear(factor: usize) -> impl Fn(usize) -> usize {
    move |len| len.saturating_mul(factor).saturating_add(4 << 20)
}

fn text(input: &[u8]) -> &str {
    // Every text parser is also fed invalid UTF-8 through the lossy path below.
    std::str::from_utf8(input).unwrap_or("")
}

#[cfg(feature = "server")]
mod otlp {
    use super::*;
    use bytes::Bytes;
    use otel_aws_distro::receiver::decode::{
        DecodeError, decode_json, decode_protobuf, gunzip, validate,
    };
    use std::io::Write;

    /// What the receivers do with a body: decode, validate, and (as the
    /// `xray` exporter does downstream) translate into segment documents.
    fn after_decode(
        mut req: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
    ) {
        validate(&mut req);
        let _ = to_segments(&req, &TranslateOptions::default());
    }

    #[test]
    fn fuzz_otlp_protobuf() {
        Fuzz::new("otlp_protobuf")
            .generator(|rng| {
                // A random walk of protobuf fields: tags, varints, lengths.
                let mut out = Vec::new();
                for _ in 0..rng.random_range(1..40) {
                    let field: u8 = rng.random_range(1..16);
                    let wire: u8 = [0, 1, 2, 5][rng.random_range(0..4)];
                    out.push(field << 3 | wire);
                    match wire {
                        0 => out.extend([0xff, 0xff, 0xff, 0xff, 0x0f]),
                        1 => out.extend(rng.random::<u64>().to_le_bytes()),
                        5 => out.extend(rng.random::<u32>().to_le_bytes()),
                        _ => out.push(rng.random_range(0..0x90)),
                    }
                }
                out
            })
            .memory_bound(linear(64))
            .run(|input| {
                if let Ok(req) = decode_protobuf(Bytes::copy_from_slice(input)) {
                    after_decode(req);
                }
            });
    }

    #[test]
    fn fuzz_otlp_json() {
        let keys = [
            "resourceSpans",
            "scopeSpans",
            "spans",
            "traceId",
            "spanId",
            "parentSpanId",
            "name",
            "kind",
            "startTimeUnixNano",
            "endTimeUnixNano",
            "attributes",
            "key",
            "value",
            "stringValue",
            "intValue",
            "doubleValue",
            "boolValue",
            "arrayValue",
            "kvlistValue",
            "bytesValue",
            "values",
            "status",
            "code",
            "events",
            "links",
        ];
        Fuzz::new("otlp_json")
            .generator(move |rng| json_like(rng, &keys, 7).into_bytes())
            .memory_bound(linear(64))
            .run(|input| {
                if let Ok(req) = decode_json(input) {
                    after_decode(req);
                }
            });
    }

    /// gzip bodies: the decompressed size limit holds before any parsing,
    /// whatever the member headers claim (a bomb stops at the limit).
    #[test]
    fn fuzz_otlp_gzip_body() {
        const LIMIT: usize = 256 * 1024;
        Fuzz::new("otlp_protobuf")
            .generator(|rng| {
                // A valid gzip of a highly compressible body (a small bomb).
                let n = rng.random_range(0..4 * LIMIT);
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(&vec![b'a'; n]).unwrap();
                gz.finish().unwrap()
            })
            .memory_bound(|len| len.saturating_mul(8).saturating_add(4 * LIMIT + (1 << 20)))
            .run(|input| match gunzip(input, LIMIT) {
                Ok(body) => {
                    assert!(body.len() <= LIMIT, "{} > {LIMIT}", body.len());
                    let _ = decode_protobuf(body);
                }
                Err(DecodeError::TooLarge { limit, .. }) => assert_eq!(limit, LIMIT),
                Err(DecodeError::Malformed(_)) => {}
            });
    }
}

#[test]
fn fuzz_xray_segment() {
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
        "request",
        "response",
        "status",
        "aws",
        "sql",
        "annotations",
        "metadata",
        "cause",
        "exceptions",
        "stack",
        "namespace",
        "error",
        "fault",
        "throttle",
        "origin",
        "user",
        "service",
        "links",
        "precursor_ids",
    ];
    Fuzz::new("xray_segment")
        .generator(move |rng| {
            let mut doc = json_like(rng, &keys, 6);
            if rng.random_range(0..2) == 0 {
                // Keep the required fields so the translation runs deeper.
                doc = format!(
                    r#"{{"name":"n","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":{},"end_time":{},"x":{doc},"subsegments":[{doc}]}}"#,
                    rng.random::<f64>() * 2e9,
                    rng.random::<f64>() * 1e19
                );
            }
            doc.into_bytes()
        })
        .memory_bound(linear(128))
        .run(|input| {
            let doc = String::from_utf8_lossy(input);
            if let Ok(req) = from_segment(&doc) {
                let _ = to_segments(&req, &TranslateOptions::default());
            }
        });
}

#[test]
fn fuzz_xray_header() {
    Fuzz::new("xray_header")
        .generator(|rng| {
            let parts = [
                "Root=1-5759e988-bd862e3fe1be46a994272793",
                "Parent=53995c3f42cd8ad8",
                "Sampled=1",
                "Sampled=?",
                "Lineage=a87bd80c:1|68fd508a:5",
                "Self=1-5759e988-bd862e3fe1be46a994272793",
                "Root=",
                "=",
                ";",
                "Root=1-ffffffff-ffffffffffffffffffffffff",
            ];
            let n = rng.random_range(0..8);
            (0..n)
                .map(|_| parts[rng.random_range(0..parts.len())])
                .collect::<Vec<_>>()
                .join(";")
                .into_bytes()
        })
        .memory_bound(linear(16))
        .run(|input| {
            let value = String::from_utf8_lossy(input);
            let _ = decode_trace_header(&value);
            if let Some(h) = TraceHeader::parse(&value) {
                // What parses must print and parse again.
                let again = h.to_header_value();
                assert!(
                    TraceHeader::parse(&again).is_some(),
                    "{value:?} parsed, but its output {again:?} does not"
                );
            }
        });
}

#[test]
fn fuzz_sampling_rules_answer() {
    let keys = [
        "SamplingRuleRecords",
        "SamplingRule",
        "RuleName",
        "RuleARN",
        "ResourceARN",
        "Priority",
        "FixedRate",
        "ReservoirSize",
        "ServiceName",
        "ServiceType",
        "Host",
        "HTTPMethod",
        "URLPath",
        "Version",
        "Attributes",
        "NextToken",
        "CreatedAt",
    ];
    Fuzz::new("sampling_rules")
        .generator(move |rng| json_like(rng, &keys, 6).into_bytes())
        .memory_bound(linear(64))
        .run(|input| {
            let _ = parse_sampling_rules(input);
        });
}

#[test]
fn fuzz_sampling_targets_answer() {
    let keys = [
        "SamplingTargetDocuments",
        "RuleName",
        "FixedRate",
        "ReservoirQuota",
        "ReservoirQuotaTTL",
        "Interval",
        "LastRuleModification",
        "UnprocessedStatistics",
    ];
    Fuzz::new("sampling_targets")
        .generator(move |rng| json_like(rng, &keys, 5).into_bytes())
        .memory_bound(linear(64))
        .run(|input| {
            let _ = parse_sampling_targets(input);
        });
}

#[test]
fn fuzz_local_rules_file() {
    let keys = [
        "version",
        "rules",
        "default",
        "description",
        "host",
        "service_name",
        "http_method",
        "url_path",
        "fixed_target",
        "rate",
    ];
    Fuzz::new("local_rules")
        .generator(move |rng| json_like(rng, &keys, 5).into_bytes())
        .memory_bound(linear(64))
        .run(|input| {
            let _ = LocalRules::parse(text(input));
            let _ = LocalRules::parse(&String::from_utf8_lossy(input));
        });
}

#[test]
fn fuzz_retry_after_header() {
    Fuzz::new("retry_after")
        .memory_bound(linear(16))
        .run(|input| {
            let value = String::from_utf8_lossy(input);
            for now in [std::time::UNIX_EPOCH, std::time::SystemTime::now()] {
                let _ = parse_retry_after(&value, now);
            }
        });
}
