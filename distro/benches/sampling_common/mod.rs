//! Fixtures of the sampling benches: 20 rules, the span's attributes, and
//! the adaptive sampling setup (each bench includes this with
//! `mod sampling_common;`).
#![allow(dead_code)]

use opentelemetry::KeyValue;
use otel_aws_distro::sampling::ConfiguredSampler;
use otel_aws_distro::sampling::xray::{
    ResourceInfo, SamplingBoost, SamplingRateBoost, SamplingRule, SamplingTarget, XraySampler,
};

pub fn twenty_rules(with_attributes: bool) -> Vec<SamplingRule> {
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

pub fn attrs() -> Vec<KeyValue> {
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

/// The sampler `init()` installs for remote rules, rule-18 with
/// `SamplingRateBoost` and a boost in force (rate 0.5 for an hour), so the
/// decision also reads the boost and names the rule in the trace state
/// (`xrsr`).
pub fn boosted(resource: ResourceInfo) -> ConfiguredSampler {
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
    ConfiguredSampler::from_xray(boosted)
}

/// The same without any `SamplingRateBoost` (adaptive sampling inactive).
pub fn plain(resource: ResourceInfo) -> ConfiguredSampler {
    let sampler = XraySampler::remote_with(resource, XraySampler::system_clock());
    sampler.update_rules(twenty_rules(true));
    ConfiguredSampler::from_xray(sampler)
}

/// The benches' resource.
pub fn resource() -> ResourceInfo {
    ResourceInfo {
        service_name: Some("checkout-api".into()),
        service_type: Some("AWS::ECS::Container"),
        resource_arn: None,
    }
}
