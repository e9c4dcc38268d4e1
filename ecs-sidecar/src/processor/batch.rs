//! `batch`: groups incoming batches until `send_batch_size` spans are held
//! or `timeout` passes, and splits at `send_batch_max_size`. Pure state; the
//! pipeline worker owns the timer.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::export::{Limits, span_count, split_request};

use crate::processor::MemoryPermit;
use crate::receiver::legacy::RawSegment;

/// Settings of the batch processor (collector defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Flush a partial batch after this long.
    pub timeout: Duration,
    /// Flush once at least this many spans are held (0: flush every input at once).
    pub send_batch_size: usize,
    /// Largest batch sent (0: no limit).
    pub send_batch_max_size: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(200),
            send_batch_size: 8192,
            send_batch_max_size: 0,
        }
    }
}

impl BatchSettings {
    /// No batching: every input batch goes out as it came.
    pub fn passthrough() -> Self {
        Self {
            timeout: Duration::ZERO,
            send_batch_size: 0,
            send_batch_max_size: 0,
        }
    }
}

/// What flows through a pipeline. A traces pipeline carries OTLP spans for
/// every exporter, plus the legacy X-Ray documents of the UDP receiver in
/// the form each exporter takes (see [`crate::receiver::legacy`]); a
/// metrics or logs pipeline carries its one batch type in `metrics` / `logs`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Payload {
    /// OTLP spans (OTLP receivers, `T1S`/`T1U` datagrams): for every exporter.
    pub request: ExportTraceServiceRequest,
    /// Legacy documents translated to spans: for exporters other than `awsxray`.
    pub translated: ExportTraceServiceRequest,
    /// Legacy documents as they came: for `awsxray` exporters.
    pub segments: Vec<RawSegment>,
    /// OTLP metrics (metrics pipelines).
    pub metrics: ExportMetricsServiceRequest,
    /// OTLP logs (logs pipelines).
    pub logs: ExportLogsServiceRequest,
}

impl Payload {
    /// OTLP spans only.
    pub fn otlp(request: ExportTraceServiceRequest) -> Self {
        Self {
            request,
            ..Self::default()
        }
    }

    /// OTLP metrics only.
    pub fn metrics(metrics: ExportMetricsServiceRequest) -> Self {
        Self {
            metrics,
            ..Self::default()
        }
    }

    /// OTLP logs only.
    pub fn logs(logs: ExportLogsServiceRequest) -> Self {
        Self {
            logs,
            ..Self::default()
        }
    }

    /// Appends `other`.
    pub fn extend(&mut self, other: Payload) {
        self.request
            .resource_spans
            .extend(other.request.resource_spans);
        self.translated
            .resource_spans
            .extend(other.translated.resource_spans);
        self.segments.extend(other.segments);
        self.metrics
            .resource_metrics
            .extend(other.metrics.resource_metrics);
        self.logs.resource_logs.extend(other.logs.resource_logs);
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.request.resource_spans.is_empty()
            && self.translated.resource_spans.is_empty()
            && self.segments.is_empty()
            && self.metrics.resource_metrics.is_empty()
            && self.logs.resource_logs.is_empty()
    }

    /// What an exporter that takes OTLP gets: `request` and `translated` in one request.
    pub fn into_otlp(mut self) -> ExportTraceServiceRequest {
        self.request
            .resource_spans
            .extend(self.translated.resource_spans);
        self.request
    }
}

/// A batch ready for the exporters, with the memory it accounts for.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// The data.
    pub payload: Payload,
    /// Units held: spans, plus legacy documents counted once each (as spans
    /// when translated, as documents when only passed through).
    pub spans: usize,
    /// Memory permits released once every exporter is done with it.
    pub permits: Vec<MemoryPermit>,
}

/// Accumulates input batches.
#[derive(Debug, Default)]
pub struct Batcher {
    settings: BatchSettings,
    current: Outgoing,
}

impl Batcher {
    /// An empty batcher.
    pub fn new(settings: BatchSettings) -> Self {
        Self {
            settings,
            current: Outgoing::default(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> BatchSettings {
        self.settings
    }

    /// Spans held.
    pub fn held_spans(&self) -> usize {
        self.current.spans
    }

    /// Adds a batch; returns the batches to send now (empty while below `send_batch_size`).
    pub fn push(
        &mut self,
        payload: Payload,
        spans: usize,
        permit: Option<MemoryPermit>,
    ) -> Vec<Outgoing> {
        self.current.payload.extend(payload);
        self.current.spans += spans;
        self.current.permits.extend(permit);
        if self.current.spans >= self.settings.send_batch_size {
            self.flush()
        } else {
            Vec::new()
        }
    }

    /// Takes everything held (timeout or shutdown), split at `send_batch_max_size`.
    ///
    /// Only the OTLP spans are split; legacy documents leave with the first
    /// part (the exporters split again to their destination's limits).
    pub fn flush(&mut self) -> Vec<Outgoing> {
        if self.current.spans == 0 && self.current.payload.is_empty() {
            return Vec::new();
        }
        let out = std::mem::take(&mut self.current);
        let max = self.settings.send_batch_max_size;
        // Metrics and logs batches are not split here: their exporters split
        // to their destination's limits (EMF: 100 metrics per document).
        let other_signal = !out.payload.metrics.resource_metrics.is_empty()
            || !out.payload.logs.resource_logs.is_empty();
        if max == 0 || out.spans <= max || other_signal {
            return vec![out];
        }
        let Payload {
            request,
            translated,
            segments,
            ..
        } = out.payload;
        let limits = Limits {
            max_spans_per_request: max,
            max_request_bytes: usize::MAX,
            max_span_bytes: usize::MAX,
        };
        let parts = split_request(request, &limits).requests;
        let total = out.spans;
        let mut permits = Some(out.permits);
        let mut batches: Vec<Outgoing> = parts
            .into_iter()
            .map(|request| Outgoing {
                spans: span_count(&request),
                payload: Payload::otlp(request),
                // The memory is released with the first part: good enough, the parts leave together.
                permits: permits.take().unwrap_or_default(),
            })
            .collect();
        let otlp: usize = batches.iter().map(|b| b.spans).sum();
        if batches.is_empty() {
            batches.push(Outgoing::default());
        }
        let first = &mut batches[0];
        first.spans += total.saturating_sub(otlp);
        first.payload.translated = translated;
        first.payload.segments = segments;
        first.permits.extend(permits.take().unwrap_or_default());
        batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn req(n: usize) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..n).map(|_| Span::default()).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn flushes_at_size_and_splits_at_max() {
        let mut b = Batcher::new(BatchSettings {
            timeout: Duration::from_secs(1),
            send_batch_size: 10,
            send_batch_max_size: 12,
        });
        assert!(b.push(Payload::otlp(req(4)), 4, None).is_empty());
        assert!(b.push(Payload::otlp(req(5)), 5, None).is_empty());
        let out = b.push(Payload::otlp(req(16)), 16, None);
        let sizes: Vec<usize> = out.iter().map(|o| o.spans).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 25);
        assert!(sizes.iter().all(|s| *s <= 12), "{sizes:?}");
        assert_eq!(b.held_spans(), 0);
        assert!(b.flush().is_empty());
        b.push(Payload::otlp(req(3)), 3, None);
        let out = b.flush();
        assert_eq!(out.len(), 1);
        assert_eq!(span_count(&out[0].payload.request), 3);
    }

    #[test]
    fn passthrough_sends_each_input() {
        let mut b = Batcher::new(BatchSettings::passthrough());
        assert_eq!(b.push(Payload::otlp(req(2)), 2, None).len(), 1);
    }
}
