//! What held data costs in memory. The memory limiter accounts decoded
//! batches by this estimate, not by their wire size: a decoded span takes
//! several times its protobuf bytes (struct sizes, one allocation per
//! string, id and attribute), and accounting wire bytes let RSS grow to
//! several times the configured bound.

use std::mem::size_of;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
    SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use otel_aws_distro::appsignals::HeapAdded;

use super::batch::Payload;

/// Allocator overhead per heap allocation (size class rounding and headers).
const PER_ALLOCATION: usize = 16;

fn heap(capacity: usize) -> usize {
    if capacity == 0 {
        0
    } else {
        capacity + PER_ALLOCATION
    }
}

/// What [`HeapAdded`] (a processor's report of what it wrote) adds to
/// this estimate.
pub fn added_bytes(h: HeapAdded) -> i64 {
    h.bytes + h.allocations * PER_ALLOCATION as i64
}

fn vec_heap<T>(v: &[T], capacity: usize, each: impl Fn(&T) -> usize) -> usize {
    heap(capacity * size_of::<T>()) + v.iter().map(each).sum::<usize>()
}

fn any_value(v: &AnyValue) -> usize {
    match &v.value {
        Some(Value::StringValue(s)) => heap(s.capacity()),
        Some(Value::BytesValue(b)) => heap(b.capacity()),
        Some(Value::ArrayValue(a)) => {
            heap(size_of::<opentelemetry_proto::tonic::common::v1::ArrayValue>())
                + vec_heap(&a.values, a.values.capacity(), any_value)
        }
        Some(Value::KvlistValue(l)) => {
            heap(size_of::<
                opentelemetry_proto::tonic::common::v1::KeyValueList,
            >()) + vec_heap(&l.values, l.values.capacity(), key_value)
        }
        _ => 0,
    }
}

fn key_value(kv: &KeyValue) -> usize {
    heap(kv.key.capacity()) + kv.value.as_ref().map_or(0, any_value)
}

fn attributes(a: &Vec<KeyValue>) -> usize {
    vec_heap(a, a.capacity(), key_value)
}

fn event(e: &Event) -> usize {
    heap(e.name.capacity()) + attributes(&e.attributes)
}

fn link(l: &Link) -> usize {
    heap(l.trace_id.capacity())
        + heap(l.span_id.capacity())
        + heap(l.trace_state.capacity())
        + attributes(&l.attributes)
}

fn span(s: &Span) -> usize {
    heap(s.trace_id.capacity())
        + heap(s.span_id.capacity())
        + heap(s.parent_span_id.capacity())
        + heap(s.trace_state.capacity())
        + heap(s.name.capacity())
        + attributes(&s.attributes)
        + vec_heap(&s.events, s.events.capacity(), event)
        + vec_heap(&s.links, s.links.capacity(), link)
        + s.status
            .as_ref()
            .map_or(0, |st| heap(st.message.capacity()))
}

fn scope(s: &InstrumentationScope) -> usize {
    heap(s.name.capacity()) + heap(s.version.capacity()) + attributes(&s.attributes)
}

fn scope_spans(s: &ScopeSpans) -> usize {
    s.scope.as_ref().map_or(0, scope)
        + heap(s.schema_url.capacity())
        + vec_heap(&s.spans, s.spans.capacity(), span)
}

fn resource(r: &Resource) -> usize {
    attributes(&r.attributes)
}

fn resource_spans(r: &ResourceSpans) -> usize {
    r.resource.as_ref().map_or(0, resource)
        + heap(r.schema_url.capacity())
        + vec_heap(&r.scope_spans, r.scope_spans.capacity(), scope_spans)
}

/// Bytes a decoded request occupies on the heap (estimate, from capacities).
pub fn request_bytes(req: &ExportTraceServiceRequest) -> usize {
    vec_heap(
        &req.resource_spans,
        req.resource_spans.capacity(),
        resource_spans,
    )
}

fn number_point(p: &NumberDataPoint) -> usize {
    attributes(&p.attributes) + heap(p.exemplars.capacity() * size_of::<Exemplar>())
}

fn histogram_point(p: &HistogramDataPoint) -> usize {
    attributes(&p.attributes)
        + heap(p.bucket_counts.capacity() * size_of::<u64>())
        + heap(p.explicit_bounds.capacity() * size_of::<f64>())
        + heap(p.exemplars.capacity() * size_of::<Exemplar>())
}

