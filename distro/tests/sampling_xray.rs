//! X-Ray sampler statistics with an injected clock (`spec/xray.md`, Remote
//! sampling, lines 130–140): borrowing before the first target, reservoir
//! quotas per second, fixed rate beyond, quota TTL expiry, rules expiry to
//! the fallback, statistics counts and reset.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};
use otel_aws_distro::sampling::DeferredAwareParentBased;
use otel_aws_distro::sampling::xray::{
    ManualClock, ResourceInfo, SAMPLING_RULE_ATTRIBUTE, SamplingRule, SamplingTarget, XraySampler,
};

const T0: u64 = 1_700_000_000;

/// Low 64 bits 0: sampled by any fixed rate > 0.
const LUCKY: TraceId =
    TraceId::from_bytes(0x6553_f100_0000_0000_0000_0000_0000_0000u128.to_be_bytes());
/// Low 64 bits all ones: never sampled by a fixed rate < 1.
const UNLUCKY: TraceId =
    TraceId::from_bytes(0x6553_f100_0000_0000_ffff_ffff_ffff_ffffu128.to_be_bytes());

fn setup(rules: Vec<SamplingRule>) -> (XraySampler, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at_secs(T0));
    let sampler = XraySampler::remote_with(ResourceInfo::default(), clock.clone());
    if !rules.is_empty() {
        sampler.update_rules(rules);
    }
    (sampler, clock)
}

fn decide(s: &impl ShouldSample, trace: TraceId) -> SamplingResult {
    s.should_sample(
        Some(&Context::new()),
        trace,
        "span",
        &SpanKind::Server,
        &[KeyValue::new("url.path", "/x")],
        &[],
    )
}

fn sampled(s: &impl ShouldSample, trace: TraceId) -> bool {
    decide(s, trace).decision == SamplingDecision::RecordAndSample
}

fn count(s: &XraySampler, n: usize, trace: TraceId) -> usize {
    (0..n).filter(|_| sampled(s, trace)).count()
}

/// (RequestCount, SampledCount, BorrowCount) of `rule`, reset by reading.
fn stats(s: &XraySampler, rule: &str) -> (u64, u64, u64) {
    let all = s.take_statistics();
    let st = all
        .iter()
        .find(|st| st.rule_name == rule)
        .expect("statistics for the rule");
    (st.request_count, st.sampled_count, st.borrow_count)
}

fn target(
    rule: &str,
    quota: Option<u32>,
    ttl_secs: Option<u64>,
    fixed_rate: f64,
) -> SamplingTarget {
    SamplingTarget {
        rule_name: rule.into(),
        fixed_rate,
        reservoir_quota: quota,
        reservoir_quota_ttl: ttl_secs.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
        interval_secs: Some(10),
        sampling_boost: None,
    }
}

