//! Optional platform spans (`OTEL_AWS_LAMBDA_PLATFORM_SPANS=true`) built
//! from Telemetry API timings:
//!
//! - `<function> invocation` (kind INTERNAL, so it never competes with the
//!   function's own SERVER span): `platform.start` →
//!   `platform.runtimeDone`, parented on the invoke's X-Ray header, with
//!   `faas.invocation_id`, `faas.coldstart`, status, and billed duration /
//!   max memory from `platform.report`. Lambda sends the report after the
//!   extension has called `next`, so the span is complete (and exported) at
//!   the next flush: the next invoke's end or SHUTDOWN.
//! - `<function> init` for cold starts: `platform.initStart` plus the
//!   `platform.initReport` duration, in the first invoke's trace.
//!
//! Unsampled invokes (`Sampled=0`) and invokes without a trace header get
//! no platform span.

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use opentelemetry_sdk::trace::IdGenerator;
use otel_aws_distro::xray::{TraceHeader, XrayIdGenerator};

use crate::extension::telemetry::PlatformEvent;

/// A string attribute.
pub fn kv_str(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

#[derive(Debug, Default)]
struct Invocation {
    start_ns: u64,
    header: Option<TraceHeader>,
    end_ns: Option<u64>,
    status: Option<String>,
    cold: bool,
}

/// Builds platform spans from platform events.
#[derive(Debug)]
pub struct PlatformSpans {
    function_name: String,
    init_start_ns: Option<u64>,
    init: Option<(u64, u64)>,
    seen_invoke: bool,
    pending: HashMap<String, Invocation>,
    ready: Vec<Span>,
    ids: XrayIdGenerator,
}

impl PlatformSpans {
    /// A builder for spans of `function_name`.
    pub fn new(function_name: impl Into<String>) -> Self {
        Self {
            function_name: function_name.into(),
            init_start_ns: None,
            init: None,
            seen_invoke: false,
            pending: HashMap::new(),
            ready: Vec::new(),
            ids: XrayIdGenerator::new(),
        }
    }

    /// Feeds one event.
    pub fn on_event(&mut self, event: &PlatformEvent) {
        match event {
            PlatformEvent::InitStart { time_ns } => self.init_start_ns = Some(*time_ns),
            PlatformEvent::InitReport {
                time_ns,
                duration_ms,
            } => {
                let start = self
                    .init_start_ns
                    .unwrap_or_else(|| time_ns.saturating_sub(ms_to_ns(*duration_ms)));
                self.init = Some((start, start + ms_to_ns(*duration_ms)));
            }
            PlatformEvent::Start {
                time_ns,
                request_id,
                trace,
            } => {
                let cold = !self.seen_invoke;
                self.seen_invoke = true;
                let header = trace.as_deref().and_then(TraceHeader::parse);
                if self.pending.len() >= 256 {
                    self.pending.clear(); // reports that never came: forget them
                }
                if cold && let (Some((s, e)), Some(h)) = (self.init.take(), header.as_ref()) {
                    self.push_init(h, s, e);
                }
                self.pending.insert(
                    request_id.clone(),
                    Invocation {
                        start_ns: *time_ns,
                        header,
                        cold,
                        ..Invocation::default()
                    },
                );
            }
            PlatformEvent::RuntimeDone {
                time_ns,
                request_id,
                status,
                duration_ms,
            } => {
                if let Some(inv) = self.pending.get_mut(request_id) {
                    inv.end_ns = Some(match duration_ms {
                        Some(d) => inv.start_ns + ms_to_ns(*d),
                        None => *time_ns,
                    });
                    inv.status = Some(status.clone());
                }
            }
            PlatformEvent::Report {
                time_ns,
                request_id,
                billed_duration_ms,
                max_memory_used_mb,
                memory_size_mb,
                ..
            } => {
                let Some(inv) = self.pending.remove(request_id) else {
                    return;
                };
                let Some(header) = inv.header.filter(|h| h.sampled != Some(false)) else {
                    return;
                };
                let mut attrs = vec![
                    kv_str("faas.invocation_id", request_id.clone()),
                    kv("faas.coldstart", any_value::Value::BoolValue(inv.cold)),
                ];
                let mut push_num = |key: &str, v: &Option<f64>| {
                    if let Some(v) = v {
                        attrs.push(kv(key, any_value::Value::DoubleValue(*v)));
                    }
                };
                push_num("aws.lambda.billed_duration_ms", billed_duration_ms);
                push_num("aws.lambda.max_memory_used_mb", max_memory_used_mb);
                push_num("aws.lambda.memory_size_mb", memory_size_mb);
                let status = inv.status.unwrap_or_else(|| "success".into());
                attrs.push(kv_str("aws.lambda.status", status.clone()));
                let end = inv.end_ns.unwrap_or(*time_ns);
                let mut span = self.span(
                    &header,
                    format!("{} invocation", self.function_name),
                    inv.start_ns,
                    end,
                    attrs,
                );
                if status != "success" {
                    span.status = Some(Status {
                        message: format!("runtime {status}"),
                        code: status::StatusCode::Error as i32,
                    });
                }
                self.ready.push(span);
            }
        }
    }

    fn push_init(&mut self, header: &TraceHeader, start: u64, end: u64) {
        if header.sampled == Some(false) {
            return;
        }
        let span = self.span(
            header,
            format!("{} init", self.function_name),
            start,
            end,
            vec![kv("faas.coldstart", any_value::Value::BoolValue(true))],
        );
        self.ready.push(span);
    }

    fn span(
        &self,
        header: &TraceHeader,
        name: String,
        start: u64,
        end: u64,
        attributes: Vec<KeyValue>,
    ) -> Span {
        Span {
            trace_id: header.trace_id.to_bytes().to_vec(),
            span_id: self.ids.new_span_id().to_bytes().to_vec(),
            parent_span_id: header.parent_id.to_bytes().to_vec(),
            name,
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end.max(start),
            attributes,
            flags: 0x100 | u32::from(header.sampled == Some(true)),
            ..Span::default()
        }
    }

    /// Invokes started whose `platform.report` has not arrived yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Takes the finished spans as one `ResourceSpans` with `resource`.
    pub fn take(&mut self, resource: &[KeyValue]) -> Option<ResourceSpans> {
        if self.ready.is_empty() {
            return None;
        }
        Some(ResourceSpans {
            resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                attributes: resource.to_vec(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "otel-aws-extension".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                spans: std::mem::take(&mut self.ready),
                ..Default::default()
            }],
            ..Default::default()
        })
    }
}

