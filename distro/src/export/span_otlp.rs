//! `SpanData` → OTLP protobuf, the one conversion every in-process span
//! goes through on its way to an exporter.
//!
//! Hand-written rather than opentelemetry-proto's
//! `group_spans_by_resource_and_scope`, whose output it reproduces field for
//! field (a test compares the two, message and encoded bytes): that
//! conversion copies every string value through `Display`/`to_string` (a
//! `fmt::Formatter` and a growing `String` per attribute, ≈ 2,600 of its
//! ≈ 9,000 instructions per span of the HTTP server bench,
//! docs/benchmarks.md) and hashes the instrumentation scope of every span.
//! Here owned strings (keys, values, names, status descriptions) are moved
//! into the message without a copy, static ones copied with `to_owned`, and
//! a span of the same scope as the one before it skips the lookup.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{self, SpanId, SpanKind};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue as ProtoKeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, SpanFlags, Status, span, status,
};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::trace::SpanData;

/// The batch as one [`ResourceSpans`] of `resource`, with a [`ScopeSpans`]
/// per instrumentation scope in order of first appearance (what
/// opentelemetry-proto's `group_spans_by_resource_and_scope` gives).
pub fn resource_spans(
    batch: Vec<SpanData>,
    resource: &ResourceAttributesWithSchema,
) -> Vec<ResourceSpans> {
    resource_spans_with_headroom(batch, resource, 0)
}

/// [`resource_spans`] with room for `headroom` more attributes in each
/// span's attribute vector, for an exporter that adds that many (the
/// Application Signals wrapper: its attributes then need no reallocation).
pub fn resource_spans_with_headroom(
    batch: Vec<SpanData>,
    resource: &ResourceAttributesWithSchema,
    headroom: usize,
) -> Vec<ResourceSpans> {
    let total = batch.len();
    let mut scope_spans: Vec<ScopeSpans> = Vec::new();
    // Each group's scope (by group index) and the index by scope; a span of
    // the previous span's scope is compared once and not hashed.
    let mut scopes: Vec<InstrumentationScope> = Vec::new();
    let mut index: HashMap<InstrumentationScope, usize> = HashMap::new();
    let mut last: Option<usize> = None;
    for data in batch {
        let same = last.filter(|&g| {
            scopes
                .get(g)
                .is_some_and(|scope| same_scope(scope, &data.instrumentation_scope))
        });
        let group = match same.or_else(|| index.get(&data.instrumentation_scope).copied()) {
            Some(g) => g,
            None => {
                let scope = data.instrumentation_scope.clone();
                let g = scope_spans.len();
                scope_spans.push(ScopeSpans {
                    scope: Some((&scope, None).into()),
                    schema_url: scope.schema_url().unwrap_or_default().to_owned(),
                    // The first scope usually holds the whole batch.
                    spans: Vec::with_capacity(if g == 0 { total } else { 0 }),
                });
                index.insert(scope.clone(), g);
                scopes.push(scope);
                g
            }
        };
        last = Some(group);
        if let Some(group) = scope_spans.get_mut(group) {
            group.spans.push(span(data, headroom));
        }
    }
    vec![under_resource(resource, scope_spans)]
}

/// `scope_spans` as the one [`ResourceSpans`] of `resource`.
pub(super) fn under_resource(
    resource: &ResourceAttributesWithSchema,
    scope_spans: Vec<ScopeSpans>,
) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: resource.attributes.0.clone(),
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        }),
        scope_spans,
        schema_url: resource.schema_url.clone().unwrap_or_default(),
    }
}

/// `a == b`, without comparing text when both scopes hold the same static
/// strings (a tracer's spans share them) and no attributes; anything else
/// is the scope's own comparison (attributes compared as a set).
pub(super) fn same_scope(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    fn same_str(x: &str, y: &str) -> bool {
        std::ptr::eq(x, y) || x == y
    }
    let same_opt = |x: Option<&str>, y: Option<&str>| match (x, y) {
        (Some(x), Some(y)) => same_str(x, y),
        (x, y) => x.is_none() && y.is_none(),
    };
    if a.attributes().next().is_none() && b.attributes().next().is_none() {
        return same_str(a.name(), b.name())
            && same_opt(a.version(), b.version())
            && same_opt(a.schema_url(), b.schema_url());
    }
    a == b
}