fn exp_histogram_point(p: &ExponentialHistogramDataPoint) -> usize {
    let buckets = |b: &Option<
        opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets,
    >| {
        b.as_ref()
            .map_or(0, |b| heap(b.bucket_counts.capacity() * size_of::<u64>()))
    };
    attributes(&p.attributes) + buckets(&p.positive) + buckets(&p.negative)
}

fn summary_point(p: &SummaryDataPoint) -> usize {
    attributes(&p.attributes) + heap(p.quantile_values.capacity() * 16)
}

fn metric(m: &Metric) -> usize {
    let data = match &m.data {
        None => 0,
        Some(Data::Gauge(g)) => vec_heap(&g.data_points, g.data_points.capacity(), number_point),
        Some(Data::Sum(s)) => vec_heap(&s.data_points, s.data_points.capacity(), number_point),
        Some(Data::Histogram(h)) => {
            vec_heap(&h.data_points, h.data_points.capacity(), histogram_point)
        }
        Some(Data::ExponentialHistogram(h)) => vec_heap(
            &h.data_points,
            h.data_points.capacity(),
            exp_histogram_point,
        ),
        Some(Data::Summary(s)) => vec_heap(&s.data_points, s.data_points.capacity(), summary_point),
    };
    heap(m.name.capacity())
        + heap(m.description.capacity())
        + heap(m.unit.capacity())
        + attributes(&m.metadata)
        + data
}

/// Bytes a decoded metrics request occupies on the heap (estimate).
pub fn metrics_bytes(req: &ExportMetricsServiceRequest) -> usize {
    vec_heap(
        &req.resource_metrics,
        req.resource_metrics.capacity(),
        |r| {
            r.resource.as_ref().map_or(0, resource)
                + heap(r.schema_url.capacity())
                + vec_heap(&r.scope_metrics, r.scope_metrics.capacity(), |s| {
                    s.scope.as_ref().map_or(0, scope)
                        + heap(s.schema_url.capacity())
                        + vec_heap(&s.metrics, s.metrics.capacity(), metric)
                })
        },
    )
}

fn log_record(r: &LogRecord) -> usize {
    heap(r.severity_text.capacity())
        + r.body.as_ref().map_or(0, any_value)
        + attributes(&r.attributes)
        + heap(r.trace_id.capacity())
        + heap(r.span_id.capacity())
        + heap(r.event_name.capacity())
}

/// Bytes a decoded logs request occupies on the heap (estimate).
pub fn logs_bytes(req: &ExportLogsServiceRequest) -> usize {
    vec_heap(&req.resource_logs, req.resource_logs.capacity(), |r| {
        r.resource.as_ref().map_or(0, resource)
            + heap(r.schema_url.capacity())
            + vec_heap(&r.scope_logs, r.scope_logs.capacity(), |s| {
                s.scope.as_ref().map_or(0, scope)
                    + heap(s.schema_url.capacity())
                    + vec_heap(&s.log_records, s.log_records.capacity(), log_record)
            })
    })
}

/// Bytes a payload occupies: every request and the legacy documents.
pub fn payload_bytes(p: &Payload) -> usize {
    request_bytes(&p.request)
        + request_bytes(&p.translated)
        + vec_heap(&p.segments, p.segments.capacity(), |s| {
            heap(s.id.capacity()) + heap(s.json.capacity())
        })
        + metrics_bytes(&p.metrics)
        + logs_bytes(&p.logs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn a_decoded_batch_costs_more_than_its_wire_bytes() {
        let attrs: Vec<KeyValue> = (0..8)
            .map(|i| KeyValue {
                key: format!("attr.{i}"),
                value: Some(AnyValue {
                    value: Some(Value::StringValue(format!("value-{i}"))),
                }),
                ..KeyValue::default()
            })
            .collect();
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..100)
                        .map(|i| Span {
                            trace_id: vec![1; 16],
                            span_id: vec![i as u8 + 1; 8],
                            name: format!("span-{i}"),
                            attributes: attrs.clone(),
                            ..Span::default()
                        })
                        .collect(),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let wire = req.encoded_len();
        let decoded = request_bytes(&req);
        assert!(
            decoded > 2 * wire,
            "decoded {decoded} bytes should be several times the {wire} wire bytes"
        );
        assert_eq!(request_bytes(&ExportTraceServiceRequest::default()), 0);
    }
}
