//! Deferred sampling (`spec/xray.md`, Decision): a remote parent with
//! `Sampled=?` (or no `Sampled`) lets the root sampler decide, keeping the
//! trace id; sampled / not-sampled remote parents behave parent-based.

use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, ShouldSample};
use otel_aws_distro::Env;
use otel_aws_distro::propagation::{PropagatorKind, build_propagator};
use otel_aws_distro::sampling::{
    DeferredAwareParentBased, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, SamplerConfig,
};
use otel_aws_distro::xray::{XrayIdGenerator, XrayPropagator, is_deferred};
use std::collections::HashMap;

const TRACE: &str = "5759e988bd862e3fe1be46a994272793";
const ROOT: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8";

fn incoming(sampled: &str) -> Context {
    let value = if sampled.is_empty() {
        ROOT.to_string()
    } else {
        format!("{ROOT};Sampled={sampled}")
    };
    let carrier = HashMap::from([("x-amzn-trace-id".to_string(), value)]);
    XrayPropagator::new().extract_with_context(&Context::new(), &carrier)
}

fn provider(sampler: impl ShouldSample + 'static) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_id_generator(XrayIdGenerator::default())
        .build()
}

/// Starts a span under `parent`; returns (sampled, trace id).
fn child(sampler: impl ShouldSample + 'static, parent: &Context) -> (bool, String, Context) {
    let tracer = provider(sampler).tracer("test");
    let span = tracer.start_with_context("server", parent);
    let cx = parent.with_span(span);
    let sc = cx.span().span_context().clone();
    (sc.is_sampled(), sc.trace_id().to_string(), cx)
}

#[test]
fn deferred_parent_lets_the_root_sampler_decide() {
    for sampled in ["?", ""] {
        let parent = incoming(sampled);
        assert!(is_deferred(&parent), "Sampled={sampled:?} must be deferred");
        let (on, on_trace, _) = child(DeferredAwareParentBased::new(Sampler::AlwaysOn), &parent);
        let (off, off_trace, _) = child(DeferredAwareParentBased::new(Sampler::AlwaysOff), &parent);
        assert!(on, "always_on root must sample a deferred parent");
        assert!(!off, "always_off root must drop a deferred parent");
        assert_eq!(on_trace, TRACE, "trace id kept");
        assert_eq!(off_trace, TRACE, "trace id kept");
    }
}

#[test]
fn the_plain_sdk_parent_based_sampler_would_drop_it() {
    // Why the distro needs its own sampler: W3C flags say "not sampled".
    let (sampled, _, _) = child(Sampler::parent_based(Sampler::AlwaysOn), &incoming("?"));
    assert!(!sampled);
}

#[test]
fn decided_remote_parents_are_followed() {
    for root in [Sampler::AlwaysOn, Sampler::AlwaysOff] {
        let (s1, t1, _) = child(DeferredAwareParentBased::new(root.clone()), &incoming("1"));
        let (s0, t0, _) = child(DeferredAwareParentBased::new(root.clone()), &incoming("0"));
        assert!(
            s1,
            "Sampled=1 parent is followed whatever the root ({root:?})"
        );
        assert!(
            !s0,
            "Sampled=0 parent is followed whatever the root ({root:?})"
        );
        assert_eq!((t1.as_str(), t0.as_str()), (TRACE, TRACE));
    }
}

#[test]
fn no_parent_uses_the_root_sampler() {
    let (on, trace, _) = child(
        DeferredAwareParentBased::new(Sampler::AlwaysOn),
        &Context::new(),
    );
    assert!(on);
    assert_ne!(trace, TRACE);
    let (off, _, _) = child(
        DeferredAwareParentBased::new(Sampler::AlwaysOff),
        &Context::new(),
    );
    assert!(!off);
}

#[test]
fn local_children_follow_the_decided_span() {
    // Under a deferred parent the root sampler decided "sample"; the
    // grandchild (local parent, sampled) must not be re-decided by an
    // always_off root.
    let parent = incoming("?");
    let (_, _, cx) = child(DeferredAwareParentBased::new(Sampler::AlwaysOn), &parent);
    assert!(!is_deferred(&cx));
    let (sampled, trace, _) = child(DeferredAwareParentBased::new(Sampler::AlwaysOff), &cx);
    assert!(sampled);
    assert_eq!(trace, TRACE);
}

