//! Span and request builders shared by the translation tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use otel_aws_distro::translate::{TranslateOptions, to_segments};

/// The X-Ray developer guide's example trace id, as OTLP bytes.
pub const TRACE_HEX: &str = "5759e988bd862e3fe1be46a994272793";
/// The same id in X-Ray form.
pub const XRAY_TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";
pub const SPAN_HEX: &str = "53995c3f42cd8ad8";
pub const PARENT_HEX: &str = "6b55dcc497934f1a";
/// 2016-06-09T15:17:28.123456Z in ns (start) and + 2.5 s (end).
pub const START_NS: u64 = 1_465_485_448_123_456_000;
pub const END_NS: u64 = START_NS + 2_500_000_000;

pub fn val(v: Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(v) })
}
pub fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: val(Value::StringValue(v.into())),
        ..Default::default()
    }
}
pub fn i(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: val(Value::IntValue(v)),
        ..Default::default()
    }
}
pub fn d(k: &str, v: f64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: val(Value::DoubleValue(v)),
        ..Default::default()
    }
}
pub fn b(k: &str, v: bool) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: val(Value::BoolValue(v)),
        ..Default::default()
    }
}
pub fn arr(k: &str, items: &[&str]) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: val(Value::ArrayValue(ArrayValue {
            values: items
                .iter()
                .map(|x| AnyValue {
                    value: Some(Value::StringValue((*x).into())),
                })
                .collect(),
        })),
        ..Default::default()
    }
}

/// A span with the example ids; `parent` adds [`PARENT_HEX`] as parent.
pub fn span(name: &str, kind: SpanKind, parent: bool, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: hex::decode(TRACE_HEX).unwrap(),
        span_id: hex::decode(SPAN_HEX).unwrap(),
        parent_span_id: if parent {
            hex::decode(PARENT_HEX).unwrap()
        } else {
            Vec::new()
        },
        name: name.into(),
        kind: kind as i32,
        start_time_unix_nano: START_NS,
        end_time_unix_nano: END_NS,
        attributes: attrs,
        ..Default::default()
    }
}

pub fn with_status(mut sp: Span, code: i32, message: &str) -> Span {
    sp.status = Some(Status {
        code,
        message: message.into(),
    });
    sp
}

pub fn with_event(mut sp: Span, name: &str, attrs: Vec<KeyValue>) -> Span {
    sp.events.push(Event {
        time_unix_nano: END_NS,
        name: name.into(),
        attributes: attrs,
        dropped_attributes_count: 0,
    });
    sp
}

pub fn request(resource: Vec<KeyValue>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

/// The one document `sp` becomes (under `resource`), parsed.
pub fn doc_with(resource: Vec<KeyValue>, sp: Span, opts: &TranslateOptions) -> serde_json::Value {
    let docs = to_segments(&request(resource, vec![sp]), opts);
    assert_eq!(docs.len(), 1);
    let json = docs.into_iter().next().unwrap().unwrap();
    serde_json::from_str(&json).unwrap()
}

pub fn doc(resource: Vec<KeyValue>, sp: Span) -> serde_json::Value {
    doc_with(resource, sp, &TranslateOptions::default())
}
