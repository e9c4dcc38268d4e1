//! X-Ray propagation and ids: this crate against `opentelemetry-aws` on the
//! same inputs.
//!
//! `cargo bench -p otel-aws-distro --bench propagation -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_aws::trace::xray_propagator::span_context_from_str;
use opentelemetry_sdk::trace::IdGenerator;
use otel_aws_distro::xray::{TraceHeader, XrayIdGenerator, XrayPropagator};
use std::collections::HashMap;
use std::hint::black_box;

const HEADERS: [(&str, &str); 3] = [
    (
        "sampled",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    ),
    (
        "deferred",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?",
    ),
    (
        "alb_lineage",
        "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:a87bd80c:1",
    ),
];

fn carrier(value: &str) -> HashMap<String, String> {
    HashMap::from([("x-amzn-trace-id".to_string(), value.to_string())])
}

fn extract(c: &mut Criterion) {
    let ours = XrayPropagator::new();
    let theirs = opentelemetry_aws::trace::XrayPropagator::new();
    let mut group = c.benchmark_group("xray_extract");
    for (name, header) in HEADERS {
        let carrier = carrier(header);
        let base = Context::new();
        group.bench_function(format!("ours/{name}"), |b| {
            b.iter(|| ours.extract_with_context(black_box(&base), black_box(&carrier)))
        });
        group.bench_function(format!("opentelemetry-aws/{name}"), |b| {
            b.iter(|| theirs.extract_with_context(black_box(&base), black_box(&carrier)))
        });
    }
    group.finish();
}

/// The header parsers alone (no carrier lookup, no `Context`).
fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("xray_parse");
    for (name, header) in HEADERS {
        group.bench_function(format!("ours/{name}"), |b| {
            b.iter(|| TraceHeader::parse(black_box(header)))
        });
        group.bench_function(format!("opentelemetry-aws/{name}"), |b| {
            b.iter(|| span_context_from_str(black_box(header)))
        });
    }
    group.finish();
}

fn inject(c: &mut Criterion) {
    let ours = XrayPropagator::new();
    let theirs = opentelemetry_aws::trace::XrayPropagator::new();
    let mut group = c.benchmark_group("xray_inject");
    for (name, header) in HEADERS {
        // Each propagator injects the context it extracted from the same header.
        let ours_cx = ours.extract_with_context(&Context::new(), &carrier(header));
        let theirs_cx = theirs.extract_with_context(&Context::new(), &carrier(header));
        let mut out: HashMap<String, String> = HashMap::with_capacity(4);
        group.bench_function(format!("ours/{name}"), |b| {
            b.iter(|| ours.inject_context(black_box(&ours_cx), black_box(&mut out)))
        });
        group.bench_function(format!("opentelemetry-aws/{name}"), |b| {
            b.iter(|| theirs.inject_context(black_box(&theirs_cx), black_box(&mut out)))
        });
    }
    group.finish();
}

fn ids(c: &mut Criterion) {
    let ours = XrayIdGenerator::default();
    let theirs = opentelemetry_aws::trace::XrayIdGenerator::default();
    let mut group = c.benchmark_group("xray_ids");
    group.bench_function("ours/trace_id", |b| {
        b.iter(|| black_box(&ours).new_trace_id())
    });
    group.bench_function("opentelemetry-aws/trace_id", |b| {
        b.iter(|| black_box(&theirs).new_trace_id())
    });
    group.bench_function("ours/span_id", |b| {
        b.iter(|| black_box(&ours).new_span_id())
    });
    group.bench_function("opentelemetry-aws/span_id", |b| {
        b.iter(|| black_box(&theirs).new_span_id())
    });
    group.finish();
}

criterion_group!(benches, extract, parse, inject, ids);
criterion_main!(benches);
