//! The `awsemf` exporter: OTLP metrics batches → EMF events → stdout or
//! CloudWatch Logs (PutLogEvents, feature `cloudwatch-logs`). One
//! [`EmfEncoder`] per exporter keeps the cumulative-sum state. A
//! [`BatchExporter`] like the others, for metrics only: traces and logs are
//! refused with [`ExportError::Unsupported`].

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

#[cfg(feature = "cloudwatch-logs")]
use super::PutLogEventsSender;
use super::{EmfEncoder, StdoutWriter};
use crate::export::{BatchExporter, ExportError, ExportFuture, ExportOutcome, ExportStats};

/// Where EMF events go.
#[derive(Debug)]
pub enum EmfOutput {
    /// One line per event on stdout (Lambda: the log pipeline extracts them).
    Stdout(StdoutWriter),
    /// PutLogEvents to each event's log group and stream.
    #[cfg(feature = "cloudwatch-logs")]
    CloudWatch(PutLogEventsSender),
}

/// What the output did with a batch's events.
struct Sent {
    requests: u32,
    events_sent: u64,
    retries: u32,
}

impl EmfOutput {
    async fn send(&self, events: Vec<super::EmfEvent>) -> Result<Sent, ExportError> {
        match self {
            Self::Stdout(w) => {
                let n = w.write(&events)?;
                Ok(Sent {
                    requests: 1,
                    events_sent: n as u64,
                    retries: 0,
                })
            }
            #[cfg(feature = "cloudwatch-logs")]
            Self::CloudWatch(sender) => {
                let o = sender.send(events).await?;
                Ok(Sent {
                    requests: o.calls,
                    events_sent: o.events_sent,
                    retries: o.retries,
                })
            }
        }
    }
}

/// Encodes metrics batches as EMF and writes or sends them.
#[derive(Debug)]
pub struct EmfExporter {
    /// Name in log records (the sidecar's component id).
    id: String,
    encoder: EmfEncoder,
    output: EmfOutput,
    stats: Arc<ExportStats>,
}

impl EmfExporter {
    /// An exporter encoding with `encoder` into `output`.
    pub fn new(encoder: EmfEncoder, output: EmfOutput) -> Self {
        Self {
            id: "awsemf".to_owned(),
            encoder,
            output,
            stats: Arc::new(ExportStats::new()),
        }
    }

    /// Names the exporter `id` in log records (default `awsemf`).
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Counts into `stats` (data points as `spans_*`).
    #[must_use]
    pub fn with_stats(mut self, stats: Arc<ExportStats>) -> Self {
        self.stats = stats;
        self
    }

    /// The encoder (its configuration).
    pub fn encoder(&self) -> &EmfEncoder {
        &self.encoder
    }

    async fn export_batch(
        &self,
        batch: ExportMetricsServiceRequest,
    ) -> Result<ExportOutcome, ExportError> {
        let encoded = self.encoder.encode(&batch);
        drop(batch);
        let s = &encoded.stats;
        let skipped = s.dropped();
        if skipped > 0 || s.events_dropped > 0 {
            tracing::debug!(
                exporter = %self.id,
                skipped,
                events_dropped = s.events_dropped,
                "awsemf: data points skipped (no recorded value, non-finite, bad buckets, untracked, duplicate) or documents dropped (over 1 MB)"
            );
        }
        ExportStats::add(&self.stats.spans_dropped, skipped);
        let n = encoded.events.len() as u64;
        if n == 0 {
            return Ok(ExportOutcome {
                spans_dropped: skipped,
                ..ExportOutcome::default()
            });
        }
        let sent = match self.output.send(encoded.events).await {
            Ok(sent) => sent,
            Err(e) => {
                self.stats.set_last_error(e.to_string());
                ExportStats::add(&self.stats.spans_dropped, s.converted);
                return Err(e);
            }
        };
        // Points are counted by the share of their batch's documents that arrived.
        let delivered = if sent.events_sent >= n {
            s.converted
        } else {
            s.converted * sent.events_sent / n
        };
        let outcome = ExportOutcome {
            requests: sent.requests,
            spans_exported: delivered,
            spans_dropped: skipped + (s.converted - delivered),
            retries: sent.retries,
        };
        ExportStats::add(&self.stats.requests, u64::from(outcome.requests));
        ExportStats::add(&self.stats.spans_exported, outcome.spans_exported);
        ExportStats::add(&self.stats.spans_dropped, s.converted - delivered);
        ExportStats::add(&self.stats.retries, u64::from(outcome.retries));
        Ok(outcome)
    }
}

impl BatchExporter for EmfExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        drop(batch);
        Box::pin(async { Err(ExportError::Unsupported { signal: "traces" }) })
    }

    fn export_metrics(&self, batch: ExportMetricsServiceRequest) -> ExportFuture<'_> {
        Box::pin(self.export_batch(batch))
    }

    fn stats(&self) -> Option<Arc<ExportStats>> {
        Some(self.stats.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emf::EmfConfig;
    use crate::emf::stdout::tests::Shared;
    use crate::emf::tests::gauge_batch;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

    #[tokio::test]
    async fn writes_one_document_per_line_counts_skipped_points_and_refuses_other_signals() {
        let buf = Shared::default();
        let exporter = EmfExporter::new(
            EmfEncoder::new(EmfConfig {
                namespace: Some("Shop".into()),
                ..EmfConfig::default()
            })
            .unwrap(),
            EmfOutput::Stdout(StdoutWriter::to_writer(Box::new(buf.clone()))),
        );
        // A non-finite value is skipped and counted; the finite one is written.
        let out = exporter
            .export_metrics(gauge_batch(
                "queue.depth",
                1_700_000_000_000_000_000,
                &[7.0, f64::NAN],
            ))
            .await
            .unwrap();
        assert_eq!((out.spans_exported, out.spans_dropped), (1, 1));
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let doc: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        // EMF specification: `_aws.Timestamp` in ms, the namespace, the value at the top level.
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Shop");
        assert_eq!(doc["queue.depth"], 7.0);
        assert_eq!(exporter.stats().unwrap().snapshot().spans_dropped, 1);
        let err = exporter
            .export(ExportTraceServiceRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(err, ExportError::Unsupported { signal: "traces" }));
        let err = exporter
            .export_logs(ExportLogsServiceRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(err, ExportError::Unsupported { signal: "logs" }));
    }
}
