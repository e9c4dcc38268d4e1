//! Fixtures shared by the benches (each bench is its own crate and includes
//! this module with `mod common;`).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// A string attribute.
pub fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A string value.
pub fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.to_owned())
}

/// `n` server/client spans with typical HTTP attributes (~300 B each
/// encoded), in traces of 8: one SERVER span and 7 CLIENT children.
pub fn http_batch(n: u64) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: (i / 8 + 1).to_be_bytes().repeat(2),
            span_id: (i + 1).to_be_bytes().to_vec(),
            parent_span_id: if i % 8 == 0 {
                vec![]
            } else {
                (i - i % 8 + 1).to_be_bytes().to_vec()
            },
            name: format!("GET /api/orders/{{id}} {i}"),
            kind: if i % 8 == 0 { 2 } else { 3 },
            start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000_000,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000_000 + 250_000,
            attributes: vec![
                kv("http.request.method", s("GET")),
                kv("http.route", s("/api/orders/{id}")),
                kv(
                    "url.full",
                    s("https://orders.internal.example.com/api/orders/12345?expand=items"),
                ),
                kv("http.response.status_code", any_value::Value::IntValue(200)),
                kv("server.address", s("orders.internal.example.com")),
                kv("network.protocol.version", s("1.1")),
                kv(
                    "user_agent.original",
                    s("Mozilla/5.0 (X11; Linux x86_64) bench"),
                ),
            ],
            status: Some(Status {
                message: String::new(),
                code: 0,
            }),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("checkout")),
                    kv("cloud.provider", s("aws")),
                    kv("cloud.region", s("us-east-1")),
                    kv("telemetry.sdk.language", s("rust")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "bench".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