#[test]
fn inject_writes_question_mark_only_while_undecided_and_never_leaks_a_marker() {
    let propagator = build_propagator(&PropagatorKind::DEFAULT, None);
    let parent = incoming("?");

    // A hop that forwards without deciding (proxy) keeps `Sampled=?`.
    let mut forwarded = HashMap::new();
    propagator.inject_context(&parent, &mut forwarded);
    assert_eq!(
        forwarded.get("x-amzn-trace-id").map(String::as_str),
        Some(format!("{ROOT};Sampled=?").as_str())
    );

    // Once a span decides, both headers carry the decision and the W3C
    // tracestate carries nothing of ours.
    for (root, flag, digit) in [
        (Sampler::AlwaysOn, "01", '1'),
        (Sampler::AlwaysOff, "00", '0'),
    ] {
        let (_, _, cx) = child(DeferredAwareParentBased::new(root), &parent);
        let mut out = HashMap::new();
        propagator.inject_context(&cx, &mut out);
        let xray = out.get("x-amzn-trace-id").expect("x-ray header");
        assert!(xray.ends_with(&format!(";Sampled={digit}")), "{xray}");
        assert!(
            xray.starts_with("Root=1-5759e988-bd862e3fe1be46a994272793;Parent="),
            "{xray}"
        );
        assert!(
            !xray.contains("Parent=53995c3f42cd8ad8"),
            "parent is the new span: {xray}"
        );
        let traceparent = out.get("traceparent").expect("traceparent");
        assert!(
            traceparent.starts_with(&format!("00-{TRACE}-")),
            "{traceparent}"
        );
        assert!(traceparent.ends_with(flag), "{traceparent}");
        assert_eq!(
            out.get("tracestate").map(String::as_str),
            Some(""),
            "tracestate leaks"
        );
    }

    // The W3C propagator alone never sees a marker either.
    let mut w3c = HashMap::new();
    TraceContextPropagator::new().inject_context(&parent, &mut w3c);
    assert_eq!(w3c.get("tracestate").map(String::as_str), Some(""));
    assert!(w3c.get("traceparent").is_some_and(|t| t.ends_with("-00")));
}

#[test]
fn lineage_survives_a_hop_through_a_span() {
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Self=1-67891234-12456789abcdef012345678;Lineage=1:a87bd80c:1;Vendor=Keep-Case";
    let carrier = HashMap::from([("x-amzn-trace-id".to_string(), header.to_string())]);
    let parent = XrayPropagator::new().extract(&carrier);
    let (_, _, cx) = child(DeferredAwareParentBased::new(Sampler::AlwaysOff), &parent);
    let tracer = provider(DeferredAwareParentBased::new(Sampler::AlwaysOff)).tracer("t");
    let client = cx.with_span(tracer.start_with_context("client", &cx));
    let mut out = HashMap::new();
    XrayPropagator::new().inject_context(&client, &mut out);
    let xray = out.get("x-amzn-trace-id").expect("header");
    assert!(
        xray.ends_with(";Sampled=1;Lineage=1:a87bd80c:1;Vendor=Keep-Case"),
        "{xray}"
    );
    assert!(!xray.contains("Self="), "{xray}");
}

#[test]
fn configured_parentbased_samplers_are_deferred_aware() {
    let cases = [
        ("parentbased_always_on", None, true),
        ("parentbased_always_off", None, false),
        ("parentbased_traceidratio", Some("1"), true),
        ("parentbased_traceidratio", Some("0"), false),
    ];
    for (name, arg, expected) in cases {
        let mut env = Env::from_pairs([(OTEL_TRACES_SAMPLER, name)]);
        if let Some(arg) = arg {
            env = env.with(OTEL_TRACES_SAMPLER_ARG, arg);
        }
        let sampler = SamplerConfig::from_env(&env).expect("valid").build();
        let (sampled, trace, _) = child(sampler.clone(), &incoming("?"));
        assert_eq!(sampled, expected, "{name} {arg:?} on a deferred parent");
        assert_eq!(trace, TRACE);
        // And still parent-based for decided parents.
        assert!(child(sampler.clone(), &incoming("1")).0, "{name}");
        assert!(!child(sampler, &incoming("0")).0, "{name}");
    }
}

