//! The composite propagator built from `OTEL_PROPAGATORS` and the string-map
//! carrier helpers.

use opentelemetry::Context;
use opentelemetry::KeyValue;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use otel_aws_distro::propagation::{
    PropagatorKind, build_propagator, extract_from_map, extract_from_map_global, inject_into_map,
    inject_into_map_global,
};
use std::collections::HashMap;

const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
// W3C Trace Context specification example.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ids(cx: &Context) -> (String, String, bool) {
    let span = cx.span();
    let sc = span.span_context();
    (
        sc.trace_id().to_string(),
        sc.span_id().to_string(),
        sc.is_sampled(),
    )
}

#[test]
fn both_headers_later_propagator_wins() {
    let carrier = map(&[("x-amzn-trace-id", XRAY), ("traceparent", TRACEPARENT)]);

    let default = build_propagator(&PropagatorKind::DEFAULT, None); // xray,tracecontext,baggage
    assert_eq!(
        ids(&extract_from_map(&default, &carrier)),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            "00f067aa0ba902b7".into(),
            true
        )
    );

    let xray_last = build_propagator(&[PropagatorKind::TraceContext, PropagatorKind::Xray], None);
    assert_eq!(
        ids(&extract_from_map(&xray_last, &carrier)),
        (
            "5759e988bd862e3fe1be46a994272793".into(),
            "53995c3f42cd8ad8".into(),
            true
        )
    );

    // An invalid later header does not erase a valid earlier one.
    let carrier = map(&[("x-amzn-trace-id", XRAY), ("traceparent", "00-zz-zz-01")]);
    assert_eq!(
        ids(&extract_from_map(&default, &carrier)).0,
        "5759e988bd862e3fe1be46a994272793"
    );
}

#[test]
fn inject_writes_every_configured_header_for_the_same_span() {
    let sc = SpanContext::new(
        TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap(),
        SpanId::from_hex("53995c3f42cd8ad8").unwrap(),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let cx = Context::new()
        .with_remote_span_context(sc)
        .with_baggage([KeyValue::new("tenant", "blue")]);
    let mut out = HashMap::new();
    inject_into_map(
        &cx,
        &build_propagator(&PropagatorKind::DEFAULT, None),
        &mut out,
    );
    assert_eq!(out.get("x-amzn-trace-id").map(String::as_str), Some(XRAY));
    assert_eq!(
        out.get("traceparent").map(String::as_str),
        Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
    );
    assert_eq!(out.get("baggage").map(String::as_str), Some("tenant=blue"));

    let only_xray = build_propagator(&PropagatorKind::parse_list(Some("xray")).unwrap(), None);
    let mut out = HashMap::new();
    inject_into_map(&cx, &only_xray, &mut out);
    assert_eq!(out.keys().collect::<Vec<_>>(), ["x-amzn-trace-id"]);
}

#[test]
fn map_extraction_is_case_insensitive() {
    let carrier = map(&[("X-Amzn-Trace-Id", XRAY), ("Baggage", "tenant=blue")]);
    let cx = extract_from_map(&build_propagator(&PropagatorKind::DEFAULT, None), &carrier);
    assert_eq!(ids(&cx).0, "5759e988bd862e3fe1be46a994272793");
    assert_eq!(
        cx.baggage().get("tenant").map(|v| v.to_string()),
        Some("blue".into())
    );
}

#[test]
fn xray_lambda_in_the_list_uses_the_given_env_value() {
    let kinds = PropagatorKind::parse_list(Some("xray-lambda,tracecontext")).unwrap();
    let p = build_propagator(&kinds, Some(XRAY.to_string()));
    let cx = extract_from_map(&p, &HashMap::new());
    assert_eq!(ids(&cx).0, "5759e988bd862e3fe1be46a994272793");
    // A traceparent in the carrier still wins (it comes later in the list).
    let cx = extract_from_map(&p, &map(&[("traceparent", TRACEPARENT)]));
    assert_eq!(ids(&cx).0, "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[test]
fn global_variants_use_the_global_propagator() {
    // The only test in this binary that touches the global propagator.
    opentelemetry::global::set_text_map_propagator(build_propagator(&[PropagatorKind::Xray], None));
    let cx = extract_from_map_global(&map(&[("x-amzn-trace-id", XRAY)]));
    assert_eq!(ids(&cx).0, "5759e988bd862e3fe1be46a994272793");
    let mut out = HashMap::new();
    inject_into_map_global(&cx, &mut out);
    assert_eq!(out.get("x-amzn-trace-id").map(String::as_str), Some(XRAY));
}
