//! `debug` exporter at `verbosity: basic`: one log line per batch, any signal.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::export::{BatchExporter, ExportFuture, ExportOutcome, OtlpBatch};

/// Logs the item count of each batch (`normal`/`detailed` use the distro's console exporter).
#[derive(Debug)]
pub struct CountingDebugExporter {
    id: String,
}

impl CountingDebugExporter {
    /// A debug exporter named `id`.
    pub fn new(id: &str) -> Self {
        Self { id: id.to_owned() }
    }

    /// The collector's line names: `TracesExporter`, `MetricsExporter`, `LogsExporter`.
    fn log<B: OtlpBatch>(&self, batch: &B, line: &'static str) -> ExportFuture<'_> {
        let items = batch.items() as u64;
        tracing::info!(exporter = %self.id, signal = B::SIGNAL, items, "{line}");
        Box::pin(async move {
            Ok(ExportOutcome {
                requests: 0,
                spans_exported: items,
                ..ExportOutcome::default()
            })
        })
    }
}

impl BatchExporter for CountingDebugExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        self.log(&batch, "TracesExporter")
    }

    fn export_metrics(&self, batch: ExportMetricsServiceRequest) -> ExportFuture<'_> {
        self.log(&batch, "MetricsExporter")
    }

    fn export_logs(&self, batch: ExportLogsServiceRequest) -> ExportFuture<'_> {
        self.log(&batch, "LogsExporter")
    }
}
