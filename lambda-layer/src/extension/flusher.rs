//! One flush: take everything buffered (plus finished platform spans), add
//! the Lambda resource where missing, export to every exporter within a
//! time budget; what was not delivered in time, or hit a transient failure,
//! goes back into the buffer for the next chance and is counted.
//!
//! Delivery is at least once: when a budget runs out after part of a split
//! request was accepted, the whole batch is kept and may be sent again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use otel_aws_distro::export::{BatchExporter, ExportError, span_count};
use tokio::sync::watch;

use super::stats::{ExtensionStats, inc};
use crate::buffer::SpanBuffer;
use crate::platform_spans::PlatformSpans;
use crate::resource::merge_missing;

/// The exporters, built once off the init path (`None` until built).
pub type Exporters = watch::Receiver<Option<Arc<Vec<Arc<dyn BatchExporter>>>>>;

/// What one flush did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Spans taken for the flush.
    pub spans: usize,
    /// Spans the destinations accepted (the first exporter's count).
    pub exported: u64,
    /// Spans put back for a later flush.
    pub kept: usize,
    /// True when everything taken was dealt with (sent or dropped for good).
    pub complete: bool,
}

/// Flushes the buffer; share as `Arc<Flusher>`.
#[derive(Debug)]
pub struct Flusher {
    buffer: Arc<SpanBuffer>,
    exporters: Exporters,
    resource: Vec<KeyValue>,
    platform: Option<Arc<Mutex<PlatformSpans>>>,
    stats: Arc<ExtensionStats>,
    lock: tokio::sync::Mutex<()>,
}

enum Outcome {
    Done { exported: u64, dropped: u64 },
    Keep(String),
}

impl Flusher {
    /// A flusher over `buffer` exporting to `exporters` (awaited on first use).
    pub fn new(
        buffer: Arc<SpanBuffer>,
        exporters: Exporters,
        resource: Vec<KeyValue>,
        platform: Option<Arc<Mutex<PlatformSpans>>>,
        stats: Arc<ExtensionStats>,
    ) -> Self {
        Self {
            buffer,
            exporters,
            resource,
            platform,
            stats,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The buffer flushed.
    pub fn buffer(&self) -> &Arc<SpanBuffer> {
        &self.buffer
    }

    /// Platform invocations still waiting for their `platform.report`.
    pub fn platform_pending(&self) -> usize {
        self.platform
            .as_ref()
            .map_or(0, |p| p.lock().unwrap_or_else(|p| p.into_inner()).pending())
    }

    /// Exports everything held, giving up after `budget` (what was not sent
    /// is kept). Flushes never overlap: a second caller waits for the first.
    pub async fn flush(&self, budget: Duration) -> FlushReport {
        let start = tokio::time::Instant::now();
        let _serial = match tokio::time::timeout(budget, self.lock.lock()).await {
            Ok(g) => g,
            Err(_) => return FlushReport::default(),
        };
        let mut taken = self.buffer.take();
        if let Some(p) = &self.platform {
            let rs = p
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(&self.resource);
            if let Some(rs) = rs {
                taken.batch.resource_spans.push(rs);
            }
        }
        let spans = span_count(&taken.batch);
        if spans == 0 {
            return FlushReport {
                complete: true,
                ..FlushReport::default()
            };
        }
        taken.spans = spans;
        inc(&self.stats.flushes, 1);
        merge_missing(&mut taken.batch, &self.resource);

        let remaining = budget.saturating_sub(start.elapsed());
        let outcome = tokio::time::timeout(remaining, self.export(&taken.batch)).await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(_) => Outcome::Keep(format!(
                "the export did not finish within {} ms",
                budget.as_millis()
            )),
        };
        match outcome {
            Outcome::Done { exported, dropped } => {
                inc(&self.stats.spans_exported, exported);
                inc(&self.stats.spans_export_dropped, dropped);
                FlushReport {
                    spans,
                    exported,
                    kept: 0,
                    complete: true,
                }
            }
            Outcome::Keep(reason) => {
                inc(&self.stats.flushes_incomplete, 1);
                let kept = self.buffer.requeue(taken);
                tracing::warn!(
                    spans,
                    kept = kept.kept,
                    dropped = kept.dropped,
                    reason,
                    "flush incomplete: keeping the spans for the next flush"
                );
                FlushReport {
                    spans,
                    exported: 0,
                    kept: kept.kept,
                    complete: false,
                }
            }
        }
    }

    async fn export(
        &self,
        batch: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
    ) -> Outcome {
        // Built right after registration; the first flush may have to wait for it.
        let mut rx = self.exporters.clone();
        let exporters = match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or_default(),
            Err(_) => return Outcome::Keep("the exporters could not be built".into()),
        };
        if exporters.is_empty() {
            return Outcome::Done {
                exported: 0,
                dropped: span_count(batch) as u64,
            };
        }
        let results =
            futures_util::future::join_all(exporters.iter().map(|e| e.export(batch.clone()))).await;
        let mut exported = None;
        let mut dropped = 0;
        let mut keep = None;
        for r in results {
            match r {
                Ok(o) => {
                    exported.get_or_insert(o.spans_exported);
                    dropped += o.spans_dropped;
                }
                Err(
                    e @ (ExportError::Rejected { .. }
                    | ExportError::Encode(_)
                    | ExportError::Shutdown),
                ) => {
                    tracing::error!(error = %e, "spans dropped");
                    dropped += span_count(batch) as u64;
                    exported.get_or_insert(0);
                }
                Err(e) => keep = Some(e.to_string()),
            }
        }
        match keep {
            Some(reason) => Outcome::Keep(reason),
            None => Outcome::Done {
                exported: exported.unwrap_or(0),
                dropped,
            },
        }
    }
}
