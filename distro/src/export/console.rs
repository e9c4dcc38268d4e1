//! Human-readable span lines (and one line per metric or log record) for local runs.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Mutex;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind, status::StatusCode};

use super::{BatchExporter, ExportError, ExportFuture, ExportOutcome};

/// Attributes worth a glance, in display order (stable and legacy names).
const KEY_ATTRIBUTES: &[&str] = &[
    "http.request.method",
    "http.method",
    "http.route",
    "url.full",
    "url.path",
    "http.target",
    "http.response.status_code",
    "http.status_code",
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "db.system.name",
    "db.system",
    "messaging.system",
    "faas.trigger",
    "server.address",
    "error.type",
    "exception.type",
    "aws.xray.sampling_rule",
];
/// At most this many key attributes per line.
const MAX_SHOWN: usize = 6;

/// Writes one line per span: trace id, span id, parent, name, kind,
/// duration, status, service and key attributes.
pub struct ConsoleExporter {
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleExporter").finish_non_exhaustive()
    }
}

impl Default for ConsoleExporter {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsoleExporter {
    /// Writes to stdout.
    pub fn new() -> Self {
        Self::with_writer(Box::new(std::io::stdout()))
    }

    /// Writes to `out` (tests, stderr).
    pub fn with_writer(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    /// The lines for a request, without trailing newlines.
    pub fn format_request(req: &ExportTraceServiceRequest) -> Vec<String> {
        let mut lines = Vec::new();
        for rs in &req.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| find(&r.attributes, "service.name"))
                .map(format_value);
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    lines.push(format_span(span, service.as_deref()));
                }
            }
        }
        lines
    }
}

fn find<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

fn format_value(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => hex::encode(b),
        Some(any_value::Value::ArrayValue(a)) => format!(
            "[{}]",
            a.values
                .iter()
                .map(format_value)
                .collect::<Vec<_>>()
                .join(",")
        ),
        Some(any_value::Value::KvlistValue(kv)) => format!("{{{} keys}}", kv.values.len()),
        Some(any_value::Value::StringValueStrindex(i)) => format!("#{i}"),
        None => String::new(),
    }
}

fn format_span(span: &Span, service: Option<&str>) -> String {
    let kind = match SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified) {
        SpanKind::Unspecified => "UNSPECIFIED",
        SpanKind::Internal => "INTERNAL",
        SpanKind::Server => "SERVER",
        SpanKind::Client => "CLIENT",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
    };
    let nanos = span
        .end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano);
    let status = match &span.status {
        Some(s) => match StatusCode::try_from(s.code).unwrap_or(StatusCode::Unset) {
            StatusCode::Ok => "OK".to_owned(),
            StatusCode::Error if s.message.is_empty() => "ERROR".to_owned(),
            StatusCode::Error => format!("ERROR({})", s.message),
            StatusCode::Unset => "UNSET".to_owned(),
        },
        None => "UNSET".to_owned(),
    };
    let parent = if span.parent_span_id.is_empty() {
        "-".to_owned()
    } else {
        hex::encode(&span.parent_span_id)
    };
    let mut line = format!(
        "{} {} parent={} {:?} {} {:.3}ms {}",
        hex::encode(&span.trace_id),
        hex::encode(&span.span_id),
        parent,
        span.name,
        kind,
        nanos as f64 / 1e6,
        status,
    );
    if let Some(service) = service {
        let _ = write!(line, " service={service}");
    }
    for key in KEY_ATTRIBUTES
        .iter()
        .filter_map(|k| find(&span.attributes, k).map(|v| (k, v)))
        .take(MAX_SHOWN)
    {
        let _ = write!(line, " {}={}", key.0, format_value(key.1));
    }
    line
}

impl ConsoleExporter {
    /// Writes `(line, items)` pairs; counts the items as exported.
    fn write_lines(&self, lines: Vec<(String, u64)>) -> Result<ExportOutcome, ExportError> {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let mut items = 0;
        for (line, n) in &lines {
            writeln!(out, "{line}").map_err(ExportError::Io)?;
            items += n;
        }
        out.flush()?;
        Ok(ExportOutcome {
            requests: 1,
            spans_exported: items,
            ..ExportOutcome::default()
        })
    }
}

impl BatchExporter for ConsoleExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        Box::pin(async move {
            let lines = Self::format_request(&batch);
            let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
            for line in &lines {
                writeln!(out, "{line}").map_err(ExportError::Io)?;
            }
            out.flush()?;
            Ok(ExportOutcome {
                requests: 1,
                spans_exported: lines.len() as u64,
                ..ExportOutcome::default()
            })
        })
    }

    fn export_metrics(&self, batch: ExportMetricsServiceRequest) -> ExportFuture<'_> {
        let mut lines = Vec::new();
        for rm in &batch.resource_metrics {
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    lines.push((
                        format!(
                            "metric {} unit={:?} points={}",
                            m.name,
                            m.unit,
                            super::metric_points(m)
                        ),
                        super::metric_points(m) as u64,
                    ));
                }
            }
        }
        Box::pin(async move { self.write_lines(lines) })
    }

    fn export_logs(&self, batch: ExportLogsServiceRequest) -> ExportFuture<'_> {
        let mut lines = Vec::new();
        for rl in &batch.resource_logs {
            for sl in &rl.scope_logs {
                for r in &sl.log_records {
                    let body = r.body.as_ref().map(format_value).unwrap_or_default();
                    lines.push((
                        format!(
                            "log {} {} trace={} span={} {body}",
                            r.time_unix_nano,
                            r.severity_text,
                            hex::encode(&r.trace_id),
                            hex::encode(&r.span_id)
                        ),
                        1,
                    ));
                }
            }
        }
        Box::pin(async move { self.write_lines(lines) })
    }

    fn force_flush(&self) -> Result<(), ExportError> {
        Ok(self.out.lock().unwrap_or_else(|p| p.into_inner()).flush()?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::encode::tests::request;
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::Status;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn one_line_per_span() {
        let mut req = request(&[("checkout", 2)], 3);
        let span = &mut req.resource_spans[0].scope_spans[0].spans[1];
        span.parent_span_id.clear();
        span.kind = 3;
        span.status = Some(Status {
            code: 2,
            message: "boom".into(),
        });
        span.attributes.push(KeyValue {
            key: "http.request.method".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("GET".into())),
            }),
            ..Default::default()
        });
        let buf = Shared::default();
        let exporter = ConsoleExporter::with_writer(Box::new(buf.clone()));
        let outcome = exporter.export(req).await.unwrap();
        assert_eq!(outcome.spans_exported, 2);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            vec![
                "5b8efff798038103d269b633813fc60c eee19b7ec3c1b174 parent=eee19b7ec3c1b173 \"span-0\" SERVER 1000.000ms OK service=checkout",
                "5b8efff798038103d269b633813fc60c eee19b7ec3c1b174 parent=- \"span-1\" CLIENT 1000.000ms ERROR(boom) service=checkout http.request.method=GET",
            ]
        );
    }
}