/// One span, its strings moved; room for `headroom` more attributes.
pub(crate) fn span(data: SpanData, headroom: usize) -> Span {
    let context = &data.span_context;
    Span {
        trace_id: context.trace_id().to_bytes().to_vec(),
        span_id: context.span_id().to_bytes().to_vec(),
        trace_state: context.trace_state().header(),
        parent_span_id: if data.parent_span_id == SpanId::INVALID {
            Vec::new()
        } else {
            data.parent_span_id.to_bytes().to_vec()
        },
        flags: flags(data.parent_span_is_remote, context.trace_flags()),
        name: data.name.into_owned(),
        kind: kind(&data.span_kind) as i32,
        start_time_unix_nano: nanos(data.start_time),
        end_time_unix_nano: nanos(data.end_time),
        attributes: attributes_with_headroom(data.attributes, headroom),
        dropped_attributes_count: data.dropped_attributes_count,
        dropped_events_count: data.events.dropped_count,
        events: data
            .events
            .events
            .into_iter()
            .map(|event| span::Event {
                time_unix_nano: nanos(event.timestamp),
                name: event.name.into_owned(),
                attributes: attributes(event.attributes),
                dropped_attributes_count: event.dropped_attributes_count,
            })
            .collect(),
        dropped_links_count: data.links.dropped_count,
        links: data
            .links
            .links
            .into_iter()
            .map(|link| span::Link {
                trace_id: link.span_context.trace_id().to_bytes().to_vec(),
                span_id: link.span_context.span_id().to_bytes().to_vec(),
                trace_state: link.span_context.trace_state().header(),
                attributes: attributes(link.attributes),
                dropped_attributes_count: link.dropped_attributes_count,
                flags: flags(
                    link.span_context.is_remote(),
                    link.span_context.trace_flags(),
                ),
            })
            .collect(),
        status: Some(match data.status {
            trace::Status::Unset => Status {
                code: status::StatusCode::Unset as i32,
                message: String::new(),
            },
            trace::Status::Ok => Status {
                code: status::StatusCode::Ok as i32,
                message: String::new(),
            },
            trace::Status::Error { description } => Status {
                code: status::StatusCode::Error as i32,
                message: description.into_owned(),
            },
        }),
    }
}

/// The span's trace flags plus whether its parent (or the linked span) is
/// remote, as the OTLP `SpanFlags` bits.
pub(super) fn flags(remote: bool, trace_flags: trace::TraceFlags) -> u32 {
    let mut flags = u32::from(trace_flags.to_u8()) | SpanFlags::ContextHasIsRemoteMask as u32;
    if remote {
        flags |= SpanFlags::ContextIsRemoteMask as u32;
    }
    flags
}

pub(crate) fn kind(kind: &SpanKind) -> span::SpanKind {
    match kind {
        SpanKind::Client => span::SpanKind::Client,
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Producer => span::SpanKind::Producer,
        SpanKind::Consumer => span::SpanKind::Consumer,
        SpanKind::Internal => span::SpanKind::Internal,
    }
}

/// Nanoseconds since the epoch; 0 before it.
pub(super) fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn attributes(kvs: Vec<KeyValue>) -> Vec<ProtoKeyValue> {
    kvs.into_iter().map(attribute).collect()
}

fn attributes_with_headroom(kvs: Vec<KeyValue>, headroom: usize) -> Vec<ProtoKeyValue> {
    let mut out = Vec::with_capacity(kvs.len() + headroom);
    out.extend(kvs.into_iter().map(attribute));
    out
}

fn attribute(kv: KeyValue) -> ProtoKeyValue {
    ProtoKeyValue {
        key: kv.key.into(),
        value: Some(any_value(kv.value)),
        key_strindex: 0,
    }
}