/// aws-xray-sdk's placeholder for an unsampled request (`spec/xray.md`,
/// "Legacy SDK quirks a mixed fleet meets", Decision): a new trace id, not
/// recorded, `Sampled=0` passed on with ids every propagator accepts.
#[test]
fn legacy_unsampled_placeholder_is_a_do_not_sample_decision() {
    const PLACEHOLDER: &str =
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0";
    let propagator = build_propagator(&PropagatorKind::DEFAULT, None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut traces = std::collections::HashSet::new();
    for header in [
        PLACEHOLDER.to_string(),
        format!("{PLACEHOLDER};Lineage=1:a87bd80c:1"),
    ] {
        let carrier = HashMap::from([("x-amzn-trace-id".to_string(), header.clone())]);
        let parent = propagator.extract(&carrier);
        let sc = parent.span().span_context().clone();
        assert!(sc.is_valid() && sc.is_remote(), "{header}: {sc:?}");
        assert!(!sc.is_sampled() && !is_deferred(&parent), "{header}");
        let epoch = u64::from_str_radix(&sc.trace_id().to_string()[..8], 16).expect("hex");
        assert!(epoch.abs_diff(now) <= 60, "X-Ray trace id epoch {epoch}");

        // Every parent-based sampler drops it, whatever its root sampler.
        for root in [Sampler::AlwaysOn, Sampler::AlwaysOff] {
            assert!(!child(DeferredAwareParentBased::new(root.clone()), &parent).0);
            assert!(!child(Sampler::ParentBased(Box::new(root)), &parent).0);
        }
        for name in ["parentbased_always_on", "parentbased_traceidratio"] {
            let env = Env::from_pairs([(OTEL_TRACES_SAMPLER, name)]);
            let sampler = SamplerConfig::from_env(&env).expect("valid").build();
            assert!(!child(sampler, &parent).0, "{name}");
        }

        // Downstream: Sampled=0 with the new trace id and the child's span id.
        let (_, trace, cx) = child(DeferredAwareParentBased::new(Sampler::AlwaysOn), &parent);
        assert_eq!(trace, sc.trace_id().to_string());
        let mut out = HashMap::new();
        propagator.inject_context(&cx, &mut out);
        let span_id = cx.span().span_context().span_id().to_string();
        let xray = out.get("x-amzn-trace-id").expect("x-ray header");
        let mut want = format!(
            "Root=1-{}-{};Parent={span_id};Sampled=0",
            &trace[..8],
            &trace[8..]
        );
        if header.contains("Lineage") {
            want.push_str(";Lineage=1:a87bd80c:1");
        }
        assert_eq!(xray, &want);
        assert_eq!(
            out.get("traceparent").map(String::as_str),
            Some(format!("00-{trace}-{span_id}-00").as_str())
        );
        traces.insert(trace);
    }
    assert_eq!(traces.len(), 2, "each placeholder starts a new trace");

    // Any other all-zero header is still invalid: nothing extracted.
    for invalid in [
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1",
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=?",
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000",
    ] {
        let carrier = HashMap::from([("x-amzn-trace-id".to_string(), invalid.to_string())]);
        assert!(!propagator.extract(&carrier).has_active_span(), "{invalid}");
    }

    // The xray-lambda fallback (`_X_AMZN_TRACE_ID`) reads it the same way.
    let lambda = XrayPropagator::lambda_with_env_value(Some(PLACEHOLDER.to_string()));
    let cx = lambda.extract(&HashMap::new());
    let sc = cx.span().span_context().clone();
    assert!(sc.is_valid() && !sc.is_sampled());
}
