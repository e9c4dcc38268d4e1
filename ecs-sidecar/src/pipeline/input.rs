//! The front of a pipeline: admission (memory limiter, bounded queue) and
//! the [`TraceSink`] each receiver pushes into.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use otel_aws_distro::receiver::{
    Accepted, Backpressure, ExportLogsServiceRequest, ExportMetricsServiceRequest,
    ExportTraceServiceRequest, RequestMeta, Reservation, Sink, TraceSink,
};
use tokio::sync::mpsc;

use crate::processor::batch::Payload;
use crate::processor::{MemoryLimiter, MemoryPermit};
use crate::telemetry::Counters;

/// Suggested retry delay when the queue is full.
pub const QUEUE_FULL_RETRY_AFTER: Duration = Duration::from_secs(1);

/// One accepted batch on its way to the batch processor.
#[derive(Debug)]
pub struct Item {
    /// The data.
    pub payload: Payload,
    /// Units (spans; legacy documents once each).
    pub spans: usize,
    /// Memory accounted to it (when a memory limiter is configured).
    pub permit: Option<MemoryPermit>,
}

/// Admission into one pipeline; shared by its receivers.
#[derive(Debug)]
pub struct PipelineInput {
    name: String,
    tx: mpsc::UnboundedSender<Item>,
    queued_spans: AtomicUsize,
    capacity_spans: usize,
    memory: Option<Arc<MemoryLimiter>>,
    max_span_bytes: Option<usize>,
}

impl PipelineInput {
    /// A new input holding at most `capacity_spans` spans not yet taken by
    /// the batch processor; OTLP spans larger than `max_span_bytes` encoded
    /// (what an exporter would drop) are refused as a partial success.
    pub fn new(
        name: &str,
        capacity_spans: usize,
        memory: Option<Arc<MemoryLimiter>>,
        max_span_bytes: Option<usize>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Item>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(Self {
                name: name.to_owned(),
                tx,
                queued_spans: AtomicUsize::new(0),
                capacity_spans: capacity_spans.max(1),
                memory,
                max_span_bytes,
            }),
            rx,
        )
    }

    /// Offers a batch of `spans` spans, accounted by its in-memory size
    /// ([`crate::processor::size`]). Never blocks: refuses with
    /// [`Backpressure`] when over the memory limit, when the queue is full
    /// or after shutdown began.
    pub fn offer(&self, payload: Payload, spans: usize) -> Result<(), Backpressure> {
        let bytes = crate::processor::size::payload_bytes(&payload);
        let permit = self.reserve(bytes)?.map(|p| p.with_spans(spans as u64));
        let before = self.queued_spans.fetch_add(spans, Ordering::AcqRel);
        // Always let one batch in when the queue is empty, however large.
        if before > 0 && before + spans > self.capacity_spans {
            self.queued_spans.fetch_sub(spans, Ordering::AcqRel);
            return Err(Backpressure::new(
                format!(
                    "pipeline {} is full ({} spans waiting for export); retry later",
                    self.name, before
                ),
                QUEUE_FULL_RETRY_AFTER,
            ));
        }
        let item = Item {
            payload,
            spans,
            permit,
        };
        if self.tx.send(item).is_err() {
            self.queued_spans.fetch_sub(spans, Ordering::AcqRel);
            return Err(Backpressure::new(
                "the sidecar is shutting down",
                QUEUE_FULL_RETRY_AFTER,
            ));
        }
        Ok(())
    }

    /// Accounts `bytes` about to be held (a body being received) with the
    /// memory limiter; `None` without one.
    pub fn reserve(&self, bytes: usize) -> Result<Option<MemoryPermit>, Backpressure> {
        match &self.memory {
            Some(m) => m.admit(bytes as u64).map(Some),
            None => Ok(None),
        }
    }

    /// As [`PipelineInput::reserve`], for data held a long time (in-progress
    /// UDP documents): at most half the memory budget.
    pub fn reserve_long_lived(&self, bytes: usize) -> Result<Option<MemoryPermit>, Backpressure> {
        match &self.memory {
            Some(m) => m.admit_long_lived(bytes as u64).map(Some),
            None => Ok(None),
        }
    }

    /// The memory limiter of this pipeline.
    pub fn memory(&self) -> Option<&Arc<MemoryLimiter>> {
        self.memory.as_ref()
    }

    /// Called by the worker for each item it takes.
    pub(crate) fn taken(&self, spans: usize) {
        self.queued_spans.fetch_sub(spans, Ordering::AcqRel);
    }

    /// Spans accepted but not yet taken by the batch processor.
    pub fn queued_spans(&self) -> usize {
        self.queued_spans.load(Ordering::Acquire)
    }
}

