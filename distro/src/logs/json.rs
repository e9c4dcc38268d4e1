//! A JSON log line formatter that links each line to its trace.
//!
//! Every line is one JSON object: `timestamp` (RFC 3339, UTC), `level`,
//! `target`, `message`, the event's fields, the names of the enclosing
//! spans, and — when the event happens inside a sampled or unsampled span —
//! `trace_id` (W3C, 32 hex), `xray_trace_id` (`1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy`)
//! and `span_id` (16 hex). CloudWatch Logs Insights and the X-Ray console
//! can then join log lines to traces.
//!
//! tracing-subscriber's own `.json()` format cannot add fields computed per
//! event (the trace ids live in the OpenTelemetry layer's span data), hence
//! this small formatter.

use std::fmt;

use opentelemetry::trace::{SpanContext, TraceContextExt};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::xray::xray_trace_id as format_xray_trace_id;

/// The JSON formatter (see the module docs for the line shape).
#[derive(Clone, Debug, Default)]
pub struct JsonFormat {
    _private: (),
}

impl JsonFormat {
    /// A formatter with the default line shape.
    pub fn new() -> Self {
        Self::default()
    }
}

struct FieldVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for FieldVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_string(), Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), Value::from(format!("{value:?}")));
    }
}

/// Adds `trace_id`, `xray_trace_id` and `span_id` for a valid span context.
pub(crate) fn insert_trace_fields(obj: &mut Map<String, Value>, sc: &SpanContext) {
    if !sc.is_valid() {
        return;
    }
    let trace_id = sc.trace_id();
    obj.insert("trace_id".into(), Value::from(trace_id.to_string()));
    obj.insert(
        "xray_trace_id".into(),
        Value::from(format_xray_trace_id(trace_id)),
    );
    obj.insert("span_id".into(), Value::from(sc.span_id().to_string()));
}

fn current_span_context<S>(
    event: &Event<'_>,
    ctx: &FmtContext<'_, S, impl for<'w> FormatFields<'w> + 'static>,
) -> Option<SpanContext>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if let Some(id) = ctx
        .event_scope()
        .and_then(|mut scope| scope.next())
        .map(|s| s.id())
    {
        let _ = event;
        let cx =
            tracing::dispatcher::get_default(|d| tracing_opentelemetry::get_otel_context(&id, d));
        if let Some(cx) = cx {
            let sc = cx.span().span_context().clone();
            if sc.is_valid() {
                return Some(sc);
            }
        }
    }
    // Code that uses the OpenTelemetry API directly (Context::attach).
    let cx = opentelemetry::Context::current();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

impl<S, N> FormatEvent<S, N> for JsonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut obj = Map::new();
        obj.insert("timestamp".into(), Value::from(rfc3339_now()));
        obj.insert("level".into(), Value::from(meta.level().as_str()));
        obj.insert("target".into(), Value::from(meta.target()));
        let mut fields = Map::new();
        event.record(&mut FieldVisitor(&mut fields));
        if let Some(msg) = fields.remove("message") {
            obj.insert("message".into(), msg);
        }
        for (k, v) in fields {
            obj.entry(k).or_insert(v);
        }
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<Value> = scope.from_root().map(|s| Value::from(s.name())).collect();
            if !spans.is_empty() {
                obj.insert("spans".into(), Value::Array(spans));
            }
        }
        if let Some(sc) = current_span_context(event, ctx) {
            insert_trace_fields(&mut obj, &sc);
        }
        let line = serde_json::to_string(&Value::Object(obj)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// RFC 3339 UTC timestamp, written by tracing-subscriber's own system-time formatter.
fn rfc3339_now() -> String {
    use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
    let mut out = String::new();
    if SystemTime.format_time(&mut Writer::new(&mut out)).is_err() {
        out.clear();
    }
    out
}