fn any_value(value: Value) -> AnyValue {
    let value = match value {
        Value::Bool(v) => any_value::Value::BoolValue(v),
        Value::I64(v) => any_value::Value::IntValue(v),
        Value::F64(v) => any_value::Value::DoubleValue(v),
        Value::String(v) => any_value::Value::StringValue(v.into()),
        Value::Array(Array::Bool(vs)) => array(vs, any_value::Value::BoolValue),
        Value::Array(Array::I64(vs)) => array(vs, any_value::Value::IntValue),
        Value::Array(Array::F64(vs)) => array(vs, any_value::Value::DoubleValue),
        Value::Array(Array::String(vs)) => array(vs, |v| any_value::Value::StringValue(v.into())),
        // A kind added after this was written: the upstream conversion.
        other => return AnyValue::from(other),
    };
    AnyValue { value: Some(value) }
}

fn array<T>(values: Vec<T>, each: impl Fn(T) -> any_value::Value) -> any_value::Value {
    any_value::Value::ArrayValue(ArrayValue {
        values: values
            .into_iter()
            .map(|v| AnyValue {
                value: Some(each(v)),
            })
            .collect(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use opentelemetry::trace::{Event, Link, SpanContext, TraceFlags, TraceId, TraceState};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::Resource as SdkResource;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use prost::Message as _;
    use std::borrow::Cow;
    use std::str::FromStr as _;
    use std::sync::Arc;
    use std::time::Duration;

    pub(crate) fn at(nanos: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(nanos)
    }

    #[test]
    fn same_scope_agrees_with_the_scope_equality() {
        let scope =
            |name: Cow<'static, str>, version: Option<&'static str>, attrs: Vec<KeyValue>| {
                let mut b = InstrumentationScope::builder(name).with_attributes(attrs);
                if let Some(v) = version {
                    b = b.with_version(v);
                }
                b.build()
            };
        let kv = |k: &'static str, v: i64| KeyValue::new(k, v);
        let scopes = [
            scope("lib".into(), Some("1"), vec![]),
            // The same text, owned: equal, not pointer-equal.
            scope(Cow::Owned("lib".to_owned()), Some("1"), vec![]),
            scope("lib".into(), Some("2"), vec![]),
            scope("lib".into(), None, vec![]),
            scope("other".into(), Some("1"), vec![]),
            scope("lib".into(), Some("1"), vec![kv("a", 1), kv("b", 2)]),
            // The same attributes in another order: equal as a set.
            scope("lib".into(), Some("1"), vec![kv("b", 2), kv("a", 1)]),
            scope("lib".into(), Some("1"), vec![kv("a", 1)]),
        ];
        for a in &scopes {
            for b in &scopes {
                assert_eq!(same_scope(a, b), a == b, "{a:?} vs {b:?}");
            }
        }
        assert!(same_scope(&scopes[0], &scopes[1]));
        assert!(same_scope(&scopes[5], &scopes[6]));
        assert!(!same_scope(&scopes[0], &scopes[2]));
    }

    /// Every value kind, each string kind (static, owned, shared).
    pub(crate) fn all_values() -> Vec<KeyValue> {
        vec![
            KeyValue::new("static.str", "GET"),
            KeyValue::new(String::from("owned.key"), String::from("owned value")),
            KeyValue::new("shared", Value::String(Arc::<str>::from("arc").into())),
            KeyValue::new("bool", true),
            KeyValue::new("int", -42_i64),
            KeyValue::new("double", 1.5_f64),
            KeyValue::new("empty", ""),
            KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
            KeyValue::new("ints", Value::Array(Array::I64(vec![1, 2, 3]))),
            KeyValue::new("doubles", Value::Array(Array::F64(vec![0.25]))),
            KeyValue::new(
                "strings",
                Value::Array(Array::String(vec!["a".into(), String::from("b").into()])),
            ),
            KeyValue::new("no.strings", Value::Array(Array::String(Vec::new()))),
        ]
    }

    pub(crate) fn scope(name: &'static str, version: Option<&'static str>) -> InstrumentationScope {
        let builder = InstrumentationScope::builder(name);
        match version {
            Some(v) => builder
                .with_version(v)
                .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
                .with_attributes([KeyValue::new("scope.attr", 7_i64)])
                .build(),
            None => builder.build(),
        }
    }

    pub(crate) fn data(
        n: u64,
        scope: InstrumentationScope,
        parent: Option<(u64, bool)>,
        status: trace::Status,
    ) -> SpanData {
        let mut events = SpanEvents::default();
        let mut links = SpanLinks::default();
        if n.is_multiple_of(2) {
            events
                .events
                .push(Event::new("exception", at(15 + n), all_values(), 0));
            events
                .events
                .push(Event::new(format!("event-{n}"), at(16 + n), vec![], 3));
            events.dropped_count = 1;
            links.links.push(Link::new(
                SpanContext::new(
                    TraceId::from(0xaaaa + u128::from(n)),
                    SpanId::from(0xbbbb + n),
                    TraceFlags::SAMPLED,
                    true,
                    TraceState::from_str("vendor=x,other=y").unwrap(),
                ),
                vec![KeyValue::new("link.attr", "l")],
                2,
            ));
            links.links.push(Link::new(
                SpanContext::new(
                    TraceId::from(0xcccc),
                    SpanId::from(0xdddd),
                    TraceFlags::default(),
                    false,
                    TraceState::NONE,
                ),
                vec![],
                0,
            ));
            links.dropped_count = 4;
        }
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
                SpanId::from(0x1000 + n),
                if n.is_multiple_of(3) {
                    TraceFlags::SAMPLED
                } else {
                    TraceFlags::default()
                },
                false,
                if n % 2 == 1 {
                    TraceState::from_str("rojo=00f067aa0ba902b7").unwrap()
                } else {
                    TraceState::NONE
                },
            ),
            parent_span_id: parent.map_or(SpanId::INVALID, |(id, _)| SpanId::from(id)),
            parent_span_is_remote: parent.is_some_and(|(_, remote)| remote),
            span_kind: [
                SpanKind::Server,
                SpanKind::Client,
                SpanKind::Producer,
                SpanKind::Consumer,
                SpanKind::Internal,
            ][(n % 5) as usize]
                .clone(),
            name: if n.is_multiple_of(2) {
                Cow::Borrowed("GET /items/{id}")
            } else {
                Cow::Owned(format!("span {n}"))
            },
            start_time: at(1_544_712_660_000_000_000 + n),
            end_time: at(1_544_712_661_000_000_000 + n),
            attributes: all_values(),
            dropped_attributes_count: n as u32,
            events,
            links,
            status,
            instrumentation_scope: scope,
        }
    }

    /// The same batch through opentelemetry-proto's conversion and ours
    /// gives the same message and the same bytes on the wire: scopes
    /// interleaved (grouped in order of first appearance), every value kind,
    /// events, links, remote and local parents, each status.
    #[test]
    fn matches_the_opentelemetry_proto_conversion() {
        let a = || scope("lib-a", None);
        let b = || scope("lib-b", Some("1.2.3"));
        let batch = vec![
            data(0, a(), None, trace::Status::Unset),
            data(1, a(), Some((0x1000, false)), trace::Status::Ok),
            data(2, b(), Some((0x77, true)), trace::Status::error("boom")),
            data(3, a(), None, trace::Status::error(String::from("owned"))),
            data(4, b(), None, trace::Status::Unset),
            data(5, scope("lib-c", None), None, trace::Status::Unset),
            data(6, a(), Some((0x9, true)), trace::Status::Unset),
        ];
        let resource = ResourceAttributesWithSchema::from(
            &SdkResource::builder_empty()
                .with_schema_url(
                    [KeyValue::new("service.name", "checkout")],
                    "https://opentelemetry.io/schemas/1.30.0",
                )
                .build(),
        );
        let want = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch.clone(), &resource),
        };
        let got = ExportTraceServiceRequest {
            resource_spans: resource_spans(batch, &resource),
        };
        assert_eq!(got, want);
        assert_eq!(got.encode_to_vec(), want.encode_to_vec());
        let scopes: Vec<&str> = got.resource_spans[0]
            .scope_spans
            .iter()
            .map(|s| s.scope.as_ref().map_or("", |s| s.name.as_str()))
            .collect();
        assert_eq!(scopes, ["lib-a", "lib-b", "lib-c"]);
    }

    #[test]
    fn an_empty_batch_is_one_resource_without_scopes() {
        let resource = ResourceAttributesWithSchema::default();
        assert_eq!(
            resource_spans(Vec::new(), &resource),
            group_spans_by_resource_and_scope(Vec::new(), &resource)
        );
    }
}
