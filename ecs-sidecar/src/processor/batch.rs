//! `batch`: groups incoming batches until `send_batch_size` spans are held
//! or `timeout` passes, and splits at `send_batch_max_size`. Pure state; the
//! pipeline worker owns the timer.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::export::{Limits, span_count, split_request};

use crate::processor::MemoryPermit;

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

/// A batch ready for the exporters, with the memory it accounts for.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// The spans.
    pub request: ExportTraceServiceRequest,
    /// Span count of `request`.
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
        request: ExportTraceServiceRequest,
        spans: usize,
        permit: Option<MemoryPermit>,
    ) -> Vec<Outgoing> {
        self.current
            .request
            .resource_spans
            .extend(request.resource_spans);
        self.current.spans += spans;
        self.current.permits.extend(permit);
        if self.current.spans >= self.settings.send_batch_size {
            self.flush()
        } else {
            Vec::new()
        }
    }

    /// Takes everything held (timeout or shutdown), split at `send_batch_max_size`.
    pub fn flush(&mut self) -> Vec<Outgoing> {
        if self.current.spans == 0 && self.current.request.resource_spans.is_empty() {
            return Vec::new();
        }
        let out = std::mem::take(&mut self.current);
        let max = self.settings.send_batch_max_size;
        if max == 0 || out.spans <= max {
            return vec![out];
        }
        let limits = Limits {
            max_spans_per_request: max,
            max_request_bytes: usize::MAX,
            max_span_bytes: usize::MAX,
        };
        let parts = split_request(out.request, &limits).requests;
        let mut permits = Some(out.permits);
        parts
            .into_iter()
            .map(|request| Outgoing {
                spans: span_count(&request),
                request,
                // The memory is released with the first part: good enough, the parts leave together.
                permits: permits.take().unwrap_or_default(),
            })
            .collect()
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
        assert!(b.push(req(4), 4, None).is_empty());
        assert!(b.push(req(5), 5, None).is_empty());
        let out = b.push(req(16), 16, None);
        let sizes: Vec<usize> = out.iter().map(|o| o.spans).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 25);
        assert!(sizes.iter().all(|s| *s <= 12), "{sizes:?}");
        assert_eq!(b.held_spans(), 0);
        assert!(b.flush().is_empty());
        b.push(req(3), 3, None);
        let out = b.flush();
        assert_eq!(out.len(), 1);
        assert_eq!(span_count(&out[0].request), 3);
    }

    #[test]
    fn passthrough_sends_each_input() {
        let mut b = Batcher::new(BatchSettings::passthrough());
        assert_eq!(b.push(req(2), 2, None).len(), 1);
    }
}
