//! `debug` exporter at `verbosity: basic`: one log line per batch.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::export::{BatchExporter, ExportFuture, ExportOutcome, span_count};

/// Logs the span count of each batch (`normal`/`detailed` use the distro's console exporter).
#[derive(Debug)]
pub struct CountingDebugExporter {
    id: String,
}

impl CountingDebugExporter {
    /// A debug exporter named `id`.
    pub fn new(id: &str) -> Self {
        Self { id: id.to_owned() }
    }
}

impl BatchExporter for CountingDebugExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        let spans = span_count(&batch) as u64;
        Box::pin(async move {
            tracing::info!(exporter = %self.id, spans, resource_spans = batch.resource_spans.len(), "TracesExporter");
            Ok(ExportOutcome {
                requests: 0,
                spans_exported: spans,
                ..ExportOutcome::default()
            })
        })
    }
}
