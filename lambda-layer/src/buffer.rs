//! The extension's in-memory buffers, one per signal: bounded by item
//! count (spans, data points, log records) and encoded bytes; what does
//! not fit is dropped and counted, never queued elsewhere.
//!
//! The receivers push into them synchronously (they are their sinks); the
//! flusher takes everything at once and, when an export does not complete,
//! puts the batch back at the front (still bounded: what no longer fits is
//! dropped and counted).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::receiver::{Accepted, Backpressure, RequestMeta};

use crate::clock::Clock;
use crate::config::BufferLimits;
use crate::signal::Batch;

/// Counters a buffer keeps (self-telemetry); "spans" are the signal's items.
#[derive(Debug, Default)]
pub struct BufferStats {
    /// Items accepted into the buffer.
    pub spans_accepted: AtomicU64,
    /// Items dropped because the buffer was full.
    pub spans_dropped: AtomicU64,
    /// Items put back after an export that did not complete.
    pub spans_requeued: AtomicU64,
}

/// What one push did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Items kept.
    pub kept: usize,
    /// Items dropped (over the bounds).
    pub dropped: usize,
}

/// Everything taken out of a buffer for one flush.
#[derive(Debug, Default)]
pub struct Taken<B = ExportTraceServiceRequest> {
    /// All held batches merged into one request.
    pub batch: B,
    /// Items in it.
    pub spans: usize,
    /// Encoded bytes (as counted by the buffer).
    pub bytes: usize,
    /// When the oldest of them arrived.
    pub since: Option<Duration>,
}

#[derive(Debug, Default)]
struct Inner<B> {
    batch: B,
    spans: usize,
    bytes: usize,
    since: Option<Duration>,
}

/// The bounded buffer of one signal; share it as `Arc<Buffer<B>>`.
#[derive(Debug)]
pub struct Buffer<B: Batch> {
    inner: Mutex<Inner<B>>,
    limits: BufferLimits,
    clock: Arc<dyn Clock>,
    stats: BufferStats,
    data: Arc<tokio::sync::Notify>,
}

/// The spans buffer.
pub type SpanBuffer = Buffer<ExportTraceServiceRequest>;
/// The metric data points buffer.
pub type MetricBuffer = Buffer<ExportMetricsServiceRequest>;
/// The log records buffer.
pub type LogBuffer = Buffer<ExportLogsServiceRequest>;

impl<B: Batch> Buffer<B> {
    /// An empty buffer with these bounds.
    pub fn new(limits: BufferLimits, clock: Arc<dyn Clock>) -> Self {
        Self::with_notify(limits, clock, Arc::default())
    }

    /// An empty buffer that wakes `data` when items arrive (one `Notify`
    /// shared by the three signals' buffers wakes the extension's timer).
    pub fn with_notify(
        limits: BufferLimits,
        clock: Arc<dyn Clock>,
        data: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            limits,
            clock,
            stats: BufferStats::default(),
            data,
        }
    }

    /// The buffer's counters.
    pub fn stats(&self) -> &BufferStats {
        &self.stats
    }

    /// Items held now.
    pub fn spans(&self) -> usize {
        self.lock().spans
    }

    /// When the oldest held item arrived (`None` when empty).
    pub fn held_since(&self) -> Option<Duration> {
        self.lock().since
    }

    /// True when the buffer is over half of either bound.
    pub fn under_pressure(&self) -> bool {
        let inner = self.lock();
        inner.spans * 2 > self.limits.max_spans || inner.bytes * 2 > self.limits.max_bytes
    }

    /// Resolves when items arrive after this call.
    pub fn data_arrived(&self) -> tokio::sync::futures::Notified<'_> {
        self.data.notified()
    }

    /// Adds a batch, keeping what fits in the bounds and dropping (and
    /// counting) the rest.
    pub fn push(&self, batch: B) -> PushOutcome {
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
    pub fn requeue(&self, taken: Taken<B>) -> PushOutcome {
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
    pub fn take(&self) -> Taken<B> {
        let mut inner = self.lock();
        let inner = std::mem::take(&mut *inner);
        Taken {
            batch: inner.batch,
            spans: inner.spans,
            bytes: inner.bytes,
            since: inner.since,
        }
    }

    fn insert(&self, mut batch: B, front: bool) -> PushOutcome {
        let spans = batch.items();
        if spans == 0 {
            return PushOutcome::default();
        }
        let bytes = batch.encoded_len();
        let mut inner = self.lock();
        let room_spans = self.limits.max_spans.saturating_sub(inner.spans);
        let room_bytes = self.limits.max_bytes.saturating_sub(inner.bytes);
        // Items that fit by count, then by (average) size.
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
            batch.truncate(keep);
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
            inner.batch.prepend(batch);
        } else {
            inner.batch.append(batch);
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<B>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A buffer as the receivers' sink: keeps what fits, reports the rest to
/// the sender as an OTLP `partial_success` (never backpressure: a function
/// cannot wait for the extension to drain, the environment would freeze).
#[derive(Clone, Debug)]
pub struct BufferSink<B: Batch = ExportTraceServiceRequest>(pub Arc<Buffer<B>>);

impl<B: Batch> BufferSink<B> {
    fn accept_batch(&self, batch: B) -> Accepted {
        let out = self.0.push(batch);
        if out.dropped == 0 {
            Accepted::all()
        } else {
            Accepted::partial(
                out.dropped as u64,
                format!(
                    "otel-aws-extension {} buffer full: {} {}(s) dropped (raise {} / {})",
                    B::SIGNAL,
                    out.dropped,
                    B::ITEM,
                    crate::config::OTEL_AWS_LAMBDA_MAX_BUFFERED_SPANS,
                    crate::config::OTEL_AWS_LAMBDA_MAX_BUFFERED_BYTES,
                ),
            )
        }
    }
}

impl otel_aws_distro::receiver::TraceSink for BufferSink<ExportTraceServiceRequest> {
    fn accept(
        &self,
        batch: ExportTraceServiceRequest,
        _meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        Ok(self.accept_batch(batch))
    }
}

impl otel_aws_distro::receiver::Sink<ExportMetricsServiceRequest>
    for BufferSink<ExportMetricsServiceRequest>
{
    fn accept(
        &self,
        batch: ExportMetricsServiceRequest,
        _meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        Ok(self.accept_batch(batch))
    }
}

impl otel_aws_distro::receiver::Sink<ExportLogsServiceRequest>
    for BufferSink<ExportLogsServiceRequest>
{
    fn accept(
        &self,
        batch: ExportLogsServiceRequest,
        _meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        Ok(self.accept_batch(batch))
    }
}
