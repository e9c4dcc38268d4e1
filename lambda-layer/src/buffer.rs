//! The extension's in-memory span buffer: bounded by span count and encoded
//! bytes; what does not fit is dropped and counted, never queued elsewhere.
//!
//! The receivers push into it synchronously (it is their `TraceSink`); the
//! flusher takes everything at once and, when an export does not complete,
//! puts the batch back at the front (still bounded: what no longer fits is
//! dropped and counted).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use otel_aws_distro::export::span_count;
use prost::Message;

use crate::clock::Clock;
use crate::config::BufferLimits;

/// Counters the buffer keeps (self-telemetry).
#[derive(Debug, Default)]
pub struct BufferStats {
    /// Spans accepted into the buffer.
    pub spans_accepted: AtomicU64,
    /// Spans dropped because the buffer was full.
    pub spans_dropped: AtomicU64,
    /// Spans put back after an export that did not complete.
    pub spans_requeued: AtomicU64,
}

/// What one push did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Spans kept.
    pub kept: usize,
    /// Spans dropped (over the bounds).
    pub dropped: usize,
}

/// Everything taken out of the buffer for one flush.
#[derive(Debug, Default)]
pub struct Taken {
    /// All held batches merged into one request.
    pub batch: ExportTraceServiceRequest,
    /// Spans in it.
    pub spans: usize,
    /// Encoded bytes (as counted by the buffer).
    pub bytes: usize,
    /// When the oldest of them arrived.
    pub since: Option<Duration>,
}

#[derive(Debug, Default)]
struct Inner {
    resource_spans: Vec<ResourceSpans>,
    spans: usize,
    bytes: usize,
    since: Option<Duration>,
}

/// The bounded buffer; share it as `Arc<SpanBuffer>`.
#[derive(Debug)]
pub struct SpanBuffer {
    inner: Mutex<Inner>,
    limits: BufferLimits,
    clock: Arc<dyn Clock>,
    stats: BufferStats,
    data: tokio::sync::Notify,
}

impl SpanBuffer {
    /// An empty buffer with these bounds.
    pub fn new(limits: BufferLimits, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            limits,
            clock,
            stats: BufferStats::default(),
            data: tokio::sync::Notify::new(),
        }
    }

    /// The buffer's counters.
    pub fn stats(&self) -> &BufferStats {
        &self.stats
    }

    /// Spans held now.
    pub fn spans(&self) -> usize {
        self.lock().spans
    }

    /// When the oldest held span arrived (`None` when empty).
    pub fn held_since(&self) -> Option<Duration> {
        self.lock().since
    }

    /// True when the buffer is over half of either bound.
    pub fn under_pressure(&self) -> bool {
        let inner = self.lock();
        inner.spans * 2 > self.limits.max_spans || inner.bytes * 2 > self.limits.max_bytes
    }

    /// Resolves when spans arrive after this call.
    pub fn data_arrived(&self) -> tokio::sync::futures::Notified<'_> {
        self.data.notified()
    }

    /// Adds a batch, keeping what fits in the bounds and dropping (and
    /// counting) the rest.
    pub fn push(&self, batch: ExportTraceServiceRequest) -> PushOutcome {
        let outcome = self.insert(batch, false);
        self.stats
            .spans_accepted
            .fetch_add(outcome.kept as u64, Ordering::Relaxed);
        if outcome.kept > 0 {
            self.data.notify_waiters();
        }
        outcome
    }

    /// Puts back a batch whose export did not complete, ahead of newer data.
    pub fn requeue(&self, taken: Taken) -> PushOutcome {
        let since = taken.since;
        let outcome = self.insert(taken.batch, true);
        if let Some(since) = since {
            let mut inner = self.lock();
            inner.since = Some(inner.since.map_or(since, |s| s.min(since)));
        }
        self.stats
            .spans_requeued
            .fetch_add(outcome.kept as u64, Ordering::Relaxed);
        outcome
    }

    /// Takes everything held (empty `Taken` when nothing is).
    pub fn take(&self) -> Taken {
        let mut inner = self.lock();
        let inner = std::mem::take(&mut *inner);
        Taken {
            batch: ExportTraceServiceRequest {
                resource_spans: inner.resource_spans,
            },
            spans: inner.spans,
            bytes: inner.bytes,
            since: inner.since,
        }
    }

    fn insert(&self, mut batch: ExportTraceServiceRequest, front: bool) -> PushOutcome {
        let spans = span_count(&batch);
        if spans == 0 {
            return PushOutcome::default();
        }
        let bytes = batch.encoded_len();
        let mut inner = self.lock();
        let room_spans = self.limits.max_spans.saturating_sub(inner.spans);
        let room_bytes = self.limits.max_bytes.saturating_sub(inner.bytes);
        // Spans that fit by count, then by (average) size.
        let mut keep = spans.min(room_spans);
        if bytes > room_bytes {
            keep = keep.min(((room_bytes as u128 * spans as u128) / bytes as u128) as usize);
        }
        let dropped = spans - keep;
        if keep == 0 {
            drop(inner);
            self.count_dropped(dropped);
            return PushOutcome { kept: 0, dropped };
        }
        let kept_bytes = if dropped > 0 {
            truncate_spans(&mut batch, keep);
            batch.encoded_len()
        } else {
            bytes
        };
        inner.spans += keep;
        inner.bytes += kept_bytes;
        if inner.since.is_none() {
            inner.since = Some(self.clock.now());
        }
        if front {
            let mut rs = batch.resource_spans;
            rs.append(&mut inner.resource_spans);
            inner.resource_spans = rs;
        } else {
            inner.resource_spans.append(&mut batch.resource_spans);
        }
        drop(inner);
        self.count_dropped(dropped);
        PushOutcome {
            kept: keep,
            dropped,
        }
    }

    fn count_dropped(&self, dropped: usize) {
        if dropped > 0 {
            self.stats
                .spans_dropped
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Keeps the first `keep` spans of `batch` (in order), removing empty groups.
pub(crate) fn truncate_spans(batch: &mut ExportTraceServiceRequest, mut keep: usize) {
    for rs in &mut batch.resource_spans {
        for ss in &mut rs.scope_spans {
            let n = ss.spans.len().min(keep);
            ss.spans.truncate(n);
            keep -= n;
        }
        rs.scope_spans.retain(|ss| !ss.spans.is_empty());
    }
    batch.resource_spans.retain(|rs| !rs.scope_spans.is_empty());
}

/// The buffer as the receivers' sink: keeps what fits, reports the rest to
/// the sender as an OTLP `partial_success` (never backpressure: a function
/// cannot wait for the extension to drain, the environment would freeze).
#[derive(Clone, Debug)]
pub struct BufferSink(pub Arc<SpanBuffer>);

impl otel_aws_distro::receiver::TraceSink for BufferSink {
    fn accept(
        &self,
        batch: ExportTraceServiceRequest,
        _meta: otel_aws_distro::receiver::RequestMeta,
    ) -> Result<otel_aws_distro::receiver::Accepted, otel_aws_distro::receiver::Backpressure> {
        let out = self.0.push(batch);
        Ok(if out.dropped == 0 {
            otel_aws_distro::receiver::Accepted::all()
        } else {
            otel_aws_distro::receiver::Accepted::partial(
                out.dropped as u64,
                format!(
                    "otel-aws-extension buffer full: {} span(s) dropped (raise {})",
                    out.dropped,
                    crate::config::OTEL_AWS_LAMBDA_MAX_BUFFERED_SPANS
                ),
            )
        })
    }
}