/// What a receiver pushes into: the pipeline input plus the receiver's counters.
#[derive(Clone, Debug)]
pub struct ReceiverSink {
    input: Arc<PipelineInput>,
    counters: Arc<Counters>,
}

impl ReceiverSink {
    /// A sink counting into `counters`.
    pub fn new(input: Arc<PipelineInput>, counters: Arc<Counters>) -> Self {
        Self { input, counters }
    }

    /// Offers a batch, counting it as received or refused.
    pub fn offer(&self, payload: Payload, spans: usize) -> Result<(), Backpressure> {
        match self.input.offer(payload, spans) {
            Ok(()) => {
                Counters::add(&self.counters.received, spans as u64);
                Ok(())
            }
            Err(bp) => {
                Counters::add(&self.counters.refused, spans as u64);
                Err(bp)
            }
        }
    }

    /// The receiver's counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// The pipeline input this sink feeds.
    pub fn input(&self) -> &Arc<PipelineInput> {
        &self.input
    }
}

/// Removes spans whose encoding exceeds `limit` bytes; returns how many.
fn remove_spans_over(batch: &mut ExportTraceServiceRequest, limit: usize) -> u64 {
    use prost::Message as _;
    let mut removed = 0u64;
    for rs in &mut batch.resource_spans {
        for ss in &mut rs.scope_spans {
            let before = ss.spans.len();
            ss.spans.retain(|s| s.encoded_len() <= limit);
            removed += (before - ss.spans.len()) as u64;
        }
    }
    removed
}

impl TraceSink for ReceiverSink {
    fn accept(
        &self,
        batch: ExportTraceServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        let mut batch = batch;
        let too_large = self
            .input
            .max_span_bytes
            .map_or(0, |limit| remove_spans_over(&mut batch, limit));
        let spans = usize::try_from(meta.items.saturating_sub(too_large)).unwrap_or(usize::MAX);
        if too_large > 0 {
            Counters::add(&self.counters.dropped, too_large);
        }
        if spans > 0 {
            self.offer(Payload::otlp(batch), spans)?;
        }
        Ok(if too_large > 0 {
            Accepted::partial(
                too_large,
                format!(
                    "{too_large} span(s) over the destination's {} bytes per span were not accepted",
                    self.input.max_span_bytes.unwrap_or_default()
                ),
            )
        } else {
            Accepted::all()
        })
    }

    fn reserve(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        self.reservation(bytes)
    }
}

impl ReceiverSink {
    /// Accounts body bytes with the pipeline's memory limiter.
    fn reservation(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        match self.input.reserve(bytes) {
            Ok(Some(permit)) => Ok(Reservation::new(permit)),
            Ok(None) => Ok(Reservation::none()),
            Err(bp) => Err(bp),
        }
    }

    /// Offers a metrics or logs payload of `meta.items` items.
    fn offer_items(&self, payload: Payload, meta: &RequestMeta) -> Result<Accepted, Backpressure> {
        let items = usize::try_from(meta.items).unwrap_or(usize::MAX);
        if items > 0 {
            self.offer(payload, items)?;
        }
        Ok(Accepted::all())
    }
}

/// Metrics pipelines: data points are the unit of the queue bound.
impl Sink<ExportMetricsServiceRequest> for ReceiverSink {
    fn accept(
        &self,
        batch: ExportMetricsServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        self.offer_items(Payload::metrics(batch), &meta)
    }

    fn reserve(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        self.reservation(bytes)
    }
}

/// Logs pipelines: log records are the unit of the queue bound.
impl Sink<ExportLogsServiceRequest> for ReceiverSink {
    fn accept(
        &self,
        batch: ExportLogsServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        self.offer_items(Payload::logs(batch), &meta)
    }

    fn reserve(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        self.reservation(bytes)
    }
}
