//! [`AnomalyCaptureProcessor`]: the span processor that runs X-Ray adaptive
//! sampling at span end ([`XraySampler::on_span_end`]) and exports the
//! captured spans of not-sampled traces, marked
//! `aws.trace.flag.sampled=false`, to the exporters it was given (ADOT's
//! `BatchUnsampledSpanProcessor`). The regular batch processors export only
//! sampled spans, so nothing is exported twice.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use tokio::sync::mpsc;

use super::adaptive::TRACE_FLAG_SAMPLED_ATTRIBUTE;
use super::sampler::XraySampler;

/// Captured spans waiting for export per exporter; more are dropped (and
/// counted): the capture limit keeps the flow small, this bounds memory if
/// an exporter stalls.
pub const CAPTURE_QUEUE: usize = 2048;
/// Most captured spans per export call.
pub const CAPTURE_BATCH: usize = 512;
/// How long the first captured span waits for company before export.
const CAPTURE_DELAY: Duration = Duration::from_secs(1);

/// Runs adaptive sampling on every recorded span's end and exports the
/// captured spans of not-sampled traces. Add it to the tracer provider
/// beside the batch processors; the sampler must record not-sampled spans
/// ([`crate::sampling::ConfiguredSampler`] does when adaptive sampling is
/// active).
#[derive(Debug)]
pub struct AnomalyCaptureProcessor {
    sampler: XraySampler,
    sinks: Mutex<Vec<mpsc::Sender<SpanData>>>,
    dropped: AtomicU64,
    captured: AtomicU64,
}

impl AnomalyCaptureProcessor {
    /// A processor exporting captured spans to each of `exporters` (their
    /// resource already set), each from its own task on the current tokio
    /// runtime; outside a runtime spans are still counted but none captured.
    pub fn new<E: SpanExporter + 'static>(sampler: XraySampler, exporters: Vec<E>) -> Self {
        let rt = tokio::runtime::Handle::try_current().ok();
        if rt.is_none() && !exporters.is_empty() {
            tracing::warn!(
                "X-Ray anomaly trace capture needs a tokio runtime; captured spans are not exported"
            );
        }
        let sinks = rt
            .map(|rt| {
                exporters
                    .into_iter()
                    .map(|e| {
                        let (tx, rx) = mpsc::channel(CAPTURE_QUEUE);
                        rt.spawn(export_loop(e, rx));
                        tx
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            sampler,
            sinks: Mutex::new(sinks),
            dropped: AtomicU64::new(0),
            captured: AtomicU64::new(0),
        }
    }

    /// Spans captured so far (each counted once, whatever the number of exporters).
    pub fn captured(&self) -> u64 {
        self.captured.load(Ordering::Relaxed)
    }

    /// Captured spans dropped because an exporter's queue was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn export_loop<E: SpanExporter>(exporter: E, mut rx: mpsc::Receiver<SpanData>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + CAPTURE_DELAY;
        while batch.len() < CAPTURE_BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(span)) => batch.push(span),
                Ok(None) | Err(_) => break,
            }
        }
        let n = batch.len();
        if let Err(err) = exporter.export(batch).await {
            tracing::warn!(%err, spans = n, "cannot export captured anomaly spans");
        }
    }
    let _ = exporter.shutdown();
}

impl SpanProcessor for AnomalyCaptureProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, mut span: SpanData) {
        if !self.sampler.on_span_end(&span) {
            return;
        }
        self.captured.fetch_add(1, Ordering::Relaxed);
        span.attributes
            .push(KeyValue::new(TRACE_FLAG_SAMPLED_ATTRIBUTE, false));
        let sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        let Some((last, rest)) = sinks.split_last() else {
            return;
        };
        for tx in rest {
            if tx.try_send(span.clone()).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        if last.try_send(span).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    /// Closes the queues: each export task sends what it holds, then shuts
    /// its exporter down (best effort; this call does not wait for them).
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.sinks.lock().unwrap_or_else(|p| p.into_inner()).clear();
        Ok(())
    }
}
