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
use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, ShouldSample};
use otel_aws_distro::sampling::xray::{
    ResourceInfo, SamplingBoost, SamplingRateBoost, SamplingRule, SamplingTarget, XraySampler,
};
use otel_aws_distro::sampling::{ConfiguredSampler, DeferredAwareParentBased};

fn twenty_rules(with_attributes: bool) -> Vec<SamplingRule> {
    let mut rules: Vec<SamplingRule> = (0..19)
        .map(|i| SamplingRule {
            url_path: format!("/svc{i}/*"),
            http_method: "GET".into(),
            host: "*.example.com".into(),
            service_name: "checkout*".into(),
            attributes: if with_attributes {
                vec![
                    ("tenant".into(), format!("t{i}-*")),
                    ("deployment.environment".into(), "prod".into()),
                ]
            } else {
                Vec::new()
            },
            ..SamplingRule::match_all(&format!("rule-{i:02}"), i, 1, 0.05)
        })
        .collect();
    rules.push(SamplingRule::match_all("Default", 10000, 1, 0.05));
    rules
}

fn attrs() -> Vec<KeyValue> {
    vec![
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("url.path", "/svc18/orders/42"),
        KeyValue::new("url.scheme", "https"),
        KeyValue::new("server.address", "api.example.com"),
        KeyValue::new("user_agent.original", "curl/8.5.0"),
        KeyValue::new("tenant", "t18-gold"),
        KeyValue::new("deployment.environment", "prod"),
        KeyValue::new("http.response.status_code", 200_i64),
    ]
}

fn bench(c: &mut Criterion) {
    let resource = ResourceInfo {
        service_name: Some("checkout-api".into()),
        service_type: Some("AWS::ECS::Container"),
        resource_arn: None,
    };
    let attrs = attrs();
    let cx = Context::new();
    let trace = TraceId::from_bytes(0x6553_f100_1234_5678_9abc_def0_1234_5678u128.to_be_bytes());
    let mut group = c.benchmark_group("xray_sampling");
    for (name, with_attributes) in [
        ("20_rules_attributes", true),
        ("20_rules_no_attributes", false),
    ] {
        let sampler = XraySampler::remote_with(resource.clone(), XraySampler::system_clock());
        sampler.update_rules(twenty_rules(with_attributes));
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
    // Adaptive sampling: rule-18 may be boosted and is (rate 0.5 for an
    // hour), so the decision also reads the boost and names the rule in the
    // trace state (`xrsr`).
    let boosted = XraySampler::remote_with(resource.clone(), XraySampler::system_clock());
    let mut rules = twenty_rules(true);
    rules[18].sampling_rate_boost = Some(SamplingRateBoost {
        max_rate: 1.0,
        cooldown_window_minutes: 10,
    });
    boosted.update_rules(rules);
    boosted.update_targets(&[SamplingTarget {
        rule_name: "rule-18".into(),
        fixed_rate: 0.0,
        reservoir_quota: Some(0),
        reservoir_quota_ttl: None,
        interval_secs: None,
        sampling_boost: Some(SamplingBoost {
            boost_rate: 0.5,
            boost_rate_ttl: std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
        }),
    }]);
    let configured = ConfiguredSampler::from_xray(boosted);
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
