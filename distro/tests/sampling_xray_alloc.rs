//! The X-Ray sampler's decision path does not allocate when no rule needs
//! span `Attributes` (issue 6, Performance), counted with a global
//! allocator wrapper. Only the decision's thread is counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};
use otel_aws_distro::sampling::DeferredAwareParentBased;
use otel_aws_distro::sampling::xray::{
    ManualClock, ResourceInfo, SamplingRule, SamplingTarget, XraySampler,
};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded as is to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded as is to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

const UNLUCKY: TraceId =
    TraceId::from_bytes(0x6553_f100_0000_0000_ffff_ffff_ffff_ffffu128.to_be_bytes());

fn twenty_rules(with_attributes: bool) -> Vec<SamplingRule> {
    let mut rules: Vec<SamplingRule> = (0..19)
        .map(|i| SamplingRule {
            url_path: format!("/svc{i}/*"),
            http_method: "GET".into(),
            host: "*.example.com".into(),
            attributes: if with_attributes {
                vec![("tenant".into(), format!("t{i}-*"))]
            } else {
                Vec::new()
            },
            ..SamplingRule::match_all(&format!("rule-{i:02}"), i, 1, 0.0)
        })
        .collect();
    rules.push(SamplingRule::match_all("Default", 10000, 0, 0.0));
    rules
}

#[test]
fn decisions_do_not_allocate() {
    let clock = Arc::new(ManualClock::at_secs(1_700_000_000));
    let sampler = XraySampler::remote_with(ResourceInfo::default(), clock.clone());
    let parent_based = DeferredAwareParentBased::new(sampler.clone());
    let attrs = [
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("url.path", "/svc18/orders"),
        KeyValue::new("server.address", "api.example.com"),
        KeyValue::new("tenant", "t18-gold"),
        KeyValue::new("http.response.status_code", 200_i64),
    ];
    let root = Context::new();
    let decide = |s: &dyn ShouldSample| {
        s.should_sample(
            Some(&root),
            UNLUCKY,
            "GET /svc18",
            &SpanKind::Server,
            &attrs,
            &[],
        )
    };

    for with_attributes in [false, true] {
        sampler.update_rules(twenty_rules(with_attributes));
        sampler.update_targets(&[SamplingTarget {
            rule_name: "rule-18".into(),
            fixed_rate: 0.0,
            reservoir_quota: Some(1),
            reservoir_quota_ttl: None,
            interval_secs: None,
            sampling_boost: None,
        }]);
        // Warm up: arc-swap registers this thread on its first load.
        let _ = decide(&sampler);
        clock.advance(std::time::Duration::from_secs(1));

        // Sampled (reservoir): one allocation, the result's attribute vector
        // holding `aws.xray.sampling_rule` (the rule name itself is shared).
        let mut result = None;
        let n = allocations(|| result = Some(decide(&sampler)));
        let result = result.expect("decided");
        assert_eq!(result.decision, SamplingDecision::RecordAndSample);
        assert_eq!(
            n, 1,
            "sampled decision: only the attribute vector ({with_attributes})"
        );
        drop(result);

        // Dropped (quota used, fixed rate 0): no allocation at all, also
        // through the parent-based wrapper.
        let n = allocations(|| {
            let r = decide(&sampler);
            assert_eq!(r.decision, SamplingDecision::Drop);
            let r = decide(&parent_based);
            assert_eq!(r.decision, SamplingDecision::Drop);
        });
        assert_eq!(
            n, 0,
            "dropped decisions allocate nothing ({with_attributes})"
        );
    }
}
