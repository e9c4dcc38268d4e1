//! X-Ray sampler decision cost: 20 rules with `Attributes`, the span
//! matching the 19th (so 18 rules are tried and rejected first), system
//! clock; plus the same without attributes, the fallback, and the SDK's
//! trace-id ratio sampler as a floor; and adaptive sampling: the matched rule
//! has `SamplingRateBoost` and a boost in force, through the sampler `init()`
//! installs (`ConfiguredSampler`: parent-based, records not-sampled spans).
//!
//! `cargo bench -p otel-aws-distro --bench sampling -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry_sdk::trace::{Sampler, ShouldSample};
use otel_aws_distro::sampling::DeferredAwareParentBased;
use otel_aws_distro::sampling::xray::{ResourceInfo, XraySampler};

mod sampling_common;

fn bench(c: &mut Criterion) {
    let resource = ResourceInfo {
        service_name: Some("checkout-api".into()),
        service_type: Some("AWS::ECS::Container"),
        resource_arn: None,
    };
    let attrs = sampling_common::attrs();
    let cx = Context::new();
    let trace = TraceId::from_bytes(0x6553_f100_1234_5678_9abc_def0_1234_5678u128.to_be_bytes());
    let mut group = c.benchmark_group("xray_sampling");
    for (name, with_attributes) in [
        ("20_rules_attributes", true),
        ("20_rules_no_attributes", false),
    ] {
        let sampler = XraySampler::remote_with(resource.clone(), XraySampler::system_clock());
        sampler.update_rules(sampling_common::twenty_rules(with_attributes));
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(sampler.should_sample(
                    Some(&cx),
                    black_box(trace),
                    "GET /svc18",
                    &SpanKind::Server,
                    black_box(&attrs),
                    &[],
                ))
            })
        });
        let parent_based = DeferredAwareParentBased::new(sampler.clone());
        group.bench_function(format!("{name}_parent_based"), |b| {
            b.iter(|| {
                black_box(parent_based.should_sample(
                    Some(&cx),
                    black_box(trace),
                    "GET /svc18",
                    &SpanKind::Server,
                    black_box(&attrs),
                    &[],
                ))
            })
        });
    }
    let configured = sampling_common::boosted(resource.clone());
    group.bench_function("20_rules_attributes_boosted_configured", |b| {
        b.iter(|| {
            black_box(configured.should_sample(
                Some(&cx),
                black_box(trace),
                "GET /svc18",
                &SpanKind::Server,
                black_box(&attrs),
                &[],
            ))
        })
    });
    let no_rules = XraySampler::remote_with(resource, XraySampler::system_clock());
    group.bench_function("fallback_no_rules", |b| {
        b.iter(|| {
            black_box(no_rules.should_sample(
                Some(&cx),
                black_box(trace),
                "GET /svc18",
                &SpanKind::Server,
                black_box(&attrs),
                &[],
            ))
        })
    });
    let ratio = Sampler::TraceIdRatioBased(0.05);
    group.bench_function("sdk_traceidratio_floor", |b| {
        b.iter(|| {
            black_box(ratio.should_sample(
                Some(&cx),
                black_box(trace),
                "GET /svc18",
                &SpanKind::Server,
                black_box(&attrs),
                &[],
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
