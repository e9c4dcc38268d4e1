//! Exception translation cost on one core (issue 10): spans whose
//! `exception` events carry a stack trace, both directions, in CPU time of
//! the bench thread (the per-core figure on a shared machine).
//!
//! `cargo bench -p otel-aws-distro --all-features --bench translate_exceptions`
//!
//! Each batch is 1000 CLIENT spans of a Java service; in `errors_10pct` one
//! span in ten failed with a 24-frame trace and one `Caused by:` (a bad
//! hour), in `errors_all` every span did. `bench translate` measures the
//! common case without exceptions.

use std::hint::black_box;

use criterion::measurement::WallTime;

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::ThreadCpuTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use otel_aws_distro::translate::{TranslateOptions, from_segment, to_segments};

const SPANS: usize = 1000;

fn s(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// A Spring-style trace: 20 frames, a cause with 4 and `... N more`.
fn java_trace() -> String {
    let mut t = String::from("com.shop.CheckoutException: checkout 4411 failed");
    for n in 0..20 {
        t.push_str(&format!(
            "\n\tat com.shop.layer{n}.Handler{n}.handle(Handler{n}.java:{})",
            40 + n
        ));
    }
    t.push_str("\nCaused by: java.net.SocketTimeoutException: Read timed out");
    for n in 0..4 {
        t.push_str(&format!(
            "\n\tat java.base/java.net.Socket$SocketInputStream.read{n}(Socket.java:{})",
            1000 + n
        ));
    }
    t.push_str("\n\t... 20 more");
    t
}

fn span(i: usize, failed: bool, trace: &str) -> Span {
    let id = (i as u64 + 1).to_be_bytes().to_vec();
    let events = if failed {
        vec![Event {
            time_unix_nano: 1_700_000_000_500_000_000,
            name: "exception".into(),
            attributes: vec![
                s("exception.type", "com.shop.CheckoutException"),
                s("exception.message", "checkout 4411 failed"),
                s("exception.stacktrace", trace),
            ],
            dropped_attributes_count: 0,
        }]
    } else {
        Vec::new()
    };
    Span {
        trace_id: (1..=16).collect(),
        span_id: id,
        parent_span_id: vec![9; 8],
        name: "POST /checkout".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_900_000_000,
        attributes: vec![
            s("http.request.method", "POST"),
            s("url.full", "https://payments.example/v1/charge"),
        ],
        events,
        status: failed.then(|| Status {
            code: StatusCode::Error as i32,
            message: String::new(),
        }),
        ..Default::default()
    }
}

fn batch(every: usize) -> ExportTraceServiceRequest {
    let trace = java_trace();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    s("service.name", "checkout"),
                    s("telemetry.sdk.name", "opentelemetry"),
                    s("telemetry.sdk.language", "java"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..SPANS)
                    .map(|i| span(i, i % every == 0, &trace))
                    .collect(),
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    let opts = TranslateOptions::default();
    let mut g = c.benchmark_group("translate_exceptions_cpu");
    g.throughput(Throughput::Elements(SPANS as u64));
    for (name, every) in [("errors_10pct", 10), ("errors_all", 1)] {
        let req = batch(every);
        let docs: Vec<String> = to_segments(&req, &opts)
            .into_iter()
            .map(|d| d.unwrap_or_default())
            .collect();
        g.bench_function(format!("span_to_segment_{name}_x1000"), |b| {
            b.iter(|| black_box(to_segments(black_box(&req), &opts)))
        });
        g.bench_function(format!("segment_to_span_{name}_x1000"), |b| {
            b.iter(|| {
                for d in &docs {
                    let _ = black_box(from_segment(black_box(d)));
                }
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpuTime { wall: WallTime });
    targets = cpu
}
criterion_main!(cpu_time);
