//! X-Ray translation throughput on one core (issue 6 goals: span → segment
//! ≥ 300K spans/s; segment → span ≥ 300K documents/s).
//!
//! `cargo bench -p otel-aws-distro --all-features --bench translate -- --warm-up-time 1 --measurement-time 3`
//!
//! Group `translate` is wall clock; `translate_cpu` the bench thread's CPU
//! time (the per-core figure when other work shares the machine).
//!
//! The spans are typical of an instrumented web service: a SERVER span with
//! HTTP attributes and CLIENT children (HTTP, DynamoDB, SQL), eight
//! attributes each, one annotation, resource from EC2 detection.

use std::hint::black_box;

use criterion::measurement::{Measurement, WallTime};

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::ThreadCpuTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_distro::translate::{TranslateOptions, from_segment, parse_segment, to_segments};

const SPANS: usize = 1000;

fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}
fn s(key: &str, v: &str) -> KeyValue {
    kv(key, Value::StringValue(v.into()))
}

fn span(i: usize) -> Span {
    let kind = if i.is_multiple_of(10) {
        SpanKind::Server
    } else {
        SpanKind::Client
    };
    let mut attributes = vec![
        s("http.request.method", "GET"),
        s(
            "url.full",
            "https://api.example.com/v1/orders/12345?expand=items",
        ),
        kv(
            "http.response.status_code",
            Value::IntValue(if i.is_multiple_of(17) { 503 } else { 200 }),
        ),
        s("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
        s("order.id", "ord-12345"),
        kv("order.items", Value::IntValue(3)),
        s("tenant", "acme"),
        kv(
            "aws.xray.annotations",
            Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(Value::StringValue("tenant".into())),
                }],
            }),
        ),
    ];
    match i % 3 {
        1 => attributes.extend([
            s("rpc.system", "aws-api"),
            s("aws.service", "DynamoDB"),
            s("rpc.method", "GetItem"),
        ]),
        2 => attributes.extend([
            s("db.system", "postgresql"),
            s("db.name", "orders"),
            s("db.statement", "SELECT * FROM orders WHERE id = $1"),
        ]),
        _ => {}
    }
    Span {
        trace_id: vec![
            0x65, 0x8f, 0x1a, 0x2b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ],
        span_id: (i as u64 + 1).to_be_bytes().to_vec(),
        parent_span_id: if kind == SpanKind::Server {
            vec![]
        } else {
            1u64.to_be_bytes().to_vec()
        },
        name: "GET /v1/orders/{id}".into(),
        kind: kind as i32,
        start_time_unix_nano: 1_700_000_000_123_456_000 + i as u64 * 1000,
        end_time_unix_nano: 1_700_000_000_223_456_000 + i as u64 * 1000,
        attributes,
        ..Default::default()
    }
}

fn batch() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    s("service.name", "checkout"),
                    s("service.version", "1.4.2"),
                    s("cloud.provider", "aws"),
                    s("cloud.platform", "aws_ec2"),
                    s("host.id", "i-0123456789abcdef0"),
                    s("host.type", "m5.large"),
                    s("cloud.availability_zone", "us-east-1a"),
                    s("telemetry.sdk.name", "opentelemetry"),
                    s("telemetry.sdk.language", "rust"),
                    s("telemetry.sdk.version", "0.33.0"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..SPANS).map(span).collect(),
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

fn bench<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    let req = batch();
    let opts = TranslateOptions::default();
    let docs: Vec<String> = to_segments(&req, &opts)
        .into_iter()
        .map(|d| d.unwrap_or_default())
        .collect();
    let mean_len = docs.iter().map(String::len).sum::<usize>() / docs.len();
    eprintln!("mean document size: {mean_len} bytes");

    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(SPANS as u64));
    g.bench_function("span_to_segment_x1000", |b| {
        b.iter(|| black_box(to_segments(black_box(&req), &opts)))
    });
    g.bench_function("segment_to_span_x1000", |b| {
        b.iter(|| {
            for d in &docs {
                let _ = black_box(from_segment(black_box(d)));
            }
        })
    });
    // Loosely typed legacy documents (a number given as text): the slow,
    // repairing parse. Diagnostic; such documents are the exception.
    let loose: Vec<String> = docs
        .iter()
        .map(|d| {
            d.replacen("\"start_time\":", "\"start_time\":\"", 1)
                .replacen(",\"end_time\"", "\",\"end_time\"", 1)
        })
        .collect();
    assert!(loose.iter().all(|d| from_segment(d).is_ok()));
    g.bench_function("segment_to_span_repaired_x1000", |b| {
        b.iter(|| {
            for d in &loose {
                let _ = black_box(from_segment(black_box(d)));
            }
        })
    });
    // Diagnostic: the JSON → typed document part of segment_to_span.
    g.bench_function("segment_parse_only_x1000", |b| {
        b.iter(|| {
            for d in &docs {
                let _ = black_box(parse_segment(black_box(d)));
            }
        })
    });
    g.finish();
}

/// Wall clock (what a caller waits).
fn wall(c: &mut Criterion) {
    bench(c, "translate");
}

/// This thread's CPU time (throughput per core, whatever else runs).
fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    bench(c, "translate_cpu");
}

criterion_group!(wall_clock, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpuTime { wall: WallTime });
    targets = cpu
}
criterion_main!(wall_clock, cpu_time);