#[test]
fn borrows_one_request_per_second_before_the_first_target() {
    // line 130: before targets arrive a rule with ReservoirSize>0 borrows 1 req/s.
    let (s, clock) = setup(vec![SamplingRule::match_all("r", 1, 50, 0.0)]);
    assert_eq!(count(&s, 5, UNLUCKY), 1, "one borrowed in the first second");
    clock.advance(Duration::from_millis(999));
    assert_eq!(
        count(&s, 5, UNLUCKY),
        0,
        "T0 + 0.999 s: still the first second"
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(count(&s, 5, UNLUCKY), 1, "second T0+1 starts: one more");
    clock.advance(Duration::from_millis(500));
    assert_eq!(count(&s, 5, UNLUCKY), 0, "still second T0+1");
    assert_eq!(stats(&s, "r"), (20, 2, 2));
}

#[test]
fn no_borrowing_without_a_reservoir() {
    // line 130: only rules with ReservoirSize>0 borrow.
    let (s, _) = setup(vec![SamplingRule::match_all("r", 1, 0, 0.0)]);
    assert_eq!(count(&s, 5, UNLUCKY), 0);
    // Before the first target the rule's own FixedRate applies.
    let (s, _) = setup(vec![SamplingRule::match_all("r", 1, 0, 0.5)]);
    assert_eq!(count(&s, 3, LUCKY), 3);
    assert_eq!(count(&s, 3, UNLUCKY), 0);
    assert_eq!(stats(&s, "r"), (6, 3, 0));
}

#[test]
fn reservoir_quota_per_second_then_fixed_rate() {
    // line 131: ReservoirQuota req/s until ReservoirQuotaTTL, beyond that FixedRate.
    let (s, clock) = setup(vec![SamplingRule::match_all("r", 1, 50, 0.05)]);
    s.update_targets(&[target("r", Some(3), Some(T0 + 60), 0.0)]);
    assert_eq!(count(&s, 10, UNLUCKY), 3, "quota of 3 this second");
    clock.advance(Duration::from_secs(1));
    assert_eq!(count(&s, 10, UNLUCKY), 3, "quota of 3 the next second");
    assert_eq!(stats(&s, "r"), (20, 6, 0), "a target ends borrowing");

    // Beyond the quota the target's FixedRate decides by trace id.
    s.update_targets(&[target("r", Some(1), Some(T0 + 60), 0.5)]);
    clock.advance(Duration::from_secs(1));
    assert!(sampled(&s, UNLUCKY), "quota");
    assert!(!sampled(&s, UNLUCKY), "beyond quota, unlucky trace id");
    assert!(sampled(&s, LUCKY), "beyond quota, 50 % takes this trace id");
    assert_eq!(stats(&s, "r"), (3, 2, 0));
}

#[test]
fn quota_ends_at_its_ttl() {
    // line 131: the quota holds until ReservoirQuotaTTL only.
    let (s, clock) = setup(vec![SamplingRule::match_all("r", 1, 50, 0.05)]);
    s.update_targets(&[target("r", Some(5), Some(T0 + 10), 0.0)]);
    assert_eq!(count(&s, 2, UNLUCKY), 2);
    clock.advance(Duration::from_secs(10));
    assert_eq!(count(&s, 5, UNLUCKY), 0, "TTL passed: fixed rate 0 only");
    assert_eq!(count(&s, 2, LUCKY), 0);
    // No quota in the target: fixed rate only, no borrowing.
    s.update_targets(&[target("r", None, None, 1.0)]);
    assert_eq!(count(&s, 4, UNLUCKY), 4);
    assert_eq!(stats(&s, "r"), (13, 6, 0));
}

#[test]
fn fallback_before_rules_and_after_an_hour() {
    // line 138: rules older than 1 h → fallback; line 139: 1 req/s, else 5 %.
    let (s, clock) = setup(vec![]);
    assert!(sampled(&s, UNLUCKY), "no rules yet: fallback reservoir 1/s");
    assert!(!sampled(&s, UNLUCKY), "then 5 % by trace id");
    assert!(sampled(&s, LUCKY), "5 % takes the lucky trace id");

    s.update_rules(vec![SamplingRule::match_all("never", 1, 0, 0.0)]);
    clock.advance(Duration::from_secs(1));
    assert_eq!(count(&s, 3, UNLUCKY), 0, "fresh rules decide");
    clock.advance(Duration::from_secs(3600));
    assert_eq!(count(&s, 3, UNLUCKY), 1, "an hour later: fallback 1/s");
    assert!(sampled(&s, LUCKY));
    let r = decide(&s, LUCKY);
    assert!(r.attributes.is_empty(), "the fallback is not a rule");
    assert_eq!(
        stats(&s, "never"),
        (3, 0, 0),
        "fallback decisions are not counted"
    );
    s.update_rules(vec![SamplingRule::match_all("never", 1, 0, 0.0)]);
    assert_eq!(count(&s, 3, UNLUCKY), 0, "refreshed rules decide again");
}

#[test]
fn statistics_reset_after_reporting() {
    // lines 132–134: ClientID 24 hex, RuleName, Timestamp, counts.
    let (s, clock) = setup(vec![
        SamplingRule::match_all("a", 1, 1, 0.0),
        SamplingRule::match_all("b", 2, 1, 0.0),
    ]);
    count(&s, 4, UNLUCKY);
    clock.advance(Duration::from_secs(2));
    let all = s.take_statistics();
    assert_eq!(all.len(), 2, "every rule is reported");
    let a = &all[0];
    assert_eq!(a.rule_name, "a");
    assert_eq!(
        (a.request_count, a.sampled_count, a.borrow_count),
        (4, 1, 1)
    );
    assert_eq!(a.timestamp, UNIX_EPOCH + Duration::from_secs(T0 + 2));
    assert_eq!(a.client_id.len(), 24);
    assert!(a.client_id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(a.client_id, s.client_id());
    assert_eq!(
        (all[1].request_count, all[1].sampled_count),
        (0, 0),
        "b matched nothing"
    );
    let again = s.take_statistics();
    assert!(
        again
            .iter()
            .all(|st| st.request_count == 0 && st.sampled_count == 0 && st.borrow_count == 0)
    );
}

#[test]
fn unchanged_rules_keep_target_and_counts_across_refresh() {
    let (s, _) = setup(vec![SamplingRule::match_all("r", 1, 50, 0.0)]);
    s.update_targets(&[target("r", Some(2), Some(T0 + 60), 0.0)]);
    assert_eq!(count(&s, 3, UNLUCKY), 2);
    s.update_rules(vec![SamplingRule::match_all("r", 1, 50, 0.0)]);
    assert_eq!(count(&s, 3, UNLUCKY), 0, "same second, quota already used");
    assert_eq!(stats(&s, "r"), (6, 2, 0));
    // A changed rule starts afresh (borrowing again).
    s.update_rules(vec![SamplingRule::match_all("r", 1, 51, 0.0)]);
    assert_eq!(count(&s, 3, UNLUCKY), 1);
}

#[test]
fn the_deciding_rule_is_recorded_on_sampled_spans() {
    // line 140: aws.xray.sampling_rule.
    let (s, _) = setup(vec![SamplingRule::match_all("Checkout", 1, 1, 0.0)]);
    let r = decide(&s, UNLUCKY);
    assert_eq!(r.decision, SamplingDecision::RecordAndSample);
    assert_eq!(
        r.attributes,
        vec![KeyValue::new(
            SAMPLING_RULE_ATTRIBUTE,
            Value::from("Checkout")
        )]
    );
    let r = decide(&s, UNLUCKY);
    assert_eq!(r.decision, SamplingDecision::Drop);
    assert!(r.attributes.is_empty());
}

#[test]
fn parent_based_around_the_xray_sampler() {
    // line 139: parent-based; the xray sampler decides only for roots.
    let (s, _) = setup(vec![SamplingRule::match_all("never", 1, 0, 0.0)]);
    let sampler = DeferredAwareParentBased::new(s.clone());
    let parent = |flags| {
        Context::new().with_remote_span_context(SpanContext::new(
            UNLUCKY,
            SpanId::from_bytes(7u64.to_be_bytes()),
            flags,
            true,
            TraceState::default(),
        ))
    };
    let with_parent = |cx: &Context| {
        sampler
            .should_sample(Some(cx), UNLUCKY, "s", &SpanKind::Server, &[], &[])
            .decision
    };
    assert_eq!(
        with_parent(&parent(TraceFlags::SAMPLED)),
        SamplingDecision::RecordAndSample
    );
    assert_eq!(
        with_parent(&parent(TraceFlags::default())),
        SamplingDecision::Drop
    );
    assert_eq!(
        with_parent(&Context::new()),
        SamplingDecision::Drop,
        "root: the rule decides"
    );
    assert_eq!(
        stats(&s, "never"),
        (1, 0, 0),
        "only the root reached the rule"
    );
}