fn ms_to_ns(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        (ms * 1_000_000.0) as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn builds_init_and_invocation_spans_from_timings() {
        let mut p = PlatformSpans::new("orders");
        p.on_event(&PlatformEvent::InitStart {
            time_ns: 1_000_000_000,
        });
        p.on_event(&PlatformEvent::InitReport {
            time_ns: 1_050_000_000,
            duration_ms: 42.5,
        });
        p.on_event(&PlatformEvent::Start {
            time_ns: 2_000_000_000,
            request_id: "r1".into(),
            trace: Some(TRACE.into()),
        });
        p.on_event(&PlatformEvent::RuntimeDone {
            time_ns: 2_100_000_000,
            request_id: "r1".into(),
            status: "success".into(),
            duration_ms: Some(12.0),
        });
        // The init span is ready at the first start; the invocation span waits for the report.
        let early = p.take(&[]).unwrap();
        assert_eq!(early.scope_spans[0].spans.len(), 1);
        let init = early.scope_spans[0].spans[0].clone();
        p.on_event(&PlatformEvent::Report {
            time_ns: 2_200_000_000,
            request_id: "r1".into(),
            duration_ms: Some(12.0),
            billed_duration_ms: Some(13.0),
            max_memory_used_mb: Some(31.0),
            memory_size_mb: Some(128.0),
            init_duration_ms: Some(42.5),
        });
        let rs = p.take(&[kv_str("faas.name", "orders")]).unwrap();
        let spans = &rs.scope_spans[0].spans;
        assert_eq!(spans.len(), 1);
        assert_eq!(init.name, "orders init");
        assert_eq!(init.start_time_unix_nano, 1_000_000_000);
        assert_eq!(init.end_time_unix_nano, 1_042_500_000);
        assert_eq!(
            hex::encode(&init.trace_id),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(hex::encode(&init.parent_span_id), "53995c3f42cd8ad8");
        let inv = &spans[0];
        assert_eq!(inv.name, "orders invocation");
        assert_eq!(
            inv.end_time_unix_nano - inv.start_time_unix_nano,
            12_000_000
        );
        let attr = |k: &str| inv.attributes.iter().find(|kv| kv.key == k).cloned();
        assert_eq!(
            attr("faas.invocation_id"),
            Some(kv_str("faas.invocation_id", "r1"))
        );
        assert_eq!(
            attr("faas.coldstart"),
            Some(kv("faas.coldstart", any_value::Value::BoolValue(true)))
        );
        assert_eq!(
            attr("aws.lambda.billed_duration_ms"),
            Some(kv(
                "aws.lambda.billed_duration_ms",
                any_value::Value::DoubleValue(13.0)
            ))
        );
        assert!(attr("aws.lambda.max_memory_used_mb").is_some());
    }

    #[test]
    fn unsampled_invokes_get_no_span() {
        let mut p = PlatformSpans::new("f");
        p.on_event(&PlatformEvent::Start {
            time_ns: 1,
            request_id: "r".into(),
            trace: Some(TRACE.replace("Sampled=1", "Sampled=0")),
        });
        p.on_event(&PlatformEvent::Report {
            time_ns: 2,
            request_id: "r".into(),
            duration_ms: None,
            billed_duration_ms: None,
            max_memory_used_mb: None,
            memory_size_mb: None,
            init_duration_ms: None,
        });
        assert!(p.take(&[]).is_none());
    }
}
