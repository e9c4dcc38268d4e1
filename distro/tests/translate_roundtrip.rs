//! Property test (issue 6): span → segment → span keeps ids, parentage,
//! times (µs), name, kind, status, http, annotations and metadata.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, any_value::Value as Av,
};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use otel_aws_distro::translate::{TranslateOptions, from_segment, to_segments};
use proptest::prelude::*;
use translate_support::request;

/// A comparable view of an attribute value (doubles by bits).
#[derive(Debug, PartialEq)]
enum V {
    S(String),
    I(i64),
    D(u64),
    B(bool),
    A(Vec<V>),
}

fn view(v: &Av) -> V {
    match v {
        Av::StringValue(s) => V::S(s.clone()),
        Av::IntValue(i) => V::I(*i),
        Av::DoubleValue(d) => V::D(d.to_bits()),
        Av::BoolValue(b) => V::B(*b),
        Av::ArrayValue(a) => V::A(
            a.values
                .iter()
                .filter_map(|v| v.value.as_ref())
                .map(view)
                .collect(),
        ),
        other => V::S(format!("{other:?}")),
    }
}

fn attrs_map(attrs: &[KeyValue]) -> BTreeMap<String, V> {
    attrs
        .iter()
        .filter_map(|kv| Some((kv.key.clone(), view(kv.value.as_ref()?.value.as_ref()?))))
        .collect()
}

fn kv(k: &str, v: Av) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn scalar() -> impl Strategy<Value = Av> {
    prop_oneof![
        "[a-zA-Z0-9 ]{0,20}".prop_map(Av::StringValue),
        any::<i64>().prop_map(Av::IntValue),
        (-1.0e6f64..1.0e6).prop_map(Av::DoubleValue),
        any::<bool>().prop_map(Av::BoolValue),
    ]
}

fn any_value() -> impl Strategy<Value = Av> {
    prop_oneof![
        3 => scalar(),
        1 => prop::collection::vec("[a-z]{0,5}", 0..4).prop_map(|xs| Av::ArrayValue(ArrayValue {
            values: xs.into_iter().map(|x| AnyValue { value: Some(Av::StringValue(x)) }).collect(),
        })),
    ]
}

fn kind() -> impl Strategy<Value = SpanKind> {
    prop_oneof![
        Just(SpanKind::Unspecified),
        Just(SpanKind::Internal),
        Just(SpanKind::Server),
        Just(SpanKind::Client),
        Just(SpanKind::Producer),
        Just(SpanKind::Consumer),
    ]
}

prop_compose! {
    fn arb_span()(
        trace in prop::array::uniform16(any::<u8>()).prop_filter("non-zero", |t| t.iter().any(|b| *b != 0)),
        id in 1u64..,
        parent in prop::option::of(1u64..),
        name in "[ -~]{0,40}",
        kind in kind(),
        // Up to year 2100, whole microseconds (X-Ray's precision).
        start_us in 1_000_000_000_000_000u64..4_102_444_800_000_000,
        dur_us in 0u64..10_000_000_000,
        status in (0i32..3, "[a-z ]{0,12}"),
        method in prop::option::of(prop_oneof![Just("GET"), Just("POST")]),
        url in prop::option::of("https://[a-z]{1,8}\\.example/[a-z]{0,8}"),
        http_status in prop::option::of(prop_oneof![Just(200i64), Just(404), Just(429), Just(503)]),
        annotated in prop::collection::btree_map("[A-Za-z][A-Za-z0-9_]{0,10}", scalar(), 0..5),
        plain in prop::collection::btree_map("[a-z]{1,6}\\.[a-z]{1,6}", any_value(), 0..5),
        ns_meta in prop::option::of(("[a-z]{1,6}", prop::collection::btree_map("[a-z]{1,4}", 0i64..100, 1..3))),
    ) -> Span {
        let mut attributes = Vec::new();
        if let Some(m) = method { attributes.push(kv("http.request.method", Av::StringValue(m.into()))); }
        if let Some(u) = url { attributes.push(kv("url.full", Av::StringValue(u))); }
        if let Some(c) = http_status { attributes.push(kv("http.response.status_code", Av::IntValue(c))); }
        for (k, v) in &plain {
            attributes.push(kv(k, v.clone()));
        }
        if !annotated.is_empty() {
            for (k, v) in &annotated { attributes.push(kv(k, v.clone())); }
            attributes.push(kv("aws.xray.annotations", Av::ArrayValue(ArrayValue {
                values: annotated.keys().map(|k| AnyValue { value: Some(Av::StringValue(k.clone())) }).collect(),
            })));
        }
        if let Some((ns, map)) = ns_meta
            && ns != "default"
            && ns != "otel"
        {
            attributes.push(kv(&format!("aws.xray.metadata.{ns}"), Av::StringValue(serde_json::to_string(&map).unwrap())));
        }

        let (code, message) = status;
        Span {
            trace_id: trace.to_vec(),
            span_id: id.to_be_bytes().to_vec(),
            parent_span_id: parent.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default(),
            name,
            kind: kind as i32,
            start_time_unix_nano: start_us * 1000,
            end_time_unix_nano: (start_us + dur_us) * 1000,
            attributes,
            // Message only on ERROR (the OTel API drops it otherwise).
            status: (code != 0).then(|| Status { code, message: if code == 2 { message } else { String::new() } }),
            ..Default::default()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn span_segment_span(span in arb_span(), service in prop::option::of("[a-z]{1,8}")) {
        let resource = service.map(|s| vec![kv("service.name", Av::StringValue(s))]).unwrap_or_default();
        let docs = to_segments(&request(resource, vec![span.clone()]), &TranslateOptions::default());
        let json = docs.into_iter().next().unwrap().unwrap();
        let back = from_segment(&json).unwrap();
        let got = &back.resource_spans[0].scope_spans[0].spans[0];
        prop_assert_eq!(&got.trace_id, &span.trace_id);
        prop_assert_eq!(&got.span_id, &span.span_id);
        prop_assert_eq!(&got.parent_span_id, &span.parent_span_id);
        prop_assert_eq!(got.start_time_unix_nano, span.start_time_unix_nano);
        prop_assert_eq!(got.end_time_unix_nano, span.end_time_unix_nano);
        prop_assert_eq!(&got.name, &span.name);
        prop_assert_eq!(got.kind, span.kind, "json: {}", json);
        let norm = |s: &Option<Status>| s.clone().filter(|s| s.code != 0 || !s.message.is_empty());
        prop_assert_eq!(norm(&got.status), norm(&span.status), "json: {}", json);
        // http, annotations and metadata all come back as the same attributes.
        prop_assert_eq!(attrs_map(&got.attributes), attrs_map(&span.attributes), "json: {}", json);
    }
}
